"""Every data source yields {'image': uint8 [H, W, 3]}, splits and shards cleanly, and fails helpfully.

TFDS is exercised offline: through `tfds.testing.mock_data`, or with `tfds_download=False` and an
empty data dir (a real download without internet retries for minutes).
"""
import hashlib
import logging
import os
import re
import shutil
import socket
import time
import types
import uuid

import ml_collections
import numpy as np
from PIL import Image
import pytest
import skimage.data
import tensorflow as tf
import tensorflow_datasets as tfds

import helpers
from data import faces as faces_lib
from data import image_files
from data import pipeline
from data import readers
from data import samples
from data import sources

H, W = 6, 10


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
  """The sample photos as JPEG files: {train,eval}/NAME.jpg."""
  return helpers.write_photo_folder(tmp_path_factory.mktemp('photos'))


def images_of(ds):
  return [ex['image'].numpy() for ex in ds]


def fingerprint(image):
  return hashlib.sha1(np.ascontiguousarray(image).tobytes() + str(image.shape).encode()).hexdigest()


def contexts(n=2):
  return [tf.distribute.InputContext(num_input_pipelines=n, input_pipeline_id=i,
                                     num_replicas_in_sync=n) for i in range(n)]


def assert_disjoint_halves(load_shard, full):
  """The shards of two pipelines are disjoint and together are `full` (lists of images)."""
  shards = [[fingerprint(im) for im in load_shard(ctx)] for ctx in contexts(2)]
  everything = [fingerprint(im) for im in full]
  assert len(set(everything)) == len(everything), 'test data must be distinct'
  assert shards[0] and shards[1]
  assert not set(shards[0]) & set(shards[1])
  assert sorted(shards[0] + shards[1]) == sorted(everything)


def sr_data_config(source, **overrides):
  c = ml_collections.ConfigDict(dict(
      source=source, crop='center', highres_size=32, lowres_size=8, resize_method='area',
      shuffle_buffer=1000, cache=False, tfds_data_dir='', tfds_manual_dir='', tfds_download=False,
      tfds_train_split='train', tfds_eval_split='validation'))
  c.update(overrides)
  return c


def color_data_config(source, **overrides):
  c = ml_collections.ConfigDict(dict(
      source=source, crop='center', image_size=64, chroma_size=28, num_bins=32, shuffle_buffer=1000,
      cache=False, tfds_data_dir='', tfds_manual_dir='', tfds_download=False,
      tfds_train_split='train', tfds_eval_split='validation'))
  c.update(overrides)
  return c


