"""PixColor's model: colour round trips, luminance kept, causality, shapes, the paper's ResNet."""
import keras
import ml_collections
import numpy as np
import pytest
import tensorflow as tf

import helpers
from data import pipeline
from data import transforms
from pixcolor import color
from pixcolor import model as model_lib
from pixcolor import refinement as refinement_lib
from pixcolor import resnet as resnet_lib
from pixel_recursive import sampling


def tiny_model_config(**overrides):
  """16 x 16 images, 4 x 4 chroma: a 3-stage ResNet of width 4 at output stride 4."""
  c = ml_collections.ConfigDict(dict(
      name='pixcolor', image_size=16, chroma_size=4, num_bins=32,
      conditioning=dict(blocks=(1, 1, 1), width=4, max_pool=False, dilate_last=True,
                        bn_momentum=0.9),
      conditioning_weights='',
      adaptation=dict(filters=8, num_layers=3),
      pixelcnn=dict(num_layers=3, filters=8, kernel_size=3, first_kernel_size=5, head_filters=16),
      refinement=dict(filters=(8, 16), bottom_layers=1),
      pixelcnn_loss_weight=1.0, refinement_loss_weight=1.0))
  c.update(overrides)
  return c


@pytest.fixture(scope='module')
def model():
  keras.utils.set_random_seed(0)
  return model_lib.build_model(tiny_model_config())


def random_batch(model, n=2, seed=0):
  rng = np.random.default_rng(seed)
  s = model.image_size
  image = rng.integers(0, 256, [n, s, s, 3]).astype(np.uint8)
  return {k: v.numpy() for k, v in pipeline.colorization_example(
      image, s, model.chroma_size, model.num_bins, crop_how='none').items()}


# ----------------------------------------------------------------------------------------------
# Colour representation.
# ----------------------------------------------------------------------------------------------
def test_chroma_bins_round_trip_and_gray_is_the_centre_bin():
  bins = tf.range(32)
  np.testing.assert_array_equal(
      transforms.quantize_chroma(transforms.dequantize_chroma(bins, 32), 32), bins)
  assert float(transforms.dequantize_chroma(16, 32)) == 128.0
  gray = np.repeat(np.arange(0, 256, 4, dtype=np.uint8).reshape(8, 8, 1), 3, axis=-1)
  example = pipeline.colorization_example(gray, 8, 2, 32, crop_how='none')
  np.testing.assert_array_equal(example['chroma'], 16)
  # A gray photo's chroma bins decode back to exactly gray.
  rgb = color.ycbcr_to_rgb_in_gamut(
      tf.cast(example['gray'], tf.float32),
      tf.image.resize(transforms.dequantize_chroma(example['chroma'], 32), [8, 8]))
  np.testing.assert_array_equal(rgb, gray)


def test_quantized_chroma_reconstructs_a_photo_to_half_a_bin():
  rng = np.random.default_rng(0)
  rgb = rng.integers(0, 256, [6, 10, 3]).astype(np.uint8)
  y, cbcr = transforms.split_luma_chroma(rgb, (6, 10))  # Full-size chroma: only quantization.
  decoded = transforms.dequantize_chroma(transforms.quantize_chroma(cbcr, 32), 32)
  error = np.abs((decoded - cbcr).numpy())
  # Bins are 8 levels wide and centred on 0, 8, ..., 248 (gray 128 is a centre), so values decode to
  # within half a bin, except above the last centre's bin, [252, 256), which decodes to 248.
  assert error[cbcr < 252].max() <= 4.0 + 1e-4
  assert error.max() <= 8.0
  back = transforms.ycbcr_to_rgb(tf.concat([y, cbcr], -1))
  np.testing.assert_allclose(back, rgb, atol=1e-3)


def test_chroma_units_put_gray_at_zero_and_invert():
  """The refinement network's units: Cb, Cr 0 -> -1, 128 (gray) -> 0, 256 -> 1, and back exactly
  (a scale that does not invert tints every colouring the refinement returns)."""
  np.testing.assert_allclose(color.scale_chroma([0.0, 128.0, 256.0]).numpy(), [-1, 0, 1])
  cbcr = np.random.default_rng(0).uniform(0, 255, [50, 2]).astype(np.float32)
  np.testing.assert_allclose(color.unscale_chroma(color.scale_chroma(cbcr)).numpy(), cbcr,
                             atol=1e-4)


def test_combine_enlarges_the_chroma_bilinearly_onto_the_original_luminance():
  """`combine` puts a small chroma grid on a larger Y (every colouring's last step): the colours
  of its output are the grid bilinearly enlarged (up to uint8 rounding), not blocks; its
  luminance is Y's."""
  rng = np.random.default_rng(3)
  gray = rng.integers(100, 156, [1, 8, 12, 1]).astype(np.uint8)  # Mid-gray: room for any chroma.
  chroma = rng.uniform(108, 148, [1, 2, 3, 2]).astype(np.float32)
  rgb = color.combine(gray, chroma)
  assert rgb.dtype == tf.uint8 and rgb.shape == (1, 8, 12, 3)
  ycbcr = transforms.rgb_to_ycbcr(tf.cast(rgb, tf.float32)).numpy()
  np.testing.assert_allclose(ycbcr[..., :1], gray, atol=0.51)
  want = tf.image.resize(chroma, [8, 12], 'bilinear').numpy()
  np.testing.assert_allclose(ycbcr[..., 1:], want, atol=1.0)
  # A large image is converted in strips of rows (here of 2 * 12 * 2 = 48 pixels, the last one
  # short): the same values.
  gray2 = rng.integers(0, 256, [2, 9, 12, 1]).astype(np.uint8)
  chroma2 = rng.uniform(0, 255, [2, 2, 3, 2]).astype(np.float32)
  whole = color.combine(gray2, chroma2).numpy()
  np.testing.assert_array_equal(color.combine(gray2, chroma2, strip_pixels=50).numpy(), whole)
  np.testing.assert_array_equal(color.combine(gray2, chroma2, strip_pixels=1).numpy(), whole)


