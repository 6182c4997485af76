"""The optimizer a config names, its learning-rate schedule, and mixed precision."""
import contextlib

import keras
import tensorflow as tf

from pixel_recursive import commands
from pixel_recursive import workdir


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


DTYPE_POLICIES = ('float32', 'mixed_bfloat16')


@contextlib.contextmanager
def dtype_policy(name):
  """Builds Keras layers under the dtype policy `name` (the config's `dtype_policy`).

  'mixed_bfloat16' keeps every weight in float32 and computes convolutions and matmuls in bfloat16:
  on CPUs with AVX512-BF16 (and TPUs, and GPUs from Ampere on) a train step is faster at the same
  bits/dim (experiments/benchmarks/training.py; tests/test_train.py holds the bits/dim within 0.05 of
  float32's). The models keep their logits, softmax and losses in float32, and sampling always runs a
  float32 copy. (float16 would need loss scaling; bfloat16 has float32's range and does not.)
  """
  if name not in DTYPE_POLICIES:
    raise commands.UsageError(f'dtype_policy must be one of {", ".join(DTYPE_POLICIES)}, got {name!r}')
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(name)
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


class InferenceModel:
  """The model that samples and evaluates: the trained model itself in float32, or, under a mixed
  policy, a float32 copy of it whose weights `get()` refreshes (sampling draws from 256-way softmaxes
  of logits that bfloat16 would round to a few significant digits)."""

  def __init__(self, task, model, config):
    self._model = model
    self._copy = None
    if config.get('dtype_policy', 'float32') != 'float32':
      with dtype_policy('float32'):
        self._copy = task.build_model(config.model)
      self._pairs = _matching_weights(self._copy, model)

  def get(self):
    if self._copy is None:
      return self._model
    for target, source in self._pairs:
      target.assign(source)
    return self._copy


def _matching_weights(target, source):
  """[(target weight, source weight)] of two instances of one architecture, matched by path."""
  targets, sources = workdir.weights_by_path(target), workdir.weights_by_path(source)
  if set(targets) != set(sources):
    raise ValueError('the float32 copy of the model has other weights than the model')
  return [(targets[k], sources[k]) for k in sorted(targets)]
