"""Every transform gives the same answer eagerly and inside tf.data.Dataset.map, and the right one.

big_vision's ops_image_test.py: "You'd be surprised how much these two differ!"
"""
import inspect

import numpy as np
import pytest
import tensorflow as tf

from data import transforms

# Asymmetric so that a swapped H and W cannot pass.
H, W = 6, 10


def random_image(shape, seed=0, dtype=np.uint8):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, shape).astype(dtype)


def eager_and_mapped(fn, *args):
  """(fn(*args) run eagerly, fn(*args) run inside Dataset.map), as numpy (nested) structures."""
  eager = tf.nest.map_structure(lambda t: t.numpy(), fn(*[tf.constant(a) for a in args]))
  ds = tf.data.Dataset.from_tensors(tuple(tf.constant(a) for a in args)).map(lambda *a: fn(*a))
  mapped = tf.nest.map_structure(lambda t: t.numpy(), next(iter(ds)))
  return eager, mapped


def both_ways(fn, *args):
  """fn(*args), after asserting that eager and Dataset.map agree: discrete outputs (bins, uint8)
  exactly, float outputs to within 8 float32 roundings of their scale.

  Not bit for bit: a tf.data function is a graph that Grappler rewrites and whose ops may run other
  kernels than eager's (oneDNN or Eigen), so sums can round differently. On a Xeon whose oneDNN was
  held to AVX2 (ONEDNN_MAX_CPU_ISA=AVX2) the YCbCr of 5% of gray levels differed in the last bit
  (1.5e-5 on 0..255); a real difference between the two paths (another resize, a missing clip) is
  orders of magnitude larger.
  """
  eager, mapped = eager_and_mapped(fn, *args)
  tf.nest.assert_same_structure(eager, mapped)
  for e, m in zip(tf.nest.flatten(eager), tf.nest.flatten(mapped)):
    assert e.dtype == m.dtype and e.shape == m.shape
    if np.issubdtype(e.dtype, np.floating):
      scale = max(1.0, float(np.max(np.abs(e), initial=0.0)))
      np.testing.assert_allclose(m, e, rtol=0, atol=8 * np.finfo(e.dtype).eps * scale)
    else:
      np.testing.assert_array_equal(e, m)
  return eager


# ----------------------------------------------------------------------------------------------
# One case per public transform, each run both ways. A new transform without a case fails
# test_every_transform_has_a_case.
# ----------------------------------------------------------------------------------------------
CASES = {
    'to_float': (transforms.to_float, [random_image([H, W, 3])]),
    'to_uint8': (transforms.to_uint8,
                 [np.array([-3.0, 0.49, 0.5, 1.5, 254.5, 255.4, 300.0], np.float32)]),
    'crop_borders': (lambda x: transforms.crop_borders(x, 1, 2, 3, 4),
                     [random_image([H, W, 3])]),
    'celeba_crop': (transforms.celeba_crop, [random_image([218, 178, 3])]),
    'center_square_crop': (transforms.center_square_crop, [random_image([H, W, 3])]),
    'resize': (lambda x: transforms.resize(x, (3, 5)), [random_image([H, W, 3])]),
    'rgb_to_ycbcr': (transforms.rgb_to_ycbcr, [random_image([H, W, 3])]),
    'ycbcr_to_rgb': (transforms.ycbcr_to_rgb, [random_image([H, W, 3], dtype=np.float32)]),
    'luminance': (transforms.luminance, [random_image([H, W, 3])]),
    'split_luma_chroma': (lambda x: transforms.split_luma_chroma(x, 4),
                          [random_image([16, 12, 3])]),
    'quantize': (lambda x: transforms.quantize(x, 32),
                 [np.linspace(-10, 270, 57).astype(np.float32)]),
    'dequantize': (lambda x: transforms.dequantize(x, 32), [np.arange(32, dtype=np.int32)]),
    'quantize_chroma': (lambda x: transforms.quantize_chroma(x, 32),
                        [np.linspace(-10, 270, 57).astype(np.float32)]),
    'dequantize_chroma': (lambda x: transforms.dequantize_chroma(x, 32),
                          [np.arange(32, dtype=np.int32)]),
    'colourfulness': (transforms.colourfulness, [random_image([H, W, 3])]),
    'random_square_crop': (lambda x: transforms.random_square_crop(x, [3, 4], 0.5),
                           [random_image([20, 30, 3])]),
    'random_zoom': (lambda x: transforms.random_zoom(x, [5, 6], 0.5),
                    [random_image([20, 30, 3])]),
    'random_flip': (lambda x: transforms.random_flip({'a': x, 'b': x[..., :1]}, [1, 2]),
                    [random_image([H, W, 3])]),
    'to_gray': (transforms.to_gray, [random_image([H, W, 3])]),
    'random_grayscale': (lambda x: transforms.random_grayscale({'a': x, 'b': x[::2, ::2]}, [1, 2],
                                                               0.5),
                         [random_image([H, W, 3])]),
}


