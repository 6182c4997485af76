"""Keras layers of the gated PixelCNN, shared by super-resolution and PixColor.

References:
  van den Oord et al. 2016, "Pixel Recurrent Neural Networks" (masks A/B, channel order, Sec. 3.4).
  van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders" (gated block with a
    vertical and a horizontal stack that removes the blind spot, Fig. 2; conditioning, Sec. 2.3).
  Dahl et al. 2017, "Pixel Recursive Super Resolution" (20 gated layers as the prior, Sec. 3).

Causality by construction. Every convolution here pads its input *outside* the layer and then runs a
VALID convolution whose bottom-right kernel tap is the output position:
  - the vertical stack's (k//2 + 1, k) kernel sees rows i - k//2 .. i, all columns j - k//2 .. j + k//2.
    Its output at row i therefore depends on row i itself, so it only ever reaches the horizontal stack
    shifted down one row (`shift_down`), where row i + 1 reads it;
  - the horizontal stack's (1, k//2 + 1) kernel sees columns j - k//2 .. j of row i. Its last tap is the
    current pixel, where a channel mask applies: feature channels are split into one contiguous group per
    image channel (R, G, B; or Cb, Cr), and an output of group g reads inputs of groups < g (mask A, the
    first layer, which reads the image) or <= g (mask B, every later layer).
The mask is a numpy constant multiplied into the kernel at call time (`MaskedConv2D`, in
`pixel_recursive.masked_conv`); the kernel variable itself is never assigned, so the layers
behave the same eagerly, under `tf.function`, XLA and `tf.distribute`.

The same `GatedBlock.vertical` / `GatedBlock.horizontal` methods run on a whole padded image (training,
naive sampling) and on the small cached windows of `pixel_recursive.sampling` (fast sampling), which is
why the padding lives outside them.
"""
import collections.abc

import keras
import tensorflow as tf

# Re-exported: these were always `layers.<name>`, and the sampler and tests use them so.
from pixel_recursive.causal import causal_mask  # pylint: disable=unused-import
from pixel_recursive.causal import channel_groups  # pylint: disable=unused-import
from pixel_recursive.causal import gate
from pixel_recursive.causal import scale_values  # pylint: disable=unused-import
from pixel_recursive.causal import shift_down
from pixel_recursive.masked_conv import MaskedConv2D

_PACKAGE = 'pixel_recursive'


def shapes_agree(shape, expected):
  """Whether static `shape` has the rank of `expected` and its sizes wherever both are known (None
  is unknown): the check of a call's inputs before it runs, for both tasks' models."""
  shape, expected = tuple(shape), tuple(expected)
  return len(shape) == len(expected) and all(
      a is None or b is None or a == b for a, b in zip(shape, expected))


def not_a_dict_of(inputs, keys):
  """None if `inputs` is a mapping that holds `keys`; else what it is, in words for an error
  ('the keys [...]', 'a tuple')."""
  if not isinstance(inputs, collections.abc.Mapping):
    return f'a {type(inputs).__name__}'
  return None if set(keys) <= set(inputs) else f'the keys {sorted(inputs)}'


