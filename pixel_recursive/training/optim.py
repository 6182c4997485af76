"""The optimizer a config names and its learning-rate schedule (mixed precision: `precision.py`)."""
import keras
import tensorflow as tf

from pixel_recursive import commands


def make_optimizer(config):
  """The optimizer a config's `optimizer` field names, at `config.learning_rate`.

  `optimizer.weight_decay` (default 0, as both papers) is Keras' decoupled weight decay: every step
  multiplies each weight by 1 - learning_rate * weight_decay (AdamW for Adam).
  """
  opt = config.optimizer
  decay = opt.get('weight_decay', 0.0) or None
  if opt.name == 'rmsprop':
    # Dahl et al. 2017: RMSProp, decay 0.95, momentum 0.9, epsilon 1e-8.
    return keras.optimizers.RMSprop(config.learning_rate, rho=opt.get('decay', 0.95),
                                    momentum=opt.get('momentum', 0.9),
                                    epsilon=opt.get('epsilon', 1e-8), weight_decay=decay)
  if opt.name == 'adam':
    return keras.optimizers.Adam(config.learning_rate, beta_1=opt.get('beta1', 0.9),
                                 beta_2=opt.get('beta2', 0.999), epsilon=opt.get('epsilon', 1e-7),
                                 weight_decay=decay)
  raise commands.UsageError(f"optimizer.name must be 'rmsprop' or 'adam', got {opt.name!r}")


def learning_rate_at(config, step):
  """The learning rate of the step after `step` (a scalar tensor or a number) steps.

  `learning_rate`, ramped up linearly over the first `warmup_steps`, and multiplied by
  `learning_rate_drop_factor` at each step of `learning_rate_drop_steps` (e.g. (9100,) and 0.3:
  1e-3 becomes 3e-4 from step 9,100 on). Neither paper states a schedule; the demo models use one.
  """
  step = tf.cast(step, tf.float32)
  rate = tf.constant(float(config.learning_rate), tf.float32)
  warmup = float(config.get('warmup_steps', 0))
  if warmup:
    rate *= tf.minimum(1.0, (step + 1.0) / warmup)
  factor = float(config.get('learning_rate_drop_factor', 1.0))
  for at in config.get('learning_rate_drop_steps', ()):
    rate *= tf.where(step >= float(at), factor, 1.0)
  return rate


def check_schedule(config):
  """Raises UsageError for a learning-rate schedule that cannot be meant."""
  steps = tuple(config.get('learning_rate_drop_steps', ()))
  factor = config.get('learning_rate_drop_factor', 1.0)
  if any(not isinstance(s, int) or s < 1 for s in steps) or list(steps) != sorted(steps):
    raise commands.UsageError(
        f'learning_rate_drop_steps must be increasing positive steps, got {steps}')
  if not 0 < factor <= 1:
    raise commands.UsageError(f'learning_rate_drop_factor must be in (0, 1], got {factor}')
  if config.get('warmup_steps', 0) < 0:
    raise commands.UsageError(f"warmup_steps must be >= 0, got {config.warmup_steps}")


def has_schedule(config):
  return bool(config.get('warmup_steps', 0)) or bool(tuple(config.get('learning_rate_drop_steps', ())))
