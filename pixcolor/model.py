"""PixColor: Pixel Recursive Colorization (Guadarrama et al. 2017), as one Keras model.

    Y [B, S, S, 1] --ResNet conv1..conv4 (output stride 8)--> [B, c, c, 1024] --+
      '-----------area-downsampled to c x c-------------> [B, c, c, 1]    --+-- Adaptation --> h
                                                                      (3 x conv 3x3, 64)  [B, c, c, 64]
    chroma bins [B, c, c, 2] (teacher forcing) --PixelCNN(conditioning=h)--> logits [B, c, c, 2, 32]
    Y [B, S, S, 1] + bilinear-up(dequantized chroma) --Refinement--> Cb, Cr [B, S, S, 2]

S = 224 and c = 28 in the paper (Sec. 3), chroma in 32 bins per channel. The two networks share no
weights and no gradient: the PixelCNN (with the conditioning and adaptation networks) learns by
cross-entropy with teacher forcing, the refinement network by L2 on ground-truth low-resolution
chroma (the dequantized bins of the data, not samples), so the two can be trained together in one loop
or one at a time (`set_trained`).

Channel order: our data puts Cb in chroma channel 0 and Cr in channel 1, so within a pixel the
PixelCNN predicts Cb first, then Cr given Cb (the paper predicts Cr first; the order is a free choice of
the factorisation).

Colorizing (`colorize`): the input luminance is resized to S x S for the conditioning network, chroma is
sampled at c x c with the cached sampler of `pixel_recursive.sampling`, refined at S x S, resized to the
input's own size and combined with the *original* Y. Chroma that would take a pixel out of the RGB
gamut is pulled towards gray just enough to fit (`ycbcr_to_rgb_in_gamut`), so the output's luminance
equals the input's up to uint8 rounding.

The conditioning ResNet follows `keras.applications.ResNet101` (v1, its layer names and its 'caffe'
input preprocessing) so that ImageNet weights saved by Keras can initialise it
(`model.conditioning_weights`); the paper's segmentation-pretrained weights are not available and the
default is to train from scratch. Its last kept stage trades its stride for dilation 2 (as the
DeepLab-style segmentation network of the paper does), so 224 x 224 gives 28 x 28 features.
"""
import os

from absl import logging
import keras
import ml_collections
import numpy as np
import tensorflow as tf

from data import transforms
from pixel_recursive import layers
from pixel_recursive import losses
from pixel_recursive import sampling

_PACKAGE = 'pixcolor'
# keras.applications ResNets by their blocks per stage (only the first three stages are kept here).
KERAS_RESNETS = {(3, 4, 6): 'ResNet50', (3, 4, 23): 'ResNet101', (3, 8, 36): 'ResNet152'}
# keras.applications.resnet.preprocess_input('caffe'): BGR minus the ImageNet mean, no scaling.
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

# The demo checkpoint shipped with the package (a workdir: config.json + checkpoints/), used by
# `colorize` and `export` when no --workdir is given.
DEMO_WORKDIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'demo', 'photos')


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


def as_gray_batch(gray):
  """uint8 [B, H, W] or [B, H, W, 1] -> uint8 tensor [B, H, W, 1]."""
  gray = tf.convert_to_tensor(np.asarray(gray) if not tf.is_tensor(gray) else gray)
  if gray.dtype != tf.uint8:
    raise ValueError(f'gray must be uint8 luminance, got {gray.dtype.name}')
  if gray.shape.rank == 3:
    gray = gray[..., None]
  if gray.shape.rank != 4 or gray.shape[-1] != 1:
    raise ValueError(f'gray must be [B, H, W] or [B, H, W, 1], got shape {gray.shape}')
  return gray


def resize_gray(gray, size):
  """uint8 [B, H, W, 1] -> uint8 [B, size, size, 1]: area when shrinking (as the training data is
  made), bilinear when enlarging; the identity at the size itself."""
  if tuple(gray.shape[1:3]) == (size, size):
    return gray
  shrink = gray.shape[1] >= size and gray.shape[2] >= size
  return transforms.to_uint8(transforms.resize(gray, size, 'area' if shrink else 'bilinear'))


