"""The PixelCNN layers are causal, have no blind spot, learn, and save with Keras."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers
from pixel_recursive import layers

# Asymmetric so that a swapped H and W cannot pass.
H, W = 6, 10
CASES = {
    'rgb_256': dict(num_channels=3, num_values=256, conditional=False),
    'chroma_32_conditional': dict(num_channels=2, num_values=32, conditional=True),
    # PixColor's layout: a plain masked 7x7 convolution, then the gated layers.
    'chroma_32_masked_conv_first': dict(num_channels=2, num_values=32, conditional=True,
                                        first_layer='masked_conv'),
    'rgb_256_masked_conv_first': dict(num_channels=3, num_values=256, conditional=False,
                                      first_layer='masked_conv'),
}


def make_model(num_channels, num_values, conditional, num_layers=6, filters=12, seed=0,
               first_layer='gated'):
  keras.utils.set_random_seed(seed)
  model = layers.PixelCNN(num_channels, num_values, num_layers, filters, kernel_size=5,
                          first_kernel_size=7, head_filters=24, conditional=conditional,
                          first_layer=first_layer)
  cond = tf.random.normal([1, H, W, 5], seed=seed) if conditional else None
  model(tf.zeros([1, H, W, num_channels]), cond)
  helpers.randomize_biases(model, seed)
  return model, cond


def subpixel_index(i, j, c, channels):
  return (i * W + j) * channels + c


@pytest.mark.parametrize('case', sorted(CASES))
def test_perturbing_a_subpixel_changes_only_later_logits(case):
  spec = CASES[case]
  model, cond = make_model(**spec)
  channels = spec['num_channels']
  n = H * W * channels
  rng = np.random.default_rng(0)
  base = rng.uniform(-1, 1, [1, H, W, channels]).astype(np.float32)
  conds = None if cond is None else tf.repeat(cond, n + 1, axis=0)
  # Each sub-pixel moved by a large step.
  change = helpers.subpixel_changes(lambda batch: model(batch, conds), base,
                                    lambda v: -v + np.sign(v + 1e-3) * 0.5)
  for k in range(n):
    assert change[k, :k + 1].max() < 1e-6, (
        f'sub-pixel {k} leaks into logits at or before it: {np.argmax(change[k, :k + 1])}')
    if k + 1 < n:
      assert change[k, k + 1:].max() > 1e-5, f'sub-pixel {k} reaches no later logit'


@pytest.mark.parametrize('case', sorted(CASES))
def test_last_subpixel_sees_every_earlier_subpixel(case):
  """No blind spot: the gradient of the last logits reaches every earlier sub-pixel."""
  spec = CASES[case]
  model, cond = make_model(**spec)
  x = tf.random.uniform([1, H, W, spec['num_channels']], -1, 1, seed=1)
  with tf.GradientTape() as tape:
    tape.watch(x)
    last = model(x, cond)[0, -1, -1, -1]
    target = tf.reduce_sum(last * tf.random.normal(last.shape, seed=2))
  grad = np.abs(tape.gradient(target, x).numpy()).reshape(-1)
  blind = np.flatnonzero(grad[:-1] == 0)
  assert blind.size == 0, f'blind spot at sub-pixels {blind.tolist()}'
  assert grad[-1] == 0


def test_conditioning_reaches_the_logits_at_its_own_position():
  model, cond = make_model(**CASES['chroma_32_conditional'])
  x = tf.zeros([1, H, W, 2])
  moved = cond.numpy()
  moved[0, 3, 4] += 2.0
  change = np.abs(model(x, moved).numpy() - model(x, cond).numpy()).max(-1)[0]
  assert change[3, 4].max() > 1e-3
  assert change[:3].max() < 1e-6 and change[3, :4].max() < 1e-6  # Earlier positions: untouched.
  # It enters the vertical stack too (van den Oord et al. 2016, eq. 4), the only way to rows below.
  assert change[4, 4].max() > 1e-3


def test_the_gate_is_tanh_of_the_first_half_times_sigmoid_of_the_second():
  """van den Oord et al. 2016, eq. 2: tanh(W_f * x) . sigmoid(W_g * x)."""
  x = tf.constant([[0.5, 2.0, -1.0, 0.0]])  # a = [0.5, 2], b = [-1, 0].
  np.testing.assert_allclose(layers.gate(x).numpy(), [[np.tanh(0.5) / (1 + np.e), np.tanh(2) / 2]],
                             rtol=1e-6)


@pytest.mark.parametrize('first', [False, True])
def test_the_horizontal_stack_adds_its_input_back_except_in_the_first_layer(first):
  """h_out = h + Out_1x1(g) (van den Oord et al. 2016, Fig. 2); the first layer, whose h is the
  image, has no residual. With Out_1x1 zeroed, what is left is the residual alone."""
  keras.utils.set_random_seed(0)
  block = layers.GatedBlock(4, 3, num_groups=1, first=first)
  v = tf.random.normal([2, H, W, 4], seed=1)
  h = tf.random.normal([2, H, W, 4], seed=2)
  block.build(h.shape)
  for weight in block.h_out.weights:
    weight.assign(tf.zeros_like(weight))
  _, h_out, _ = block(v, h)
  np.testing.assert_allclose(h_out.numpy(), np.zeros_like(h) if first else h.numpy(), atol=1e-6)


def test_channel_groups_and_masks():
  np.testing.assert_array_equal(layers.channel_groups(3, 3), [0, 1, 2])
  np.testing.assert_array_equal(layers.channel_groups(6, 3), [0, 0, 1, 1, 2, 2])
  np.testing.assert_array_equal(layers.channel_groups(8, 2, gated=True), [0, 0, 1, 1] * 2)
  np.testing.assert_array_equal(layers.channel_groups(2 * 4, 2), [0] * 4 + [1] * 4)  # [C, K] logits
  mask_a = layers.causal_mask((1, 2), np.array([0, 1, 2]), np.array([0, 1, 2]), 'A')
  np.testing.assert_array_equal(mask_a[0, 0], np.ones((3, 3)))  # The pixel to the left: all.
  np.testing.assert_array_equal(mask_a[0, 1], [[0, 1, 1], [0, 0, 1], [0, 0, 0]])
  mask_b = layers.causal_mask((1, 1), np.array([0, 1, 2]), np.array([0, 1, 2]), 'B')
  np.testing.assert_array_equal(mask_b[0, 0], [[1, 1, 1], [0, 1, 1], [0, 0, 1]])
  with pytest.raises(ValueError, match="mask_type must be None, 'A' or 'B', got 'a'"):
    layers.causal_mask((1, 1), np.array([0]), np.array([0]), 'a')


@pytest.mark.parametrize('num_values', [256, 32])
def test_values_are_scaled_onto_minus_one_to_one(num_values):
  """0 and K - 1 (intensity 255, chroma bin 31) at the ends of [-1, 1], evenly spaced: the shipped
  models were trained on this scaling."""
  scaled = layers.scale_values(tf.range(num_values), num_values).numpy()
  np.testing.assert_allclose(scaled, np.linspace(-1, 1, num_values), atol=1e-6)


def test_the_kernel_variable_is_never_masked_in_place():
  model, _ = make_model(**CASES['rgb_256'])
  before = [v.numpy().copy() for v in model.trainable_variables]
  model(tf.random.uniform([2, H, W, 3], -1, 1))
  for b, v in zip(before, model.trainable_variables):
    np.testing.assert_array_equal(b, v.numpy())


def expected_parameters(channels, values, num_layers, filters, k, k0, head, cond_dim=None):
  f2 = 2 * filters
  total = 0
  for i in range(num_layers):
    fin = channels if i == 0 else filters
    kk = k0 if i == 0 else k
    r = kk // 2
    total += (r + 1) * kk * fin * f2 + f2  # v_conv
    total += (r + 1) * fin * f2 + f2  # h_conv
    total += f2 * f2  # v_to_h, no bias
    if i < num_layers - 1:
      total += filters * filters + filters  # h_out
    total += filters * filters + filters  # skip
    if cond_dim:
      total += (2 if i < num_layers - 1 else 1) * (cond_dim * f2 + f2)  # cond_v (not last), cond_h
  total += filters * head + head + head * channels * values + channels * values
  return total


def test_trainable_variable_counts():
  model, _ = make_model(**CASES['rgb_256'])
  # Per layer: v_conv, h_conv (kernel + bias), v_to_h (kernel), h_out (not in the last), skip.
  assert len(model.trainable_variables) == 6 * 9 - 2 + 4
  assert model.count_params() == expected_parameters(3, 256, 6, 12, 5, 7, 24)
  cond_model, _ = make_model(**CASES['chroma_32_conditional'])
  assert len(cond_model.trainable_variables) == 6 * 13 - 4 + 4
  assert cond_model.count_params() == expected_parameters(2, 32, 6, 12, 5, 7, 24, cond_dim=5)


@pytest.mark.parametrize('case', sorted(CASES))
def test_keras_save_and_load_round_trip(case, tmp_path):
  spec = CASES[case]
  model, cond = make_model(**spec)
  x = tf.random.uniform([2, H, W, spec['num_channels']], -1, 1, seed=3)
  conds = None if cond is None else tf.repeat(cond, 2, axis=0)
  path = os.path.join(tmp_path, 'pixelcnn.keras')
  model.save(path)
  loaded = keras.models.load_model(path)
  assert loaded.get_config() == model.get_config()
  np.testing.assert_allclose(loaded(x, conds).numpy(), model(x, conds).numpy(), atol=1e-6)


def test_a_masked_convolution_of_ones_own_saves_and_loads_with_keras(tmp_path):
  """MaskedConv2D in a user's own model: every argument survives a .keras file (a bias where it had
  none, or the default initializer, would not)."""
  conv = layers.MaskedConv2D(4, (2, 3), 'B', num_groups=2, gated_output=True, use_bias=False,
                             kernel_initializer='he_normal', name='masked')
  model = keras.Sequential([keras.Input([5, 7, 2]), conv])
  path = os.path.join(tmp_path, 'mine.keras')
  model.save(path)
  loaded = keras.models.load_model(path).get_layer('masked')
  assert loaded.get_config() == conv.get_config()
  assert loaded.bias is None and len(loaded.weights) == 1
  assert type(loaded.kernel_initializer).__name__ == 'HeNormal'
  np.testing.assert_array_equal(loaded.mask, conv.mask)
  x = tf.random.uniform([1, 5, 7, 2], seed=4)
  np.testing.assert_allclose(loaded(x).numpy(), conv(x).numpy(), atol=1e-6)


def test_works_for_any_image_size():
  model, _ = make_model(**CASES['rgb_256'])
  assert model(tf.zeros([2, 3, 17, 3])).shape == (2, 3, 17, 3, 256)


def test_tiny_model_overfits_one_batch():
  keras.utils.set_random_seed(0)
  model = layers.PixelCNN(3, 16, num_layers=3, filters=16, head_filters=32)
  values = np.random.default_rng(0).integers(0, 16, [2, 5, 7, 3])
  x = layers.scale_values(values, 16)
  optimizer = keras.optimizers.Adam(3e-3)

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(values, model(x)))
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                  model.trainable_variables))
    return loss

  first = float(step())
  for _ in range(300):
    last = float(step())
  # Uniform over 16 values is ln 16 = 2.77 nats; memorising the batch drives the loss towards 0.
  assert first > 2.5
  assert last < 0.1 * first, (first, last)


def test_a_conditional_model_needs_conditioning():
  model, _ = make_model(**CASES['chroma_32_conditional'])
  with pytest.raises(ValueError, match='conditional'):
    model(tf.zeros([1, H, W, 2]))


def test_what_does_not_fit_the_network_is_named_before_any_convolution_runs():
  """The public layer's mistakes, each in words (they were TensorFlow's own: 'input depth must be
  evenly divisible by filter depth: 1 vs 3', 'Incompatible shapes: [1,6,10,16] vs. [1,3,5,16]')."""
  model, cond = make_model(**CASES['chroma_32_conditional'])
  images = tf.zeros([1, H, W, 2])
  mistakes = [
      ((tf.zeros([1, H, W, 2], tf.uint8), cond), 'images must be floats in \\[-1, 1\\].*uint8'),
      ((tf.zeros([1, H, W, 3]), cond), 'images have 3 channels.*num_channels=2'),
      ((tf.zeros([H, W, 2]), cond), r'images must be \[B, H, W, 2\], got shape \(6, 10, 2\)'),
      ((images, cond[:, :3, :5]), r'conditioning must be \[1, 6, 10, D\].*\(1, 3, 5, 5\)'),
      ((images, cond[0]), r'conditioning must be \[1, 6, 10, D\].*\(6, 10, 5\)'),
  ]
  for args, message in mistakes:
    with pytest.raises(ValueError, match=message):
      model(*args)
  model(images, cond)  # What fits still runs.
  with pytest.raises(ValueError, match='images have 1 channels'):  # Also on a first call (build).
    layers.PixelCNN(3, 4, 1, 4)(tf.zeros([1, H, W, 1]))
  for kwargs, message in [(dict(num_channels=0), 'num_channels must be >= 1, got 0'),
                          (dict(first_kernel_size=4), 'first_kernel_size must be odd.*got 4'),
                          (dict(kernel_size=-1), 'kernel_size must be odd.*got -1')]:
    with pytest.raises(ValueError, match=message):
      layers.PixelCNN(**{**dict(num_channels=3, num_values=4, num_layers=1, filters=4), **kwargs})


