"""PixColor's conditioning backbones (pixcolor/backbones.py): built at tiny size with random weights,
loaded from a weights file, frozen batch norm, and the PixelCNN's causality and cached == naive
sampling with each."""
import re
import types
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers
from pixcolor import backbones
from pixcolor import model as model_lib
from pixcolor import resnet as resnet_lib
from pixcolor import task as task_lib
from pixel_recursive import commands
from pixel_recursive import workdir
from pixel_recursive.training import loop
import test_pixcolor_e2e
from test_pixcolor_model import assert_chroma_pixelcnn_is_causal
from test_pixcolor_model import random_batch
from test_pixcolor_model import tiny_model_config

MOBILENET = dict(backbone='mobilenet_v2', input_size=32, features='stride', frozen=False)


def mobilenet_config(**overrides):
  """32 x 32 photos, 4 x 4 chroma: MobileNetV2 cut at output stride 8 (block_6_expand_relu)."""
  c = tiny_model_config(image_size=32, chroma_size=4)
  c.conditioning.update(MOBILENET)
  return helpers.override(c, overrides)


@pytest.fixture(scope='module')
def weights_file(tmp_path_factory):
  """A MobileNetV2 1.0 weights file of random values (ImageNet's would be the same layout)."""
  keras.utils.set_random_seed(3)
  app = keras.applications.MobileNetV2(input_shape=(32, 32, 3), include_top=False, weights=None)
  for v in app.weights:  # Not Keras' initial values, so a load that did nothing cannot pass.
    v.assign(v + tf.random.normal(v.shape, stddev=0.05, seed=4))
  path = str(tmp_path_factory.mktemp('weights') / 'mobilenet_v2.weights.h5')
  app.save_weights(path)
  return path, {layer.name: [w.numpy() for w in layer.weights] for layer in app.layers
                if layer.weights}


@pytest.mark.parametrize('cond', [
    dict(backbone='resnet'),
    dict(MOBILENET),
    dict(MOBILENET, features='multi'),
    dict(MOBILENET, input_size=64),  # The backbone sees the photo at twice its size.
])
def test_backbones_build_and_meet_the_chroma_grid(cond):
  c = tiny_model_config(image_size=32, chroma_size=4) if cond['backbone'] != 'resnet' else (
      tiny_model_config())
  c.conditioning.update(cond)
  model = model_lib.build_model(c)
  batch = random_batch(model)
  features = model.backbone(batch['gray'])
  assert features.shape[:3] == (2, 4, 4)
  logits, aux = model(batch)
  assert logits.shape == (2, 4, 4, 2, 32) and np.all(np.isfinite(aux['loss']))


def test_the_resnets_batch_norm_momentum_comes_from_the_config():
  c = tiny_model_config()
  c.conditioning.bn_momentum = 0.5
  net = backbones.make_backbone(c, c.image_size, c.chroma_size)
  net(tf.zeros([1, c.image_size, c.image_size, 1], tf.uint8))
  bns = [l for l in net.named_layers().values() if isinstance(l, keras.layers.BatchNormalization)]
  assert bns and {bn.momentum for bn in bns} == {0.5}


def test_the_backbones_input_is_the_gray_photo_replicated_and_scaled_for_mobilenet(weights_file):
  path, _ = weights_file
  model = model_lib.build_model(mobilenet_config(conditioning_weights=path), load_pretrained=True)
  gray = random_batch(model)['gray']
  x = np.repeat(gray.astype(np.float32), 3, axis=-1)
  expected = model.backbone.net(keras.applications.mobilenet_v2.preprocess_input(x))
  np.testing.assert_allclose(model.backbone(gray), expected, rtol=1e-5, atol=1e-5)


def test_a_backbone_that_sees_the_photo_larger_sees_it_resized_bilinearly(monkeypatch):
  """The shipped PixColor's MobileNetV2 sees its 64 x 64 photos at 128 x 128: here 32 x 32 at
  64 x 64, bilinearly (not by repeating pixels), then scaled to [-1, 1]. What the network is fed
  is checked itself: a random MobileNetV2's deep features hardly depend on their input."""
  config = mobilenet_config()
  config.conditioning.input_size = 64
  model = model_lib.build_model(config)
  fed = []

  def net(x, training=False):
    fed.append(x)
    return tf.zeros([x.shape[0], 4, 4, 8])

  monkeypatch.setattr(model.backbone, 'net', net)
  gray = random_batch(model)['gray']
  model.backbone(gray)
  x = tf.image.resize(np.repeat(gray.astype(np.float32), 3, axis=-1), (64, 64), 'bilinear')
  np.testing.assert_allclose(fed[0], keras.applications.mobilenet_v2.preprocess_input(x.numpy()),
                             atol=1e-5)