def test_every_transform_has_a_case():
  public = {name for name, f in inspect.getmembers(transforms, inspect.isfunction)
            if not name.startswith('_') and f.__module__ == transforms.__name__}
  assert public == set(CASES)


@pytest.mark.parametrize('name', sorted(CASES))
def test_eager_and_dataset_map_agree(name):
  fn, args = CASES[name]
  both_ways(fn, *args)


# ----------------------------------------------------------------------------------------------
# Values.
# ----------------------------------------------------------------------------------------------
def test_to_uint8_rounds_to_nearest_and_clips():
  out = both_ways(transforms.to_uint8, np.array([-3.0, 0.49, 0.51, 1.5, 254.6, 300.0], np.float32))
  assert out.dtype == np.uint8
  np.testing.assert_array_equal(out, [0, 0, 1, 2, 255, 255])


def test_crop_borders_removes_each_side():
  image = random_image([H, W, 3])
  np.testing.assert_array_equal(
      both_ways(lambda x: transforms.crop_borders(x, 1, 2, 3, 4), image), image[1:H - 2, 3:W - 4])


def test_celeba_crop_keeps_the_central_138_square():
  image = random_image([218, 178, 3])  # CelebA aligned images are 178 wide, 218 high.
  out = both_ways(transforms.celeba_crop, image)
  assert out.shape == (138, 138, 3)
  np.testing.assert_array_equal(out, image[40:178, 20:158])


@pytest.mark.parametrize('shape', [(H, W, 3), (W, H, 3), (7, 7, 1)])
def test_center_square_crop(shape):
  image = random_image(shape)
  out = both_ways(transforms.center_square_crop, image)
  side = min(shape[:2])
  top, left = (shape[0] - side) // 2, (shape[1] - side) // 2
  np.testing.assert_array_equal(out, image[top:top + side, left:left + side])


def test_area_resize_of_a_32x32_image_to_8x8_is_the_mean_of_4x4_blocks():
  image = random_image([32, 32, 3])
  out = both_ways(lambda x: transforms.resize(x, 8, 'area'), image)
  assert out.shape == (8, 8, 3) and out.dtype == np.float32
  blocks = image.astype(np.float64).reshape(8, 4, 8, 4, 3).mean(axis=(1, 3))
  np.testing.assert_allclose(out, blocks, atol=1e-4)


def test_area_resize_is_asymmetric_and_batched():
  batch = random_image([2, 24, 40, 3])
  out = both_ways(lambda x: transforms.resize(x, (H, W), 'area'), batch)
  assert out.shape == (2, H, W, 3)
  np.testing.assert_allclose(out, batch.astype(np.float64).reshape(2, H, 4, W, 4, 3).mean((2, 4)),
                             atol=1e-4)


@pytest.mark.parametrize('method', ['bicubic', 'bilinear', 'lanczos3', 'nearest'])
def test_other_resize_methods_stay_on_0_255(method):
  image = np.zeros([H, W, 3], np.uint8)
  image[:, W // 2:] = 255  # Sharp edges: bicubic and lanczos overshoot them unless clipped.
  image[H // 2:, :, 1] = 255
  out = both_ways(lambda x: transforms.resize(x, (H * 3, W * 3), method), image)
  assert out.shape == (H * 3, W * 3, 3)
  assert out.min() == 0 and out.max() == 255


@pytest.mark.parametrize('method', ['bicubic', 'bilinear', 'lanczos3'])
def test_shrinking_is_antialiased(method):
  grid = np.zeros([H * 4, W * 4, 3], np.uint8)
  grid[::4] = 255  # A grid line every 4 pixels: point sampling at 1/4 scale misses every line.
  grid[:, ::4] = 255
  out = both_ways(lambda x: transforms.resize(x, (H, W), method), grid)
  np.testing.assert_allclose(out.mean(), grid.mean(), rtol=0.05)


def test_unknown_resize_method():
  with pytest.raises(ValueError, match='unknown resize method'):
    transforms.resize(random_image([H, W, 3]), 4, 'box')


def test_ycbcr_known_values():
  colours = np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]]],
                     np.uint8)
  out = both_ways(transforms.rgb_to_ycbcr, colours)[0]
  np.testing.assert_allclose(out[0], [255, 128, 128], atol=1e-3)  # White.
  np.testing.assert_allclose(out[1], [0, 128, 128], atol=1e-3)  # Black.
  # JPEG (ITU-R BT.601 full range): Y = .299 R + .587 G + .114 B.
  np.testing.assert_allclose(out[2], [76.245, 84.972, 255.5], atol=1e-3)  # Red.
  np.testing.assert_allclose(out[3], [149.685, 43.528, 21.235], atol=1e-3)  # Green.
  np.testing.assert_allclose(out[4], [29.07, 255.5, 107.265], atol=1e-3)  # Blue.
  np.testing.assert_allclose(both_ways(transforms.luminance, colours)[0, :, 0], out[:, 0])