def write_distinct_pngs(folder, names):
  """Writes a distinct H x W PNG per name (pixel value = its index + 1); returns {path: image}."""
  written = {}
  for i, name in enumerate(names):
    path = os.path.join(folder, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = np.full([H, W, 3], i + 1, np.uint8)
    image[0, 0] = [i, 255 - i, 7]
    Image.fromarray(image).save(path)
    written[path] = image
  return written


# ----------------------------------------------------------------------------------------------
# TFDS, offline with mock data.
# ----------------------------------------------------------------------------------------------
def test_tfds_celeb_a_gives_8x8_and_32x32_examples(tmp_path):
  config = sr_data_config('tfds:celeb_a', crop='celeba', tfds_data_dir=str(tmp_path))
  with tfds.testing.mock_data(num_examples=4):
    raw = images_of(sources.load('tfds:celeb_a', 'eval', config)[0])
    batches = list(pipeline.make_dataset(config, 'super_resolution', 'eval', 2, training=False))
  assert [im.shape for im in raw] == [(218, 178, 3)] * 4
  assert len(batches) == 2
  for batch in batches:
    assert set(batch) == {'lowres', 'highres'}
    assert batch['lowres'].shape == (2, 8, 8, 3) and batch['lowres'].dtype == tf.uint8
    assert batch['highres'].shape == (2, 32, 32, 3) and batch['highres'].dtype == tf.uint8
  # The CelebA crop, then the area resize: the first highres target is the central 138 x 138.
  central = tf.image.resize(raw[0][40:178, 20:158].astype(np.float32), [32, 32], 'area')
  np.testing.assert_array_equal(batches[0]['highres'][0], np.round(central.numpy()))


@pytest.mark.parametrize('name', ['lsun/bedroom', 'imagenet2012'])
def test_tfds_colorization_examples(tmp_path, name):
  config = color_data_config('tfds:' + name, tfds_data_dir=str(tmp_path))
  with tfds.testing.mock_data(num_examples=4):
    batch = next(iter(pipeline.make_dataset(config, 'colorization', 'train', 4, training=True)))
  assert batch['image'].shape == (4, 64, 64, 3) and batch['image'].dtype == tf.uint8
  assert batch['gray'].shape == (4, 64, 64, 1) and batch['gray'].dtype == tf.uint8
  assert batch['chroma'].shape == (4, 28, 28, 2) and batch['chroma'].dtype == tf.int32
  assert 0 <= tf.reduce_min(batch['chroma']) and tf.reduce_max(batch['chroma']) < 32


@pytest.mark.parametrize('name', ['celeb_a', 'imagenet2012'])
def test_tfds_sharding_gives_disjoint_halves(tmp_path, name):
  config = sr_data_config('tfds:' + name, tfds_data_dir=str(tmp_path))
  with tfds.testing.mock_data(num_examples=6):
    full = images_of(sources.load('tfds:' + name, 'train', config)[0])
    assert_disjoint_halves(
        lambda ctx: images_of(sources.load('tfds:' + name, 'train', config, input_context=ctx)[0]),
        full)


class PreparedBuilder:
  """A TFDS builder whose dataset is prepared (split 'test', `num_shards` files, `images`); records
  what `sources` asks of it."""

  def __init__(self, num_shards, images):
    self.images = images
    self.calls = []
    self.info = types.SimpleNamespace(splits={'test': types.SimpleNamespace(
        num_shards=num_shards, num_examples=len(images))})

  def is_prepared(self):
    return True

  def download_and_prepare(self, download_config=None):
    del download_config
    self.calls.append('download_and_prepare')

  def as_dataset(self, split, shuffle_files, read_config):
    self.calls.append((split, shuffle_files, read_config))
    return tf.data.Dataset.from_tensor_slices(
        {'image': self.images, 'label': np.arange(len(self.images))})


@pytest.mark.parametrize('num_shards', [1, 2, 4])  # Fewer files than pipelines, as many, more.
def test_a_prepared_tfds_dataset_is_read_offline_as_configured(monkeypatch, num_shards):
  """No host is tried for a prepared dataset (this one cannot be reached) and tfds_download, on by
  default, only lets TFDS see it is prepared; the split named by tfds_eval_split is read with its
  files shuffled by the seed; with a file per pipeline, each pipeline reads only its own files (the
  builder shards), else each reads all and keeps its shard."""
  monkeypatch.setattr(socket, 'create_connection', unreachable)
  for variable in sources._PROXY_VARIABLES:
    monkeypatch.delenv(variable, raising=False)
  builder = PreparedBuilder(num_shards, np.stack([np.full([H, W, 3], i, np.uint8) for i in range(6)]))
  monkeypatch.setattr(tfds, 'builder', lambda name, data_dir=None: builder)
  config = ml_collections.ConfigDict(
      {k: v for k, v in sr_data_config('tfds:celeb_a', tfds_eval_split='test').items()
       if k != 'tfds_download'})
  context = contexts(2)[1]
  ds, count = sources.load('tfds:celeb_a', 'eval', config, input_context=context,
                           shuffle_files=True, seed=7)
  values = [int(image[0, 0, 0]) for image in images_of(ds)]
  assert count == 6 and builder.calls[0] == 'download_and_prepare'
  [(split, shuffle_files, read_config)] = builder.calls[1:]
  assert split == 'test' and shuffle_files and read_config.shuffle_seed == 7
  if num_shards > 1:
    assert read_config.input_context is context
    assert values == list(range(6))  # All this builder gives: it was told to shard.
  else:
    assert read_config.input_context is None
    assert values == [1, 3, 5]


def absent_tfds_error(tmp_path, name):
  empty = tmp_path / 'tfds'
  empty.mkdir()
  config = sr_data_config('tfds:' + name, tfds_data_dir=str(empty))
  with pytest.raises(sources.DataSourceError) as info:
    sources.load('tfds:' + name, 'train', config)
  assert str(empty) in str(info.value)
  assert 'tfds_download' in str(info.value)
  return str(info.value)


def test_absent_imagenet_says_which_files_to_download_and_where(tmp_path):
  message = absent_tfds_error(tmp_path, 'imagenet2012')
  assert 'ILSVRC2012_img_train.tar' in message
  assert os.path.join(str(tmp_path / 'tfds'), 'downloads', 'manual') in message
  assert 'tfds_manual_dir' in message


def test_absent_imagenet_names_the_configured_manual_dir(tmp_path):
  config = sr_data_config('tfds:imagenet2012', tfds_data_dir=str(tmp_path),
                          tfds_manual_dir=str(tmp_path / 'my_tars'))
  with pytest.raises(sources.DataSourceError, match='my_tars'):
    sources.load('tfds:imagenet2012', 'eval', config)


def test_imagenet_without_its_manual_download_fails_at_once_and_leaves_no_folders(tmp_path):
  """With downloads allowed (the configs' default): TFDS's own attempt left empty folders in the
  data dir and a message whose instructions were cut off."""
  data_dir = tmp_path / 'tfds'
  data_dir.mkdir()
  config = sr_data_config('tfds:imagenet2012', tfds_data_dir=str(data_dir), tfds_download=True)
  with pytest.raises(sources.DataSourceError) as info:
    sources.load('tfds:imagenet2012', 'train', config)
  message = str(info.value)
  assert f'manual download folder {data_dir}/downloads/manual is missing or empty' in message
  assert 'ILSVRC2012_img_train.tar' in message and '\n' not in message
  assert not os.listdir(data_dir)


def test_a_manual_download_folder_on_another_file_system_is_looked_into(tmp_path):
  """A gs:// manual dir (here TensorFlow's ram://, which every install has) holding the tars is
  not "missing or empty" (os.listdir cannot see it): TFDS is left to read it."""
  manual_dir = f'ram://manual_{uuid.uuid4().hex}'
  tf.io.gfile.makedirs(manual_dir)
  with tf.io.gfile.GFile(f'{manual_dir}/ILSVRC2012_img_val.tar', 'wb') as f:
    f.write(b'not a tar')
  config = sr_data_config('tfds:imagenet2012', tfds_data_dir=str(tmp_path / 'tfds'),
                          tfds_manual_dir=manual_dir, tfds_download=True)
  with pytest.raises(sources.DataSourceError) as info:
    sources.load('tfds:imagenet2012', 'eval', config)
  assert 'missing or empty' not in str(info.value)
  assert sources._has_files(manual_dir) and not sources._has_files(f'{manual_dir}/absent')
  assert not sources._has_files(str(tmp_path / 'absent'))
  (tmp_path / 'empty').mkdir()
  assert not sources._has_files(str(tmp_path / 'empty'))


def test_absent_celeb_a_offers_the_folder_alternative(tmp_path):
  message = absent_tfds_error(tmp_path, 'celeb_a')
  assert 'img_align_celeba' in message and 'folder:' in message


def test_absent_lsun_says_what_to_build(tmp_path):
  assert 'tfds build lsun/bedroom' in absent_tfds_error(tmp_path, 'lsun/bedroom')


def unreachable(address, timeout=None):
  del timeout
  raise socket.gaierror(-2, f'Name or service not known: {address[0]}')


def test_offline_download_fails_at_once_naming_the_host(tmp_path, monkeypatch):
  # TFDS would retry each file for ~3.5 minutes before failing; the host is tried once first.
  monkeypatch.setattr(socket, 'create_connection', unreachable)
  for variable in sources._PROXY_VARIABLES:
    monkeypatch.delenv(variable, raising=False)
  config = sr_data_config('tfds:celeb_a', tfds_data_dir=str(tmp_path), tfds_download=True)
  start = time.monotonic()
  with pytest.raises(sources.DataSourceError) as info:
    sources.load('tfds:celeb_a', 'train', config)
  assert time.monotonic() - start < 5
  message = str(info.value)
  assert 'drive.google.com' in message and 'cannot be reached' in message
  assert str(tmp_path) in message and 'folder:' in message
  assert '\n' not in message


def test_behind_a_proxy_the_download_host_is_not_tried(monkeypatch):
  monkeypatch.setattr(socket, 'create_connection', unreachable)
  monkeypatch.setenv('HTTPS_PROXY', 'http://proxy.example:3128')
  sources._check_reachable('celeb_a', '/data', 'help')  # Left to TFDS and the proxy.
  monkeypatch.delenv('HTTPS_PROXY')
  for variable in sources._PROXY_VARIABLES:
    monkeypatch.delenv(variable, raising=False)
  with pytest.raises(sources.DataSourceError, match='dl.yf.io'):
    sources._check_reachable('lsun/bedroom', '/data', 'help')
  sources._check_reachable('imagenet2012', '/data', 'help')  # A manual download: no host.


def test_unknown_tfds_name_suggests_close_names(tmp_path):
  with pytest.raises(sources.DataSourceError, match="no TFDS dataset named 'celeba'.*celeb_a"):
    sources.load('tfds:celeba', 'train', sr_data_config('tfds:celeba', tfds_data_dir=str(tmp_path)))


# ----------------------------------------------------------------------------------------------
# The photos that ship with the dependencies (`samples`).
# ----------------------------------------------------------------------------------------------
def test_sample_photos_are_the_colour_photographs_of_the_installed_wheels():
  train, n_train = sources.load('samples:photos', 'train')
  evals, n_eval = sources.load('samples:photos', 'eval')
  train, evals = images_of(train), images_of(evals)
  assert (n_train, n_eval) == (len(train), len(evals)) == (len(samples.PHOTOS) - 2, 2)
  assert all(im.dtype == np.uint8 and im.ndim == 3 and im.shape[2] == 3 for im in train + evals)
  assert all(min(im.shape[:2]) >= 256 for im in train + evals)  # Photographs, at their own size.
  assert all(float(tf.reduce_mean(tf.abs(tf.cast(im[..., 0], tf.float32) - im[..., 2]))) > 5
             for im in train + evals)  # Colour, not gray.
  assert not {fingerprint(x) for x in train} & {fingerprint(x) for x in evals}
  by_name = dict(samples.photos())
  assert by_name['astronaut'].shape == (512, 512, 3)
  assert by_name['grace_hopper'].shape == (600, 512, 3)


def test_a_sample_photo_with_an_alpha_channel_loads_as_rgb(monkeypatch):
  """The installed wheels' photos are RGB today; a PNG with alpha (as a newer wheel may ship) loads
  as its three colour channels, not as a 4-channel image the pipelines would reject."""
  rgba = np.arange(5 * 6 * 4, dtype=np.uint8).reshape(5, 6, 4)
  photo = samples.Photo('rgba_for_the_test', lambda: rgba, 'a test', 'none')
  monkeypatch.setattr(samples, 'PHOTOS', samples.PHOTOS + (photo,))
  got = samples.photo('rgba_for_the_test')
  np.testing.assert_array_equal(got, rgba[..., :3])
  assert got.flags['C_CONTIGUOUS']


def test_sample_faces_are_the_photos_faces_then_lfw():
  faces = samples.faces()
  names = [n for n, _ in faces]
  # The two portraits hold one face each; the detector finds none in the other seven photos.
  assert names[:3] == ['astronaut_face0', 'grace_hopper_face0', 'lfw_000'] and len(faces) == 102
  others = [image for name, image in samples.photos() if name not in samples.PORTRAITS]
  assert len(others) == 7 and not any(faces_lib.detect(image) for image in others)
  assert all(f.shape == (32, 32, 3) for _, f in faces[:2])
  assert all(f.shape == (25, 25, 3) and (f[..., 0] == f[..., 2]).all() for _, f in faces[2:])
  # scikit-image's LFW faces are floats on [0, 1]: on 0..255 here, rounded, not truncated.
  lfw = skimage.data.lfw_subset()[:100]
  np.testing.assert_array_equal(np.stack([f[..., 1] for _, f in faces[2:]]),
                                np.round(lfw * 255).astype(np.uint8))
  train, n_train = sources.load('samples:faces', 'train')
  evals, n_eval = sources.load('samples:faces', 'eval')
  assert (n_train, n_eval) == (92, 10)
  assert not {fingerprint(x) for x in images_of(train)} & {fingerprint(x) for x in images_of(evals)}


def test_samples_means_faces_for_super_resolution_and_photos_for_colorization():
  assert sources.load('samples', 'eval', task='super_resolution')[1] == 10
  assert sources.load('samples', 'eval', task='colorization')[1] == 2


def test_sample_images_also_load_inside_dataset_map():
  ds = pipeline.make_dataset(color_data_config('samples:photos'), 'colorization', 'eval', 2,
                             training=False)
  batch = next(iter(ds))
  assert batch['image'].shape == (2, 64, 64, 3) and batch['chroma'].shape == (2, 28, 28, 2)


# ----------------------------------------------------------------------------------------------
# Folder sources.
# ----------------------------------------------------------------------------------------------
def test_folder_is_recursive_and_split_90_10_in_sorted_order(tmp_path):
  names = [f'{c}/{i:02d}.png' for c in ('cats', 'dogs') for i in range(10)]
  written = write_distinct_pngs(str(tmp_path), names)
  (tmp_path / 'notes.txt').write_text('not an image')
  train, n_train = sources.load(f'folder:{tmp_path}', 'train')
  evals, n_eval = sources.load(f'folder:{tmp_path}', 'eval')
  assert (n_train, n_eval) == (18, 2)
  ordered = [written[p] for p in sorted(written)]
  np.testing.assert_array_equal(np.stack(images_of(train)), ordered[:18])
  np.testing.assert_array_equal(np.stack(images_of(evals)), ordered[18:])


@pytest.mark.parametrize('eval_name', ['eval', 'val', 'validation'])
def test_folder_train_and_eval_subfolders_are_the_splits(tmp_path, eval_name):
  train = write_distinct_pngs(str(tmp_path), ['train/a.png', 'train/deep/b.png', 'train/c.png'])
  evals = write_distinct_pngs(str(tmp_path / eval_name), ['x.png', 'y.png', 'z.png'])
  np.testing.assert_array_equal(
      np.stack(images_of(sources.load(f'folder:{tmp_path}', 'train')[0])),
      [train[p] for p in sorted(train)])
  np.testing.assert_array_equal(
      np.stack(images_of(sources.load(f'folder:{tmp_path}', 'eval')[0])),
      [evals[p] for p in sorted(evals)])


def test_with_several_eval_subfolders_eval_is_preferred_then_val(tmp_path):
  write_distinct_pngs(str(tmp_path), ['train/a.png'])
  names = ['validation', 'val', 'eval']
  for i, name in enumerate(names):
    image = np.full([H, W, 3], 50 * (i + 1), np.uint8)
    os.makedirs(tmp_path / name)
    Image.fromarray(image).save(tmp_path / name / 'x.png')
  for i in reversed(range(1, len(names))):  # eval/ while it exists, then val/.
    [got] = images_of(sources.load(f'folder:{tmp_path}', 'eval')[0])
    assert got[0, 0, 0] == 50 * (i + 1), names[i]
    shutil.rmtree(tmp_path / names[i])


def test_folder_with_only_train_subfolder_does_not_evaluate_on_training_images(tmp_path):
  write_distinct_pngs(str(tmp_path), [f'train/{i:02d}.png' for i in range(10)])
  train = {fingerprint(x) for x in images_of(sources.load(f'folder:{tmp_path}', 'train')[0])}
  evals = {fingerprint(x) for x in images_of(sources.load(f'folder:{tmp_path}', 'eval')[0])}
  assert len(train) == 9 and len(evals) == 1
  assert not train & evals


def test_folder_sharding_gives_disjoint_halves(tmp_path):
  write_distinct_pngs(str(tmp_path), [f'{i:02d}.png' for i in range(11)])
  source = f'folder:{tmp_path}'
  assert_disjoint_halves(
      lambda ctx: images_of(sources.load(source, 'train', input_context=ctx)[0]),
      images_of(sources.load(source, 'train')[0]))


def test_folder_pipelines_decode_only_their_own_files(tmp_path):
  write_distinct_pngs(str(tmp_path), ['eval/e.png'] + [f'train/{i:02d}.png' for i in range(4)])
  (tmp_path / 'train' / '04_broken.png').write_bytes(b'broken')  # File 4: pipeline 0's.
  broken = str(tmp_path / 'train' / '04_broken.png')
  pipeline_0, pipeline_1 = contexts(2)
  source = f'folder:{tmp_path}'
  assert len(images_of(sources.load(source, 'train', input_context=pipeline_1)[0])) == 2
  assert broken not in sources.skipped_files()
  assert len(images_of(sources.load(source, 'train', input_context=pipeline_0)[0])) == 2
  assert sources.skipped_files()[broken] == 1


def test_folder_file_shuffle_is_seeded_and_keeps_every_file(tmp_path):
  write_distinct_pngs(str(tmp_path), [f'{i:02d}.png' for i in range(20)])

  def order(seed):
    ds = sources.load(f'folder:{tmp_path}', 'train', shuffle_files=True, seed=seed)[0]
    return [fingerprint(x) for x in images_of(ds)]

  assert order(1) == order(1)
  assert order(1) != order(2)
  assert sorted(order(1)) == sorted(fingerprint(x) for x in images_of(
      sources.load(f'folder:{tmp_path}', 'train')[0]))
  # Each epoch of the repeated dataset in a new order (not the first epoch's again).
  ds = sources.load(f'folder:{tmp_path}', 'train', shuffle_files=True, seed=1)[0]
  two = [fingerprint(x) for x in images_of(ds.repeat(2))]
  assert two[:len(two) // 2] == order(1) and sorted(two[len(two) // 2:]) == sorted(order(1))
  assert two[len(two) // 2:] != order(1)


def test_folder_errors(tmp_path):
  with pytest.raises(sources.DataSourceError, match='not a directory'):
    sources.load(f'folder:{tmp_path / "nowhere"}', 'train')
  (tmp_path / 'empty').mkdir()
  with pytest.raises(sources.DataSourceError, match='no image files'):
    sources.load(f'folder:{tmp_path / "empty"}', 'train')
  write_distinct_pngs(str(tmp_path / 'one'), ['only.png'])
  with pytest.raises(sources.DataSourceError, match="split 'eval'"):
    sources.load(f'folder:{tmp_path / "one"}', 'eval')


# ----------------------------------------------------------------------------------------------
# A corrupt or unreadable file is skipped, named and counted: never a crash mid-epoch.
# ----------------------------------------------------------------------------------------------
def test_unreadable_files_in_a_folder_are_skipped_and_named(tmp_path, caplog, photos):
  folder = tmp_path / 'photos' / 'train'  # With an eval/ beside it, every file here is `train`.
  folder.mkdir(parents=True)
  write_distinct_pngs(str(tmp_path / 'photos' / 'eval'), ['x.png'])
  good = sorted(image_files.list_images(os.path.join(photos, 'train')))[:5]
  for path in good:
    shutil.copy(path, folder)
  jpeg = open(good[0], 'rb').read()
  bad = {
      'empty.jpg': b'',
      'notes.png': b'these are my notes, not a picture\n',
      'half.jpg': jpeg[:len(jpeg) // 2],
  }
  for name, data in bad.items():
    (folder / name).write_bytes(data)
  bad_paths = [str(folder / name) for name in bad]
  vanishing = folder / 'zz_deleted_after_listing.jpg'
  shutil.copy(good[1], vanishing)
  bad_paths.append(str(vanishing))

  config = sr_data_config(f'folder:{folder.parent}', shuffle_buffer=100)
  caplog.set_level(logging.WARNING)
  with tf.device('/cpu:0'):
    ds = pipeline.make_dataset(config, 'super_resolution', 'train', 5, training=True, seed=3)
    vanishing.unlink()  # A file that disappears between listing and reading.
    batches = list(ds.take(4))  # Four epochs of the five good photos.

  expected = {}
  for path in good:
    ex = pipeline.super_resolution_example(tf.constant(image_files.read_image(path)))
    expected[fingerprint(ex['highres'].numpy())] = path
  seen = [fingerprint(h) for batch in batches for h in batch['highres'].numpy()]
  assert len(seen) == 20
  assert set(seen) <= set(expected), 'a batch holds something other than the good photos'
  assert all(seen.count(f) == 4 for f in expected), 'each good photo once per epoch'

  skipped = sources.skipped_files()
  for path in bad_paths:
    assert skipped.get(path, 0) >= 4, f'{path} not counted once per epoch: {skipped.get(path)}'
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING and path in r.getMessage()]
    assert len(warnings) == 1, f'{path} should be named in one warning, got {warnings}'
  for path in good:
    assert not any(os.path.basename(path) in p for p in skipped)


# ----------------------------------------------------------------------------------------------
# npz sources.
# ----------------------------------------------------------------------------------------------
def distinct_images(n, h=H, w=W):
  images = np.zeros([n, h, w, 3], np.uint8)
  images[:, 0, 0, 0] = np.arange(n)
  images[:, 1:] = np.random.default_rng(0).integers(0, 256, [n, h - 1, w, 3])
  return images


def test_npz_images_are_split_90_10(tmp_path):
  images = distinct_images(20)
  np.savez(tmp_path / 'a.npz', images=images)
  train, n_train = sources.load(f'npz:{tmp_path / "a.npz"}', 'train')
  evals, n_eval = sources.load(f'npz:{tmp_path / "a.npz"}', 'eval')
  assert (n_train, n_eval) == (18, 2)
  np.testing.assert_array_equal(np.stack(images_of(train)), images[:18])
  np.testing.assert_array_equal(np.stack(images_of(evals)), images[18:])


@pytest.mark.parametrize('n,n_eval', [(2, 1), (4, 1), (14, 1), (15, 2), (1, 0)])
def test_a_small_source_keeps_at_least_one_image_for_eval_unless_it_has_one_image(
    tmp_path, n, n_eval):
  images = distinct_images(n)
  np.savez(tmp_path / 'a.npz', images=images)
  train, n_train = sources.load(f'npz:{tmp_path / "a.npz"}', 'train')
  assert n_train == n - n_eval
  np.testing.assert_array_equal(np.stack(images_of(train)), images[:n - n_eval])
  if n_eval:
    evals, got = sources.load(f'npz:{tmp_path / "a.npz"}', 'eval')
    assert got == n_eval
    np.testing.assert_array_equal(np.stack(images_of(evals)), images[n - n_eval:])
  else:
    with pytest.raises(sources.DataSourceError, match="has no images for split 'eval'"):
      sources.load(f'npz:{tmp_path / "a.npz"}', 'eval')


def test_npz_train_and_eval_arrays(tmp_path, monkeypatch):
  train, evals = distinct_images(5), distinct_images(3, 7, 9)
  np.savez_compressed(tmp_path / 'b.npz', train_images=train, eval_images=evals)
  np.testing.assert_array_equal(
      np.stack(images_of(sources.load(f'npz:{tmp_path / "b.npz"}', 'train')[0])), train)
  np.testing.assert_array_equal(
      np.stack(images_of(sources.load(f'npz:{tmp_path / "b.npz"}', 'eval')[0])), evals)
  monkeypatch.setenv('HOME', str(tmp_path))  # npz:~/... is the file in the home folder.
  np.testing.assert_array_equal(np.stack(images_of(sources.load('npz:~/b.npz', 'eval')[0])), evals)


@pytest.mark.parametrize('shape', [(4, H, W), (4, H, W, 1)])
def test_npz_grayscale_becomes_rgb(tmp_path, shape):
  gray = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
  np.savez(tmp_path / 'g.npz', train_images=gray, eval_images=gray)
  out = np.stack(images_of(sources.load(f'npz:{tmp_path / "g.npz"}', 'train')[0]))
  assert out.shape == (4, H, W, 3)
  for c in range(3):
    np.testing.assert_array_equal(out[..., c], gray.reshape(4, H, W))


def test_npz_sharding_gives_disjoint_halves(tmp_path):
  np.savez(tmp_path / 'a.npz', images=distinct_images(20))
  source = f'npz:{tmp_path / "a.npz"}'
  assert_disjoint_halves(lambda ctx: images_of(sources.load(source, 'train', input_context=ctx)[0]),
                         images_of(sources.load(source, 'train')[0]))


@pytest.mark.parametrize('arrays,match', [
    # The array as the file holds it (it said [3, ...], the train split's), and what to do.
    (dict(images=distinct_images(4).astype(np.float32)),
     r'images must be uint8 .*, got float32 \[4, 6, 10, 3\]: floats in \[0, 1\]\? store \(images '
     r'\* 255\)\.round\(\)\.astype\(np\.uint8\)$'),
    # NumPy's own default float (np.random.rand, images / 255.0): the same advice.
    (dict(images=distinct_images(4) / 255.0),
     r'got float64 \[4, 6, 10, 3\]: floats in \[0, 1\]\? store'),
    (dict(images=distinct_images(4)[..., :2]),
     r'images must be uint8 .*, got uint8 \[4, 6, 10, 2\]$'),
    (dict(images=np.zeros([4, H], np.uint8)), 'must be uint8'),
    (dict(train_images=distinct_images(4), eval_images=np.zeros([2, H, W, 3], np.int16)),
     r'eval_images must be uint8 .*, got int16 \[2, 6, 10, 3\]$'),
    (dict(pictures=distinct_images(4)), 'neither `images` nor `train_images`'),
    (dict(train_images=distinct_images(4)), 'neither `images` nor `eval_images`'),
    (dict(images=np.array([np.zeros([2, 2, 3]), None], dtype=object)), 'not a readable .npz'),
])
def test_npz_errors(tmp_path, arrays, match):
  np.savez(tmp_path / 'bad.npz', **arrays)
  with pytest.raises(sources.DataSourceError, match=match):
    for split in ('train', 'eval'):
      sources.load(f'npz:{tmp_path / "bad.npz"}', split)


def test_an_npz_asked_for_one_array_names_it_and_what_the_file_holds(tmp_path):
  """The framing scripts ask for `images` alone (experiments/framing.py, face_framing.py)."""
  np.savez(tmp_path / 'faces.npz', pictures=distinct_images(2), ids=np.arange(2))
  with pytest.raises(sources.DataSourceError, match=re.escape(
      f"{tmp_path / 'faces.npz'} has no `images` (it has ['ids', 'pictures'])")):
    readers.npz_array(str(tmp_path / 'faces.npz'), 'images')


def test_npz_file_errors(tmp_path):
  with pytest.raises(sources.DataSourceError, match='does not exist'):
    sources.load(f'npz:{tmp_path / "missing.npz"}', 'train')
  (tmp_path / 'text.npz').write_text('hello')  # Not NumPy's at all: said so, not 'pickled data'.
  with pytest.raises(sources.DataSourceError, match=re.escape(
      f'{tmp_path / "text.npz"} is not an .npz file (no zip archive: np.savez(path, images=uint8 '
      '[N, H, W, 3]) writes one)')):
    sources.load(f'npz:{tmp_path / "text.npz"}', 'train')
  np.savez(tmp_path / 'cut.npz', images=distinct_images(3))  # A zip cut short: NumPy's reason.
  (tmp_path / 'cut.npz').write_bytes((tmp_path / 'cut.npz').read_bytes()[:100])
  with pytest.raises(sources.DataSourceError, match='is not a readable .npz file'):
    sources.load(f'npz:{tmp_path / "cut.npz"}', 'train')
  np.save(tmp_path / 'single.npy', distinct_images(3))
  with pytest.raises(sources.DataSourceError, match='single .npy array'):
    sources.load(f'npz:{tmp_path / "single.npy"}', 'train')


# ----------------------------------------------------------------------------------------------
# Malformed source strings.
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize('source,match', [
    ('', 'is not one of'),
    ('imagenet', 'is not one of'),
    ('tfds:', 'is not one of'),
    ('folder:', 'is not one of'),
    ('npz:', 'is not one of'),
    ('tfrecord:', 'is not one of'),
    ('samples:cats', "unknown sample set 'cats'"),
])
def test_bad_source_strings(source, match):
  with pytest.raises(sources.DataSourceError, match=match):
    sources.load(source, 'train')


def test_bad_split():
  with pytest.raises(sources.DataSourceError, match='split must be one of'):
    sources.load('samples:faces', 'test')
