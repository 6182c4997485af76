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
gamut is pulled towards gray just enough to fit (`color.ycbcr_to_rgb_in_gamut`), so the output's luminance
equals the input's up to uint8 rounding.

The networks live in their own modules: the conditioning backbone in `pixcolor.backbones` (our
ResNet in `pixcolor.resnet`, or a pretrained keras.applications network), the refinement
network in `pixcolor.refinement`, the colour plumbing in `pixcolor.color`; the PixelCNN and its
cached sampler are `pixel_recursive.layers` and `pixel_recursive.sampling`.
"""
import os

from absl import logging
import keras
import ml_collections
import numpy as np
import tensorflow as tf

from data import transforms
from pixcolor import color
from pixcolor import refinement as refinement_lib
from pixcolor import backbones
from pixel_recursive import commands
from pixel_recursive import candidates as candidates_lib
from pixel_recursive import layers
from pixel_recursive import losses
from pixel_recursive import sampling
from pixel_recursive import workdir as workdir_lib

DEQUANTIZATIONS = ('uniform', 'centre')
# Sampler position of the dequantization noise: after every sub-pixel position, so that its numbers
# are not those of any draw (`sampling.uniform_noise`).
_DEQUANTIZATION_POSITION = 2 ** 31

# The shipped demo checkpoint (workdir.PIXCOLOR_DEMO_WORKDIRS, which the commands use), for the
# Python API and the notebooks: `workdir.restore(DEMO_WORKDIR, build_model)`.
DEMO_WORKDIRS = workdir_lib.PIXCOLOR_DEMO_WORKDIRS
DEMO_WORKDIR = workdir_lib.PIXCOLOR_DEMO_WORKDIR


def demo_workdir(name='photos'):
  """The folder of the shipped demo model `name` (PixColor ships one: 'photos', the --model name of
  its commands), for `workdir.restore`; as `pixel_recursive.model.demo_workdir`."""
  return workdir_lib.resolve(None, DEMO_WORKDIRS, name)


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

  def __init__(self, config, load_weights=False, **kwargs):
    kwargs.setdefault('name', 'pixcolor')  # Fixed: checkpoints key weights by their paths.
    super().__init__(**kwargs)
    self.config = ml_collections.ConfigDict(config)
    self.image_size = int(config.image_size)
    self.chroma_size = int(config.chroma_size)
    self.num_bins = int(config.num_bins)
    if self.image_size % self.chroma_size:
      raise ValueError(f'image_size {self.image_size} is not a multiple of chroma_size '
                       f'{self.chroma_size}')
    self.grid_factor = self.image_size // self.chroma_size
    # The conditioning network (`backbones`): the gray photo -> features on the chroma grid.
    self.backbone = backbones.make_backbone(config, self.image_size, self.chroma_size,
                                            load_weights=load_weights)
    # A pretrained backbone keeps its batch norm in inference mode, frozen or fine-tuned.
    self.pretrained = bool(config.get('conditioning_weights'))
    self.backbone_frozen = bool(config.conditioning.get('frozen', False))
    if self.pretrained:
      backbones.freeze_batch_norm(self.backbone)
    self.adaptation = Adaptation(config.adaptation.filters, config.adaptation.num_layers,
                                 name='adaptation')
    p = config.pixelcnn
    self.pixelcnn = layers.PixelCNN(
        2, self.num_bins, p.num_layers, p.filters, kernel_size=p.kernel_size,
        first_kernel_size=p.first_kernel_size, head_filters=p.head_filters, conditional=True,
        first_layer=p.get('first_layer', 'gated'), name='pixelcnn')
    self.refinement = refinement_lib.make_refinement(config.refinement)
    # 'uniform': a value drawn uniformly within each sampled (or true) chroma bin; 'centre': the bin
    # centre (workdirs from before the key existed).
    self.dequantization = config.get('dequantization', 'centre')
    if self.dequantization not in DEQUANTIZATIONS:
      raise ValueError(f'model.dequantization must be one of {DEQUANTIZATIONS}, got '
                       f'{self.dequantization!r}')
    self.loss_weights = (float(config.get('pixelcnn_loss_weight', 1.0)),
                         float(config.get('refinement_loss_weight', 1.0)))
    self.trained = {'pixelcnn': True, 'refinement': True}
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
    for net in (self.adaptation, self.pixelcnn):
      net.trainable = bool(pixelcnn)
    self.backbone.trainable = bool(pixelcnn) and not self.backbone_frozen
    if self.pretrained:  # Setting `trainable` above set it on every sublayer too.
      backbones.freeze_batch_norm(self.backbone)
    self.refinement.trainable = bool(refinement)

  def conditioning(self, gray, training=False):
    """uint8 Y [B, S, S, 1] -> the PixelCNN's conditioning [B, c, c, adaptation.filters]."""
    # A frozen backbone runs in inference mode (its batch norm on its moving averages).
    features = self.backbone(gray, training=training and self.backbone.trainable)
    # Integer factor: average pooling is exactly area downsampling, and compiles with XLA.
    k = self.grid_factor
    small = tf.nn.avg_pool2d(layers.scale_values(gray, 256), k, k, 'VALID')
    conditioning = self.adaptation(tf.concat([features, tf.cast(small, features.dtype)], axis=-1))
    # float32 whatever the layers compute in: the PixelCNN's gates add projections of it.
    return tf.cast(conditioning, tf.float32)

  def check_batch(self, inputs):
    """ValueError in words for a training batch `call` cannot take (TensorFlow's errors named a
    concatenation or the PixelCNN's conditioning; float gray in [0, 1] ran as a black photo).
    Checks what is known before the call runs: dims that are None are not."""
    s, c = self.image_size, self.chroma_size
    wanted = (f"{{'gray': uint8 [B, {s}, {s}, 1], 'chroma': int [B, {c}, {c}, 2] bins, "
              f"'image': uint8 [B, {s}, {s}, 3]}}")
    got = layers.not_a_dict_of(inputs, ('gray', 'chroma', 'image'))
    if got:
      raise ValueError(f'PixColor takes {wanted}, got {got}')
    shapes = {}
    for key, size, depth in (('gray', s, 1), ('chroma', c, 2), ('image', s, 3)):
      dtype = tf.as_dtype(inputs[key].dtype)
      if not dtype.is_integer:
        raise ValueError(f'{key} must be {"int bins" if key == "chroma" else "uint8 (0-255)"} as '
                         f'in {wanted}, got {dtype.name}')
      shapes[key] = tuple(inputs[key].shape)
      expected = (shapes['gray'][:1] if shapes['gray'] else (None,)) + (size, size, depth)
      if not layers.shapes_agree(shapes[key], expected):
        raise ValueError(f'PixColor takes {wanted}, got shapes '
                         f'{", ".join(f"{k} {v}" for k, v in shapes.items())}')

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
    self.check_batch(inputs)
    gray = inputs['gray']
    bins = tf.cast(inputs['chroma'], tf.int32)
    conditioning = self.conditioning(gray, training=training)
    # float32 logits under a mixed policy too: the softmax and its cross-entropy need them.
    logits = tf.cast(self.pixelcnn(layers.scale_values(bins, self.num_bins), conditioning),
                     tf.float32)
    nats = losses.cross_entropy(logits, bins)
    # The refinement sees the true chroma at c x c as it sees sampled bins: `dequantize`d.
    refined = self.refinement(gray, self.dequantize(bins, training=training))
    target = color.scale_chroma(transforms.rgb_to_ycbcr(inputs['image'])[..., 1:])
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
    """The compiled samplers of the chroma PixelCNN (`sampling.Sampler`)."""
    return sampling.sampler_of(self.pixelcnn)

  def compiled_network(self, name):
    """'conditioning' (uint8 Y [B, S, S, 1] -> the PixelCNN's conditioning) or 'refine' (Y and
    chroma 0..255 -> refined chroma 0..255), compiled with XLA once per model (and input shape).
    `pixcolor.export` serves these very programs."""
    if name not in self._compiled:
      fns = {'conditioning': lambda gray: self.conditioning(gray, training=False),
             'refine': lambda gray, chroma: color.unscale_chroma(self.refinement(gray, chroma))}
      self._compiled[name] = tf.function(fns[name], jit_compile=True, autograph=False)
    return self._compiled[name]

  def network_gray(self, gray):
    """Any-size uint8 Y [B, H, W(, 1)] -> uint8 [B, S, S, 1], the conditioning network's input."""
    return color.resize_gray(color.as_gray_batch(gray), self.image_size)

  def sample_chroma(self, gray, seeds, temperature=1.0, method='cached', top_p=1.0, candidates=1):
    """Samples chroma bins for uint8 Y [B, S, S, 1] at network size: int32 [B, c, c, 2].

    Args:
      gray: uint8 [B, S, S, 1] (see `network_gray`).
      seeds: one int per example (see `pixel_recursive.sampling.example_keys`), or an int.
      temperature: T > 0; bins are drawn from softmax(logits / T).
      method: 'cached' or 'naive'.
      top_p: p in (0, 1]: draw each bin from the top-p nucleus of that distribution (1: all of it).
      candidates: N >= 1: per example, keep the one of N draws whose chroma (bin centres) lies
        nearest to their mean (`pixel_recursive.candidates`; 1: one plain draw, the paper's).
    """
    conditioning = self.compiled_network('conditioning')(tf.convert_to_tensor(gray, tf.uint8))
    c = self.chroma_size

    def draw(s):
      return self.sampler.sample((conditioning.shape[0], c, c), conditioning=conditioning,
                                 temperature=temperature, seed=s, method=method, top_p=top_p)

    return candidates_lib.select(draw, seeds, candidates, self.bin_centres)

  def bin_centres(self, bins):
    """Chroma bins int [..., 2] -> Cb, Cr float at the bins' centres (0..255): what the candidates
    of `sample_chroma` (and of the export) are compared on."""
    return transforms.dequantize_chroma(bins, self.num_bins)

  def dequantize(self, bins, keys=None, training=False):
    """Chroma bins int [B, c, c, 2] -> Cb, Cr float on 0..255 for the refinement network.

    With `model.dequantization` 'uniform' (our choice; the paper does not say), each value is drawn
    uniformly within its bin, as the true low-resolution chroma lies anywhere in it: bin centres
    alone give the refined colours a comb of peaks in their histogram (the refinement of the *true*
    bins reached a b-histogram intersection of 0.82 from centres, 0.92 from uniform values, on 50
    held-out photos). Per example the numbers come from its sampler key (`keys` [B, 2]), so a
    colouring does not depend on its batch; training draws them at random, evaluation from key 0.
    """
    centres = self.bin_centres(tf.convert_to_tensor(bins, tf.int32))
    if self.dequantization == 'centre':
      return centres
    if keys is None:
      keys = tf.zeros([tf.shape(centres)[0], 2], tf.int32)
      if training:
        keys = tf.random.uniform(tf.shape(keys), 0, 2 ** 31 - 1, tf.int32)
    c = self.chroma_size
    u = sampling.uniform_noise(keys, _DEQUANTIZATION_POSITION, c * c * 2)
    return centres + (tf.reshape(u, tf.shape(centres)) - 0.5) * (256.0 / self.num_bins)

  def refine(self, gray, bins, seeds=0):
    """uint8 Y [B, S, S, 1] + chroma bins [B, c, c, 2] -> refined Cb, Cr float [B, S, S, 2], 0..255.

    `seeds`: those the bins were sampled with (one per example, or an int; see `dequantize`)."""
    bins = tf.convert_to_tensor(bins, tf.int32)
    keys = tf.constant(sampling.example_keys(seeds, bins.shape[0]))
    return self.compiled_network('refine')(tf.convert_to_tensor(gray, tf.uint8),
                                           self.dequantize(bins, keys))

  def combine(self, gray, chroma):
    """The original Y [B, H, W(, 1)] with chroma [B, h, w, 2] (0..255) resized to H x W: uint8 RGB."""
    return color.combine(color.as_gray_batch(gray), chroma)

  def colorize(self, gray, num_samples=1, temperature=1.0, seed=0, method='cached', top_p=1.0,
               candidates=1):
    """Colourings of gray photos of any size (PixColor, end to end).

    Args:
      gray: uint8 luminance [B, H, W] or [B, H, W, 1] (BT.601 Y; a grayscale photo's pixels).
      num_samples: colourings per input (0: none, an empty result).
      temperature: T > 0 of the chroma sampler (1.0 samples the model; lower is less diverse).
      seed: int; sample k of input b uses `sampling.derive_seed(seed, b, k)`, so an input's
        colourings do not depend on the batch it came in.
      method: the sampler, 'cached' (fast) or 'naive'.
      top_p: p in (0, 1]: each chroma bin is drawn from the top-p nucleus of its distribution
        only, cutting the unlikely colours that start blotches (1: the whole distribution).
      candidates: N >= 1: each colouring is the most typical of N draws (`sample_chroma`); 1 is
        one plain draw, the paper's. The demo model ships N = 8 (config.json `sampling`).
    Returns:
      uint8 RGB [num_samples, B, H, W, 3] whose BT.601 luminance is the input's, up to rounding
      (B = 0: empty).
    """
    if np.ndim(gray) == 3 and np.shape(gray)[-1] == 3:  # Not gray photos 3 pixels wide.
      raise ValueError(f'gray must be [B, H, W] or [B, H, W, 1], got the shape of one RGB photo, '
                       f'{tuple(np.shape(gray))}: {color.RGB_HINT}')
    gray = color.as_gray_batch(gray)
    num_samples = commands.check_count('num_samples', num_samples, 0)  # Not tf.tile's error.
    if np.ndim(seed) != 0 or not float(seed).is_integer():  # Not int()'s TypeError of a list.
      raise ValueError(f'seed must be one whole number (sample k of input b draws with '
                       f'derive_seed(seed, b, k)), got {seed!r}')
    batch = gray.shape[0]
    small = self.network_gray(gray)
    repeated = tf.tile(small, [num_samples, 1, 1, 1])  # Row k * B + b: sample k of input b.
    seeds = [sampling.derive_seed(seed, b, k) for k in range(num_samples) for b in range(batch)]
    chroma = self.refine(
        repeated, self.sample_chroma(repeated, seeds, temperature, method, top_p, candidates), seeds)
    out = self.combine(tf.tile(gray, [num_samples, 1, 1, 1]), chroma)
    return tf.reshape(out, [num_samples, batch] + out.shape[1:].as_list())

  def lowres_preview(self, gray, bins):
    """The sampled chroma before refinement, shown over Y area-downsampled to c x c: uint8 RGB
    [B, c, c, 3] (what the PixelCNN alone produced)."""
    k = self.grid_factor
    y = tf.nn.avg_pool2d(tf.cast(gray, tf.float32), k, k, 'VALID')
    return color.ycbcr_to_rgb_in_gamut(y, self.bin_centres(bins))


def build_model(config, load_pretrained=False):
  """A built `PixColor` from a `model` config; with `load_pretrained`, the conditioning backbone is
  initialised from `config.conditioning_weights` when that is set (a file, or 'imagenet'), else it
  starts random. Without it (restoring a trained model) no weights file is read at all.

  Raises:
    ValueError (backbones.WeightsError for the weights file): a config that cannot be built.
  """
  name = config.get('name', 'pixcolor')
  if name != 'pixcolor':
    raise ValueError(f"model.name must be 'pixcolor', got {name!r}")
  model = PixColor(config, load_weights=load_pretrained)
  model.build()
  weights = config.get('conditioning_weights')
  if load_pretrained and weights:
    path = weights if weights == 'imagenet' else os.path.expanduser(weights)
    logging.info('conditioning network initialised from %s (read as %s weights)', path,
                 backbones.load_weights(model.backbone, path))
  return model
