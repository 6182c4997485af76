"""Where images come from: TFDS by name, a folder of files, an `.npz` array file, or the bundled photos.

`load(source, split)` returns a `tf.data.Dataset` of `{'image': uint8 [H, W, 3]}` (H, W may vary), the
common currency that `data.pipeline` turns into super-resolution or colorization examples.

Source strings (the `data.source` key of every config):
  bundled            the bundled set the task uses by default (faces for super-resolution, photos for
                     colorization; see data/bundled/PROVENANCE.md)
  bundled:faces      3,000 + 500 CelebA faces at 32 x 32
  bundled:photos     240 + 74 ImageNet photographs, short side 128
  tfds:<name>        a TFDS dataset, e.g. tfds:celeb_a, tfds:lsun/bedroom, tfds:imagenet2012,
                     tfds:imagenet_resized/64x64, tfds:downsampled_imagenet/32x32
  folder:<path>      every jpg/png/... under <path> (recursive); if <path> has `train/` and `eval/`
                     subfolders those are the splits, else the last 10% of the sorted files are `eval`
  npz:<path>         arrays `images` (split 90/10 as above) or `train_images` and `eval_images`
Splits are `train` and `eval`.
"""
import collections
import os
import threading

from absl import logging
import numpy as np
import tensorflow as tf

from data import image_files

BUNDLED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'bundled')
BUNDLED_SETS = {
    'faces': os.path.join(BUNDLED_DIR, 'faces.npz'),
    'photos': os.path.join(BUNDLED_DIR, 'photos'),
}
SPLITS = ('train', 'eval')
EVAL_FRACTION = 0.1

_TFDS_HELP = {
    'celeb_a': (
        'TFDS downloads CelebA from Google Drive. Without internet, either run `tfds build celeb_a` on '
        'a machine that has it and copy its ~/tensorflow_datasets/celeb_a folder into '
        '--config.data.tfds_data_dir, or download img_align_celeba.zip from '
        'https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, unzip it and train on '
        '--config.data.source=folder:/path/to/img_align_celeba (the CelebA crop still applies).'),
    'imagenet2012': (
        'ImageNet needs a manual download: get ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar '
        'from https://image-net.org/download-images, put both (unextracted) in '
        '--config.data.tfds_manual_dir (default ~/tensorflow_datasets/downloads/manual) and run again; '
        'TFDS then prepares the dataset once (hours, ~300 GB of disk).'),
    'lsun': (
        'TFDS downloads LSUN from http://dl.yf.io/lsun. Without internet, run `tfds build lsun/bedroom` '
        'on a machine that has it and copy its ~/tensorflow_datasets/lsun folder into '
        '--config.data.tfds_data_dir.'),
}


class DataSourceError(Exception):
  """A data source that cannot be used, with a message that says what to do about it."""


# ----------------------------------------------------------------------------------------------
# Skipped files: a corrupt file in a folder never stops an epoch; it is named once and counted.
# ----------------------------------------------------------------------------------------------
_skipped = collections.Counter()
_skipped_lock = threading.Lock()


def skipped_files():
  """{path: times skipped} for every unreadable file met by folder sources in this process."""
  with _skipped_lock:
    return dict(_skipped)


def _read_or_skip(path):
  path = path.decode() if isinstance(path, bytes) else str(path)
  try:
    return image_files.read_image(path), True
  except image_files.ImageReadError as e:
    with _skipped_lock:
      first = path not in _skipped
      _skipped[path] += 1
      total = len(_skipped)
    if first:
      logging.warning('skipping unreadable image %s (%d skipped so far)', e, total)
    return np.zeros((1, 1, 3), np.uint8), False


def _files_dataset(files):
  """Decodes files in parallel with Pillow; unreadable ones are dropped (see `_read_or_skip`)."""

  def decode(path):
    image, ok = tf.numpy_function(_read_or_skip, [path], (tf.uint8, tf.bool), stateful=False)
    image.set_shape([None, None, 3])
    ok.set_shape([])
    return {'image': image}, ok

  ds = tf.data.Dataset.from_tensor_slices(tf.constant(files, tf.string))
  def readable(example, ok):
    del example
    return ok

  def drop_flag(example, ok):
    del ok
    return example

  ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
  return ds.filter(readable).map(drop_flag)


# ----------------------------------------------------------------------------------------------
# Sources
# ----------------------------------------------------------------------------------------------
def _split_list(items, split):
  n_eval = max(1, int(round(len(items) * EVAL_FRACTION))) if len(items) > 1 else 0
  return items[:len(items) - n_eval] if split == 'train' else items[len(items) - n_eval:]


def _folder(path, split):
  if not os.path.isdir(path):
    raise DataSourceError(f'folder source {path!r} is not a directory')
  split_dir = os.path.join(path, split)
  if os.path.isdir(split_dir):
    files = image_files.list_images(split_dir)
  else:
    files = _split_list(image_files.list_images(path), split)
  if not files:
    raise DataSourceError(f'no image files (jpg, png, ...) for split {split!r} under {path}')
  return _files_dataset(files), len(files)


