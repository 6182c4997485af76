"""The causal building blocks of the PixelCNN layers (`pixel_recursive.layers`): the channel
grouping and the 0/1 masks of a causal convolution, the one-row shift that hands the vertical stack
to the horizontal one, the gated activation, and the scaling of values to the network's input range.

Pure functions of numpy / TensorFlow values; `layers` re-exports them (`layers.causal_mask` etc.).
"""
import numpy as np
import tensorflow as tf


def scale_values(values, num_values):
  """Maps integer values in [0, num_values) to the PixelCNN's float input range [-1, 1].

  Args:
    values: integer or float tensor of values (pixel intensities 0..255, or chroma bins 0..31).
    num_values: K, the number of values each sub-pixel can take.
  Returns:
    float32 tensor of the same shape.
  """
  return tf.cast(values, tf.float32) * (2.0 / (num_values - 1)) - 1.0


def channel_groups(num_features, num_groups, gated=False):
  """Assigns each feature channel to the image channel (group) it belongs to.

  Groups are contiguous blocks: channel f of n belongs to group f * num_groups // n. With n equal to
  the number of image channels this is the identity; for logits laid out as [C, K] it is f // K. For the
  2F-channel input of a gate, both halves (tanh and sigmoid) use the grouping of F so that the product
  keeps channel f in the same group.
  """
  n = num_features // 2 if gated else num_features
  return (np.arange(num_features) % n) * num_groups // n


def causal_mask(kernel_size, in_groups, out_groups, mask_type):
  """The [kh, kw, in, out] 0/1 mask of a causal convolution; see `pixel_recursive.layers`'
  module docstring.

  Only the bottom-right tap (the current pixel, given the padding used in this module) is masked:
  all other taps lie in earlier rows or earlier columns.
  """
  kh, kw = kernel_size
  mask = np.ones((kh, kw, len(in_groups), len(out_groups)), np.float32)
  if mask_type == 'A':
    mask[kh - 1, kw - 1] = in_groups[:, None] < out_groups[None, :]
  elif mask_type == 'B':
    mask[kh - 1, kw - 1] = in_groups[:, None] <= out_groups[None, :]
  elif mask_type is not None:
    raise ValueError(f"mask_type must be None, 'A' or 'B', got {mask_type!r}")
  return mask


def shift_down(x):
  """[B, H, W, D] -> [B, H, W, D] with row i holding row i - 1 of `x` (zeros in row 0).

  `tf.slice`, not `x[:, :-1]`: the gradient of a strided slice (StridedSliceGrad) cost a tenth of a
  CPU training step; a slice's gradient is a pad.
  """
  rows = x.shape[1] if x.shape[1] is not None else tf.shape(x)[1]
  return tf.pad(tf.slice(x, [0, 0, 0, 0], tf.stack([-1, rows - 1, -1, -1])),
                [[0, 0], [1, 0], [0, 0], [0, 0]])


def gate(x):
  """Gated activation tanh(a) * sigmoid(b) of x = [a, b] split on the last axis."""
  a, b = tf.split(x, 2, axis=-1)
  return tf.tanh(a) * tf.sigmoid(b)
