"""Pixel Recursive Super Resolution (Dahl, Norouzi, Shlens 2017) and its L2-regression baseline.

    A = ConditioningNetwork(8x8 input)          logits [B, 32, 32, 3, 256]   (Sec. 3.2)
    B = PixelCNN(32x32 output so far)           logits [B, 32, 32, 3, 256]   (the prior, Sec. 3.1)
    p(y_i | x, y_<i) = softmax(A_i + B_i)                                     (Eq. 4)
    loss = CE(A + B, y) + CE(A, y)                                            (Eq. 5)

The second term trains A alone to predict the target, which keeps the model from explaining the
image with the prior and ignoring the low-resolution input.
"""
import keras
import ml_collections
import numpy as np
import tensorflow as tf

from data import transforms
from pixel_recursive import candidates as candidates_lib
from pixel_recursive import layers
from pixel_recursive import losses
from pixel_recursive import sampling
from pixel_recursive import workdir as workdir_lib

_PACKAGE = 'pixel_recursive'
# The shipped demo checkpoints (workdir.SR_DEMO_WORKDIRS, which the commands use), for the Python
# API and the notebooks: `workdir.restore(DEMO_WORKDIRS['bedrooms'], build_model)`.
DEMO_WORKDIRS = workdir_lib.SR_DEMO_WORKDIRS
DEMO_WORKDIR = DEMO_WORKDIRS['faces']


def demo_workdir(name='faces'):
  """The folder of the shipped demo model `name` ('faces' or 'bedrooms'), for `workdir.restore`."""
  return workdir_lib.resolve(None, DEMO_WORKDIRS, name)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ResidualBlock(keras.layers.Layer):
  """Pre-activation residual block: x + Conv3x3(relu(Conv3x3(relu(x))))."""

  def __init__(self, filters, **kwargs):
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.conv1 = keras.layers.Conv2D(filters, 3, padding='same', name='conv1')
    # Zero-initialised last convolution: every block starts as the identity, which keeps deep
    # stacks trainable without normalisation layers.
    self.conv2 = keras.layers.Conv2D(filters, 3, padding='same', kernel_initializer='zeros',
                                     name='conv2')

  def build(self, input_shape):
    self.conv1.build(input_shape)
    self.conv2.build(tuple(input_shape[:-1]) + (self.filters,))

  def call(self, x):
    return x + self.conv2(tf.nn.relu(self.conv1(tf.nn.relu(x))))

  def get_config(self):
    return {**super().get_config(), 'filters': self.filters}


class ConditioningNetwork(keras.Model):
  """8x8 image -> per-sub-pixel outputs at 32x32 (Dahl et al. 2017, Sec. 3.2 and Fig. 2).

  A 3x3 convolution, `blocks[0]` residual blocks at 8x8, a stride-2 3x3 transposed convolution,
  `blocks[1]` blocks at 16x16, another, `blocks[2]` blocks at 32x32, and a 1x1 convolution to
  `out_channels x out_values` (the logits A), or to `out_channels` (the L2 baseline's mean).

  Input: uint8 [B, h, w, 3]; output: [B, 4h, 4w, out_channels, out_values] or [B, 4h, 4w, out_channels].
  """

  def __init__(self, filters=32, blocks=(6, 6, 6), out_channels=3, out_values=256, **kwargs):
    super().__init__(**kwargs)
    # Three levels, two 2x upsamplings between them: the 4x of 8x8 -> 32x32.
    if len(blocks) != 3 or any(int(b) != b or b < 0 for b in blocks) or filters < 1:
      raise ValueError('conditioning.blocks must be three block counts >= 0 (at 8x8, 16x16 and '
                       f'32x32) and conditioning.filters >= 1, got {tuple(blocks)} and {filters}')
    self.out_channels = out_channels
    self.out_values = out_values
    self.stem = keras.layers.Conv2D(filters, 3, padding='same', name='stem')
    self.stages = []
    for level, count in enumerate(blocks):
      stage = [ResidualBlock(filters, name=f'res{level}_{k}') for k in range(count)]
      if level < len(blocks) - 1:
        stage.append(keras.layers.Conv2DTranspose(filters, 3, strides=2, padding='same',
                                                  name=f'up{level}'))
      self.stages.append(stage)
    width = out_channels * (out_values or 1)
    self.out = keras.layers.Conv2D(width, 1, name='out')

  def call(self, lowres):
    x = self.stem(layers.scale_values(lowres, 256))
    for stage in self.stages:
      for layer in stage:
        x = layer(x)
        if isinstance(layer, keras.layers.Conv2DTranspose):
          x = tf.nn.relu(x)
    x = self.out(tf.nn.relu(x))
    if self.out_values:
      x = tf.reshape(x, tf.concat([tf.shape(x)[:3], [self.out_channels, self.out_values]], 0))
    return x


