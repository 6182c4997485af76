"""Per-example losses in the units PixelCNN papers report."""
import math

import tensorflow as tf

LN2 = math.log(2.0)


def cross_entropy(logits, targets):
  """Mean negative log-likelihood in nats per sub-pixel, per example.

  Args:
    logits: [B, ..., K] unnormalised log-probabilities.
    targets: int [B, ...] values in [0, K).
  Returns:
    float32 [B].
  """
  nll = tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.cast(targets, tf.int32), logits=logits)
  return tf.reduce_mean(tf.reshape(nll, [tf.shape(nll)[0], -1]), axis=1)


def bits_per_dim(nats):
  """Nats per sub-pixel -> bits per sub-pixel ("bits/dim")."""
  return nats / LN2


def mean_squared_error(predictions, targets):
  """Per-example mean of squared differences, float32 [B]."""
  diff = tf.cast(predictions, tf.float32) - tf.cast(targets, tf.float32)
  return tf.reduce_mean(tf.reshape(tf.square(diff), [tf.shape(diff)[0], -1]), axis=1)
