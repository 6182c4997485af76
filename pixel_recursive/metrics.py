"""Image-quality metrics on uint8 images (0..255); shared by both papers' evaluations.

Definitions: ../shared/notes/fidelity_metrics.md. pSNR, SSIM and MS-SSIM are TensorFlow's
(`tf.image.psnr`, `tf.image.ssim`, `tf.image.ssim_multiscale`). MS-SSIM uses as many of the standard
five scales (Wang et al. 2003) as the image size allows, with their weights renormalised to sum to
one: three for 32 x 32 images, five from 176 x 176 up. Super-resolution adds consistency with the
input and the high-frequency energy ratio; colorization the Lab colour histogram intersection.
"""
import numpy as np
import tensorflow as tf

from data import transforms

# Wang, Simoncelli & Bovik 2003, the weights tf.image.ssim_multiscale uses by default.
_MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def check_range(images):
  """A ValueError in words for concrete float images that are not on 0..255: floats in [0, 1]
  (or [-1, 1]) would otherwise give a pSNR 48 dB too high, or histograms of near-black, silently.
  Symbolic tensors (inside a `tf.function`) and integer images pass unchecked."""
  if isinstance(images, tf.Tensor) and not hasattr(images, 'numpy'):
    return
  values = np.asarray(images)
  if values.dtype.kind != 'f' or not values.size:
    return
  low, high = float(np.min(values)), float(np.max(values))
  if low < 0.0 or high > 255.0:
    raise ValueError(f'the metrics take images on 0..255 (uint8, or floats of that range); got '
                     f'floats in [{low:.3g}, {high:.3g}]')
  if high <= 1.0 and np.any(values != np.round(values)):
    raise ValueError('the metrics take images on 0..255 (uint8, or floats of that range); got '
                     'floats in [0, 1]: multiply them by 255 first')


def _float(images):
  check_range(images)
  return tf.cast(tf.convert_to_tensor(images), tf.float32)


def psnr(images, references):
  """pSNR in dB, [B]; identical images give +inf (callers average finite values or cap)."""
  return tf.image.psnr(_float(images), _float(references), max_val=255.0)


def ssim(images, references, filter_size=11):
  """SSIM, [B] (filter_size shrinks to fit small images)."""
  size = min(filter_size, int(images.shape[1]), int(images.shape[2]))
  return tf.image.ssim(_float(images), _float(references), max_val=255.0, filter_size=size)


def ms_ssim_scales(height, width, filter_size=11):
  """How many MS-SSIM scales fit: the coarsest scale must be at least `filter_size` pixels."""
  scales = 1
  while scales < len(_MS_SSIM_WEIGHTS) and min(height, width) // 2 ** scales >= filter_size:
    scales += 1
  return scales


def ms_ssim(images, references, filter_size=None):
  """Multi-scale SSIM, [B]. For 32 x 32 images: three scales (32, 16, 8) with a 7-pixel filter."""
  height, width = int(images.shape[1]), int(images.shape[2])
  if filter_size is None:
    filter_size = 11 if min(height, width) >= 176 else 7 if min(height, width) >= 28 else 3
  scales = ms_ssim_scales(height, width, filter_size)
  weights = np.array(_MS_SSIM_WEIGHTS[:scales])
  weights = tuple(weights / weights.sum())
  return tf.image.ssim_multiscale(_float(images), _float(references), max_val=255.0,
                                  power_factors=weights, filter_size=filter_size)


def _area_down(outputs, lowres):
  size = (int(lowres.shape[1]), int(lowres.shape[2]))
  return transforms.to_uint8(transforms.resize(outputs, size, 'area'))


def consistency(outputs, lowres):
  """pSNR between the low-res input and the output area-downsampled to its size, [B] (dB).

  High values mean the output is a faithful explanation of the input (Dahl et al. 2017, Sec. 5.2).
  """
  return psnr(_area_down(outputs, lowres), lowres)


