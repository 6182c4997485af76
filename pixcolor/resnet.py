"""PixColor's conditioning network: ResNet v1 (He et al. 2016) truncated after its third stage.

It follows `keras.applications.ResNet101` (v1, its layer names and its 'caffe' input preprocessing)
so that ImageNet weights saved by Keras can initialise it (`load_resnet_weights`); the paper's
segmentation-pretrained weights are not available and the default is to train from scratch. Its last
kept stage trades its stride for dilation 2 (as the DeepLab-style segmentation network of the paper
does), so 224 x 224 gives 28 x 28 features.
"""
import os

import keras
import numpy as np
import tensorflow as tf

_PACKAGE = 'pixcolor'
# keras.applications ResNets by their blocks per stage (only the first three stages are kept here).
KERAS_RESNETS = {(3, 4, 6): 'ResNet50', (3, 4, 23): 'ResNet101', (3, 8, 36): 'ResNet152'}
# keras.applications.resnet.preprocess_input('caffe'): BGR minus the ImageNet mean, no scaling.
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


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
    if not 0 <= bn_momentum <= 1:  # Outside, the moving statistics diverge without a word.
      raise ValueError(f'conditioning.bn_momentum must be in [0, 1], got {bn_momentum}')
    if int(width) < 1:
      raise ValueError(f'conditioning.width must be >= 1, got {width}')
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
      errors.append(f'as this conditioning network: {first_line(e)}')
  app_name = KERAS_RESNETS.get(resnet.blocks) if resnet.width == 64 else None
  if app_name:
    try:
      app = getattr(keras.applications, app_name)(include_top=False, weights=path,
                                                  input_shape=(None, None, 3))
      return copy_keras_weights(resnet, app, app_name)
    except Exception as e:  # pylint: disable=broad-except
      errors.append(f'as keras.applications.{app_name}: {first_line(e)}')
  else:
    errors.append('no keras.applications ResNet has blocks '
                  f'{resnet.blocks} and width {resnet.width}')
  raise ValueError(f'model.conditioning_weights {path} does not fit the conditioning network '
                   f'(blocks {resnet.blocks}, width {resnet.width}): ' + '; '.join(errors))


def copy_keras_weights(resnet, app, app_name):
  """Copies a keras.applications ResNet's weights into `resnet` by layer name (conv5 is ignored)."""
  if not resnet.built:
    resnet(tf.zeros([1, 32, 32, 1], tf.uint8))
  for name, layer in resnet.named_layers().items():
    layer.set_weights(app.get_layer(name).get_weights())
  return f'keras.applications.{app_name}'


def first_line(error):
  """The error's first line, and its second where the first ends in ':' (Keras: 'A total of 104
  objects could not be loaded. Example error message for object <Conv2D ...>:', then the reason)."""
  lines = [line.strip() for line in str(error).splitlines() if line.strip()]
  if not lines:
    return type(error).__name__
  text = ' '.join(lines[:2]) if lines[0].endswith(':') and len(lines) > 1 else lines[0]
  return text[:300]
