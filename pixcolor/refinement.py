"""PixColor's refinement network (Sec. 3.3): Y at full size + low-resolution chroma -> full-size chroma.

  EncoderDecoderRefinement  the paper's kind (no skip connections), described by a layer table
  UNetRefinement            ours, a U-Net, kept as a named option (`model.refinement.name='unet'`)

Both take gray uint8 [B, H, W, 1] and chroma float [B, h, w, 2] on 0..255, and return chroma in
[-1, 1] units (`color.scale_chroma`) [B, H, W, 2], float32, for any H, W.
"""
import keras
import tensorflow as tf

from pixcolor import color
from pixel_recursive import layers


def parse_refinement_layer(spec):
  """'conv3x3-64-s2' -> ('conv', 3, 64, 2); 'conv5x5-1024' -> ('conv', 5, 1024, 1); 'up4' -> ('up', 4).

  The entries of `model.refinement.layers` (see `EncoderDecoderRefinement`).
  """
  text = str(spec).strip().lower()
  try:
    if text.startswith('up'):
      factor = int(text[2:])
      if factor < 2:
        raise ValueError
      return ('up', factor)
    if text.startswith('conv'):
      parts = text[4:].split('-')
      kh, kw = (int(k) for k in parts[0].split('x'))
      if kh != kw or kh < 1 or len(parts) not in (2, 3):
        raise ValueError
      stride = int(parts[2][1:]) if len(parts) == 3 and parts[2].startswith('s') else 1
      if len(parts) == 3 and not parts[2].startswith('s'):
        raise ValueError
      return ('conv', kh, int(parts[1]), stride)
  except (ValueError, IndexError):
    pass
  raise ValueError(f"refinement layer {spec!r} is neither 'conv<k>x<k>-<filters>[-s<stride>]' "
                   "nor 'up<factor>'")


class EncoderDecoderRefinement(keras.Model):
  """Y at full size + low-resolution chroma -> full-resolution chroma (PixColor Sec. 3.3): a plain
  encoder-decoder, no skip connections, in the style of Iizuka et al. 2016's colorization network.

  The low-resolution chroma is bilinearly resized to Y's size and concatenated with Y; the layers of
  `layers` follow in order, each 'conv<k>x<k>-<filters>[-s<stride>]' a ReLU convolution (SAME padding)
  and each 'up<f>' a bilinear upsampling by f; a zero-initialised 1x1 convolution to Cb, Cr ends the
  network, whose output is bilinearly resized to Y's size. pixcolor_imagenet.py's table: stride-2
  convolutions from 224 down to 28 x 28, further ones down to 7 x 7 and a 5 x 5 convolution of 1024
  there, then bilinear upsampling stages of 64 and 32 filters. This follows the paper's architecture
  table as this project's issue tracker summarised it; the paper's own text could not be consulted
  where this code was written (offline), so the filter counts between those named anchors are ours.

  Args:
    layers: the table above, e.g. ('conv3x3-64-s2', 'conv5x5-1024', 'up4', 'conv3x3-64').
    residual: our option, not the paper's: add the output to the bilinearly upsampled input chroma
      (training then starts from plain bilinear upsampling) instead of predicting the chroma outright.

  Input: gray uint8 [B, H, W, 1], chroma float [B, h, w, 2] on 0..255.
  Output: chroma in [-1, 1] units (`scale_chroma`) [B, H, W, 2], float32.
  """

  def __init__(self, layers=(), residual=False, **kwargs):
    super().__init__(**kwargs)
    self.table = tuple(parse_refinement_layer(spec) for spec in layers)
    self.residual = bool(residual)
    self.convs = []
    for entry in self.table:
      if entry[0] == 'conv':
        _, k, filters, stride = entry
        self.convs.append(keras.layers.Conv2D(filters, k, strides=stride, padding='same',
                                              name=f'conv{len(self.convs)}'))
    self.out = keras.layers.Conv2D(2, 1, kernel_initializer='zeros', name='out')

  def call(self, gray, chroma):
    size = tf.shape(gray)[1:3]
    upsampled = tf.image.resize(color.scale_chroma(chroma), size, 'bilinear')
    x = tf.concat([layers.scale_values(gray, 256), upsampled], axis=-1)
    convs = iter(self.convs)
    for entry in self.table:
      if entry[0] == 'conv':
        x = tf.nn.relu(next(convs)(x))
      else:
        shape = tf.shape(x)[1:3] * entry[1]
        # Resized in float32 and cast back: under a mixed policy XLA rejects the bfloat16
        # activations meeting the float32 gradient of the resize.
        x = tf.cast(tf.image.resize(tf.cast(x, tf.float32), shape, 'bilinear'), x.dtype)
    out = tf.image.resize(tf.cast(self.out(x), tf.float32), size, 'bilinear')
    return upsampled + out if self.residual else out

  def layer_table(self):
    """The built network, one row per table entry: ('conv', kernel, filters, stride) read from each
    Keras layer's kernel and strides, ('up', factor) for an upsampling; then the output layer."""
    rows, convs = [], iter(self.convs)
    for entry in self.table:
      if entry[0] == 'conv':
        conv = next(convs)
        k, _, _, filters = conv.kernel.shape
        rows.append(('conv', int(k), int(filters), int(conv.strides[0])))
      else:
        rows.append(entry)
    k, _, _, filters = self.out.kernel.shape
    return rows + [('conv', int(k), int(filters), 1)]


