"""Where images come from: TFDS by name, a folder of files, an `.npz` array file, or the bundled photos.

`load(source, split)` returns a `tf.data.Dataset` of `{'image': uint8 [H, W, 3]}` (H, W may vary), the
common currency that `data.pipeline` turns into super-resolution or colorization examples.

Source strings (the `data.source` key of every config):
  bundled            the bundled set the task uses by default (faces for super-resolution, photos for
                     colorization; see data/bundled/PROVENANCE.md)
  bundled:faces      3,000 + 1,000 CelebA faces at 32 x 32
  bundled:photos     240 + 74 ImageNet photographs, short side 128
  tfds:<name>        a TFDS dataset, e.g. tfds:celeb_a, tfds:lsun/bedroom, tfds:imagenet2012,
                     tfds:imagenet_resized/64x64, tfds:downsampled_imagenet/32x32
  folder:<path>      every jpg/png/... under <path> (recursive, hidden files skipped); if <path> has a
                     `train/` and an `eval/` (or `val/`, `validation/`) subfolder those are the
                     splits, else the last 10% of the sorted files are `eval`
  npz:<path>         uint8 arrays `images` (split 90/10 as above) or `train_images` and `eval_images`,
                     each [N, H, W, 3], [N, H, W, 1] or [N, H, W]
Splits are `train` and `eval`.
"""
import collections
import difflib
import os
import zipfile
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
# Subfolder names a folder source accepts for each split, in order of preference.
SPLIT_FOLDERS = {'train': ('train',), 'eval': ('eval', 'val', 'validation')}

_TFDS_HELP = {
    'celeb_a': (
        'TFDS downloads CelebA from Google Drive. Without internet, either run `tfds build celeb_a` on '
        'a machine that has it and copy its ~/tensorflow_datasets/celeb_a folder into '
        '--config.data.tfds_data_dir ({data_dir}), or download img_align_celeba.zip from '
        'https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, unzip it and train on '
        '--config.data.source=folder:/path/to/img_align_celeba (the CelebA crop still applies).'),
    'imagenet2012': (
        'ImageNet needs a manual download: get ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar '
        'from https://image-net.org/download-images, put both (unextracted) in the manual dir '
        '{manual_dir} (set by --config.data.tfds_manual_dir) and run again with '
        '--config.data.tfds_download=True; TFDS then prepares the dataset once (hours, ~300 GB of '
        'disk).'),
    'lsun': (
        'TFDS downloads LSUN from http://dl.yf.io/lsun. Without internet, run `tfds build lsun/bedroom` '
        'on a machine that has it and copy its ~/tensorflow_datasets/lsun folder into '
        '--config.data.tfds_data_dir ({data_dir}).'),
}
_TFDS_DEFAULT_HELP = ('Prepare it with `tfds build {name}` where there is internet and copy the '
                      'result into --config.data.tfds_data_dir ({data_dir}).')


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


def _files_dataset(files, input_context=None, shuffle_files=False, seed=0):
  """Decodes files in parallel with Pillow; unreadable ones are dropped (see `_read_or_skip`).

  Sharding and file shuffling act on the file names, so a pipeline decodes only its own files.
  """

  def decode(path):
    image, ok = tf.numpy_function(_read_or_skip, [path], (tf.uint8, tf.bool), stateful=False)
    image.set_shape([None, None, 3])
    ok.set_shape([])
    return {'image': image}, ok

  ds = tf.data.Dataset.from_tensor_slices(tf.constant(files, tf.string))
  if input_context is not None and input_context.num_input_pipelines > 1:
    ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
  if shuffle_files:
    # File names are cheap: shuffle all of them, so that a large folder stored in some order
    # (by class, by identity) is not fed in that order through a smaller example shuffle buffer.
    ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)

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


def _split_folders(path):
  """{split: subfolder} if `path` has a folder for every split, else None."""
  found = {}
  for split, names in SPLIT_FOLDERS.items():
    dirs = [os.path.join(path, n) for n in names if os.path.isdir(os.path.join(path, n))]
    found[split] = dirs[0] if dirs else None
  # Both or neither: with only train/, an `eval` taken from the whole tree would hold train images.
  return found if all(found.values()) else None


def _folder(path, split, input_context=None, shuffle_files=False, seed=0):
  if not os.path.isdir(path):
    raise DataSourceError(f'folder source {path!r} is not a directory')
  split_dirs = _split_folders(path)
  if split_dirs:
    files = image_files.list_images(split_dirs[split])
  else:
    files = _split_list(image_files.list_images(path), split)
  if not files:
    raise DataSourceError(f'no image files (jpg, png, ...) for split {split!r} under {path}')
  return _files_dataset(files, input_context, shuffle_files, seed), len(files)


