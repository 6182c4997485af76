"""Image-quality metrics on uint8 images (0..255), per image; shared by both papers' evaluations.

pSNR, SSIM and MS-SSIM are TensorFlow's (`tf.image.psnr`, `tf.image.ssim`, `tf.image.ssim_multiscale`).
MS-SSIM uses as many of the standard five scales (Wang et al. 2003) as the image size allows, with
their weights renormalised to sum to one: three for 32 x 32 images, five from 176 x 176 up.
"""
import numpy as np
import tensorflow as tf

from data import transforms

# Wang, Simoncelli & Bovik 2003, the weights tf.image.ssim_multiscale uses by default.
_MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _float(images):
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


def consistency(outputs, lowres):
  """pSNR between the low-res input and the output area-downsampled to its size, [B].

  High values mean the output is a faithful explanation of the input (Dahl et al. 2017, Sec. 5.2).
  """
  size = (int(lowres.shape[1]), int(lowres.shape[2]))
  down = transforms.to_uint8(transforms.resize(outputs, size, 'area'))
  return psnr(down, lowres)


def finite_mean(values, cap=100.0):
  """Mean of per-image metrics with +inf (identical images) capped at `cap` dB."""
  values = np.minimum(np.asarray(values, np.float64), cap)
  return float(np.mean(values))