def test_a_weights_file_sets_the_backbone_and_is_read_only_when_asked(weights_file):
  path, saved = weights_file
  loaded = model_lib.build_model(mobilenet_config(conditioning_weights=path), load_pretrained=True)
  layers = [l for l in loaded.backbone.net.layers if l.weights]
  assert len(layers) > 20 and layers[0].name == 'Conv1'  # Every layer up to the cut.
  for layer in layers:
    for got, want in zip(layer.weights, saved[layer.name]):
      np.testing.assert_array_equal(got.numpy(), want, err_msg=layer.name)
  # Restoring a trained model reads no file: its checkpoint holds the weights.
  random = model_lib.build_model(mobilenet_config(conditioning_weights='/no/such/file.h5'))
  assert not np.array_equal(random.backbone.net.get_layer('Conv1').kernel.numpy(),
                            saved['Conv1'][0])


def test_init_from_a_run_holding_the_backbone_reads_no_weights_file_and_one_without_it_does(
    weights_file, tmp_path, caplog):
  """Fine-tuning a trained model (the shipped one, offline: conditioning_weights=imagenet cannot
  be fetched there) takes its backbone from init_from; the file is read only where init_from has
  no such backbone."""
  path, saved = weights_file

  def config_of(**overrides):
    return test_pixcolor_e2e.tiny_config(**{
        'model.image_size': 32, 'model.chroma_size': 4,
        **{f'model.conditioning.{k}': v for k, v in MOBILENET.items()}, **overrides})

  def workdir_holding(model, name):
    folder = tmp_path / name
    tf.train.CheckpointManager(workdir.make_checkpoint(model), str(folder / 'checkpoints'),
                               1).save()
    return str(folder)

  trained = model_lib.build_model(config_of().model)  # Random weights, none of them the file's.
  config = config_of(**{'model.conditioning_weights': str(tmp_path / 'gone.h5'),
                        'init_from': workdir_holding(trained, 'mobilenet_run')})
  caplog.set_level('INFO')
  said = lambda: [r.getMessage() for r in caplog.records if 'initialised from' in r.getMessage()]
  model = task_lib.PixColorTask(config).build_model(config.model)
  assert said() == [f'weights initialised from {tmp_path}/mobilenet_run/checkpoints/ckpt-1']
  for got, want in zip(model.weights, trained.weights):
    np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=got.path)
  # A run of the from-scratch ResNet holds no MobileNetV2: the file gives it, init_from the rest.
  resnet_run = test_pixcolor_e2e.tiny_config().model
  resnet_run.conditioning.backbone = 'resnet'
  other = model_lib.build_model(resnet_run)
  config = config_of(**{'model.conditioning_weights': path,
                        'init_from': workdir_holding(other, 'resnet_run')})
  caplog.clear()
  model = task_lib.PixColorTask(config).build_model(config.model)
  assert len(said()) == 2 and re.fullmatch(  # The file's, then init_from's, once each.
      f'weights initialised from {tmp_path}/resnet_run/checkpoints/ckpt-1 '
      r'\(\d+ weights not in it, started afresh\)', said()[1]), said()
  conv1 = model.backbone.net.get_layer('Conv1').kernel.numpy()
  np.testing.assert_array_equal(conv1, saved['Conv1'][0])
  np.testing.assert_array_equal(model.pixelcnn.weights[0].numpy(),
                                other.pixelcnn.weights[0].numpy())
  # Not trained, the backbone must come from init_from (the file would leave it ImageNet's).
  config.train_pixelcnn = False
  with pytest.raises(commands.UsageError, match=r'does not hold the weights .* e\.g\. '):
    task_lib.PixColorTask(config).build_model(config.model)