def test_the_refinements_chroma_psnr_is_on_the_0_255_scale():
  """TensorBoard's refinement pSNR: an MSE of 0.01 in [-1, 1] chroma units (1 unit = 128 levels)
  is 163.8 squared levels."""
  from pixcolor import task as pixcolor_task  # pylint: disable=g-import-not-at-top
  assert pixcolor_task.chroma_psnr(0.01) == pytest.approx(10 * np.log10(255 ** 2 / 163.84))


@pytest.mark.parametrize('in_dataset', [False, True])
def test_in_gamut_conversion_keeps_luminance_and_plain_colours(in_dataset):
  rng = np.random.default_rng(1)
  y = rng.uniform(0, 255, [500, 1]).astype(np.float32)
  y[:10] = [[0.0], [255.0], [254.6], [0.3], [128.0], [250.0], [5.0], [1.0], [253.0], [2.0]]
  cbcr = rng.uniform(0, 255, [500, 2]).astype(np.float32)
  # Faint colours on near-white and near-black pixels, a level or two from the gamut's edge: a
  # channel's small offset counts there too (ignoring offsets under 2 levels moved Y by 1.03).
  edge_y = np.concatenate([rng.uniform(250, 255, [500, 1]), rng.uniform(0, 5, [500, 1])])
  edge_cbcr = 128 + rng.uniform(-1.5, 1.5, [1000, 2])
  y = np.concatenate([y, edge_y]).astype(np.float32)
  cbcr = np.concatenate([cbcr, edge_cbcr]).astype(np.float32)
  if in_dataset:
    ds = tf.data.Dataset.from_tensor_slices((y, cbcr)).map(color.ycbcr_to_rgb_in_gamut)
    rgb = np.stack(list(ds.as_numpy_iterator()))
  else:
    rgb = color.ycbcr_to_rgb_in_gamut(y, cbcr).numpy()
  assert rgb.dtype == np.uint8
  luma = transforms.luminance(rgb).numpy()
  assert np.abs(luma - y).max() <= 0.5 + 1e-3
  # Colours that fit the gamut are converted exactly as the plain conversion does.
  plain = transforms.ycbcr_to_rgb(np.concatenate([y, cbcr], -1)).numpy()
  fits = ((plain >= 0) & (plain <= 255)).all(-1)
  assert fits.sum() > 50 and (~fits).sum() > 50
  np.testing.assert_array_equal(rgb[fits], transforms.to_uint8(plain[fits]).numpy())


# ----------------------------------------------------------------------------------------------
# The model.
# ----------------------------------------------------------------------------------------------
def test_shapes_and_loss_terms(model):
  batch = random_batch(model)
  logits, aux = model(batch)
  assert logits.shape == (2, 4, 4, 2, 32)
  for key in ('loss', 'nats', 'refinement_mse'):
    assert aux[key].shape == (2,)
  assert aux['refined'].shape == (2, 16, 16, 2)
  assert aux['conditioning'].shape == (2, 4, 4, 8)
  np.testing.assert_allclose(aux['loss'], aux['nats'] + aux['refinement_mse'], rtol=1e-6)
  # Untrained: about uniform over 32 bins (5 bits), and the refinement starts as bilinear upsampling.
  assert 4.0 < float(np.mean(aux['nats'])) / np.log(2) < 6.0
  upsampled = tf.image.resize(color.scale_chroma(
      transforms.dequantize_chroma(batch['chroma'], 32)), [16, 16], 'bilinear')
  np.testing.assert_allclose(aux['refined'], upsampled, atol=1e-6)


def test_a_call_names_a_batch_that_does_not_fit_the_model(model):
  """A user's teacher-forced batch: the wrong size or batch ended in a concatenation's or the
  PixelCNN's error, and gray floats in [0, 1] ran as a black photo."""
  batch = random_batch(model)
  wanted = (r"PixColor takes \{'gray': uint8 \[B, 16, 16, 1\], 'chroma': int \[B, 4, 4, 2\] bins, "
            r"'image': uint8 \[B, 16, 16, 3\]\}, got ")
  for change, message in [
      ({'gray': batch['gray'][:, :8, :8]}, wanted + r'shapes gray \(2, 8, 8, 1\)\W'),
      ({'chroma': batch['chroma'][:1]}, wanted + r'shapes gray .*, chroma \(1, 4, 4, 2\)\W'),
      ({'image': batch['image'][..., :1]}, wanted + r'shapes .*, image \(2, 16, 16, 1\)\W'),
      ({'gray': batch['gray'] / 255}, r'gray must be uint8 \(0-255\) as in .*, got float32'),
      ({'image': None}, wanted + r"the keys \['chroma', 'gray'\]")]:
    with pytest.raises(ValueError, match=message):
      model({k: v for k, v in {**batch, **change}.items() if v is not None})
  model(batch)  # What fits still runs.


