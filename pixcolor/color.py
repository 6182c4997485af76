"""PixColor's colour plumbing: chroma units, putting chroma back on a luminance, resizing gray inputs.

Every function works eagerly and in graphs, on inputs whose height and width are only known when they
run (the SavedModel of `pixcolor.export` colours images of any size with these same functions).
"""
import numpy as np
import tensorflow as tf

from data import transforms


def scale_chroma(cbcr):
  """Cb, Cr on 0..255 -> [-1, 1] (neutral gray 128 -> 0): the refinement network's units."""
  return (tf.cast(cbcr, tf.float32) - 128.0) / 128.0


def unscale_chroma(scaled):
  return tf.cast(scaled, tf.float32) * 128.0 + 128.0


def ycbcr_to_rgb_in_gamut(y, cbcr):
  """Y and Cb, Cr (0..255 floats) -> uint8 RGB whose luminance is Y up to rounding.

  Plain conversion and clipping changes the luminance wherever the chroma is impossible at that
  brightness (strong colour on a near-white pixel). Here each pixel's chroma offset from gray is scaled
  by the largest s in [0, 1] that keeps R, G and B in [0, 255]; s exists because Y itself (s = 0) is in
  range. Each channel then rounds by at most 0.5, and so does their weighted mean Y.

  Args:
    y: [..., 1] luminance on 0..255.
    cbcr: [..., 2] chroma on 0..255 (128 is gray).
  Returns:
    uint8 [..., 3].
  """
  y = tf.clip_by_value(tf.cast(y, tf.float32), 0.0, 255.0)
  delta = transforms.ycbcr_to_rgb(tf.concat([tf.zeros_like(y), tf.cast(cbcr, tf.float32)], -1))
  # Room to 255 above, to 0 below, per channel; s is the tightest ratio over the channels.
  room = tf.where(delta > 0, 255.0 - y, y)
  ratio = tf.where(tf.abs(delta) > 1e-6, room / tf.maximum(tf.abs(delta), 1e-6), 1.0)
  s = tf.clip_by_value(tf.reduce_min(ratio, axis=-1, keepdims=True), 0.0, 1.0)
  return transforms.to_uint8(y + s * delta)


RGB_HINT = ('for RGB photos [B, H, W, 3] pass their luminance, '
            'data.transforms.to_uint8(data.transforms.luminance(rgb))[..., 0]')


def as_gray_batch(gray):
  """uint8 [B, H, W] or [B, H, W, 1] -> uint8 tensor [B, H, W, 1]."""
  gray = tf.convert_to_tensor(np.asarray(gray) if not tf.is_tensor(gray) else gray)
  if gray.dtype != tf.uint8:
    raise ValueError(f'gray must be uint8 luminance, got {gray.dtype.name}')
  if gray.shape.rank == 4 and gray.shape[-1] == 3:
    raise ValueError(f'gray must be [B, H, W] or [B, H, W, 1], got shape {gray.shape}: {RGB_HINT}')
  if gray.shape.rank == 3:
    gray = gray[..., None]
  if gray.shape.rank != 4 or gray.shape[-1] != 1:
    raise ValueError(f'gray must be [B, H, W] or [B, H, W, 1], got shape {gray.shape}')
  if 0 in gray.shape[1:3]:  # The resize's error would not name the input.
    raise ValueError(f'gray images must have at least one pixel, got shape {gray.shape}')
  return gray


def resize_gray(gray, size):
  """uint8 [B, H, W, 1] -> uint8 [B, size, size, 1]: area when both sides shrink (as the training
  data is made), bilinear otherwise; the identity at the size itself. H, W may be unknown until the
  graph runs."""
  height, width = tf.shape(gray)[1], tf.shape(gray)[2]
  same = tf.logical_and(tf.equal(height, size), tf.equal(width, size))
  shrink = tf.logical_and(height >= size, width >= size)
  out = tf.case([(same, lambda: tf.identity(gray)),
                 (shrink, lambda: transforms.to_uint8(transforms.resize(gray, size, 'area')))],
                default=lambda: transforms.to_uint8(transforms.resize(gray, size, 'bilinear')),
                exclusive=False)
  return tf.ensure_shape(out, [gray.shape[0], size, size, 1])


# Pixels per strip of the conversion of large images: a 12-megapixel photo took ~1.5 GB more
# memory converted at once (a dozen float32 tensors of its size), ~0.2 GB in strips.
STRIP_PIXELS = 1 << 20


def combine(gray, chroma, strip_pixels=STRIP_PIXELS):
  """The original Y [B, H, W, 1] with chroma [B, h, w, 2] (0..255) bilinearly resized to H x W:
  uint8 RGB [B, H, W, 3] whose luminance is Y's (`ycbcr_to_rgb_in_gamut`). Eagerly, an image of
  more than `strip_pixels` is converted in strips of rows (the same values, less memory)."""
  size = tf.shape(gray)[1:3]
  chroma = tf.cond(tf.reduce_all(tf.equal(tf.shape(chroma)[1:3], size)),
                   lambda: tf.identity(chroma),
                   lambda: transforms.resize(chroma, size, 'bilinear'))
  batch, height, width = gray.shape[:3]
  if not tf.executing_eagerly() or batch * height * width <= strip_pixels:
    return ycbcr_to_rgb_in_gamut(tf.cast(gray, tf.float32), chroma)
  rows = max(1, strip_pixels // (batch * width))
  return tf.concat([ycbcr_to_rgb_in_gamut(tf.cast(gray[:, r:r + rows], tf.float32),
                                          chroma[:, r:r + rows])
                    for r in range(0, height, rows)], axis=1)