@keras.saving.register_keras_serializable(package=_PACKAGE)
class GatedBlock(keras.layers.Layer):
  """One gated PixelCNN layer with a vertical and a horizontal stack (van den Oord et al. 2016, Fig. 2).

    v_pre  = Conv_{(k//2+1) x k}(v)                      rows <= i
    v_out  = gate(v_pre + Cv(cond))
    h_pre  = MaskedConv_{1 x (k//2+1)}(h) + shift_down(V2H(v_pre)) + Ch(cond)
    g      = gate(h_pre)
    h_out  = h + Out_1x1(g)       (no residual in the first layer, whose h is the image)
    skip   = Skip_1x1(g)

  Args:
    filters: F, features per stack.
    kernel_size: k (odd).
    num_groups: image channels (3 for RGB, 2 for chroma).
    first: the first layer (mask A, reads the image, no residual).
    last: the last layer, whose horizontal and vertical outputs nobody reads: it has no Out_1x1
      and no Cv, and returns h_out=None and v_out=None (only its skip output and V2H(v_pre), which
      feeds its own horizontal stack, are used).
    skip_filters: width of the skip output.
    conditional: whether a spatial conditioning tensor is added to both gates.
  """

  def __init__(self, filters, kernel_size, num_groups, first=False, last=False, skip_filters=None,
               conditional=False, **kwargs):
    super().__init__(**kwargs)
    if kernel_size % 2 != 1:
      raise ValueError(f'kernel_size must be odd, got {kernel_size}')
    self.filters = int(filters)
    self.kernel_size = int(kernel_size)
    self.num_groups = int(num_groups)
    self.first = bool(first)
    self.last = bool(last)
    self.skip_filters = int(skip_filters or filters)
    self.conditional = bool(conditional)
    r = self.radius
    f2 = 2 * self.filters
    self.v_conv = MaskedConv2D(f2, (r + 1, self.kernel_size), name='v_conv')
    self.h_conv = MaskedConv2D(f2, (1, r + 1), 'A' if first else 'B', num_groups,
                               gated_output=True, name='h_conv')
    self.v_to_h = MaskedConv2D(f2, (1, 1), use_bias=False, name='v_to_h')
    self.h_out = (None if self.last else
                  MaskedConv2D(self.filters, (1, 1), 'B', num_groups, name='h_out'))
    self.skip = MaskedConv2D(self.skip_filters, (1, 1), 'B', num_groups, name='skip')
    if self.conditional:
      self.cond_v = None if self.last else keras.layers.Dense(f2, name='cond_v')
      self.cond_h = keras.layers.Dense(f2, name='cond_h')

  @property
  def radius(self):
    return self.kernel_size // 2

  @property
  def above_channels(self):
    """Channels of what the vertical stack hands the next row's horizontal stack (V2H(v_pre))."""
    return 2 * self.filters

  def build(self, input_shape, conditioning_shape=None):
    channels = int(input_shape[-1])
    self.v_conv.build((None, None, None, channels))
    self.h_conv.build((None, None, None, channels))
    self.v_to_h.build((None, None, None, 2 * self.filters))
    if self.h_out is not None:
      self.h_out.build((None, None, None, self.filters))
    self.skip.build((None, None, None, self.filters))
    if self.conditional:
      if conditioning_shape is None:
        raise ValueError('a conditional GatedBlock needs conditioning_shape to build')
      if self.cond_v is not None:
        self.cond_v.build(conditioning_shape)
      self.cond_h.build(conditioning_shape)

  def conditioning_terms(self, conditioning):
    """Per-position conditioning added to the vertical and horizontal gates ([B, H, W, 2F] each)."""
    if not self.conditional:
      return None, None
    cond_v = None if self.cond_v is None else self.cond_v(conditioning)
    return cond_v, self.cond_h(conditioning)

  def vertical(self, v_window, cond_v=None):
    """The vertical stack on rows already padded by r on top, left and right.

    Args:
      v_window: [B, R + r, W + 2r, F_in].
      cond_v: [B, R, W, 2F] or None.
    Returns:
      (v_pre [B, R, W, 2F], v_out [B, R, W, F] or None for the last layer).
    """
    v_pre = self.v_conv(v_window)
    if self.last:
      return v_pre, None
    return v_pre, gate(v_pre if cond_v is None else v_pre + cond_v)

  def horizontal(self, h_window, h_center, v_above, cond_h=None):
    """The horizontal stack on a row segment padded by r on the left.

    Args:
      h_window: [B, R, W + r, F_in], this layer's input with r columns of left context.
      h_center: [B, R, W, F_in], the same input without the context (for the residual).
      v_above: [B, R, W, 2F], V2H of the vertical stack's pre-activation one row up.
      cond_h: [B, R, W, 2F] or None.
    Returns:
      (h_out [B, R, W, F] or None for the last layer, skip [B, R, W, skip_filters]).
    """
    h_pre = self.h_conv(h_window) + v_above
    if cond_h is not None:
      h_pre = h_pre + cond_h
    g = gate(h_pre)
    if self.last:
      return None, self.skip(g)
    h_out = self.h_out(g)
    if not self.first:
      h_out = h_out + h_center
    return h_out, self.skip(g)

  def call(self, v, h, conditioning=None):
    """Whole-image forward: (v, h [B, H, W, F_in], conditioning) -> (v_out, h_out, skip)."""
    r = self.radius
    cond_v, cond_h = self.conditioning_terms(conditioning)
    v_pre, v_out = self.vertical(tf.pad(v, [[0, 0], [r, 0], [r, r], [0, 0]]), cond_v)
    v_above = shift_down(self.v_to_h(v_pre))
    h_out, skip = self.horizontal(tf.pad(h, [[0, 0], [0, 0], [r, 0], [0, 0]]), h, v_above, cond_h)
    return v_out, h_out, skip

  def get_config(self):
    config = super().get_config()
    config.update(filters=self.filters, kernel_size=self.kernel_size, num_groups=self.num_groups,
                  first=self.first, last=self.last, skip_filters=self.skip_filters,
                  conditional=self.conditional)
    return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MaskedStem(keras.layers.Layer):
  """A plain k x k convolution with mask A over the image: PixColor's first PixelCNN layer.

  The k x k kernel is kept as its two causal parts, so that the cached sampler can advance it a row
  and a pixel at a time like a `GatedBlock`:
    above = shift_down(Conv_{(k//2) x k}(image))       rows i - k//2 .. i - 1, every column of the kernel
    out   = MaskedConv_{1 x (k//2+1), A}(image) + above  row i, columns j - k//2 .. j (mask A at j)
  together exactly the taps of a k x k convolution with mask A. No gate, no skip output: `out` is
  the input of both stacks of the first gated block.

  Args:
    filters: F, output features.
    kernel_size: k (odd).
    num_groups: image channels (the channel order mask A respects).
  """

  first = True
  last = False
  conditional = False

  def __init__(self, filters, kernel_size, num_groups, **kwargs):
    super().__init__(**kwargs)
    if kernel_size % 2 != 1 or kernel_size < 3:
      raise ValueError(f'kernel_size must be odd and >= 3, got {kernel_size}')
    self.filters = int(filters)
    self.kernel_size = int(kernel_size)
    self.num_groups = int(num_groups)
    r = self.radius
    self.v_conv = MaskedConv2D(self.filters, (r, self.kernel_size), name='v_conv')
    self.h_conv = MaskedConv2D(self.filters, (1, r + 1), 'A', self.num_groups, name='h_conv')

  @property
  def radius(self):
    return self.kernel_size // 2

  @property
  def above_channels(self):
    return self.filters

  def build(self, input_shape, conditioning_shape=None):
    del conditioning_shape
    channels = int(input_shape[-1])
    self.v_conv.build((None, None, None, channels))
    self.h_conv.build((None, None, None, channels))

  def conditioning_terms(self, conditioning):
    del conditioning
    return None, None

  def above(self, rows):
    """[B, R + r - 1, W + 2r, C] rows padded by r - 1 on top and r left and right -> the rows'
    contribution [B, R, W, F] (before the shift down a row)."""
    return self.v_conv(rows)

  def call(self, v, h, conditioning=None):
    """Whole-image forward: (image, image, ignored) -> (out, out, None)."""
    del h, conditioning
    r = self.radius
    above = shift_down(self.above(tf.pad(v, [[0, 0], [r - 1, 0], [r, r], [0, 0]])))
    out = self.h_conv(tf.pad(v, [[0, 0], [0, 0], [r, 0], [0, 0]])) + above
    return out, out, None

  def get_config(self):
    config = super().get_config()
    config.update(filters=self.filters, kernel_size=self.kernel_size, num_groups=self.num_groups)
    return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class OutputHead(keras.layers.Layer):
  """relu -> masked 1x1 (hidden) -> relu -> masked 1x1 to C x K logits, both mask B."""

  def __init__(self, num_channels, num_values, hidden_filters, **kwargs):
    super().__init__(**kwargs)
    self.num_channels = int(num_channels)
    self.num_values = int(num_values)
    self.hidden_filters = int(hidden_filters)
    self.hidden = MaskedConv2D(self.hidden_filters, (1, 1), 'B', num_channels, name='hidden')
    self.logits = MaskedConv2D(self.num_channels * self.num_values, (1, 1), 'B', num_channels,
                               name='logits')

  def build(self, input_shape):
    self.hidden.build(input_shape)
    self.logits.build(tuple(input_shape[:-1]) + (self.hidden_filters,))

  def call(self, skip):
    """[..., S] -> [..., C, K]."""
    x = self.logits(tf.nn.relu(self.hidden(tf.nn.relu(skip))))
    return tf.reshape(x, tf.concat([tf.shape(x)[:-1], [self.num_channels, self.num_values]], 0))

  def get_config(self):
    config = super().get_config()
    config.update(num_channels=self.num_channels, num_values=self.num_values,
                  hidden_filters=self.hidden_filters)
    return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PixelCNN(keras.Model):
  """Gated PixelCNN over images of `num_channels` sub-pixels, each taking `num_values` values.

  `model(images, conditioning=None)`:
    images: float32 [B, H, W, C] in [-1, 1] (see `scale_values`); any H, W.
    conditioning: optional float32 [B, H, W, D], added to both gates of every layer.
    returns logits [B, H, W, C, K]. The logits of sub-pixel (i, j, c) depend only on sub-pixels before
    it in raster order, then channel order (c' < c at the same pixel).

  Args:
    num_channels: C (3 for RGB, 2 for chroma).
    num_values: K (256 for 8-bit intensities, 32 for PixColor's chroma bins).
    num_layers: gated layers.
    filters: F, features per stack and layer.
    kernel_size: k of the gated layers (after the first, when the first is gated).
    first_kernel_size: k of the first layer (7 in the papers).
    head_filters: width of the hidden 1x1 layer of the output head (1024 in PixColor).
    conditional: whether `conditioning` is expected.
    first_layer: 'gated': the first of the `num_layers` gated layers reads the image through mask A
      (van den Oord et al. 2016; Dahl et al. 2017). 'masked_conv': a plain k x k convolution with
      mask A (`MaskedStem`, k = first_kernel_size) reads the image, then `num_layers` gated layers of
      kernel_size (PixColor's PixelCNN).
  """

  FIRST_LAYERS = ('gated', 'masked_conv')

  def __init__(self, num_channels, num_values, num_layers, filters, kernel_size=5,
               first_kernel_size=7, head_filters=None, conditional=False, first_layer='gated',
               **kwargs):
    super().__init__(**kwargs)
    if num_layers < 1:
      raise ValueError(f'num_layers must be >= 1, got {num_layers}')
    if first_layer not in self.FIRST_LAYERS:
      raise ValueError(f'first_layer must be one of {self.FIRST_LAYERS}, got {first_layer!r}')
    if filters < 1 or (head_filters is not None and head_filters < 1):
      raise ValueError(f'filters and head_filters must be >= 1, got {filters} and {head_filters}')
    if num_values < 2:
      raise ValueError(f'num_values must be >= 2 (the values a sub-pixel takes), got {num_values}')
    if num_channels < 1:
      raise ValueError(f'num_channels must be >= 1, got {num_channels}')
    for name, size in (('kernel_size', kernel_size), ('first_kernel_size', first_kernel_size)):
      if size < 1 or size % 2 != 1:
        raise ValueError(f'{name} must be odd and >= 1, got {size}')
    self.num_channels = int(num_channels)
    self.num_values = int(num_values)
    self.num_layers = int(num_layers)
    self.filters = int(filters)
    self.kernel_size = int(kernel_size)
    self.first_kernel_size = int(first_kernel_size)
    self.head_filters = int(head_filters or 4 * filters)
    self.conditional = bool(conditional)
    self.first_layer = first_layer
    gated_first = first_layer == 'gated'
    self.blocks = [] if gated_first else [
        MaskedStem(filters, first_kernel_size, num_channels, name='stem')]
    self.blocks += [
        GatedBlock(filters, first_kernel_size if (i == 0 and gated_first) else kernel_size,
                   num_channels, first=(i == 0 and gated_first), last=(i == num_layers - 1),
                   conditional=conditional, name=f'gated_{i}')
        for i in range(num_layers)]
    self.head = OutputHead(num_channels, num_values, self.head_filters, name='head')
    # The compiled samplers of this network (`sampling.sampler_of` makes them on first use; they
    # live and die with the network).
    self.sampler_cache = None

  def check_shapes(self, images_shape, conditioning_shape=None):
    """A ValueError in words for images or conditioning that do not fit this network (what is
    unknown before a call, such as a dynamic H, is not checked)."""
    shape = tuple(images_shape)
    if len(shape) != 4:
      raise ValueError(f'images must be [B, H, W, {self.num_channels}], got shape {shape}')
    if shape[-1] not in (None, self.num_channels):
      raise ValueError(f'images have {shape[-1]} channels but this PixelCNN was built with '
                       f'num_channels={self.num_channels}')
    if self.conditional and conditioning_shape is None:
      raise ValueError('this PixelCNN is conditional: call it with conditioning=[B, H, W, D]')
    if not self.conditional and conditioning_shape is not None:
      raise ValueError('this PixelCNN was built with conditional=False but got conditioning')
    if conditioning_shape is not None:
      cond = tuple(conditioning_shape)
      if len(cond) != 4 or not shapes_agree(cond[:3], shape[:3]):
        expected = ', '.join('B' if n is None else str(n) for n in shape[:3])
        raise ValueError(f'conditioning must be [{expected}, D] like the images, got shape {cond}')

  def build(self, images_shape, conditioning_shape=None):
    self.check_shapes(images_shape, conditioning_shape)
    shape = tuple(images_shape)
    for block in self.blocks:
      block.build(shape, conditioning_shape)
      shape = shape[:-1] + (self.filters,)
    self.head.build(shape)

  def call(self, images, conditioning=None):
    self.check_shapes(images.shape, None if conditioning is None else conditioning.shape)
    if not keras.backend.is_float_dtype(images.dtype):
      raise ValueError(f'images must be floats in [-1, 1] (see scale_values), got '
                       f'{keras.backend.standardize_dtype(images.dtype)}')
    return self.head(self.features(images, conditioning))

  def features(self, images, conditioning=None):
    """The sum of the blocks' skip outputs that the head reads: [B, H, W, filters]."""
    v = h = images
    skip = 0.0
    for block in self.blocks:
      v, h, s = block(v, h, conditioning)
      if s is not None:
        skip = skip + s
    return skip

  def get_config(self):
    return dict(name=self.name, num_channels=self.num_channels, num_values=self.num_values,
                num_layers=self.num_layers, filters=self.filters, kernel_size=self.kernel_size,
                first_kernel_size=self.first_kernel_size, head_filters=self.head_filters,
                conditional=self.conditional, first_layer=self.first_layer)