def test_the_loss_weighs_each_networks_term_by_its_config_weight():
  """loss = pixelcnn_loss_weight * nats + refinement_loss_weight * refinement_mse (the tests' and
  the demo's weights are both 1, where a swap cannot show)."""
  keras.utils.set_random_seed(0)
  net = model_lib.build_model(tiny_model_config(pixelcnn_loss_weight=2.0,
                                                refinement_loss_weight=0.25))
  batch = random_batch(net)
  batch['chroma'] = np.zeros_like(batch['chroma'])  # Far from the true chroma: a visible L2 term.
  _, aux = net(batch)
  assert float(np.min(aux['refinement_mse'])) > 0.01
  np.testing.assert_allclose(aux['loss'], 2.0 * aux['nats'] + 0.25 * aux['refinement_mse'],
                             rtol=1e-6)


def test_the_refinement_learns_the_photos_full_size_cb_and_cr(model):
  """The refinement's L2 target is the photo's own Cb and Cr at full size (BT.601 full range,
  written out here), in [-1, 1] units: not Y, not the quantized chroma."""
  batch = random_batch(model, seed=5)
  _, aux = model(batch)
  rgb = batch['image'].astype(np.float64)
  cb = 128 - 0.168736 * rgb[..., 0] - 0.331264 * rgb[..., 1] + 0.5 * rgb[..., 2]
  cr = 128 + 0.5 * rgb[..., 0] - 0.418688 * rgb[..., 1] - 0.081312 * rgb[..., 2]
  target = (np.stack([cb, cr], -1) - 128) / 128
  want = np.mean((aux['refined'].numpy() - target) ** 2, axis=(1, 2, 3))
  np.testing.assert_allclose(aux['refinement_mse'], want, rtol=1e-4)


def test_the_conditioning_is_the_adaptation_of_the_features_beside_area_downsampled_y(model):
  """The PixelCNN's conditioning, computed by hand from the model's own layers: the backbone's
  features beside Y area-averaged to the chroma grid, through the adaptation's 3x3 convolutions
  with ReLUs between them and a linear last one."""
  gray = np.random.default_rng(4).integers(0, 256, [2, 16, 16, 1]).astype(np.uint8)
  features = model.backbone(gray, training=False)
  x = tf.concat([features, model_lib.layers.scale_values(helpers.block_means(gray, 4), 256)],
                axis=-1)
  convs = model.adaptation.convs
  for conv in convs[:-1]:
    x = tf.nn.relu(conv(x))
  want = convs[-1](x).numpy()
  got = model.conditioning(gray).numpy()
  np.testing.assert_allclose(got, want, atol=1e-5)
  assert (got < 0).any()  # A last ReLU would clip these.


def test_the_lowres_preview_puts_the_sampled_chroma_on_area_downsampled_y(model):
  """TensorBoard's preview of the sampled chroma: at gray bins it is Y's 4 x 4 block means."""
  gray = np.random.default_rng(6).integers(0, 256, [2, 16, 16, 1]).astype(np.uint8)
  bins = np.full([2, 4, 4, 2], 16, np.int32)  # Bin 16 decodes to 128: gray.
  preview = model.lowres_preview(gray, bins).numpy()
  np.testing.assert_array_equal(preview,
                                np.repeat(np.round(helpers.block_means(gray, 4)), 3, axis=-1))


def test_dequantized_chroma_fills_each_bin_from_its_key_or_at_random_in_training():
  """Uniform dequantization: each value lies anywhere in its bin (all of it, not a part around the
  centre); from the examples' keys when colouring, fresh noise at every training step."""
  model = model_lib.PixColor(tiny_model_config(dequantization='uniform'))
  c = model.chroma_size
  bins = tf.constant(np.random.default_rng(0).integers(0, model.num_bins, [64, c, c, 2]), tf.int32)
  keys = tf.constant(sampling.example_keys(list(range(64)), 64))
  width = 256.0 / model.num_bins
  offset = (model.dequantize(bins, keys) - model.bin_centres(bins)).numpy() / width
  assert offset.min() >= -0.5 and offset.max() < 0.5
  assert offset.min() < -0.49 and offset.max() > 0.49  # The whole bin.
  np.testing.assert_array_equal(model.dequantize(bins, keys), model.dequantize(bins, keys))
  assert not np.array_equal(model.dequantize(bins, training=True), model.dequantize(bins, training=True))
  np.testing.assert_array_equal(model.dequantize(bins), model.dequantize(bins, tf.zeros([64, 2], tf.int32)))
  # `refine` dequantizes each example from its own seed's key: other seeds, other values; the same
  # seed in another batch, the same values.
  built = model_lib.build_model(tiny_model_config(dequantization='uniform'))
  gray = tf.constant(np.random.default_rng(1).integers(0, 256, [2, 16, 16, 1]), tf.uint8)
  refined = built.refine(gray, bins[:2], [5, 6]).numpy()
  assert not np.allclose(refined, built.refine(gray, bins[:2], [7, 8]).numpy(), atol=1e-3)
  np.testing.assert_allclose(built.refine(gray[1:], bins[1:2], [6]).numpy()[0], refined[1],
                             atol=1e-4)


