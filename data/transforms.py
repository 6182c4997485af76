"""Pure image transforms, usable eagerly and inside `tf.data.Dataset.map`.

Every function takes and returns tensors of a single image `[H, W, C]` (or a batch `[B, H, W, C]` where
the docstring says so) and has no state, so `tests/test_transforms.py` runs each one both ways.
Pixel values are on the 0..255 scale throughout: uint8 in and out of the pipeline, float32 in between.
"""
import tensorflow as tf

# CelebA's aligned images are 178 x 218. The 8->32 face literature (Dahl et al. 2017 follow
# Yu & Porikli / Berthelot et al.) keeps the central 138 x 138: 40 px off top and bottom, 20 px off
# left and right.
CELEBA_CROP = dict(top=40, bottom=40, left=20, right=20)


def to_float(image):
  return tf.cast(image, tf.float32)


def to_uint8(image):
  """Rounds a 0..255 float image to uint8 (round-to-nearest, clipped)."""
  return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)


def crop_borders(image, top, bottom, left, right):
  """Removes fixed borders from a `[H, W, C]` image."""
  shape = tf.shape(image)
  return image[top:shape[0] - bottom, left:shape[1] - right]


def celeba_crop(image):
  """The central 138 x 138 crop of a 178 x 218 aligned CelebA image (see `CELEBA_CROP`)."""
  return crop_borders(image, **CELEBA_CROP)


def center_square_crop(image):
  """The largest centred square of a `[H, W, C]` image."""
  shape = tf.shape(image)
  side = tf.minimum(shape[0], shape[1])
  top = (shape[0] - side) // 2
  left = (shape[1] - side) // 2
  return image[top:top + side, left:left + side]


def colourfulness(image):
  """Mean of |R - G| + |G - B| over the pixels of a `[H, W, 3]` image seen at 64 x 64 (0..255 scale).

  Below `GRAY_COLOURFULNESS` an image is taken for a grayscale photograph stored as RGB: it teaches
  a colorizer "no colour", so the colorization pipeline drops it (the staged ImageNet sample used the
  same measure and bound, see its SOURCES.md).
  """
  small = resize(image, 64, 'area')
  return tf.reduce_mean(tf.abs(small[..., 0] - small[..., 1]) + tf.abs(small[..., 1] - small[..., 2]))


GRAY_COLOURFULNESS = 1.0


def random_square_crop(image, seed, min_scale=1.0):
  """A random square of a `[H, W, C]` image: side uniform in [min_scale, 1] x the short side, at a
  uniformly random position. Stateless: the same `seed` ([2] int) gives the same crop, eagerly and in
  `tf.data`. min_scale = 1 gives a random position along the long side only.
  """
  shape = tf.shape(image)
  short = tf.minimum(shape[0], shape[1])
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 3)
  scale = tf.random.stateless_uniform([], seeds[0], minval=min_scale, maxval=1.0)
  side = tf.clip_by_value(tf.cast(tf.round(scale * tf.cast(short, tf.float32)), tf.int32), 1, short)
  top = tf.random.stateless_uniform([], seeds[1], 0, shape[0] - side + 1, tf.int32)
  left = tf.random.stateless_uniform([], seeds[2], 0, shape[1] - side + 1, tf.int32)
  return image[top:top + side, left:left + side]


def random_zoom(image, seed, min_zoom=1.0, probability=1.0):
  """With `probability`, the central square of side z x the short side of a `[H, W, C]` image, z
  uniform in [min_zoom, 1] (the subject then fills more of the frame: a tighter framing); otherwise
  the central square itself. Stateless, like `random_square_crop`."""
  shape = tf.shape(image)
  short = tf.minimum(shape[0], shape[1])
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
  zoom = tf.random.stateless_uniform([], seeds[0], minval=min_zoom, maxval=1.0)
  zoom = tf.where(tf.random.stateless_uniform([], seeds[1]) < probability, zoom, 1.0)
  side = tf.clip_by_value(tf.cast(tf.round(zoom * tf.cast(short, tf.float32)), tf.int32), 1, short)
  top = (shape[0] - side) // 2
  left = (shape[1] - side) // 2
  return image[top:top + side, left:left + side]


def _together(images, seed, probability, fn):
  """`fn` applied to every tensor of the dict `images`, all or none, with `probability`
  (stateless: the same `seed` decides the same way, eagerly and in `tf.data`)."""
  apply = tf.random.stateless_uniform([], tf.cast(seed, tf.int64)) < probability
  images = {k: tf.convert_to_tensor(v) for k, v in images.items()}
  return {k: tf.cond(apply, lambda v=v: fn(v), lambda v=v: v) for k, v in images.items()}


def random_flip(images, seed):
  """Flips every `[H, W, C]` tensor of the dict `images` left-right together, with probability 1/2
  (stateless, like `random_square_crop`)."""
  return _together(images, seed, 0.5, lambda v: tf.reverse(v, [1]))