def consistency_mse(outputs, lowres):
  """The same comparison in the paper's convention (Table 2): the mean squared error between the
  input and the area-downsampled output on [0, 1], [B]; lower is better. 10 log10(1 / MSE) is
  `consistency` (before its cap)."""
  diff = (_float(_area_down(outputs, lowres)) - _float(lowres)) / 255.0
  return tf.reduce_mean(tf.square(diff), axis=[1, 2, 3])


def laplacian_energy(images):
  """Mean over interior pixels and channels of the squared 4-neighbour Laplacian, [B] (0..255
  scale): 4 x[i, j] - x[i-1, j] - x[i+1, j] - x[i, j-1] - x[i, j+1]."""
  x = _float(images)
  lap = (4 * x[:, 1:-1, 1:-1] - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2]
         - x[:, 1:-1, 2:])
  return tf.reduce_mean(tf.square(lap), axis=[1, 2, 3])


def hf_energy_ratio(outputs, references):
  """Per image, the Laplacian energy of the output over that of the reference, [B]: 1 = as much
  fine detail as the truth, < 1 blurrier, > 1 noisier. Report the median over images (a flat
  reference makes single ratios huge). See ../shared/notes/fidelity_metrics.md."""
  return laplacian_energy(outputs) / tf.maximum(laplacian_energy(references), 1e-6)


def finite_mean(values, cap=100.0):
  """Mean of per-image metrics with +inf (identical images) capped at `cap` dB."""
  values = np.minimum(np.asarray(values, np.float64), cap)
  return float(np.mean(values))


# ----------------------------------------------------------------------------------------------
# Colour (PixColor, Fig. 7): histograms of Lab a and b, and their intersection.
# ----------------------------------------------------------------------------------------------
LAB_RANGE = (-128.0, 128.0)


def lab_ab(rgb):
  """uint8 RGB [..., 3] -> float64 Lab a and b [..., 2] (skimage.color.rgb2lab)."""
  from skimage import color
  check_range(rgb)
  return color.rgb2lab(np.asarray(rgb, np.float64) / 255.0)[..., 1:]


def ab_histograms(rgb, bins=256):
  """Counts of the a and b values of every pixel of uint8 RGB images: int64 [2, bins] over
  `LAB_RANGE` (256 bins are bins of width 1)."""
  ab = lab_ab(rgb).reshape(-1, 2)
  return np.stack([np.histogram(ab[:, k], bins, LAB_RANGE)[0] for k in range(2)])


def intersection(p, q):
  """Histogram intersection of two count vectors after normalising each to sum 1 (1 = equal)."""
  p = np.asarray(p, np.float64) / max(np.sum(p), 1)
  q = np.asarray(q, np.float64) / max(np.sum(q), 1)
  return float(np.minimum(p, q).sum())


def colourfulness(rgb):
  """Hasler and Suesstrunk's (2003) colourfulness of each uint8 RGB image [B, H, W, 3]: float64 [B].

  With rg = R - G and yb = (R + G) / 2 - B on 0..255, M = sqrt(sd(rg)^2 + sd(yb)^2)
  + 0.3 sqrt(mean(rg)^2 + mean(yb)^2). A gray image scores 0; their study puts "moderately
  colourful" near 33 and "extremely colourful" above 109. Sepia washes score well below photos.
  """
  check_range(rgb)
  x = np.asarray(rgb, np.float64)
  x = x.reshape(x.shape[0], -1, 3)
  rg = x[..., 0] - x[..., 1]
  yb = 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
  return (np.sqrt(rg.std(axis=1) ** 2 + yb.std(axis=1) ** 2)
          + 0.3 * np.sqrt(rg.mean(axis=1) ** 2 + yb.mean(axis=1) ** 2))


def colourfulness_ratio(outputs, references):
  """The mean of `outputs`' per-image `colourfulness` values (or their mean) over that of
  `references`' (1 = as colourful as the references; washed-out sepia well below), as PixColor's
  evaluation and TensorBoard report it."""
  return float(np.mean(outputs) / max(np.mean(references), 1e-9))