def test_no_gradient_flows_between_the_two_networks(model):
  batch = random_batch(model)
  pixelcnn_side = (model.backbone.trainable_variables + model.adaptation.trainable_variables +
                   model.pixelcnn.trainable_variables)
  with tf.GradientTape(persistent=True) as tape:
    _, aux = model(batch, training=True)
    nats, mse = tf.reduce_sum(aux['nats']), tf.reduce_sum(aux['refinement_mse'])
  assert all(g is None for g in tape.gradient(mse, pixelcnn_side))
  assert all(g is None for g in tape.gradient(nats, model.refinement.trainable_variables))
  # Every trained weight of the PixelCNN side gets a gradient from the cross-entropy.
  assert all(g is not None for g in tape.gradient(nats, pixelcnn_side))


def test_training_only_one_network():
  keras.utils.set_random_seed(0)
  net = model_lib.build_model(tiny_model_config())
  everything = len(net.trainable_variables)
  net.set_trained(pixelcnn=False, refinement=True)
  assert {id(v) for v in net.trainable_variables} == {
      id(v) for v in net.refinement.trainable_variables}
  _, aux = net(random_batch(net))
  np.testing.assert_allclose(aux['loss'], aux['refinement_mse'])
  net.set_trained(pixelcnn=True, refinement=False)
  _, aux = net(random_batch(net))
  np.testing.assert_allclose(aux['loss'], aux['nats'])
  net.set_trained()
  assert len(net.trainable_variables) == everything
  with pytest.raises(ValueError, match='at least one'):
    net.set_trained(pixelcnn=False, refinement=False)


def assert_chroma_pixelcnn_is_causal(model, cond, rng, num_bases=3):
  """The perturbation probe (as tests/test_layers.py) of `model`'s chroma PixelCNN at the grid of
  `cond` (1, h, w, C), around `num_bases` random chroma images, with random biases (no connection
  hides behind a zero): sub-pixel k changes no logit at or before k around any of them, and some
  logit after it around at least one (around one alone the last sub-pixels, whose only later
  logits are one pixel's, can meet ReLUs that are all off there). Returns the first image."""
  for i, v in enumerate(model.pixelcnn.trainable_variables):  # Stateless: the same in any order.
    if v.path.endswith('bias'):
      v.assign(0.5 * tf.random.stateless_normal(v.shape, seed=[1, i]))
  _, h, w, _ = cond.shape
  n = h * w * 2
  bases = rng.integers(0, 32, [num_bases, 1, h, w, 2])
  reach = np.zeros([n, n])
  for base in bases:
    change = helpers.subpixel_changes(
        lambda batch: model.pixelcnn(model_lib.layers.scale_values(batch, 32),
                                     tf.repeat(cond, n + 1, 0)),
        base, lambda v: (v + 16) % 32)
    for k in range(n):
      assert change[k, :k + 1].max() < 1e-6, f'chroma sub-pixel {k} leaks into earlier logits'
    reach = np.maximum(reach, change)
  for k in range(n - 1):
    assert reach[k, k + 1:].max() > 1e-5, f'chroma sub-pixel {k} reaches no later logit'
  return bases[0]


def test_chroma_pixelcnn_is_causal_with_conditioning_present():
  """The probe through the model's own conditioning path, on a non-square image."""
  keras.utils.set_random_seed(1)
  model = model_lib.build_model(tiny_model_config())
  h, w = 3, 5
  rng = np.random.default_rng(0)
  gray = rng.integers(0, 256, [1, 4 * h, 4 * w, 1]).astype(np.uint8)
  cond = model.conditioning(gray)
  assert cond.shape == (1, h, w, 8)
  base = assert_chroma_pixelcnn_is_causal(model, cond, rng)
  # The conditioning reaches the very first logits (Cb of the top-left pixel), which see no chroma.
  moved = model.conditioning(np.clip(gray.astype(int) + 60, 0, 255).astype(np.uint8))
  first = model.pixelcnn(model_lib.layers.scale_values(base, 32), cond)[0, 0, 0, 0]
  first_moved = model.pixelcnn(model_lib.layers.scale_values(base, 32), moved)[0, 0, 0, 0]
  assert np.abs(first - first_moved).max() > 1e-4


