"""PixColor's conditioning network: the backbone that turns the gray photo into features on the
chroma grid (Guadarrama et al. 2017, Sec. 3.2), chosen by `model.conditioning.backbone`:

  resnet        our ResNet v1 (`pixcolor.resnet.ResNetFeatures`), its blocks and width set by the
                config; trained from scratch (or from a `.weights.h5` file of the same network)
  resnet101     the paper's: ResNet-101 cut after conv4 with conv4 dilated (output stride 8), in
                keras.applications' layer layout, so Keras' ImageNet weights initialise it
  mobilenet_v2  keras.applications.MobileNetV2 (alpha 1.0): the CPU-size pretrained choice

Every backbone takes uint8 Y [B, S, S, 1], replicates it to three channels and scales it as its
pretrained weights expect ('caffe' BGR mean subtraction for the ResNets, [-1, 1] for MobileNetV2),
and returns float features [B, c, c, D] on the chroma grid. A keras.applications backbone sees the
gray photo resized to `conditioning.input_size` (default S: a larger one gives its deep layers more
than a few pixels) and reaches the grid by `conditioning.features`:

  stride   truncated at the layer whose output stride is input_size / c (the paper's way)
  multi    several depths (`MOBILENET_V2_LAYERS`), each bilinearly resized to the grid, concatenated

`model.conditioning_weights` initialises it: a local file (Keras' `..._notop.h5` of that network,
e.g. `mobilenet_v2_1.0_224_no_top_imagenet.h5`, or a `.weights.h5` saved from this backbone),
`imagenet` (Keras downloads its weights; needs internet) or '' (random). `conditioning.frozen`
keeps it fixed; otherwise it is fine-tuned with the paper's gradient multiplier (PixColorTask). The
batch normalization of a pretrained keras.applications backbone always runs in inference mode
(`trainable = False` on those layers): MobileNetV2 files converted from TFLite have it folded into
the convolutions, and a few thousand gray photos must not re-estimate ImageNet's statistics.
"""
import contextlib
import os
import warnings

import keras
import tensorflow as tf

from pixcolor import resnet as resnet_lib

BACKBONES = ('resnet', 'resnet101', 'mobilenet_v2')
FEATURES = ('stride', 'multi')
# MobileNetV2 layers by output stride: the expansion of the first block of the next stage (its
# widest activation before that block's stride), and the last layer.
MOBILENET_V2_STRIDES = {2: 'block_1_expand_relu', 4: 'block_3_expand_relu',
                        8: 'block_6_expand_relu', 16: 'block_13_expand_relu', 32: 'out_relu'}
MOBILENET_V2_LAYERS = ('block_6_expand_relu', 'block_13_expand_relu', 'out_relu')


class WeightsError(ValueError):
  """A conditioning_weights file that is missing or does not fit the backbone (one line)."""


class ApplicationBackbone(keras.Model):
  """A keras.applications network cut where its features meet the chroma grid.

  Args:
    name: 'mobilenet_v2'.
    image_size: S, the side of the gray input.
    chroma_size: c, the side of the features returned.
    input_size: the side the gray input is resized to for the network (default S).
    features: 'stride' or 'multi' (module docstring).
    weights: None (random), a file path or 'imagenet', loaded by keras.applications.
  """

  def __init__(self, name, image_size, chroma_size, input_size=None, features='stride',
               weights=None, **kwargs):
    super().__init__(name=name, **kwargs)
    if features not in FEATURES:
      raise ValueError(f'model.conditioning.features must be one of {FEATURES}, got {features!r}')
    self.image_size, self.chroma_size = int(image_size), int(chroma_size)
    self.input_size = int(input_size or image_size)
    self.features = features
    if features == 'stride':
      stride = self.input_size // self.chroma_size
      if self.input_size != stride * self.chroma_size or stride not in MOBILENET_V2_STRIDES:
        raise ValueError(
            f'model.conditioning.input_size {self.input_size} over chroma_size {self.chroma_size} '
            f'must be one of MobileNetV2\'s output strides {sorted(MOBILENET_V2_STRIDES)} '
            "(or use conditioning.features='multi')")
      layer_names = [MOBILENET_V2_STRIDES[stride]]
    else:
      layer_names = list(MOBILENET_V2_LAYERS)
    if weights and weights != 'imagenet' and not os.path.isfile(weights):
      raise WeightsError(f'model.conditioning_weights: {weights} is not a file')
    try:
      with warnings_unless_it_fails():
        net = keras.applications.MobileNetV2(
            input_shape=(self.input_size, self.input_size, 3), alpha=1.0, include_top=False,
            weights=weights or None)
    except Exception as e:  # pylint: disable=broad-except  (h5py, Keras: many types)
      if weights == 'imagenet':
        raise not_downloaded('MobileNetV2 1.0', e) from None
      raise WeightsError(f'model.conditioning_weights {weights} does not fit MobileNetV2 1.0 '
                         f'({resnet_lib.first_line(e)})') from None
    self.net = keras.Model(net.input, [net.get_layer(n).output for n in layer_names],
                           name='features')
    self.out_channels = sum(int(t.shape[-1]) for t in self.net.outputs)

  def call(self, gray, training=False):
    x = tf.cast(gray, tf.float32)
    if self.input_size != x.shape[1] or self.input_size != x.shape[2]:
      x = tf.image.resize(x, (self.input_size, self.input_size), method='bilinear')
    x = tf.concat([x, x, x], axis=-1) / 127.5 - 1.0  # mobilenet_v2.preprocess_input.
    outputs = self.net(x, training=training)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    c = self.chroma_size
    resized = [o if o.shape[1] == c else tf.cast(
        tf.image.resize(tf.cast(o, tf.float32), (c, c), method='bilinear'), o.dtype)
               for o in outputs]
    return resized[0] if len(resized) == 1 else tf.concat(resized, axis=-1)


