"""The losses behind the headline scalar: the hand-written cross-entropy equals TensorFlow's fused op
in value and gradient (also where exp() of the raw logits overflows), and bits/dim is nats / ln 2."""
import numpy as np
import pytest
import tensorflow as tf

from pixel_recursive import losses

# [B, H, W, C, K] as the models give them, asymmetric so a swapped axis cannot pass, and [B, K].
SHAPES = [(2, 3, 5, 3, 256), (3, 32)]


def reference(logits, targets):
  """Per-example mean of TensorFlow's fused sparse softmax cross-entropy."""
  nll = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits)
  return tf.reduce_mean(tf.reshape(nll, [tf.shape(nll)[0], -1]), axis=1)


def random_case(shape, scale, seed=0):
  rng = np.random.default_rng(seed)
  logits = tf.constant(scale * rng.standard_normal(shape), tf.float32)
  targets = tf.constant(rng.integers(0, shape[-1], shape[:-1]), tf.int32)
  return logits, targets


@pytest.mark.parametrize('shape', SHAPES)
@pytest.mark.parametrize('scale', [1.0, 30.0, 1e3])  # exp(1e3) is inf in float32.
def test_cross_entropy_equals_the_fused_op_in_value_and_gradient(shape, scale):
  logits, targets = random_case(shape, scale)
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(logits)
    ours, theirs = losses.cross_entropy(logits, targets), reference(logits, targets)
  assert ours.shape == (shape[0],)
  assert np.all(np.isfinite(ours.numpy()))
  np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5 * scale)
  np.testing.assert_allclose(tape.gradient(ours, logits).numpy(),
                             tape.gradient(theirs, logits).numpy(), atol=1e-6)


def test_cross_entropy_is_per_example():
  logits, targets = random_case(SHAPES[0], 1.0)
  both = losses.cross_entropy(logits, targets).numpy()
  for b in range(2):
    np.testing.assert_allclose(both[b], losses.cross_entropy(logits[b:b + 1], targets[b:b + 1])[0],
                               rtol=1e-6)
  assert both[0] != both[1]


@pytest.mark.parametrize('num_values,bits', [(256, 8.0), (32, 5.0), (2, 1.0)])
def test_uniform_logits_cost_log2_k_bits_per_dim(num_values, bits):
  logits = tf.fill([2, 3, 5, num_values], 0.7)
  targets = tf.constant(np.random.default_rng(1).integers(0, num_values, [2, 3, 5]), tf.int32)
  np.testing.assert_allclose(losses.bits_per_dim(losses.cross_entropy(logits, targets)).numpy(),
                             [bits, bits], rtol=1e-6)


def test_a_certain_right_guess_costs_nothing_and_a_certain_wrong_one_a_lot():
  targets = tf.constant([[3, 1]])
  logits = 50.0 * tf.one_hot(targets, 4)
  assert losses.cross_entropy(logits, targets).numpy()[0] < 1e-6
  assert losses.cross_entropy(logits, (targets + 1) % 4).numpy()[0] == pytest.approx(50.0, rel=1e-6)


def test_mean_squared_error_is_per_example_in_float32():
  predictions = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
  targets = np.zeros([2, 3, 4], np.uint8)  # uint8 differences would wrap; the loss casts first.
  got = losses.mean_squared_error(predictions, targets + 5).numpy()
  want = ((predictions.astype(np.float64) - 5) ** 2).reshape(2, -1).mean(axis=1)
  assert got.dtype == np.float32
  np.testing.assert_allclose(got, want, rtol=1e-6)