def test_masked_stem_is_a_kxk_convolution_with_mask_a():
  """PixColor's first layer: its two kernels are the taps of one 7x7 convolution with mask A."""
  keras.utils.set_random_seed(0)
  stem = layers.MaskedStem(6, 7, num_groups=3)
  x = tf.random.uniform([2, H, W, 3], -1, 1, seed=4)
  stem.build(x.shape)
  out, out_again, skip = stem(x, x)
  assert out is out_again and skip is None
  # The same convolution written the usual way: a 7x7 kernel, zero outside rows <= i and, on row
  # i, outside columns <= j; mask A on the centre tap; SAME padding.
  v, h = stem.v_conv.kernel.numpy(), stem.h_conv.masked_kernel().numpy()  # [3, 7, 3, 6], [1, 4, 3, 6]
  full = np.zeros([7, 7, 3, 6], np.float32)
  full[:3] = v
  full[3, :4] = h[0]
  expected = tf.nn.conv2d(x, full, 1, 'SAME') + stem.v_conv.bias + stem.h_conv.bias
  np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-5)
  mask = layers.causal_mask((7, 7), np.array([0, 1, 2]), layers.channel_groups(6, 3), 'A')
  np.testing.assert_array_equal(full[3, 3] * (1 - mask[6, 6]), 0)  # Centre: groups < own only.


def test_pixelcnn_with_a_masked_conv_first_layer_counts_gated_layers_apart():
  model, _ = make_model(**CASES['chroma_32_masked_conv_first'])
  assert [type(b).__name__ for b in model.blocks] == ['MaskedStem'] + ['GatedBlock'] * 6
  assert not any(b.first for b in model.blocks[1:])