def _npz(path, split):
  if not os.path.isfile(path):
    raise DataSourceError(f'npz source {path!r} does not exist')
  try:
    arrays = np.load(path)
    if not isinstance(arrays, np.lib.npyio.NpzFile):
      raise DataSourceError(f'{path} is a single .npy array, not an .npz archive of named arrays')
    with arrays:
      if f'{split}_images' in arrays.files:
        images = arrays[f'{split}_images']
      elif 'images' in arrays.files:
        images = _split_list(arrays['images'], split)
      else:
        raise DataSourceError(
            f'{path} has neither `images` nor `{split}_images` (it has {sorted(arrays.files)})')
  except DataSourceError:
    raise
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
    # Not a NumPy file at all, a truncated archive, or object arrays (which need pickle).
    raise DataSourceError(f'{path} is not a readable .npz file ({e})') from None
  images = np.asarray(images)
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim == 4 and images.shape[-1] == 1:
    images = np.repeat(images, 3, axis=-1)  # Grayscale.
  if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
    raise DataSourceError(
        f'{path}: images must be uint8 [N, H, W, 3] (or [N, H, W] / [N, H, W, 1] grayscale), '
        f'got {images.dtype} {list(images.shape)}')
  if not len(images):
    raise DataSourceError(f'{path} has no images for split {split!r}')
  return tf.data.Dataset.from_tensor_slices({'image': images}), len(images)


def _tfds(name, split, data_config, input_context, shuffle_files, seed):
  import tensorflow_datasets as tfds  # Imported here: a second of start-up that other sources skip.
  tfds_split = data_config.get(f'tfds_{split}_split') or {'train': 'train', 'eval': 'validation'}[split]
  data_dir = os.path.expanduser(data_config.get('tfds_data_dir') or '') or None
  manual_dir = os.path.expanduser(data_config.get('tfds_manual_dir') or '') or None
  download = data_config.get('tfds_download', True)
  shown_data_dir = data_dir or tfds.core.constants.get_default_data_dir()
  shown_manual_dir = manual_dir or os.path.join(shown_data_dir, 'downloads', 'manual')
  help_text = _TFDS_HELP.get(name.split('/')[0], _TFDS_DEFAULT_HELP).format(
      name=name, data_dir=shown_data_dir, manual_dir=shown_manual_dir)
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except tfds.core.DatasetNotFoundError:
    close = difflib.get_close_matches(name.split('/')[0], tfds.list_builders(), n=3)
    hint = f' (did you mean {" or ".join(close)}?)' if close else ''
    raise DataSourceError(f'there is no TFDS dataset named {name!r}{hint}; see '
                          'https://www.tensorflow.org/datasets/catalog/overview') from None
  except Exception as e:  # pylint: disable=broad-except
    raise DataSourceError(f'TFDS dataset {name!r}: {_first_line(e)}. {help_text}') from None
  try:
    if download:
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
    if not download and not _is_prepared(builder):
      raise DataSourceError(
          f'TFDS dataset {name!r} is not prepared in {shown_data_dir} and data.tfds_download is '
          f'False. {help_text}') from None
    raise DataSourceError(f'TFDS dataset {name!r} (split {tfds_split!r}) is not available: '
                          f'{_first_line(e)}. {help_text}') from None
  if shard_here:
    ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
  ds = ds.map(lambda ex: {'image': ex['image']}, num_parallel_calls=tf.data.AUTOTUNE)
  return ds, count, True


def _first_line(error):
  """An exception's first line (TFDS appends pages of advice), without its final '.'."""
  text = str(error).strip()
  return text.splitlines()[0].rstrip('.') if text else type(error).__name__


def _is_prepared(builder):
  try:
    return builder.is_prepared()
  except Exception:  # pylint: disable=broad-except
    return False


def load(source, split, data_config=None, task='super_resolution', input_context=None,
         shuffle_files=False, seed=0):
  """A dataset of `{'image': uint8 [H, W, 3]}` for `source` (see module docstring).

  Args:
    source: the source string.
    split: 'train' or 'eval'.
    data_config: the config's `data` field (TFDS directories and split names are read from it).
    task: 'super_resolution' or 'colorization'; picks the set plain `bundled` means.
    input_context: a `tf.distribute.InputContext`; the returned dataset is this pipeline's shard.
    shuffle_files: shuffle the order of files (TFDS record files, a folder's image files) each
      epoch (training).
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
    if path.endswith('.npz'):
      ds, count = _npz(path, split)
    else:
      ds, count = _folder(path, split, input_context, shuffle_files, seed)
      sharded = True
  elif kind == 'folder' and arg:
    ds, count = _folder(os.path.expanduser(arg), split, input_context, shuffle_files, seed)
    sharded = True
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