def test_ycbcr_to_rgb_known_values():
  ycbcr = np.array([[255, 128, 128], [76.245, 84.972, 255.5], [29.07, 255.5, 107.265]], np.float32)
  np.testing.assert_allclose(both_ways(transforms.ycbcr_to_rgb, ycbcr),
                             [[255, 255, 255], [255, 0, 0], [0, 0, 255]], atol=1e-2)


def test_ycbcr_round_trip_on_random_images():
  for seed in range(3):
    rgb = random_image([H, W, 3], seed=seed)
    back = both_ways(lambda x: transforms.ycbcr_to_rgb(transforms.rgb_to_ycbcr(x)), rgb)
    assert np.abs(back - rgb).max() < 0.5  # Rounds back to the same uint8 image ...
    np.testing.assert_array_equal(both_ways(transforms.to_uint8, back), rgb)
    # ... and the two matrices are each other's inverse, up to float32 rounding.
    assert np.abs(back - rgb).max() < 0.01


def test_ycbcr_matches_pillow():
  from PIL import Image  # pylint: disable=g-import-not-at-top
  rgb = random_image([H, W, 3])
  pillow = np.asarray(Image.fromarray(rgb).convert('YCbCr')).astype(np.float32)
  np.testing.assert_allclose(both_ways(transforms.rgb_to_ycbcr, rgb), pillow, atol=1.0)


def test_split_luma_chroma_keeps_full_size_luma_and_small_chroma():
  rgb = random_image([56, 84, 3])
  y, cbcr = both_ways(lambda x: transforms.split_luma_chroma(x, 28), rgb)
  assert y.shape == (56, 84, 1) and y.dtype == np.float32
  assert cbcr.shape == (28, 28, 2) and cbcr.dtype == np.float32
  ycbcr = both_ways(transforms.rgb_to_ycbcr, rgb)
  np.testing.assert_allclose(y, ycbcr[..., :1], atol=1e-4)
  # Area-downsampled chroma: each 28 x 28 pixel averages a 2 x 3 block.
  np.testing.assert_allclose(cbcr, ycbcr[..., 1:].reshape(28, 2, 28, 3, 2).mean((1, 3)), atol=1e-3)


def test_split_luma_chroma_batched():
  y, cbcr = both_ways(lambda x: transforms.split_luma_chroma(x, 28), random_image([2, 64, 48, 3]))
  assert y.shape == (2, 64, 48, 1) and cbcr.shape == (2, 28, 28, 2)


@pytest.mark.parametrize('num_bins,low,high',
                         [(32, 0.0, 256.0), (256, 0.0, 256.0), (10, -1.0, 1.0)])
def test_quantize_dequantize_round_trip(num_bins, low, high):
  q = lambda x: transforms.quantize(x, num_bins, low, high)
  dq = lambda b: transforms.dequantize(b, num_bins, low, high)
  bins = np.arange(num_bins, dtype=np.int32)
  centres = both_ways(dq, bins)
  assert centres.dtype == np.float32
  np.testing.assert_array_equal(both_ways(q, centres), bins)
  width = (high - low) / num_bins
  values = np.random.default_rng(0).uniform(low, high, 1000).astype(np.float32)
  values = np.concatenate([values, [low, high - 1e-4 * width, low + width]]).astype(np.float32)
  bins_of_values = both_ways(q, values)
  assert bins_of_values.dtype == np.int32
  assert np.abs(both_ways(dq, bins_of_values) - values).max() <= width / 2 + 1e-5