def test_a_missing_or_mismatched_weights_file_ends_in_one_line(tmp_path):
  resnet_file = str(tmp_path / 'resnet.weights.h5')
  keras.applications.ResNet50(include_top=False, weights=None,
                              input_shape=(32, 32, 3)).save_weights(resnet_file)
  (tmp_path / 'text.h5').write_text('not weights')
  for path, message in ((str(tmp_path / 'missing.h5'), 'is not a file'),
                        (str(tmp_path), 'is not a file'),  # A folder.
                        (resnet_file, 'does not fit MobileNetV2'),
                        (str(tmp_path / 'text.h5'), 'does not fit MobileNetV2')):
    with pytest.raises(backbones.WeightsError, match=message):
      model_lib.build_model(mobilenet_config(conditioning_weights=path), load_pretrained=True)
  result = helpers.run_in_process(
      'pixcolor.train', '--config=experiments/configs/pixcolor_tiny.py', f'--workdir={tmp_path}/w',
      '--config.model.conditioning.backbone=mobilenet_v2', '--config.model.image_size=32',
      '--config.model.chroma_size=4', f'--config.model.conditioning_weights={resnet_file}')
  helpers.assert_usage_error(result, f'model.conditioning_weights {resnet_file} does not fit '
                             'MobileNetV2', prog='pixcolor.train')


def test_imagenet_weights_keras_cannot_download_end_in_one_line(monkeypatch):
  """conditioning_weights='imagenet' offline (the paper's pixcolor_imagenet.py, ResNet-101): a
  traceback ('Exception: URL fetch failure ...') for the ResNets, and for MobileNetV2 a line saying
  the weights did not fit it. Keras' downloader is faked offline, whatever this machine reaches."""
  from keras.src.utils import file_utils  # pylint: disable=g-import-not-at-top

  def offline(*args, **kwargs):
    del args, kwargs
    raise Exception('URL fetch failure on https://storage.googleapis.com/w.h5: None -- [Errno -2] '
                    'Name or service not known')  # What Keras raises.

  monkeypatch.setattr(file_utils, 'get_file', offline)
  message = (r"^model\.conditioning_weights=imagenet: Keras could not download {}'s ImageNet "
             r'weights \(URL fetch failure on https://storage\.googleapis\.com/w\.h5: None -- '
             r'\[Errno -2\] Name or service not known\); without internet, fetch that file '
             r'elsewhere and give it as --config\.model\.conditioning_weights=PATH$')
  with pytest.raises(backbones.WeightsError, match=message.format(r'MobileNetV2 1\.0')):
    model_lib.build_model(mobilenet_config(conditioning_weights='imagenet'), load_pretrained=True)
  with pytest.raises(backbones.WeightsError, match=message.format('ResNet50')):
    backbones.load_weights(types.SimpleNamespace(blocks=(3, 4, 6), width=64), 'imagenet')
  # ResNet50's blocks at another width: no download is tried, the mismatch is named.
  with pytest.raises(backbones.WeightsError, match=r'^model\.conditioning_weights=imagenet: no '
                     r'keras\.applications ResNet has blocks \(3, 4, 6\) and width 8$'):
    backbones.load_weights(types.SimpleNamespace(blocks=(3, 4, 6), width=8), 'imagenet')


def test_an_unknown_backbone_is_a_clear_error():
  with pytest.raises(ValueError, match='backbone must be one of resnet, resnet101, mobilenet_v2'):
    model_lib.build_model(mobilenet_config(**{'conditioning.backbone': 'vgg16'}))
  with pytest.raises(ValueError, match="output strides"):
    model_lib.build_model(mobilenet_config(**{'conditioning.input_size': 48}))
  with pytest.raises(ValueError, match="output strides"):  # 33 // 4 is a stride; 33 / 4 is not.
    model_lib.build_model(mobilenet_config(**{'conditioning.input_size': 33}))


def test_multi_depth_features_are_each_resized_bilinearly_to_the_grid():
  config = mobilenet_config(**{'conditioning.features': 'multi'})
  model = model_lib.build_model(config)
  gray = random_batch(model)['gray']
  x = np.repeat(gray.astype(np.float32), 3, axis=-1)
  depths = model.backbone.net(keras.applications.mobilenet_v2.preprocess_input(x))
  assert [d.shape[1] for d in depths] == [4, 2, 1]  # Output strides 8, 16, 32 of 32 x 32.
  want = tf.concat([tf.image.resize(d, (4, 4), 'bilinear') for d in depths], -1)
  # Relative only: a random MobileNetV2's deep features are tiny (about 1e-8 at stride 16).
  np.testing.assert_allclose(model.backbone(gray), want, rtol=1e-4, atol=0)


def test_a_weights_files_home_folder_is_expanded(weights_file, monkeypatch):
  path, saved = weights_file
  folder, name = path.rsplit('/', 1)
  monkeypatch.setenv('HOME', folder)
  loaded = model_lib.build_model(mobilenet_config(conditioning_weights=f'~/{name}'),
                                 load_pretrained=True)
  np.testing.assert_array_equal(loaded.backbone.net.get_layer('Conv1').kernel.numpy(),
                                saved['Conv1'][0])


