"""Per-example losses in the units PixelCNN papers report."""
import math

import tensorflow as tf

LN2 = math.log(2.0)


def cross_entropy(logits, targets):
  """Mean negative log-likelihood in nats per sub-pixel, per example.

  Written as logsumexp(logits) - logits[target] rather than with
  `tf.nn.sparse_softmax_cross_entropy_with_logits`: on a CPU that fused op runs its softmax and
  gradient far slower than these few element-wise ops (measured by
  experiments/benchmarks/training.py: it was 14% of a super-resolution step), and the values agree to
  float rounding (tests/test_losses.py). Subtracting the (constant) maximum keeps exp() in range.

  Args:
    logits: [B, ..., K] unnormalised log-probabilities (float32).
    targets: int [B, ...] values in [0, K).
  Returns:
    float32 [B].
  """
  logits = tf.convert_to_tensor(logits)
  shifted = logits - tf.stop_gradient(tf.reduce_max(logits, axis=-1, keepdims=True))
  picked = tf.reduce_sum(shifted * tf.one_hot(tf.cast(targets, tf.int32), tf.shape(logits)[-1],
                                              dtype=logits.dtype), axis=-1)
  nll = tf.math.log(tf.reduce_sum(tf.exp(shifted), axis=-1)) - picked
  return tf.reduce_mean(tf.reshape(nll, [tf.shape(nll)[0], -1]), axis=1)


def bits_per_dim(nats):
  """Nats per sub-pixel -> bits per sub-pixel ("bits/dim")."""
  return nats / LN2


def mean_squared_error(predictions, targets):
  """Per-example mean of squared differences, float32 [B]."""
  diff = tf.cast(predictions, tf.float32) - tf.cast(targets, tf.float32)
  return tf.reduce_mean(tf.reshape(tf.square(diff), [tf.shape(diff)[0], -1]), axis=1)