# ----------------------------------------------------------------------------------------------
# Conditioning network: ResNet v1 truncated after its third stage.
# ----------------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package=_PACKAGE)
class Bottleneck(keras.layers.Layer):
  """ResNet v1 bottleneck (He et al. 2016), named like keras.applications' `conv4_block1_*` layers.

    out = relu(shortcut(x) + BN(Conv1x1_4f(relu(BN(Conv3x3_f,dilated(relu(BN(Conv1x1_f,stride(x)))))))))

  Args:
    filters: f; the block outputs 4f channels.
    stride: stride of the first 1x1 convolution and the projection (keras.applications' placement).
    dilation: dilation rate of the 3x3 convolution.
    project: a 1x1 projection shortcut (the first block of a stage) instead of the identity.
    bn_momentum: momentum of the batch-norm moving averages.
  """

  def __init__(self, filters, stride=1, dilation=1, project=False, bn_momentum=0.99, **kwargs):
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.stride = int(stride)
    self.dilation = int(dilation)
    self.project = bool(project)
    self.bn_momentum = float(bn_momentum)
    name = self.name

    def bn(suffix):
      return keras.layers.BatchNormalization(epsilon=1.001e-5, momentum=self.bn_momentum,
                                             name=f'{name}_{suffix}_bn')

    if self.project:
      self.conv0 = keras.layers.Conv2D(4 * self.filters, 1, strides=self.stride, name=f'{name}_0_conv')
      self.bn0 = bn(0)
    self.conv1 = keras.layers.Conv2D(self.filters, 1, strides=self.stride, name=f'{name}_1_conv')
    self.bn1 = bn(1)
    self.conv2 = keras.layers.Conv2D(self.filters, 3, padding='same', dilation_rate=self.dilation,
                                     name=f'{name}_2_conv')
    self.bn2 = bn(2)
    self.conv3 = keras.layers.Conv2D(4 * self.filters, 1, name=f'{name}_3_conv')
    self.bn3 = bn(3)

  def build(self, input_shape):
    shape = tuple(input_shape)
    if self.project:
      self.conv0.build(shape)
      self.bn0.build(self.conv0.compute_output_shape(shape))
    s1 = self.conv1.compute_output_shape(shape)
    self.conv1.build(shape)
    self.bn1.build(s1)
    self.conv2.build(s1)
    self.bn2.build(s1)
    self.conv3.build(s1)
    self.bn3.build(s1[:-1] + (4 * self.filters,))

  def sublayers(self):
    return ([self.conv0, self.bn0] if self.project else []) + [
        self.conv1, self.bn1, self.conv2, self.bn2, self.conv3, self.bn3]

  def call(self, x, training=False):
    shortcut = self.bn0(self.conv0(x), training=training) if self.project else x
    y = tf.nn.relu(self.bn1(self.conv1(x), training=training))
    y = tf.nn.relu(self.bn2(self.conv2(y), training=training))
    y = self.bn3(self.conv3(y), training=training)
    return tf.nn.relu(shortcut + y)

  def get_config(self):
    return {**super().get_config(), 'filters': self.filters, 'stride': self.stride,
            'dilation': self.dilation, 'project': self.project, 'bn_momentum': self.bn_momentum}