class SuperResolution(keras.Model):
  """The full model: `model({'lowres', 'highres'}) -> (logits A + B, aux)`; `model.sample(...)`.

  Args:
    config: the `model` field of a training config (see experiments/configs/celeba_8x32.py):
      conditioning.filters, conditioning.blocks; prior.num_layers, prior.filters, prior.kernel_size,
      prior.first_kernel_size, prior.head_filters; num_values.
  """

  def __init__(self, config, **kwargs):
    super().__init__(**kwargs)
    self.config = ml_collections.ConfigDict(config)
    self.num_values = config.get('num_values', 256)
    self.conditioning = ConditioningNetwork(
        config.conditioning.filters, tuple(config.conditioning.blocks), out_channels=3,
        out_values=self.num_values, name='conditioning')
    prior = config.prior
    self.prior = layers.PixelCNN(
        3, self.num_values, prior.num_layers, prior.filters, kernel_size=prior.kernel_size,
        first_kernel_size=prior.first_kernel_size, head_filters=prior.get('head_filters'),
        name='prior')
    self._conditioning_fn = None

  def build(self, input_shape=None):
    lowres = tf.zeros([1, 8, 8, 3], tf.uint8)
    self.call({'lowres': lowres, 'highres': tf.zeros([1, 32, 32, 3], tf.uint8)})

  def call(self, inputs, training=False):
    """Logits of every sub-pixel given the low-res input and the (teacher-forced) high-res target.

    Args:
      inputs: {'lowres': uint8 [B, 8, 8, 3], 'highres': uint8 [B, 32, 32, 3]}.
    Returns:
      logits: [B, 32, 32, 3, 256], A + B.
      aux: conditioning_logits (A), prior_logits (B), and per-example [B] losses in nats per
        sub-pixel: loss (the training objective, CE(A+B) + CE(A)), nats (CE(A+B)),
        nats_conditioning (CE(A)), nats_prior (CE(B)).
    """
    del training
    check_pair(inputs)
    highres = tf.cast(inputs['highres'], tf.int32)
    # Logits in float32 whatever the layers compute in (mixed precision): the 256-way softmax and
    # its cross-entropy need the range and the precision.
    a = tf.cast(self.conditioning(inputs['lowres']), tf.float32)
    b = tf.cast(self.prior(layers.scale_values(highres, self.num_values)), tf.float32)
    logits = a + b
    nats = losses.cross_entropy(logits, highres)
    nats_a = losses.cross_entropy(a, highres)
    aux = {'conditioning_logits': a, 'prior_logits': b, 'loss': nats + nats_a, 'nats': nats,
           'nats_conditioning': nats_a, 'nats_prior': losses.cross_entropy(b, highres)}
    return logits, aux

  @property
  def sampler(self):
    """The compiled samplers of the prior (`sampling.Sampler`)."""
    return sampling.sampler_of(self.prior)

  def conditioning_function(self):
    """The conditioning network compiled with XLA, made once per model: uint8 lowres -> A."""
    if self._conditioning_fn is None:
      self._conditioning_fn = tf.function(self.conditioning, jit_compile=True,
                                          autograph=False)
    return self._conditioning_fn

  def sample(self, lowres, temperature=1.0, seed=0, method='cached', num_steps=None, guidance=1.0,
             top_p=1.0, keep_gray=False, candidates=1):
    """Draws high-resolution images from softmax((w A + B) / T), sub-pixel by sub-pixel.

    Args:
      lowres: uint8 [B, 8, 8, 3] (any [B, h, w, 3] gives [B, 4h, 4w, 3]: a model trained on
        that size, e.g. --config.data.lowres_size=4 with highres_size=16).
      temperature: T > 0 (1.0 samples the model; lower is sharper and less diverse).
      guidance: w >= 0, the weight of the conditioning logits A. 1 is the paper's model; w > 1 (our
        extension) makes the samples follow the low-resolution input more closely, which a small
        model whose prior B outweighs A needs.
      seed: int, or one int per example; the same seed gives the same images with either method.
      method: 'cached' (fast, the default) or 'naive' (recomputes the prior for every sub-pixel).
      num_steps: naive only, for benchmarks: stop after this many sub-pixels.
      top_p: p in (0, 1]: each sub-pixel is drawn from the top-p nucleus of that distribution
        only (1, the paper's: the whole distribution).
      keep_gray: True turns the sample of a gray input (R = G = B at each of its pixels: a
        black-and-white photo) to its BT.601 luminance in all three channels (`keep_gray_images`),
        as `upsample`, `evaluate`, the export and the demo do; False (the default) returns every
        sample as drawn, which gives a gray face a colour speckle.
      candidates: N >= 1: each image is the one of N draws nearest to their mean, the most typical
        (`pixel_recursive.candidates`; our choice, N times the sampling); 1 (the default, the
        paper's) is one plain draw. The bedrooms demo ships N = 4.
    Returns:
      uint8 [B, 32, 32, 3] (B = 0: empty).

    Raises:
      ValueError: lowres is not a uint8 batch of RGB images.
    """
    lowres = as_lowres_batch(lowres)
    sampler = self.sampler
    a = self.conditioning_function()(lowres)
    batch, height, width = a.shape[:3]

    def draw(s):
      values = sampler.sample((batch, height, width), extra_logits=a, temperature=temperature,
                              seed=s, method=method, num_steps=num_steps, guidance=guidance,
                              top_p=top_p)
      images = tf.cast(values, tf.uint8)
      return keep_gray_images(lowres, images) if keep_gray else images

    return candidates_lib.select(draw, seed, candidates)