@pytest.mark.parametrize('shape', [(37, 22), (9, 31)])
def test_refinement_shapes_for_non_square_inputs(model, shape):
  rng = np.random.default_rng(0)
  gray = rng.integers(0, 256, (2,) + shape + (1,)).astype(np.uint8)
  chroma = rng.uniform(0, 255, [2, shape[0] // 4, shape[1] // 4, 2]).astype(np.float32)
  out = model.refinement(gray, chroma)
  assert out.shape == (2,) + shape + (2,)
  assert model.combine(gray, color.unscale_chroma(out)).shape == (2,) + shape + (3,)


def test_the_unets_decoder_reads_the_encoder_features_of_its_own_size():
  """The skips (the demo's refinement is a U-Net): with everything below the top level cut (those
  convolutions zeroed, so the deep path carries nothing), the gray photo still reaches the output,
  pixel for pixel, through the full-size encoder features the decoder concatenates; and the
  correction is added to the bilinearly upsampled input chroma. Shapes alone cannot tell: a
  decoder without skips, or reading another level's features resized, builds and runs as well."""
  keras.utils.set_random_seed(1)
  net = refinement_lib.UNetRefinement(filters=(4, 8, 8), bottom_layers=1)
  rng = np.random.default_rng(0)
  gray = rng.integers(0, 256, [1, 12, 12, 1]).astype(np.uint8)
  chroma = rng.uniform(0, 255, [1, 3, 3, 2]).astype(np.float32)
  net(gray, chroma)
  for conv in net.down + net.bottom:
    conv.kernel.assign(tf.zeros_like(conv.kernel))
    conv.bias.assign(tf.zeros_like(conv.bias))
  for conv in net.up:  # Positive weights keep the ReLUs open.
    conv.kernel.assign(tf.random.uniform(conv.kernel.shape, 0.01, 0.1))
  net.out.kernel.assign(tf.random.uniform(net.out.kernel.shape, 0.01, 0.1))
  upsampled = tf.image.resize(color.scale_chroma(chroma), [12, 12], 'bilinear').numpy()
  flat = np.full_like(gray, 100)
  moved = flat.copy()
  moved[0, 6, 6, 0] = 250
  base = net(flat, chroma).numpy()
  out = net(moved, chroma).numpy()
  change = np.abs(out - base).max(axis=-1)[0]
  # Through the stem (3x3), its skip and the top decoder convolution and the output (3x3 each):
  # the pixel's 7x7 neighbourhood and nothing beyond it.
  assert change[3:10, 3:10].min() > 0
  assert change.max() > 1e-3
  outside = np.ones_like(change, bool)
  outside[3:10, 3:10] = False
  np.testing.assert_array_equal(change[outside], 0)
  # The correction is added to the upsampled chroma: with the output layer at its initial zeros,
  # the network is plain bilinear upsampling.
  net.out.kernel.assign(tf.zeros_like(net.out.kernel))
  np.testing.assert_allclose(net(moved, chroma).numpy(), upsampled, atol=1e-6)


@pytest.mark.parametrize('residual', [False, True])
def test_the_encoder_decoder_is_its_layer_table_applied_in_order(residual):
  """The paper's kind of refinement (the tests' and pixcolor_imagenet's) computed by hand from its
  own layers: Y and the bilinearly upsampled chroma in, each 'conv' a ReLU convolution at its
  stride, each 'up<f>' a bilinear enlargement by f, the 1x1 output, plus the upsampled chroma only
  when `residual`. The last resize to Y's size would hide a wrong factor, a dropped input or a
  dropped residual from a shape check; this table reaches Y's size only with the factor it names."""
  keras.utils.set_random_seed(2)
  net = refinement_lib.EncoderDecoderRefinement(('conv3x3-4-s4', 'up4', 'conv3x3-3'), residual)
  rng = np.random.default_rng(1)
  gray = rng.integers(0, 256, [2, 16, 16, 1]).astype(np.uint8)
  chroma = rng.uniform(0, 255, [2, 4, 4, 2]).astype(np.float32)
  net(gray, chroma)
  net.out.kernel.assign(tf.random.normal(net.out.kernel.shape))
  upsampled = tf.image.resize(color.scale_chroma(chroma), [16, 16], 'bilinear')
  x = tf.concat([model_lib.layers.scale_values(gray, 256), upsampled], axis=-1)
  x = tf.nn.relu(net.convs[0](x))
  assert x.shape[1:3] == (4, 4)
  x = tf.nn.relu(net.convs[1](tf.image.resize(x, [16, 16], 'bilinear')))
  want = net.out(x) + (upsampled if residual else 0)
  np.testing.assert_allclose(net(gray, chroma).numpy(), want.numpy(), atol=1e-5)
  assert np.abs(want.numpy()).max() > 1e-2


def test_make_refinement_builds_what_the_config_describes():
  """Every key of `model.refinement` reaches the network: the encoder-decoder's `residual` (a
  config of one workdir dropped to False would silently predict chroma outright), the U-Net's
  `bottom_layers`, and a table of layers without a `name` (workdirs written before names existed
  named none; only a U-Net's has no `layers`)."""
  make = refinement_lib.make_refinement
  net = make(ml_collections.ConfigDict(dict(layers=('conv3x3-4', 'up2'), residual=True)))
  assert isinstance(net, refinement_lib.EncoderDecoderRefinement)
  assert net.residual and net.table == (('conv', 3, 4, 1), ('up', 2))
  assert not make(ml_collections.ConfigDict(dict(name='encoder_decoder', layers=()))).residual
  unet = make(ml_collections.ConfigDict(dict(filters=(4, 8, 16), bottom_layers=3)))
  assert isinstance(unet, refinement_lib.UNetRefinement)
  assert len(unet.bottom) == 3
  # filters[k] channels at 1/2^k of the size, on the way down and back up.
  assert [conv.filters for conv in [unet.stem, *unet.down]] == [4, 8, 16]
  assert [conv.filters for conv in unet.bottom] == [16] * 3
  assert [conv.filters for conv in unet.up] == [8, 4]
  with pytest.raises(ValueError, match="must be one of .*'unet'.*got 'resnet'"):
    make(ml_collections.ConfigDict(dict(name='resnet')))


def test_colorize_keeps_the_luminance_of_an_odd_non_square_input(model):
  rng = np.random.default_rng(2)
  gray = rng.integers(0, 256, [2, 37, 23]).astype(np.uint8)
  gray[0, :5] = 255  # Saturated rows: plain conversion would clip them.
  gray[1, :5] = 0
  out = model.colorize(gray, num_samples=2, temperature=1.0, seed=3).numpy()
  assert out.shape == (2, 2, 37, 23, 3) and out.dtype == np.uint8
  luma = transforms.luminance(out).numpy()[..., 0]
  assert np.abs(luma - gray[None].astype(np.float32)).max() <= 0.5 + 1e-3
  assert (out[0] != out[1]).any()  # Two samples, two colourings.
  # Colorizing is not a no-op: there is colour.
  assert np.abs(out.astype(int) - luma[..., None].round()).max() > 5
  # Input b's colourings do not depend on its batch: the second input's, made again in a batch of
  # the same shape (nothing recompiles) at other rows, come out the same.
  small = tf.repeat(model.network_gray(gray[1:2, ..., None]), 4, axis=0)
  seeds = [7, model_lib.sampling.derive_seed(3, 1, 1), 8, model_lib.sampling.derive_seed(3, 1, 0)]
  chroma = model.refine(small, model.sample_chroma(small, seeds))
  again = model.combine(np.repeat(gray[1:2], 4, 0), chroma).numpy()
  np.testing.assert_array_equal(again[1], out[1, 1])
  np.testing.assert_array_equal(again[3], out[0, 1])
  with pytest.raises(ValueError, match='uint8'):
    model.colorize(gray.astype(np.float32))
  with pytest.raises(ValueError, match=r'at least one pixel, got shape \(2, 0, 23, 1\)'):
    model.colorize(gray[:, :0])
  for bad in (-1, 1.5, True):
    with pytest.raises(ValueError, match=f'num_samples must be an integer >= 0, got {bad}'):
      model.colorize(gray, num_samples=bad)
  # An RGB photo is refused with the conversion to pass instead, and that conversion works.
  rgb = np.repeat(gray[..., None], 3, axis=-1)
  for photos in (rgb, rgb[0]):  # A batch of RGB photos, or one.
    with pytest.raises(ValueError, match=r'luminance, data\.transforms\.to_uint8'):
      model.colorize(photos)
  hinted = transforms.to_uint8(transforms.luminance(rgb))[..., 0]
  np.testing.assert_array_equal(model.colorize(hinted, seed=3).numpy()[0], out[0])
  # An empty batch (a filtered list of photos) gives no colourings, of the shape asked for.
  assert model.colorize(gray[:0], num_samples=2).shape == (2, 0, 37, 23, 3)


def test_colorize_pairs_sample_k_of_input_b_with_that_input_and_its_seed(model, monkeypatch):
  """Row k * B + b of the batch colorize samples and refines is input b's gray with seed
  derive_seed(seed, b, k), the seed its output [k, b] is documented to have."""
  gray = np.stack([np.zeros([9, 13], np.uint8), np.full([9, 13], 255, np.uint8)])
  seen = {}
  refine = model.refine

  def recording_refine(small, bins, seeds=0):
    seen['gray'], seen['seeds'] = np.asarray(small), list(seeds)
    return refine(small, bins, seeds)

  monkeypatch.setattr(model, 'refine', recording_refine)
  model.colorize(gray, num_samples=3, seed=4)
  small = model.network_gray(gray).numpy()
  for k in range(3):
    for b in range(2):
      np.testing.assert_array_equal(seen['gray'][2 * k + b], small[b])
      assert seen['seeds'][2 * k + b] == model_lib.sampling.derive_seed(4, b, k)
  model.colorize(gray, num_samples=1, seed=np.int64(4))  # A numpy int is the same seed.
  assert seen['seeds'] == [model_lib.sampling.derive_seed(4, b, 0) for b in range(2)]
  for seed in ([1, 2], 1.5):  # One seed, not one per input (int() raised a TypeError for a list).
    with pytest.raises(ValueError, match=r'seed must be one whole number .*got (\[1, 2\]|1\.5)'):
      model.colorize(gray, seed=seed)


@pytest.mark.parametrize('temperature', [1.0, 0.7])
def test_sample_chroma_cached_equals_naive_through_the_model(model, temperature):
  """Through the whole model (ResNet, adaptation, conditional PixelCNN): the cached sampler (per-layer
  caches, the conditioning read a pixel at a time) draws exactly the bins the naive one (the whole
  PixelCNN per sub-pixel) draws, from the same seeds, example by example."""
  gray = random_batch(model, n=3, seed=5)['gray']
  seeds = [3, 11, 2 ** 31 - 1]
  cached = model.sample_chroma(gray, seeds, temperature=temperature, method='cached').numpy()
  naive = model.sample_chroma(gray, seeds, temperature=temperature, method='naive').numpy()
  assert cached.shape == (3, 4, 4, 2) and cached.dtype == np.int32
  np.testing.assert_array_equal(cached, naive)
  # Not an agreement of constants: the bins spread over the range and follow the seeds.
  assert len(np.unique(cached)) > 8 and 0 <= cached.min() and cached.max() < 32
  other = model.sample_chroma(gray, [4, 12, 5], temperature=temperature, method='cached').numpy()
  assert (other != cached).mean() > 0.3


def test_candidates_keep_per_photo_the_draw_nearest_to_the_mean_of_the_draws(model):
  """`candidates=N` returns, per example, one of the N plain draws (candidate j seeded
  `candidates.seeds_of(seeds, j)`): the one whose chroma (bin centres) is nearest to their mean."""
  from pixel_recursive import candidates
  gray = random_batch(model, n=4, seed=6)['gray']
  seeds = [3, 11, 40, 2 ** 31 - 1]
  draws = np.stack([model.sample_chroma(gray, candidates.seeds_of(seeds, j), 1.2).numpy()
                    for j in range(3)])
  values = transforms.dequantize_chroma(draws, model.num_bins).numpy().astype(np.float64)
  distance = ((values - values.mean(0)) ** 2).sum(axis=(2, 3, 4))
  want = distance.argmin(0)
  assert len(set(want.tolist())) > 1  # The seeds make the test pick different candidates.
  got = model.sample_chroma(gray, seeds, 1.2, candidates=3).numpy()
  np.testing.assert_array_equal(got, draws[want, np.arange(4)])
  # One candidate is the plain draw; the first candidate of N is that draw too.
  np.testing.assert_array_equal(model.sample_chroma(gray, seeds, 1.2, candidates=1), draws[0])
  # colorize passes them on: its colouring of photo b, seed s, is that of the selected bins.
  out = model.colorize(gray[:2], num_samples=1, temperature=1.2, seed=5, candidates=3).numpy()[0]
  own = [model_lib.sampling.derive_seed(5, b, 0) for b in range(2)]
  bins = model.sample_chroma(gray[:2], own, 1.2, candidates=3)
  np.testing.assert_array_equal(out, model.combine(gray[:2], model.refine(gray[:2], bins, own)))
  with pytest.raises(ValueError, match='candidates must be an integer >= 1, got 0'):
    model.sample_chroma(gray, seeds, candidates=0)


# ----------------------------------------------------------------------------------------------
# The conditioning ResNet.
# ----------------------------------------------------------------------------------------------
# test_paper_configs.py checks the paper's ResNet-101 (built from pixcolor_imagenet.py).
def test_keras_applications_resnet_weights_load_by_name(tmp_path):
  """Keras' ResNet50 weights (random here; ImageNet's in use) fit a (3, 4, 6) conditioning network;
  undilated, it then computes exactly keras.applications' conv4 output."""
  keras.utils.set_random_seed(0)
  app = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(None, None, 3))
  path = str(tmp_path / 'resnet50.weights.h5')
  app.save_weights(path)
  ours = resnet_lib.ResNetFeatures(blocks=(3, 4, 6), width=64, dilate_last=False)
  resnet_lib.load_resnet_weights(ours, path)
  gray = np.random.default_rng(0).integers(0, 256, [1, 64, 48, 1]).astype(np.uint8)
  rgb = np.repeat(gray, 3, -1).astype(np.float32)
  conv4 = keras.Model(app.input, app.get_layer('conv4_block6_out').output)
  expected = conv4(keras.applications.resnet.preprocess_input(rgb))
  np.testing.assert_allclose(ours(gray), expected, rtol=1e-4, atol=1e-3)


def test_resnet_stages_strides_and_channels():
  """One stage has no stride to trade for dilation (dilating it would only widen its view); the
  channels it says it gives are the ones it gives; a stage without blocks is refused at once."""
  single = resnet_lib.ResNetFeatures(blocks=(2,), width=4)
  assert [(b.stride, b.dilation) for b in single.res_blocks] == [(1, 1), (1, 1)]
  features = single(tf.zeros([1, 16, 16, 1], tf.uint8))
  assert features.shape == (1, 4, 4, single.out_channels) and single.output_stride == 4
  two = resnet_lib.ResNetFeatures(blocks=(1, 2), width=4, max_pool=False)
  assert [(b.stride, b.dilation) for b in two.res_blocks] == [(1, 1), (1, 2), (1, 2)]
  assert two(tf.zeros([1, 16, 16, 1], tf.uint8)).shape == (1, 8, 8, two.out_channels)
  for bad in [(), (2, 0)]:
    with pytest.raises(ValueError, match='at least one stage of >= 1 block'):
      resnet_lib.ResNetFeatures(blocks=bad)
  with pytest.raises(ValueError, match='conditioning.width must be >= 1, got 0'):
    resnet_lib.ResNetFeatures(blocks=(1,), width=0)
  with pytest.raises(ValueError, match=r'conditioning.bn_momentum must be in \[0, 1\], got 1.5'):
    resnet_lib.ResNetFeatures(blocks=(1,), bn_momentum=1.5)


def test_resnet_batch_norm_learns_its_statistics_only_in_training():
  """From scratch, every batch norm of the conditioning ResNet (the stem's and each block's)
  updates its moving statistics in a training call and leaves them alone otherwise."""
  keras.utils.set_random_seed(0)
  net = resnet_lib.ResNetFeatures(blocks=(1, 2), width=4, max_pool=False, bn_momentum=0.5)
  gray = tf.constant(np.random.default_rng(0).integers(0, 256, [2, 16, 16, 1]), tf.uint8)
  inference = net(gray).numpy()
  bns = [l for l in net.named_layers().values() if isinstance(l, keras.layers.BatchNormalization)]
  assert len(bns) == 1 + 4 + 4 + 3  # The stem; per block 3, and 1 more for a projection.
  assert {bn.momentum for bn in bns} == {0.5}
  before = [bn.moving_mean.numpy() for bn in bns]
  np.testing.assert_array_equal(net(gray).numpy(), inference)
  assert all(np.array_equal(bn.moving_mean.numpy(), b) for bn, b in zip(bns, before))
  training = net(gray, training=True).numpy()
  unmoved = [bn.name for bn, b in zip(bns, before) if np.allclose(bn.moving_mean.numpy(), b)]
  assert not unmoved
  assert not np.allclose(training, inference)


def test_conditioning_weights_that_do_not_fit_are_a_clear_error(tmp_path):
  other = resnet_lib.ResNetFeatures(blocks=(1, 1), width=4, max_pool=False)
  other(tf.zeros([1, 16, 16, 1], tf.uint8))
  path = str(tmp_path / 'other.weights.h5')
  other.save_weights(path)
  with pytest.raises(ValueError, match='does not fit the conditioning network'):
    model_lib.build_model(tiny_model_config(conditioning_weights=path), load_pretrained=True)
  # Keras says which layer, then why (on the line after): the one line keeps both. Compared with
  # what this Keras itself says, not with its words of today (a 3.x release may change them).
  deeper = lambda: resnet_lib.ResNetFeatures(blocks=(1, 2), width=4, max_pool=False)
  with pytest.raises(Exception) as keras_error:
    net = deeper()
    net(tf.zeros([1, 16, 16, 1], tf.uint8))
    net.load_weights(path)
  lines = [line.strip() for line in str(keras_error.value).splitlines() if line.strip()]
  with pytest.raises(ValueError, match='does not fit the conditioning network') as ours:
    resnet_lib.load_resnet_weights(deeper(), path)
  assert '\n' not in str(ours.value) and lines[0][:100] in str(ours.value)
  if lines[0].endswith(':'):  # Keras 3.15: "... for object <BatchNormalization ...>:", the reason.
    assert lines[1][:60] in str(ours.value)
  with pytest.raises(ValueError, match='is not a file'):
    model_lib.build_model(tiny_model_config(conditioning_weights=str(tmp_path / 'missing.h5')),
                          load_pretrained=True)
  with pytest.raises(ValueError, match='is not a file'):
    resnet_lib.load_resnet_weights(other, str(tmp_path))  # A folder.
  # Keras' ResNet50 has these blocks, but not this width: said so, without building a ResNet50.
  narrow = resnet_lib.ResNetFeatures(blocks=(3, 4, 6), width=8)
  with pytest.raises(ValueError, match=r'no keras.applications ResNet has blocks \(3, 4, 6\) and '
                     'width 8'):
    resnet_lib.load_resnet_weights(narrow, path)
  # A file saved from the same network loads, and is ignored unless asked for.
  net = model_lib.build_model(tiny_model_config())
  net.backbone.save_weights(str(tmp_path / 'same.weights.h5'))
  loaded = model_lib.build_model(
      tiny_model_config(conditioning_weights=str(tmp_path / 'same.weights.h5')),
      load_pretrained=True)
  for a, b in zip(net.backbone.weights, loaded.backbone.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  unasked = model_lib.build_model(
      tiny_model_config(conditioning_weights=str(tmp_path / 'same.weights.h5')))
  assert not all(np.array_equal(a.numpy(), b.numpy())
                 for a, b in zip(net.backbone.weights, unasked.backbone.weights))


def test_image_size_must_match_the_output_stride():
  for chroma_size in (8, 2):  # 16 / 4 = 4: too many chroma pixels, or too few.
    with pytest.raises(ValueError, match='output stride'):
      model_lib.PixColor(tiny_model_config(chroma_size=chroma_size))
  # The chroma grid must divide the image: Y is area-downsampled to it by a whole factor.
  with pytest.raises(ValueError, match='image_size 18 is not a multiple of chroma_size 4'):
    model_lib.PixColor(tiny_model_config(image_size=18))
  with pytest.raises(ValueError, match="model.name must be 'pixcolor'"):
    model_lib.build_model(tiny_model_config(name='coltran'))


# ----------------------------------------------------------------------------------------------
# The refinement layer table (test_paper_configs.py builds the paper's from pixcolor_imagenet.py).
# ----------------------------------------------------------------------------------------------
def test_refinement_table_entries_parse_or_say_why():
  assert refinement_lib.parse_refinement_layer('conv3x3-64-s2') == ('conv', 3, 64, 2)
  assert refinement_lib.parse_refinement_layer('conv5x5-1024') == ('conv', 5, 1024, 1)
  assert refinement_lib.parse_refinement_layer('up4') == ('up', 4)
  for bad in ('conv3x5-8', 'conv3x3', 'up1', 'pool2', 'conv3x3-8-x2', 'conv0x0-8',
              'conv3x3-8-s2-x'):
    with pytest.raises(ValueError, match='refinement layer'):
      refinement_lib.parse_refinement_layer(bad)
