"""Where images come from: TFDS by name, a folder of files, an `.npz` file, TFRecords, or the photos
that ship with the dependencies.

`load(source, split)` returns a `tf.data.Dataset` of `{'image': uint8 [H, W, 3]}` (H, W may vary), the
common currency that `data.pipeline` turns into super-resolution or colorization examples.

Source strings (the `data.source` key of every config):
  samples            the photographs that ship with scikit-image and matplotlib (`data.samples`):
                     faces for super-resolution, photos for colorization
  samples:faces      the faces in those photographs (32 x 32) and scikit-image's 100 LFW faces
                     (25 x 25)
  samples:photos     the colour photographs themselves
  tfds:<name>        a TFDS dataset, e.g. tfds:celeb_a, tfds:lsun/bedroom, tfds:imagenet2012,
                     tfds:imagenet_resized/64x64, tfds:downsampled_imagenet/32x32
  folder:<path>      every jpg/png/... under <path> (recursive, links to folders followed, hidden
                     files skipped); if <path> has a `train/` and an `eval/` (or `val/`,
                     `validation/`) subfolder those are the splits, else the last 10% of the
                     sorted files are `eval`
  npz:<path>         uint8 arrays `images` (split 90/10 as above) or `train_images` and `eval_images`,
                     each [N, H, W, 3], [N, H, W, 1] or [N, H, W]
  tfrecord:<glob>    `tf.train.Example`s holding JPEG or PNG bytes under `image/encoded` (the
                     ImageNet-TFRecord layout); splits by a `{split}` in the glob (`train`, then
                     `eval`, `validation` or `val`), else by the shard names (`train-*`,
                     `validation-*`, ...), else the last 10% of the sorted files are `eval`;
                     several globs separated by commas; local, or on any file system TensorFlow
                     reads (`gs://bucket/train-*`); uncompressed, GZIP or ZLIB (as the first
                     file that is not empty)
Splits are `train` and `eval`.
"""
import difflib
import os
import socket

import numpy as np
import tensorflow as tf

from data import image_files
from data import readers
from data.errors import DataSourceError  # Also public here, as sources.DataSourceError.
from data.errors import is_url
from data import samples as samples_lib
# Public here too: the files skipped as unreadable, and the TFRecord files of a split.
from data.readers import skipped_files, tfrecord_files  # pylint: disable=unused-import

SPLITS = ('train', 'eval')
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
        '--config.data.tfds_download=True (the default); TFDS then prepares the dataset once '
        '(hours, ~300 GB of disk).'),
    'lsun': (
        'TFDS downloads LSUN from http://dl.yf.io/lsun. Without internet, run `tfds build lsun/bedroom` '
        'on a machine that has it and copy its ~/tensorflow_datasets/lsun folder into '
        '--config.data.tfds_data_dir ({data_dir}).'),
}
# Where TFDS downloads each dataset that it fetches itself (ImageNet is a manual download). Before a
# download starts, the host is tried once: offline, TFDS would retry each file for ~3.5 minutes
# (10 retries with exponential back-off) before failing.
_TFDS_DOWNLOAD_HOSTS = {'celeb_a': 'drive.google.com', 'lsun': 'dl.yf.io'}
_PROXY_VARIABLES = ('https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY', 'all_proxy',
                    'ALL_PROXY')
REACHABLE_TIMEOUT_S = 10
_TFDS_DEFAULT_HELP = ('Prepare it with `tfds build {name}` where there is internet and copy the '
                      'result into --config.data.tfds_data_dir ({data_dir}).')


# ----------------------------------------------------------------------------------------------
# Sources
# ----------------------------------------------------------------------------------------------
def _split_folders(path):
  """{split: subfolder} if `path` has a folder for every split, else None."""
  found = {}
  for split, names in SPLIT_FOLDERS.items():
    dirs = [os.path.join(path, n) for n in names if os.path.isdir(os.path.join(path, n))]
    found[split] = dirs[0] if dirs else None
  # Both or neither: with only train/, an `eval` taken from the whole tree would hold train images.
  return found if all(found.values()) else None


def _local_path(kind, path):
  """`path`, `~` expanded; DataSourceError if it is a URL (folder: and npz: read local files)."""
  if is_url(path):
    raise DataSourceError(
        f'{kind} source {path!r} is not on this machine: {kind}: reads local files; copy them '
        'here, or store the images as TFRecords, which tfrecord: also reads from gs://')
  return os.path.expanduser(path)


def _folder(path, split, input_context=None, shuffle_files=False, seed=0):
  if not os.path.isdir(path):
    raise DataSourceError(f'folder source {path!r} is not a directory')
  split_dirs = _split_folders(path)
  if split_dirs:
    files = image_files.list_images(split_dirs[split])
  else:
    files = readers.split_list(image_files.list_images(path), split)
  if not files:
    raise DataSourceError(f'no image files (jpg, png, ...) for split {split!r} under {path}')
  return readers.files_dataset(files, input_context, shuffle_files, seed), len(files)