def to_gray(rgb):
  """A `[..., 3]` image as a black-and-white photo stored in colour: its BT.601 luminance, rounded,
  in all three channels, in the input's dtype."""
  rgb = tf.convert_to_tensor(rgb)
  y = tf.clip_by_value(tf.round(luminance(tf.cast(rgb, tf.float32))), 0, 255)
  return tf.cast(tf.repeat(y, 3, axis=-1), rgb.dtype)


def random_grayscale(images, seed, probability):
  """With `probability`, turns every `[H, W, 3]` image of the dict `images` to gray together
  (`to_gray`). Stateless, like `random_square_crop`."""
  return _together(images, seed, probability, to_gray)


RESIZE_METHODS = ('area', 'bicubic', 'bilinear', 'lanczos3', 'nearest')  # `resize`'s.


def resize(image, size, method='area'):
  """Resizes a `[H, W, C]` or `[B, H, W, C]` image to `size` (int or (h, w)); returns float32.

  `area` averages the source pixels each output pixel covers (for an integer factor, exactly a box
  filter): the downsampling of Dahl et al. 2017. `bicubic` / `bilinear` / `lanczos3` are antialiased
  when shrinking.
  """
  if isinstance(size, int):
    size = (size, size)
  image = to_float(image)
  if method == 'area':
    return tf.image.resize(image, size, method='area')
  if method in RESIZE_METHODS:
    out = tf.image.resize(image, size, method=method, antialias=method != 'nearest')
    return tf.clip_by_value(out, 0.0, 255.0)
  raise ValueError(f'unknown resize method {method!r}')


# JPEG / ITU-R BT.601 full-range YCbCr, values on 0..255 with chroma centred on 128.
_RGB_TO_YCBCR = [[0.299, -0.168735892, 0.5],
                 [0.587, -0.331264108, -0.418687589],
                 [0.114, 0.5, -0.081312411]]
_YCBCR_TO_RGB = [[1.0, 1.0, 1.0],
                 [0.0, -0.344136286, 1.772],
                 [1.402, -0.714136286, 0.0]]
_CHROMA_OFFSET = [0.0, 128.0, 128.0]


def rgb_to_ycbcr(rgb):
  """RGB (0..255, any dtype, `[..., 3]`) -> float32 YCbCr (JPEG full range, 0..255)."""
  return tf.tensordot(to_float(rgb), tf.constant(_RGB_TO_YCBCR), axes=1) + _CHROMA_OFFSET


def ycbcr_to_rgb(ycbcr):
  """Float YCbCr (JPEG full range, `[..., 3]`) -> float32 RGB on 0..255 (not clipped)."""
  return tf.tensordot(to_float(ycbcr) - _CHROMA_OFFSET, tf.constant(_YCBCR_TO_RGB), axes=1)


def luminance(rgb):
  """Y of BT.601, float32 `[..., 1]`."""
  return rgb_to_ycbcr(rgb)[..., :1]


def split_luma_chroma(rgb, chroma_size, method='area'):
  """Full-size luminance and downsampled chroma (PixColor Sec. 3: colour needs little resolution).

  Args:
    rgb: `[H, W, 3]` (or batched) RGB on 0..255.
    chroma_size: side of the square chroma image (28 in the paper).
  Returns:
    (y `[H, W, 1]` float32 at full size, cbcr `[chroma_size, chroma_size, 2]` float32).
  """
  ycbcr = rgb_to_ycbcr(rgb)
  return ycbcr[..., :1], resize(ycbcr[..., 1:], chroma_size, method)


def quantize(values, num_bins, low=0.0, high=256.0):
  """Float values in [low, high) -> int32 bin indices 0..num_bins-1 (out-of-range values clip)."""
  width = (high - low) / num_bins
  bins = tf.floor((to_float(values) - low) / width)
  return tf.cast(tf.clip_by_value(bins, 0, num_bins - 1), tf.int32)


def dequantize(bins, num_bins, low=0.0, high=256.0):
  """int bin indices -> float32 bin centres; `quantize(dequantize(b)) == b`."""
  width = (high - low) / num_bins
  return low + (to_float(bins) + 0.5) * width


def _chroma_range(num_bins):
  # Bins of width 256 / num_bins centred on 0, w, 2w, ..., so that neutral chroma (128) is the centre
  # of bin num_bins / 2. Bins on [0, 256) would put 128 on an edge, where float rounding sends gray
  # pixels (Cb = Cr = 128 +- 1e-5) to either neighbour at random: noisy targets, tinted grays.
  width = 256.0 / num_bins
  return -width / 2, 256.0 - width / 2


def quantize_chroma(cbcr, num_bins):
  """Cb, Cr on 0..255 -> int32 bins 0..num_bins-1 with neutral 128 at the centre of bin num_bins/2.

  PixColor's chroma targets (Sec. 3.1: 32 bins per channel). Decode with `dequantize_chroma`.
  """
  return quantize(cbcr, num_bins, *_chroma_range(num_bins))


def dequantize_chroma(bins, num_bins):
  """Inverse of `quantize_chroma`: float32 bin centres on 0..255 (bin num_bins/2 -> exactly 128)."""
  return dequantize(bins, num_bins, *_chroma_range(num_bins))