def test_quantize_bins_are_half_open_and_out_of_range_values_clip():
  values = np.array([-50.0, -1e-3, 0.0, 7.999, 8.0, 255.9, 256.0, 1e6], np.float32)
  np.testing.assert_array_equal(both_ways(lambda x: transforms.quantize(x, 32), values),
                                [0, 0, 0, 0, 1, 31, 31, 31])


def test_quantize_takes_uint8():
  values = np.arange(256, dtype=np.uint8)
  np.testing.assert_array_equal(both_ways(lambda x: transforms.quantize(x, 32), values),
                                np.arange(256) // 8)


@pytest.mark.parametrize('num_bins', [32, 16, 256])
def test_chroma_bins_centre_neutral_gray(num_bins):
  centre = num_bins // 2
  assert both_ways(lambda b: transforms.dequantize_chroma(b, num_bins),
                   np.array([centre], np.int32))[0] == 128.0
  width = 256 / num_bins
  near_neutral = np.float32(128) + np.array([-0.49, -1e-5, 0, 1e-5, 0.49], np.float32) * width
  np.testing.assert_array_equal(
      both_ways(lambda x: transforms.quantize_chroma(x, num_bins), near_neutral), centre)
  bins = np.arange(num_bins, dtype=np.int32)
  np.testing.assert_array_equal(
      both_ways(lambda x: transforms.quantize_chroma(transforms.dequantize_chroma(x, num_bins),
                                                     num_bins), bins), bins)


def test_chroma_of_gray_pixels_is_the_neutral_bin():
  # Every gray level: float32 YCbCr puts their chroma a hair off 128, which must not change a bin.
  gray = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=-1)
  cbcr = both_ways(transforms.rgb_to_ycbcr, gray)[:, 1:]
  np.testing.assert_array_equal(both_ways(lambda x: transforms.quantize_chroma(x, 32), cbcr), 16)


def test_chroma_bins_cover_the_whole_chroma_range_within_a_bin():
  rgb = np.random.default_rng(0).integers(0, 256, [4096, 3]).astype(np.uint8)
  rgb[:6] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255], [255, 0, 255]]
  cbcr = both_ways(transforms.rgb_to_ycbcr, rgb)[:, 1:]
  back = both_ways(lambda x: transforms.dequantize_chroma(transforms.quantize_chroma(x, 32), 32),
                   cbcr)
  assert np.abs(back - cbcr).max() <= 8  # Half a bin (4) inside, 7.5 in the clipped end bins.


# ----------------------------------------------------------------------------------------------
# Augmentation and the grayscale test.
# ----------------------------------------------------------------------------------------------
def test_random_square_crop_is_a_square_of_the_image_fixed_by_its_seed():
  image = random_image([20, 30, 3])
  seen = set()
  for seed in range(40):
    out = both_ways(lambda x: transforms.random_square_crop(x, [seed, 7], 0.5), image)
    side = out.shape[0]
    assert out.shape == (side, side, 3) and 10 <= side <= 20
    # It is a window of the image: find where.
    hits = [(t, l) for t in range(21 - side) for l in range(31 - side)
            if np.array_equal(image[t:t + side, l:l + side], out)]
    assert hits, f'seed {seed}: not a crop of the image'
    seen.add((side, hits[0]))
    again = transforms.random_square_crop(tf.constant(image), [seed, 7], 0.5).numpy()
    np.testing.assert_array_equal(again, out)
  assert len(seen) > 20  # Sizes and positions vary with the seed,
  assert len({side for side, _ in seen}) >= 5  # the sides over [min_scale, 1] of the short side.


def test_random_square_crop_reaches_every_side_from_min_scale_to_the_whole_short_side():
  """Sides are scale x short side rounded, so both ends are drawn (truncated, the whole short side
  never would be)."""
  image = tf.constant(random_image([10, 16, 3]))
  sides = [transforms.random_square_crop(image, [seed, 2], 0.5).shape[0] for seed in range(400)]
  assert set(sides) == {5, 6, 7, 8, 9, 10}
  # Uniform: 5 and 10 take half a step of scale each (10%), the others a whole step (20%). A scale
  # drawn past 1 and clipped to the short side would make 10 the most frequent.
  counts = [sides.count(side) for side in (5, 6, 7, 8, 9, 10)]
  assert max(counts[0], counts[-1]) < 60 and min(counts[1:-1]) > 60, counts