def _npz(path, split):
  if not os.path.isfile(path):
    raise DataSourceError(f'npz source {path!r} does not exist')
  with np.load(path) as arrays:
    if f'{split}_images' in arrays:
      images = arrays[f'{split}_images']
    elif 'images' in arrays:
      images = _split_list(arrays['images'], split)
    else:
      raise DataSourceError(
          f'{path} has neither `images` nor `{split}_images` (it has {sorted(arrays.keys())})')
  if images.ndim == 3:
    images = np.repeat(images[..., None], 3, axis=-1)
  if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
    raise DataSourceError(
        f'{path}: images must be uint8 [N, H, W, 3], got {images.dtype} {list(images.shape)}')
  return tf.data.Dataset.from_tensor_slices({'image': images}), len(images)


def _tfds(name, split, data_config, input_context, shuffle_files, seed):
  import tensorflow_datasets as tfds  # Imported here: a second of start-up that other sources skip.
  tfds_split = data_config.get(f'tfds_{split}_split') or {'train': 'train', 'eval': 'validation'}[split]
  data_dir = data_config.get('tfds_data_dir') or None
  manual_dir = data_config.get('tfds_manual_dir') or None
  try:
    builder = tfds.builder(name, data_dir=data_dir)
    if data_config.get('tfds_download', True):
      # A no-op once prepared; otherwise downloads (or reads manual_dir) and prepares once.
      builder.download_and_prepare(
          download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
    try:
      num_shards = builder.info.splits[tfds_split].num_shards
      count = builder.info.splits[tfds_split].num_examples
    except KeyError:  # Split metadata absent (e.g. under tfds.testing.mock_data).
      num_shards, count = 0, None
    read_config = tfds.ReadConfig(shuffle_seed=seed)
    shard_here = input_context is not None and input_context.num_input_pipelines > 1
    if shard_here and num_shards >= input_context.num_input_pipelines:
      # Each worker reads its own files: no worker decodes images it then throws away.
      read_config = tfds.ReadConfig(shuffle_seed=seed, input_context=input_context)
      shard_here = False
    ds = builder.as_dataset(split=tfds_split, shuffle_files=shuffle_files, read_config=read_config)
  except Exception as e:  # TFDS raises many types here; all mean "this dataset is not usable".
    family = name.split('/')[0]
    help_text = _TFDS_HELP.get(family, 'Prepare it with `tfds build ' + name + '` where there is '
                               'internet and point --config.data.tfds_data_dir at the result.')
    reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise DataSourceError(f'TFDS dataset {name!r} (split {tfds_split!r}) is not available: '
                          f'{reason}. {help_text}') from None
  if shard_here:
    ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
  ds = ds.map(lambda ex: {'image': ex['image']}, num_parallel_calls=tf.data.AUTOTUNE)
  return ds, count, True


def load(source, split, data_config=None, task='super_resolution', input_context=None,
         shuffle_files=False, seed=0):
  """A dataset of `{'image': uint8 [H, W, 3]}` for `source` (see module docstring).

  Args:
    source: the source string.
    split: 'train' or 'eval'.
    data_config: the config's `data` field (TFDS directories and split names are read from it).
    task: 'super_resolution' or 'colorization'; picks the set plain `bundled` means.
    input_context: a `tf.distribute.InputContext`; the returned dataset is this pipeline's shard.
    shuffle_files: shuffle TFDS files (training).
    seed: seed of that file shuffle.
  Returns:
    (dataset, number of examples before sharding or None if unknown).
  Raises:
    DataSourceError: the source is malformed, missing or (TFDS) not downloaded, with instructions.
  """
  if split not in SPLITS:
    raise DataSourceError(f'split must be one of {SPLITS}, got {split!r}')
  data_config = data_config or {}
  kind, _, arg = source.partition(':')
  sharded = False
  if kind == 'bundled':
    name = arg or ('faces' if task == 'super_resolution' else 'photos')
    if name not in BUNDLED_SETS:
      raise DataSourceError(f'unknown bundled set {name!r}; choose from {sorted(BUNDLED_SETS)}')
    path = BUNDLED_SETS[name]
    ds, count = _npz(path, split) if path.endswith('.npz') else _folder(path, split)
  elif kind == 'folder' and arg:
    ds, count = _folder(os.path.expanduser(arg), split)
  elif kind == 'npz' and arg:
    ds, count = _npz(os.path.expanduser(arg), split)
  elif kind == 'tfds' and arg:
    ds, count, sharded = _tfds(arg, split, data_config, input_context, shuffle_files, seed)
  else:
    raise DataSourceError(
        f'data.source {source!r} is not one of bundled, bundled:<set>, tfds:<name>, '
        'folder:<path>, npz:<path>')
  if input_context is not None and input_context.num_input_pipelines > 1 and not sharded:
    ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
  return ds, count