def as_lowres_batch(lowres):
  """The uint8 [B, h, w, 3] tensor of `lowres` (an array or tensor); ValueError naming what is wrong
  with anything else. Any h, w: the networks are convolutional, 4x (the shipped models learnt
  8 x 8 -> 32 x 32: `pixel_recursive.upsample.to_lowres` makes an 8 x 8 of any image)."""
  lowres = np.asarray(lowres)
  if lowres.dtype != np.uint8:  # Floats in [0, 1] would quietly become a black image.
    raise ValueError(f'lowres must be uint8 [B, h, w, 3] (0-255), got {lowres.dtype.name}')
  lowres = tf.convert_to_tensor(lowres)
  if lowres.shape.rank != 4 or lowres.shape[-1] != 3:
    raise ValueError(f'lowres must be uint8 [B, h, w, 3], got shape {lowres.shape}')
  if 0 in lowres.shape[1:3]:  # The network's error would name a convolution, not the input.
    raise ValueError(f'lowres images must have at least one pixel, got shape {lowres.shape}')
  return lowres


PAIR = "{'lowres': uint8 [B, h, w, 3], 'highres': uint8 [B, 4h, 4w, 3]}"


def check_pair(inputs):
  """ValueError in words for what a model's call cannot take as its PAIR of images (TensorFlow's
  own error named an addition, and a lowres batch of 1 beside a highres batch of B was broadcast to
  all B without a word). Checks what is known before the call runs: dims that are None are not."""
  got = layers.not_a_dict_of(inputs, ('lowres', 'highres'))
  if got:
    raise ValueError(f'a model takes {PAIR}, got {got}')
  lowres, highres = inputs['lowres'], inputs['highres']
  for name, images in (('lowres', lowres), ('highres', highres)):
    dtype = tf.as_dtype(images.dtype)
    if not dtype.is_integer:  # Floats in [0, 1] would be black images.
      raise ValueError(f'{name} must be uint8 (0-255) as in {PAIR}, got {dtype.name}')
  low, high = tuple(lowres.shape), tuple(highres.shape)
  expected = (low[:1] + tuple(None if n is None else 4 * n for n in low[1:3]) + (3,)
              if len(low) == 4 else None)
  if len(low) != 4 or low[-1] != 3 or not layers.shapes_agree(high, expected):
    raise ValueError(f'a model takes {PAIR}, got shapes {low} and {high}')