def test_a_loads_warnings_are_shown_if_it_succeeds_and_dropped_if_it_fails():
  with pytest.warns(UserWarning, match='skipped a layer'):
    with backbones.warnings_unless_it_fails():
      warnings.warn('skipped a layer')
  with warnings.catch_warnings(record=True) as shown:
    warnings.simplefilter('always')
    with pytest.raises(ValueError):
      with backbones.warnings_unless_it_fails():
        warnings.warn('skipped a layer')
        raise ValueError('does not fit')
  assert not shown


@pytest.mark.parametrize('frozen', [False, True])
def test_batch_norm_of_a_pretrained_backbone_stays_in_inference_mode_through_training(
    weights_file, tmp_path, frozen):
  """Fine-tuned or frozen, its BN statistics and affine weights never move; fine-tuned, its
  convolutions do (frozen, they do not)."""
  path, _ = weights_file
  config = test_pixcolor_e2e.tiny_config(**{
      'train_steps': 3, 'checkpoint_every_steps': 3, 'image_every_steps': 0,
      'eval_every_steps': 0, 'learning_rate': 1e-2, 'model.image_size': 32,
      'model.chroma_size': 4, 'model.conditioning_weights': path,
      **{f'model.conditioning.{k}': v for k, v in MOBILENET.items()},
      'model.conditioning.frozen': frozen})
  task = task_lib.PixColorTask(config)
  training = loop.build(task, config, tf.distribute.get_strategy())
  net = training.model.backbone.net
  bns = [l for l in net.layers if isinstance(l, keras.layers.BatchNormalization)]
  assert bns and not any(l.trainable for l in bns)
  before = {v.path: v.numpy() for l in bns for v in l.weights}
  kernel = net.get_layer('Conv1').kernel.numpy()
  loop.run(task, config, str(tmp_path / 'run'))
  model, _, _ = workdir.restore(str(tmp_path / 'run'), model_lib.build_model)
  after_net = model.backbone.net
  after = {v.path: v.numpy() for l in after_net.layers
           if isinstance(l, keras.layers.BatchNormalization) for v in l.weights}
  assert sorted(after) == sorted(before)
  for key in before:
    np.testing.assert_array_equal(after[key], before[key], err_msg=key)
  moved = np.abs(after_net.get_layer('Conv1').kernel.numpy() - kernel).max()
  assert (moved == 0) if frozen else (moved > 1e-4), moved


def test_chroma_pixelcnn_is_causal_with_a_pretrained_backbone(weights_file):
  """The causality probe of test_pixcolor_model.py through MobileNetV2's conditioning."""
  path, _ = weights_file
  keras.utils.set_random_seed(1)
  model = model_lib.build_model(mobilenet_config(conditioning_weights=path), load_pretrained=True)
  gray = np.random.default_rng(0).integers(0, 256, [1, 32, 32, 1]).astype(np.uint8)
  cond = model.conditioning(gray)
  assert cond.shape[1:3] == (4, 4)
  assert_chroma_pixelcnn_is_causal(model, cond, np.random.default_rng(1))


def test_cached_equals_naive_colorization_with_a_pretrained_backbone(weights_file):
  path, _ = weights_file
  model = model_lib.build_model(mobilenet_config(conditioning_weights=path,
                                                 **{'conditioning.features': 'multi'}),
                                load_pretrained=True)
  gray = random_batch(model, n=2, seed=7)['gray']
  cached = model.sample_chroma(gray, [5, 9], 1.0, method='cached').numpy()
  naive = model.sample_chroma(gray, [5, 9], 1.0, method='naive').numpy()
  np.testing.assert_array_equal(cached, naive)
  assert len(np.unique(cached)) > 4


def test_a_load_error_is_cut_to_its_line_and_its_reason():
  keras_error = ValueError('A total of 2 objects could not be loaded. Example error message for '
                           "object <Conv2D name=Conv1>:\n\nLayer 'Conv1' expected 1 variables, but "
                           'received 2\n\nList of objects that could not be loaded:\n[...]')
  assert resnet_lib.first_line(keras_error) == (
      'A total of 2 objects could not be loaded. Example error message for object <Conv2D '
      "name=Conv1>: Layer 'Conv1' expected 1 variables, but received 2")
  assert resnet_lib.first_line(OSError('file signature not found\nmore')) == (
      'file signature not found')
  assert resnet_lib.first_line(KeyError()) == 'KeyError'
  assert len(resnet_lib.first_line(ValueError('x' * 1000))) == 300