def freeze_batch_norm(backbone):
  """Puts every BatchNormalization layer of `backbone` in inference mode (`trainable = False`), so
  that fine-tuning a pretrained backbone never re-estimates its statistics; returns how many."""
  layers = [l for l in backbone._flatten_layers(include_self=False, recursive=True)  # pylint: disable=protected-access
            if isinstance(l, keras.layers.BatchNormalization)]
  for layer in layers:
    layer.trainable = False
  return len(layers)


def make_backbone(config, image_size, chroma_size, load_weights=True):
  """The conditioning backbone of a `model` config. A keras.applications backbone reads
  `conditioning_weights` as it is made when `load_weights` (a ResNet later, by `load_weights`);
  otherwise it starts random (a checkpoint will restore it)."""
  cond = config.conditioning
  kind = cond.get('backbone', 'resnet')
  if kind not in BACKBONES:
    raise ValueError(f'model.conditioning.backbone must be one of {", ".join(BACKBONES)}, got '
                     f'{kind!r}')
  if kind in ('resnet', 'resnet101'):
    if kind == 'resnet101':
      blocks, width, max_pool, dilate = (3, 4, 23), 64, True, True
    else:
      blocks, width = cond.blocks, cond.width
      max_pool, dilate = cond.get('max_pool', True), cond.get('dilate_last', True)
    net = resnet_lib.ResNetFeatures(blocks, width, max_pool, dilate, cond.get('bn_momentum', 0.99),
                                    name='resnet')
    if image_size != chroma_size * net.output_stride:
      raise ValueError(
          f'image_size {image_size} must be chroma_size {chroma_size} times the '
          f"conditioning network's output stride {net.output_stride} (set by "
          'conditioning.max_pool, conditioning.dilate_last and the number of stages)')
    return net
  weights = (config.get('conditioning_weights') or None) if load_weights else None
  if weights and weights != 'imagenet':
    weights = os.path.expanduser(weights)
  return ApplicationBackbone(kind, image_size, chroma_size, cond.get('input_size') or None,
                             cond.get('features', 'stride'), weights=weights)


def load_weights(backbone, path):
  """Initialises a ResNet backbone from `path` or 'imagenet' (an application backbone loads its own
  when it is made); returns what the weights were read as. WeightsError says why they do not fit."""
  if isinstance(backbone, ApplicationBackbone):
    return 'keras.applications.MobileNetV2'
  if path == 'imagenet':
    app_name = resnet_lib.KERAS_RESNETS.get(backbone.blocks) if backbone.width == 64 else None
    if not app_name:
      raise WeightsError(f'model.conditioning_weights=imagenet: no keras.applications ResNet has '
                         f'blocks {backbone.blocks} and width {backbone.width}')
    try:
      app = getattr(keras.applications, app_name)(include_top=False, weights='imagenet',
                                                  input_shape=(None, None, 3))
    except Exception as e:  # pylint: disable=broad-except  (Keras raises a bare Exception)
      raise not_downloaded(app_name, e) from None
    return resnet_lib.copy_keras_weights(backbone, app, app_name)
  try:
    with warnings_unless_it_fails():
      return resnet_lib.load_resnet_weights(backbone, path)
  except ValueError as e:
    raise WeightsError(str(e)) from None


def not_downloaded(name, error):
  """The WeightsError of conditioning_weights=imagenet when Keras cannot fetch them (offline)."""
  return WeightsError(f"model.conditioning_weights=imagenet: Keras could not download {name}'s "
                      f'ImageNet weights ({resnet_lib.first_line(error)}); without internet, fetch '
                      'that file elsewhere and give it as --config.model.conditioning_weights=PATH')


@contextlib.contextmanager
def warnings_unless_it_fails():
  """Holds the warnings of a weights load and shows them only if it succeeds: a file that does not
  fit makes Keras warn once per layer it skips (a hundred lines for MobileNetV2) before it raises,
  and the error's one line says all of that."""
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    yield
  for w in caught:
    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