class UNetRefinement(keras.Model):
  """Our refinement network, not the paper's: a U-Net (encoder-decoder *with* skips).

  The chroma is bilinearly upsampled to Y's size and concatenated with it; a 3x3 convolution of
  filters[0], then one stride-2 3x3 convolution per further entry of `filters` (filters[k] channels
  at 1/2^k of the size), `bottom_layers` 3x3 convolutions there, and back up by bilinear resizing and
  3x3 convolutions, each decoder level also reading the encoder's features of its size. The output
  is a correction added to the upsampled input chroma (zero-initialised, so training starts from
  plain bilinear upsampling). Works for any H, W (odd and non-square included): every upsampling
  resizes to the exact size of the encoder level it returns to.

  Input: gray uint8 [B, H, W, 1], chroma float [B, h, w, 2] on 0..255.
  Output: chroma in [-1, 1] units (`scale_chroma`) [B, H, W, 2], float32.
  """

  def __init__(self, filters=(32, 64, 128, 256), bottom_layers=2, **kwargs):
    super().__init__(**kwargs)
    filters = tuple(int(f) for f in filters)
    if not filters:
      raise ValueError('refinement.filters needs at least one entry')
    self.stem = keras.layers.Conv2D(filters[0], 3, padding='same', name='stem')
    self.down = [keras.layers.Conv2D(f, 3, strides=2, padding='same', name=f'down{k + 1}')
                 for k, f in enumerate(filters[1:])]
    self.bottom = [keras.layers.Conv2D(filters[-1], 3, padding='same', name=f'bottom{k}')
                   for k in range(bottom_layers)]
    self.up = [keras.layers.Conv2D(f, 3, padding='same', name=f'up{k}')
               for k, f in reversed(list(enumerate(filters[:-1])))]
    self.out = keras.layers.Conv2D(2, 3, padding='same', kernel_initializer='zeros', name='out')

  def call(self, gray, chroma):
    size = tf.shape(gray)[1:3]
    upsampled = tf.image.resize(color.scale_chroma(chroma), size, 'bilinear')
    x = tf.concat([layers.scale_values(gray, 256), upsampled], axis=-1)
    x = tf.nn.relu(self.stem(x))
    skips = [x]
    for conv in self.down:
      x = tf.nn.relu(conv(x))
      skips.append(x)
    for conv in self.bottom:
      x = tf.nn.relu(conv(x))
    for conv, skip in zip(self.up, reversed(skips[:-1])):
      x = tf.cast(tf.image.resize(tf.cast(x, tf.float32), tf.shape(skip)[1:3], 'bilinear'),
                  skip.dtype)
      x = tf.nn.relu(conv(tf.concat([x, skip], axis=-1)))
    return upsampled + tf.cast(self.out(x), tf.float32)


REFINEMENTS = ('encoder_decoder', 'unet')


def make_refinement(config):
  """The refinement network `model.refinement` describes (`name`: 'encoder_decoder', the paper's
  kind, or 'unet', ours)."""
  # Workdirs written before the encoder-decoder existed describe a U-Net without naming it.
  name = config.get('name') or ('encoder_decoder' if 'layers' in config else 'unet')
  if name == 'encoder_decoder':
    return EncoderDecoderRefinement(tuple(config.layers), config.get('residual', False),
                                    name='refinement')
  if name == 'unet':
    return UNetRefinement(config.filters, config.bottom_layers, name='refinement')
  raise ValueError(f'model.refinement.name must be one of {REFINEMENTS}, got {name!r}')