def test_random_flip_flips_every_field_together_about_half_the_time():
  image = random_image([H, W, 3])
  flips = 0
  for seed in range(200):
    out = transforms.random_flip({'a': image, 'b': image[..., :1]}, [seed, 0])
    a, b = out['a'].numpy(), out['b'].numpy()
    flipped = np.array_equal(a, image[:, ::-1])
    assert flipped or np.array_equal(a, image)
    np.testing.assert_array_equal(b, a[..., :1])  # Both fields the same way.
    flips += flipped
  assert 70 < flips < 130


def test_colourfulness_tells_gray_photos_from_colour_ones():
  gray = np.repeat(random_image([40, 50, 1]), 3, axis=-1)
  assert float(transforms.colourfulness(gray)) < transforms.GRAY_COLOURFULNESS
  colour = gray.copy()
  colour[..., 0] = np.clip(colour[..., 0].astype(int) + 20, 0, 255)
  assert float(transforms.colourfulness(colour)) > 10 * transforms.GRAY_COLOURFULNESS
  # The measure (and bound) the staged ImageNet sample was filtered with: |R - G| + |G - B|.
  flat = np.tile(np.array([10, 20, 40], np.uint8), [8, 8, 1])
  assert float(transforms.colourfulness(flat)) == pytest.approx(10 + 20)
  # A scanned black-and-white photo: gray, with a level of colour noise in each channel. Measured
  # at 64 x 64, where each pixel averages 4 x 4 of this one, the noise is gone; at full size it
  # would count as colour (mean |R - G| + |G - B| about 1.8).
  noise = np.random.default_rng(1).integers(-1, 2, [256, 256, 3])
  scanned = (np.repeat(random_image([256, 256, 1]) // 2 + 64, 3, axis=-1) + noise).astype(np.uint8)
  full_size = np.mean(np.abs(np.diff(scanned.astype(int), axis=-1)).sum(-1))
  assert full_size > 1.5 * transforms.GRAY_COLOURFULNESS
  assert float(transforms.colourfulness(scanned)) < transforms.GRAY_COLOURFULNESS


def test_random_zoom_is_a_central_square_of_the_drawn_side_eagerly_and_in_a_dataset():
  image = np.arange(40 * 30 * 3, dtype=np.int32).reshape(40, 30, 3)
  seed = tf.constant([3, 4], tf.int64)
  for probability in (0.0, 1.0):
    eager = np.asarray(transforms.random_zoom(image, seed, 0.5, probability))
    mapped = next(iter(tf.data.Dataset.from_tensors(image).map(
        lambda x: transforms.random_zoom(x, seed, 0.5, probability)))).numpy()
    np.testing.assert_array_equal(eager, mapped)
    side = eager.shape[0]
    assert eager.shape[:2] == (side, side)
    top, left = (40 - side) // 2, (30 - side) // 2
    np.testing.assert_array_equal(eager, image[top:top + side, left:left + side])  # Centred.
    if probability == 0.0:
      assert side == 30  # No zoom: the central square.
  sides = {transforms.random_zoom(image, tf.constant([s, 0], tf.int64), 0.5).shape[0]
           for s in range(40)}
  assert min(sides) >= 15 and max(sides) <= 30 and len(sides) > 8
  some = [transforms.random_zoom(image, tf.constant([s, 1], tf.int64), 0.5, 0.5).shape[0]
          for s in range(40)]
  assert 8 < sum(s == 30 for s in some) < 32  # About half not zoomed.


def test_random_grayscale_turns_every_image_of_an_example_to_its_luminance_together():
  image = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [200, 200, 200]]], np.uint8)
  gray = transforms.random_grayscale({'a': image, 'b': image[:1]}, [0, 1], 1.0)
  # BT.601: 0.299 R + 0.587 G + 0.114 B, rounded, in every channel; uint8 stays uint8.
  expected = np.array([[76, 150], [29, 200]], np.uint8)[..., None].repeat(3, -1)
  np.testing.assert_array_equal(gray['a'], expected)
  np.testing.assert_array_equal(gray['b'], expected[:1])
  assert gray['a'].dtype == tf.uint8
  as_float = transforms.to_gray(image.astype(np.float32))  # And a float image stays float.
  assert as_float.dtype == tf.float32
  np.testing.assert_array_equal(as_float, expected.astype(np.float32))
  np.testing.assert_array_equal(
      transforms.random_grayscale({'a': image}, [0, 1], 0.0)['a'], image)
  turned = [bool(np.all(np.asarray(transforms.random_grayscale(
      {'a': image}, tf.constant([s, 3], tf.int64), 0.25)['a']) == expected))
            for s in range(200)]
  assert 30 <= sum(turned) <= 70  # About a quarter of 200 (binomial: mean 50, sd 6.1).