def gray_examples(lowres):
  """bool [B]: which uint8 [B, h, w, 3] inputs are gray, R = G = B at every pixel."""
  lowres = tf.convert_to_tensor(lowres)
  return tf.reduce_all((lowres[..., 0] == lowres[..., 1]) & (lowres[..., 1] == lowres[..., 2]),
                       axis=[1, 2])


def keep_gray_images(lowres, images):
  """uint8 `images` [B, H, W, 3] with those of gray inputs (`gray_examples(lowres)`) turned to
  their BT.601 luminance: a black-and-white photo has no colour to draw. Measured on the framing
  test's gray faces (choice ids, faces demo at its defaults): 0.3-0.5 dB above the samples as
  drawn at every zoom, and 0.1-0.2 dB above drawing each pixel's G and B at its R inside the
  sampler (WORKSPACE.md, faces demo card)."""
  gray = gray_examples(lowres)[:, None, None, None]
  return tf.where(gray, transforms.to_gray(images), images)


class L2Regression(keras.Model):
  """The paper's regression baseline: the same conditioning network, trained by mean squared error.

  `model({'lowres', 'highres'}) -> (prediction in [-1, 1] [B, 32, 32, 3], aux)`;
  `model.predict_images(lowres) -> uint8` is its (deterministic) upsampling.
  """

  def __init__(self, config, **kwargs):
    super().__init__(**kwargs)
    self.config = ml_collections.ConfigDict(config)
    self.conditioning = ConditioningNetwork(
        config.conditioning.filters, tuple(config.conditioning.blocks), out_channels=3,
        out_values=None, name='conditioning')

  def build(self, input_shape=None):
    self.call({'lowres': tf.zeros([1, 8, 8, 3], tf.uint8),
               'highres': tf.zeros([1, 32, 32, 3], tf.uint8)})

  def call(self, inputs, training=False):
    del training
    check_pair(inputs)
    prediction = self.conditioning(inputs['lowres'])
    target = layers.scale_values(inputs['highres'], 256)
    mse = losses.mean_squared_error(prediction, target)
    return prediction, {'loss': mse, 'mse': mse}

  def predict_images(self, lowres):
    """uint8 [B, 8, 8, 3] -> uint8 [B, 32, 32, 3], the regression's mean prediction (ValueError
    for what is not a uint8 batch of RGB images, as `SuperResolution.sample` gives)."""
    prediction = self.conditioning(as_lowres_batch(lowres))
    return tf.cast(tf.clip_by_value(tf.round((prediction + 1.0) * 127.5), 0, 255), tf.uint8)


MODELS = {'super_resolution': SuperResolution, 'l2_regression': L2Regression}


def build_model(config):
  """The model a `model` config names (`config.name`), built so its variables exist."""
  name = config.get('name', 'super_resolution')
  if name not in MODELS:
    raise ValueError(f'model.name must be one of {sorted(MODELS)}, got {name!r}')
  model = MODELS[name](config)
  model.build()
  return model
