"""Image grids for TensorBoard, the command lines' grid PNGs and the notebooks (numpy in, numpy out)."""
import numpy as np
from PIL import Image


def nearest_upsample(images, factor):
  """uint8 [..., H, W, C] -> [..., H * factor, W * factor, C] by pixel replication."""
  images = np.asarray(images)
  return images.repeat(factor, axis=-3).repeat(factor, axis=-2)


def bicubic_upsample(images, size):
  """uint8 [B, h, w, 3] -> uint8 [B, size, size, 3] with Pillow's bicubic filter."""
  return np.stack([np.asarray(Image.fromarray(np.asarray(im)).resize((size, size), Image.BICUBIC))
                   for im in np.asarray(images)])


def to_rgb(image):
  image = np.asarray(image)
  if image.ndim == 2:
    image = image[..., None]
  if image.shape[-1] == 1:
    image = np.repeat(image, 3, axis=-1)
  return image.astype(np.uint8)


def grid(rows, pad=2, background=255):
  """Tiles a list of rows (each a list of uint8 images, gray or RGB, any sizes) into one image.

  Each cell is as large as the largest image in its column and row; smaller images sit top-left.
  """
  rows = [[to_rgb(im) for im in row] for row in rows]
  n_cols = max(len(r) for r in rows)
  col_w = [max((r[c].shape[1] for r in rows if c < len(r)), default=0) for c in range(n_cols)]
  row_h = [max(im.shape[0] for im in r) for r in rows]
  out = np.full((sum(row_h) + pad * (len(rows) + 1), sum(col_w) + pad * (n_cols + 1), 3),
                background, np.uint8)
  y = pad
  for r, h in zip(rows, row_h):
    x = pad
    for c, im in enumerate(r):
      out[y:y + im.shape[0], x:x + im.shape[1]] = im
      x += col_w[c] + pad
    y += h + pad
  return out