class ResNetFeatures(keras.Model):
  """Gray image -> ResNet v1 features of its last kept stage (PixColor Sec. 3.2).

  The paper's network is ResNet-101 truncated after conv4 (blocks (3, 4, 23), width 64 -> 1024
  channels) with output stride 8: conv1 (stride 2), max pool (stride 2), conv2, conv3 (stride 2) and
  conv4 with dilation 2 instead of its stride. Smaller configs change `blocks` (one entry per stage,
  conv2 onwards), `width` (the first stage's bottleneck width; stage k has width * 2^k and outputs
  4 * width * 2^k channels) and `max_pool` (False halves the output stride).

  Input: uint8 [B, H, W, 1] luminance, replicated to the three channels of an RGB network and
  preprocessed like keras.applications' ResNets (BGR minus the ImageNet mean), so that their weights fit.
  Output: float32 [B, ceil(H / stride), ceil(W / stride), out_channels].
  """

  def __init__(self, blocks=(3, 4, 23), width=64, max_pool=True, dilate_last=True,
               bn_momentum=0.99, **kwargs):
    super().__init__(**kwargs)
    self.blocks = tuple(int(b) for b in blocks)
    if not self.blocks or min(self.blocks) < 1:
      raise ValueError(f'conditioning.blocks needs at least one stage of >= 1 block, got {blocks}')
    self.width = int(width)
    self.max_pool = bool(max_pool)
    self.dilate_last = bool(dilate_last)
    self.conv1 = keras.layers.Conv2D(self.width, 7, strides=2, name='conv1_conv')
    self.bn1 = keras.layers.BatchNormalization(epsilon=1.001e-5, momentum=bn_momentum,
                                               name='conv1_bn')
    # One flat list: Keras' .weights.h5 files skip layers in nested lists.
    self.res_blocks = []
    stride = 2 * (2 if self.max_pool else 1)
    dilation = 1
    for s, count in enumerate(self.blocks):
      first_stride = 1 if s == 0 else 2
      if s == len(self.blocks) - 1 and s > 0 and self.dilate_last:
        first_stride, dilation = 1, 2  # Same receptive field growth, no loss of resolution.
      stride *= first_stride
      self.res_blocks.extend(
          Bottleneck(self.width * 2 ** s, first_stride if k == 0 else 1, dilation, project=k == 0,
                     bn_momentum=bn_momentum, name=f'conv{s + 2}_block{k + 1}')
          for k in range(count))
    self.output_stride = stride
    self.out_channels = 4 * self.width * 2 ** (len(self.blocks) - 1)

  @property
  def stages(self):
    """The bottleneck blocks grouped by stage: [[conv2 blocks], [conv3 blocks], ...]."""
    bounds = np.cumsum((0,) + self.blocks)
    return [self.res_blocks[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

  def call(self, gray, training=False):
    x = tf.cast(gray, tf.float32)
    x = tf.concat([x, x, x], axis=-1) - tf.constant(_CAFFE_MEAN_BGR)
    x = self.conv1(tf.pad(x, [[0, 0], [3, 3], [3, 3], [0, 0]]))
    x = tf.nn.relu(self.bn1(x, training=training))
    if self.max_pool:
      # After a ReLU, zero padding is the same as keras.applications' padding of the pool.
      x = tf.nn.max_pool2d(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 2, 'VALID')
    for block in self.res_blocks:
      x = block(x, training=training)
    return x

  def named_layers(self):
    """{keras.applications layer name: layer} of every weighted layer."""
    out = {'conv1_conv': self.conv1, 'conv1_bn': self.bn1}
    for block in self.res_blocks:
      out.update({l.name: l for l in block.sublayers()})
    return out


class Adaptation(keras.Model):
  """[features, Y at c x c] -> conditioning of the PixelCNN: `num_layers` 3x3 convolutions.

  ReLU between them; the last is linear (the PixelCNN's gates add a learned projection of it).
  """

  def __init__(self, filters=64, num_layers=3, **kwargs):
    super().__init__(**kwargs)
    self.convs = [keras.layers.Conv2D(filters, 3, padding='same', name=f'conv{k}')
                  for k in range(num_layers)]

  def call(self, x):
    for k, conv in enumerate(self.convs):
      x = conv(x)
      if k < len(self.convs) - 1:
        x = tf.nn.relu(x)
    return x


class Refinement(keras.Model):
  """Y at full size + low-resolution chroma -> full-resolution chroma (PixColor Sec. 3.3).

  An encoder-decoder CNN: the chroma is bilinearly upsampled to Y's size and concatenated with it;
  a 3x3 convolution of filters[0], then one stride-2 3x3 convolution per further entry of `filters`
  (filters[k] channels at 1/2^k of the size), `bottom_layers` 3x3 convolutions there, and back up by
  bilinear resizing and 3x3 convolutions. Our choices, not stated in the paper: each decoder level also
  reads the encoder's features of its size (U-Net skips), and the output is a correction added to the
  upsampled input chroma (zero-initialised, so training starts from plain bilinear upsampling).
  Works for any H, W (odd and non-square included): every upsampling resizes to the exact size of the
  encoder level it returns to.

  Input: gray uint8 [B, H, W, 1], chroma float [B, h, w, 2] on 0..255.
  Output: chroma in [-1, 1] units (`scale_chroma`) [B, H, W, 2].
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
    upsampled = tf.image.resize(scale_chroma(chroma), size, 'bilinear')
    x = tf.concat([layers.scale_values(gray, 256), upsampled], axis=-1)
    x = tf.nn.relu(self.stem(x))
    skips = [x]
    for conv in self.down:
      x = tf.nn.relu(conv(x))
      skips.append(x)
    for conv in self.bottom:
      x = tf.nn.relu(conv(x))
    for conv, skip in zip(self.up, reversed(skips[:-1])):
      x = tf.image.resize(x, tf.shape(skip)[1:3], 'bilinear')
      x = tf.nn.relu(conv(tf.concat([x, skip], axis=-1)))
    return upsampled + self.out(x)


# ----------------------------------------------------------------------------------------------
# The model.
# ----------------------------------------------------------------------------------------------
class PixColor(keras.Model):
  """`model(batch) -> (logits, aux)`; `model.colorize(gray, ...)` -> RGB samples.

  Args:
    config: the `model` field of a training config (see experiments/configs/pixcolor_imagenet.py):
      image_size (S), chroma_size (c), num_bins; conditioning.{blocks, width, max_pool, dilate_last,
      bn_momentum}; conditioning_weights; adaptation.{filters, num_layers};
      pixelcnn.{num_layers, filters, kernel_size, first_kernel_size, head_filters};
      refinement.{filters, bottom_layers}; pixelcnn_loss_weight, refinement_loss_weight.
  """

  def __init__(self, config, **kwargs):
    kwargs.setdefault('name', 'pixcolor')  # Fixed: checkpoints key weights by their paths.
    super().__init__(**kwargs)
    self.config = ml_collections.ConfigDict(config)
    self.image_size = int(config.image_size)
    self.chroma_size = int(config.chroma_size)
    self.num_bins = int(config.num_bins)
    cond = config.conditioning
    self.resnet = ResNetFeatures(cond.blocks, cond.width, cond.get('max_pool', True),
                                 cond.get('dilate_last', True), cond.get('bn_momentum', 0.99),
                                 name='resnet')
    if self.image_size != self.chroma_size * self.resnet.output_stride:
      raise ValueError(
          f'image_size {self.image_size} must be chroma_size {self.chroma_size} times the '
          f"conditioning network's output stride {self.resnet.output_stride} (set by "
          'conditioning.max_pool, conditioning.dilate_last and the number of stages)')
    self.adaptation = Adaptation(config.adaptation.filters, config.adaptation.num_layers,
                                 name='adaptation')
    p = config.pixelcnn
    self.pixelcnn = layers.PixelCNN(
        2, self.num_bins, p.num_layers, p.filters, kernel_size=p.kernel_size,
        first_kernel_size=p.first_kernel_size, head_filters=p.head_filters, conditional=True,
        name='pixelcnn')
    self.refinement = Refinement(config.refinement.filters, config.refinement.bottom_layers,
                                 name='refinement')
    self.loss_weights = (float(config.get('pixelcnn_loss_weight', 1.0)),
                         float(config.get('refinement_loss_weight', 1.0)))
    self.trained = {'pixelcnn': True, 'refinement': True}
    self._sampler = None
    self._compiled = {}

  # -- building and training -------------------------------------------------------------------
  def dummy_batch(self, batch_size=1):
    s, c = self.image_size, self.chroma_size
    return {'gray': tf.zeros([batch_size, s, s, 1], tf.uint8),
            'chroma': tf.zeros([batch_size, c, c, 2], tf.int32),
            'image': tf.zeros([batch_size, s, s, 3], tf.uint8)}

  def build(self, input_shape=None):
    self.call(self.dummy_batch())

  def set_trained(self, pixelcnn=True, refinement=True):
    """Which network(s) training updates. A frozen network's weights leave `trainable_variables`
    (its batch norm then runs on its moving averages) and its term leaves the loss."""
    if not (pixelcnn or refinement):
      raise ValueError('at least one of the PixelCNN and the refinement network must be trained')
    self.trained = {'pixelcnn': bool(pixelcnn), 'refinement': bool(refinement)}
    for net in (self.resnet, self.adaptation, self.pixelcnn):
      net.trainable = bool(pixelcnn)
    self.refinement.trainable = bool(refinement)

  def conditioning(self, gray, training=False):
    """uint8 Y [B, S, S, 1] -> the PixelCNN's conditioning [B, c, c, adaptation.filters]."""
    features = self.resnet(gray, training=training)
    # Integer factor: average pooling is exactly area downsampling, and compiles with XLA.
    k = self.resnet.output_stride
    small = tf.nn.avg_pool2d(layers.scale_values(gray, 256), k, k, 'VALID')
    return self.adaptation(tf.concat([features, small], axis=-1))

  def call(self, inputs, training=False):
    """Teacher-forced logits of the chroma bins and both networks' losses.

    Args:
      inputs: {'gray': uint8 [B, S, S, 1], 'chroma': int [B, c, c, 2] bins (channel 0 Cb, 1 Cr),
        'image': uint8 [B, S, S, 3] (the refinement target)}, as `data.pipeline` makes them.
    Returns:
      logits: [B, c, c, 2, num_bins].
      aux: per-example [B]: loss (pixelcnn_loss_weight * nats + refinement_loss_weight *
        refinement_mse, over the networks being trained), nats (cross-entropy per chroma sub-pixel),
        refinement_mse (on [-1, 1] chroma units); and refined [B, S, S, 2] (the refinement's
        prediction from the true low-resolution chroma, [-1, 1] units) and conditioning.
    """
    gray = inputs['gray']
    bins = tf.cast(inputs['chroma'], tf.int32)
    conditioning = self.conditioning(gray, training=training)
    logits = self.pixelcnn(layers.scale_values(bins, self.num_bins), conditioning)
    nats = losses.cross_entropy(logits, bins)
    # The refinement sees the true chroma at c x c as the sampler would give it: bin centres.
    refined = self.refinement(gray, transforms.dequantize_chroma(bins, self.num_bins))
    target = scale_chroma(transforms.rgb_to_ycbcr(inputs['image'])[..., 1:])
    mse = losses.mean_squared_error(refined, target)
    loss = 0.0
    if self.trained['pixelcnn']:
      loss += self.loss_weights[0] * nats
    if self.trained['refinement']:
      loss += self.loss_weights[1] * mse
    aux = {'loss': loss, 'nats': nats, 'refinement_mse': mse, 'refined': refined,
           'conditioning': conditioning}
    return logits, aux

  # -- colorizing ------------------------------------------------------------------------------
  @property
  def sampler(self):
    if self._sampler is None:
      self._sampler = sampling.Sampler(self.pixelcnn)
    return self._sampler

  def _fn(self, name):
    """`conditioning` / `refine_network` compiled once per model (and once per input shape)."""
    if name not in self._compiled:
      fns = {'conditioning': lambda gray: self.conditioning(gray, training=False),
             'refine': lambda gray, chroma: unscale_chroma(self.refinement(gray, chroma))}
      self._compiled[name] = tf.function(fns[name], jit_compile=True)
    return self._compiled[name]

  def network_gray(self, gray):
    """Any-size uint8 Y [B, H, W(, 1)] -> uint8 [B, S, S, 1], the conditioning network's input."""
    return resize_gray(as_gray_batch(gray), self.image_size)

  def sample_chroma(self, gray, seeds, temperature=1.0, method='cached'):
    """Samples chroma bins for uint8 Y [B, S, S, 1] at network size: int32 [B, c, c, 2].

    Args:
      gray: uint8 [B, S, S, 1] (see `network_gray`).
      seeds: one int per example (see `pixel_recursive.sampling.example_keys`), or an int.
      temperature: T > 0; bins are drawn from softmax(logits / T).
      method: 'cached' or 'naive'.
    """
    conditioning = self._fn('conditioning')(tf.convert_to_tensor(gray, tf.uint8))
    c = self.chroma_size
    return self.sampler.sample((conditioning.shape[0], c, c), conditioning=conditioning,
                               temperature=temperature, seed=seeds, method=method)

  def refine(self, gray, bins):
    """uint8 Y [B, S, S, 1] + chroma bins [B, c, c, 2] -> refined Cb, Cr float [B, S, S, 2], 0..255."""
    chroma = transforms.dequantize_chroma(tf.convert_to_tensor(bins, tf.int32), self.num_bins)
    return self._fn('refine')(tf.convert_to_tensor(gray, tf.uint8), chroma)

  def combine(self, gray, chroma):
    """The original Y [B, H, W(, 1)] with chroma [B, h, w, 2] (0..255) resized to H x W: uint8 RGB."""
    gray = as_gray_batch(gray)
    size = tuple(gray.shape[1:3])
    if tuple(chroma.shape[1:3]) != size:
      chroma = transforms.resize(chroma, size, 'bilinear')
    return ycbcr_to_rgb_in_gamut(tf.cast(gray, tf.float32), chroma)

  def colorize(self, gray, num_samples=1, temperature=1.0, seed=0, method='cached'):
    """Colourings of gray photos of any size (PixColor, end to end).

    Args:
      gray: uint8 luminance [B, H, W] or [B, H, W, 1] (BT.601 Y; a grayscale photo's pixels).
      num_samples: colourings per input.
      temperature: T > 0 of the chroma sampler (1.0 samples the model; lower is less diverse).
      seed: int; sample k of input b uses `sampling.derive_seed(seed, b, k)`, so an input's
        colourings do not depend on the batch it came in.
      method: the sampler, 'cached' (fast) or 'naive'.
    Returns:
      uint8 RGB [num_samples, B, H, W, 3] whose BT.601 luminance is the input's, up to rounding.
    """
    gray = as_gray_batch(gray)
    batch = gray.shape[0]
    small = self.network_gray(gray)
    repeated = tf.tile(small, [num_samples, 1, 1, 1])  # Row k * B + b: sample k of input b.
    seeds = [sampling.derive_seed(seed, b, k) for k in range(num_samples) for b in range(batch)]
    chroma = self.refine(repeated, self.sample_chroma(repeated, seeds, temperature, method))
    out = self.combine(tf.tile(gray, [num_samples, 1, 1, 1]), chroma)
    return tf.reshape(out, [num_samples, batch] + out.shape[1:].as_list())

  def lowres_preview(self, gray, bins):
    """The sampled chroma before refinement, shown over Y area-downsampled to c x c: uint8 RGB
    [B, c, c, 3] (what the PixelCNN alone produced)."""
    k = self.resnet.output_stride
    y = tf.nn.avg_pool2d(tf.cast(gray, tf.float32), k, k, 'VALID')
    return ycbcr_to_rgb_in_gamut(y, transforms.dequantize_chroma(bins, self.num_bins))


def load_resnet_weights(resnet, path):
  """Loads weights into the conditioning ResNet from a local file, or raises ValueError saying why.

  Accepted:
    * a Keras `.weights.h5` file saved from this conditioning network
      (`model.resnet.save_weights(path)`), e.g. one pretrained elsewhere;
    * the weights of the matching keras.applications ResNet (ResNet50 / 101 / 152 for blocks
      (3, 4, 6) / (3, 4, 23) / (3, 8, 36) with width 64), e.g. Keras' ImageNet file
      `resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5` downloaded by hand; layers are matched
      by name and conv5 is ignored.
  """
  if not os.path.isfile(path):
    raise ValueError(f'model.conditioning_weights: {path} is not a file')
  if not resnet.built:
    resnet(tf.zeros([1, 32, 32, 1], tf.uint8))
  errors = []
  if path.endswith('.weights.h5'):
    try:
      resnet.load_weights(path)
      return 'this network'
    except Exception as e:  # pylint: disable=broad-except
      errors.append(f'as this conditioning network: {_first_line(e)}')
  app_name = KERAS_RESNETS.get(resnet.blocks) if resnet.width == 64 else None
  if app_name:
    try:
      app = getattr(keras.applications, app_name)(include_top=False, weights=path,
                                                  input_shape=(None, None, 3))
      for name, layer in resnet.named_layers().items():
        layer.set_weights(app.get_layer(name).get_weights())
      return f'keras.applications.{app_name}'
    except Exception as e:  # pylint: disable=broad-except
      errors.append(f'as keras.applications.{app_name}: {_first_line(e)}')
  else:
    errors.append('no keras.applications ResNet has blocks '
                  f'{resnet.blocks} and width {resnet.width}')
  raise ValueError(f'model.conditioning_weights {path} does not fit the conditioning network '
                   f'(blocks {resnet.blocks}, width {resnet.width}): ' + '; '.join(errors))


def _first_line(error):
  text = str(error).strip()
  return text.splitlines()[0] if text else type(error).__name__


def build_model(config, load_pretrained=False):
  """A built `PixColor` from a `model` config; with `load_pretrained`, the ResNet is initialised from
  `config.conditioning_weights` when that is set (training from scratch otherwise)."""
  name = config.get('name', 'pixcolor')
  if name != 'pixcolor':
    raise ValueError(f"model.name must be 'pixcolor', got {name!r}")
  model = PixColor(config)
  model.build()
  if load_pretrained and config.get('conditioning_weights'):
    path = os.path.expanduser(config.conditioning_weights)
    logging.info('conditioning network initialised from %s (read as %s weights)', path,
                 load_resnet_weights(model.resnet, path))
  return model