def _npz(path, split):
  name, images = readers.npz_array(path, f'{split}_images', 'images')
  images = np.asarray(images)
  # Checked as stored (the message names the file's array), before the split and the gray to RGB.
  if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3)) or (
      images.dtype != np.uint8):
    hint = (': floats in [0, 1]? store (images * 255).round().astype(np.uint8)'
            if images.dtype.kind == 'f' else '')
    raise DataSourceError(
        f'{path}: {name} must be uint8 [N, H, W, 3] (or [N, H, W] / [N, H, W, 1] grayscale), '
        f'got {images.dtype} {list(images.shape)}{hint}')
  if name == 'images':
    images = np.asarray(readers.split_list(images, split))
  if images.ndim == 3:
    images = images[..., None]
  if images.shape[-1] == 1:
    images = np.repeat(images, 3, axis=-1)  # Grayscale.
  if not len(images):
    raise DataSourceError(f'{path} has no images for split {split!r}')
  return tf.data.Dataset.from_tensor_slices({'image': images}), len(images)


def _samples(name, split):
  """The photographs that ship with the dependencies (`data.samples`), as a dataset."""
  try:
    images = samples_lib.load(name, split)
  except (ImportError, OSError) as e:  # scikit-image or matplotlib missing or damaged.
    raise DataSourceError(f'the sample photos cannot be read ({readers.first_line(e)}): install '
                          'scikit-image and matplotlib') from None

  def generate():
    for _, image in images:
      yield {'image': image}

  ds = tf.data.Dataset.from_generator(
      generate, output_signature={'image': tf.TensorSpec([None, None, 3], tf.uint8)})
  return ds.apply(tf.data.experimental.assert_cardinality(len(images))), len(images)


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
    raise DataSourceError(f'TFDS dataset {name!r}: {readers.first_line(e)}. {help_text}') from None
  if download and not _is_prepared(builder):
    _check_reachable(name, shown_data_dir, help_text)
    if getattr(builder, 'MANUAL_DOWNLOAD_INSTRUCTIONS', None) and not _has_files(shown_manual_dir):
      # Before TFDS's own attempt, which leaves empty folders in the data dir and a message
      # whose instructions are cut off.
      raise DataSourceError(f'TFDS dataset {name!r} is not prepared in {shown_data_dir} and its '
                            f'manual download folder {shown_manual_dir} is missing or empty. '
                            f'{help_text}')
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
                          f'{readers.first_line(e)}. {help_text}') from None
  if shard_here:
    ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
  ds = ds.map(lambda ex: {'image': ex['image']}, num_parallel_calls=tf.data.AUTOTUNE)
  return ds, count, True


def _check_reachable(name, data_dir, help_text):
  """Raises DataSourceError at once if TFDS is about to download `name` from a host that cannot be
  reached (no internet): TFDS itself would retry for minutes. Behind a proxy (the usual *_proxy
  variables, which TFDS's downloads honour) the host is not tried: it may resolve only there."""
  host = _TFDS_DOWNLOAD_HOSTS.get(name.split('/')[0])
  if host is None or any(os.environ.get(variable) for variable in _PROXY_VARIABLES):
    return
  try:
    socket.create_connection((host, 443), timeout=REACHABLE_TIMEOUT_S).close()
  except OSError as e:
    reason = getattr(e, 'strerror', None) or str(e) or type(e).__name__
    raise DataSourceError(
        f'TFDS dataset {name!r} is not prepared in {data_dir} and TFDS downloads it from {host}, '
        f'which cannot be reached ({reason}). {help_text}') from None


def _has_files(folder):
  """Whether `folder`, local or on any file system of tf.io.gfile (gs://...), holds anything."""
  try:
    return bool(tf.io.gfile.listdir(folder))
  except (OSError, tf.errors.OpError):  # Missing, not a folder, or no file system for its scheme.
    return False


def _is_prepared(builder):
  try:
    return builder.is_prepared()
  except Exception:  # pylint: disable=broad-except
    return False


def check_syntax(source):
  """(kind, argument) of a source string; DataSourceError unless it has one of the forms."""
  kind, _, arg = source.partition(':')
  if kind == 'samples' and arg and arg not in samples_lib.SETS:
    raise DataSourceError(f'unknown sample set {arg!r}; choose from {", ".join(samples_lib.SETS)}')
  if kind == 'samples' or (kind in ('tfds', 'folder', 'npz', 'tfrecord') and arg):
    return kind, arg
  raise DataSourceError(
      f'data.source {source!r} is not one of samples, samples:<set>, tfds:<name>, '
      'folder:<path>, npz:<path>, tfrecord:<glob>')


def load(source, split, data_config=None, task='super_resolution', input_context=None,
         shuffle_files=False, seed=0):
  """A dataset of `{'image': uint8 [H, W, 3]}` for `source` (see module docstring).

  Args:
    source: the source string.
    split: 'train' or 'eval'.
    data_config: the config's `data` field (TFDS directories and split names are read from it).
    task: 'super_resolution' or 'colorization'; picks the set plain `samples` means.
    input_context: a `tf.distribute.InputContext`; the returned dataset is this pipeline's shard.
    shuffle_files: shuffle the order of files (TFDS and TFRecord files, a folder's image files) each
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
  kind, arg = check_syntax(source)
  sharded = False
  if kind == 'samples':
    ds, count = _samples(arg or ('faces' if task == 'super_resolution' else 'photos'), split)
  elif kind == 'tfrecord':
    ds, count = readers.tfrecord(arg, split, input_context, shuffle_files, seed)
    sharded = True
  elif kind == 'folder':
    ds, count = _folder(_local_path(kind, arg), split, input_context, shuffle_files, seed)
    sharded = True
  elif kind == 'npz':
    ds, count = _npz(_local_path(kind, arg), split)
  else:
    ds, count, sharded = _tfds(arg, split, data_config, input_context, shuffle_files, seed)
  if input_context is not None and input_context.num_input_pipelines > 1 and not sharded:
    ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
  return ds, count
