"""An exponential moving average of the trained weights (Polyak averaging), for inference.

openai/pixel-cnn evaluates and samples with an exponential moving average of its weights
(`polyak_decay` 0.9995), ColTran too (0.999): the average of the last few thousand steps' weights
is a smoother, often better model than the last step's. With `ema_decay` > 0 in the config the
training loop keeps, for every trainable weight w, after every step t (counted from 1):

  average <- d * average + (1 - d) * w,   d = min(ema_decay, (1 + t) / (10 + t))

(the warm-up of tf.train.ExponentialMovingAverage's `num_updates`: a short run is not dominated by
its random initial weights). The averages are saved in every checkpoint under `average/`, beside
the trained weights (which training resumes from); the in-training evaluation and TensorBoard
samples use them, and so does everything that loads a workdir for inference (`workdir.restore`:
upsample, colorize, evaluate, export, the demo, make_demo_checkpoint). `ema_decay = 0`, the
default and the papers' (neither mentions an average), keeps none. `init_from` starts a run from
another run's trained weights, not its averages.
"""
import tensorflow as tf

from pixel_recursive import commands
from pixel_recursive import workdir as workdir_lib

WARMUP = 10.0  # d = (1 + t) / (WARMUP + t) until it reaches ema_decay.


def check(decay):
  """Raises UsageError unless `decay` is in [0, 1)."""
  if not 0.0 <= float(decay) < 1.0:
    raise commands.UsageError(f'ema_decay must be in [0, 1) (0: no average), got {decay}')


def decay_at(decay, step):
  """The decay of the update after `step` steps (a number or a scalar tensor)."""
  step = tf.cast(step, tf.float32)
  return tf.minimum(float(decay), (1.0 + step) / (WARMUP + step))


class WeightAverage(tf.Module):
  """The averages of a model's trainable weights: float32 variables keyed like the checkpoint's
  weights (`workdir.weights_by_path`). Create it under the training strategy's scope; call
  `update(step)` in cross-replica context after each step (every replica holds the same weights,
  so each copy of an average gets the same value)."""

  def __init__(self, model, decay):
    super().__init__(name='weight_average')
    check(decay)
    self.decay = float(decay)
    self.averages, self._pairs = {}, []
    for path, weight in sorted(workdir_lib.weights_by_path(model).items()):
      if weight.trainable:
        average = tf.Variable(tf.cast(weight.value, tf.float32), trainable=False,
                              name='average_' + path.replace('/', '_'))
        self.averages[path] = average
        self._pairs.append((average, weight))

  def reset(self):
    """Starts every average at its weight's current value (a run that had no average resumes)."""
    for average, weight in self._pairs:
      average.assign(tf.cast(weight.value, tf.float32))

  def update(self, step):
    """One update after `step` steps (step >= 1: the steps taken, this one included)."""
    d = decay_at(self.decay, step)
    for average, weight in self._pairs:
      average.assign(d * average + (1.0 - d) * tf.cast(weight.value, tf.float32))
