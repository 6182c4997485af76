"""The masked convolution every PixelCNN layer of `pixel_recursive.layers` is made of.

A VALID convolution whose caller pads its input so that the kernel's bottom-right tap is the output
position, with a constant 0/1 channel mask (`causal.causal_mask`) on that tap: the one place where
the channel order of a sub-pixel's dependencies is enforced. `layers` re-exports it
(`layers.MaskedConv2D`).
"""
import keras
import tensorflow as tf

from pixel_recursive.causal import causal_mask
from pixel_recursive.causal import channel_groups

# The registered name stays 'pixel_recursive>MaskedConv2D', as when the class lived in `layers`.
_PACKAGE = 'pixel_recursive'


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MaskedConv2D(keras.layers.Layer):
  """VALID 2-D convolution with a constant channel mask on its bottom-right tap.

  The caller pads the input so that the bottom-right tap is the output position (see the module
  docstring).

  Args:
    filters: number of output channels.
    kernel_size: (kh, kw).
    mask_type: None (no mask), 'A' (group g reads groups < g at the current pixel) or 'B' (<= g).
    num_groups: number of image channels whose order the mask respects.
    gated_output: True when the output feeds `gate`, so both halves share one grouping.
    use_bias: add a bias.
  """

  def __init__(self, filters, kernel_size, mask_type=None, num_groups=1, gated_output=False,
               use_bias=True, kernel_initializer='glorot_uniform', **kwargs):
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.kernel_size = tuple(int(k) for k in kernel_size)
    self.mask_type = mask_type
    self.num_groups = int(num_groups)
    self.gated_output = bool(gated_output)
    self.use_bias = bool(use_bias)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)

  def build(self, input_shape):
    in_channels = int(input_shape[-1])
    self.kernel = self.add_weight(
        name='kernel', shape=self.kernel_size + (in_channels, self.filters),
        initializer=self.kernel_initializer)
    self.bias = (self.add_weight(name='bias', shape=(self.filters,), initializer='zeros')
                 if self.use_bias else None)
    self.mask = causal_mask(
        self.kernel_size, channel_groups(in_channels, self.num_groups),
        channel_groups(self.filters, self.num_groups, gated=self.gated_output), self.mask_type)

  def masked_kernel(self):
    """The kernel with its mask applied: [kh, kw, in, out]."""
    # In the layer's compute dtype: under a mixed policy (float32 weights, bfloat16 maths) the
    # kernel is cast once here, and the 0/1 mask is exact in any float type.
    kernel = tf.cast(self.kernel, self.compute_dtype)
    return kernel * tf.constant(self.mask, self.compute_dtype) if self.mask_type else kernel

  def call(self, inputs):
    kernel = self.masked_kernel()
    if self.kernel_size == (1, 1):
      # A 1x1 convolution is a matmul over the last axis; works for inputs of any rank.
      outputs = tf.tensordot(inputs, kernel[0, 0], axes=1)
    else:
      outputs = tf.nn.conv2d(inputs, kernel, strides=1, padding='VALID')
    if self.use_bias:
      outputs = outputs + self.bias
    return outputs

  def get_config(self):
    config = super().get_config()
    config.update(filters=self.filters, kernel_size=self.kernel_size, mask_type=self.mask_type,
                  num_groups=self.num_groups, gated_output=self.gated_output,
                  use_bias=self.use_bias,
                  kernel_initializer=keras.initializers.serialize(self.kernel_initializer))
    return config
