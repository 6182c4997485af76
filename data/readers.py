"""Image files and TFRecords as datasets: the reading that `data.sources` builds its sources from.

Lists are split here (`split_list`: the last `EVAL_FRACTION` of a sorted list is `eval`); image
files and TFRecord shards are decoded in parallel, sharded by file where every input pipeline can be
given whole files, and an image that does not decode never stops an epoch: it is named once on the
log, counted (`skipped_files`) and dropped. Nor does a damaged TFRecord file (cut short by a
download, or corrupt inside: its records then end where its bytes do not): it gives the records
before the damage and is named and counted the same way. A GZIP or ZLIB file's records end where
its inflated bytes do: a GZIP file's last 4 bytes give their number, a ZLIB file is inflated again
at the end of its records to count them.
"""
import collections
import functools
import glob as glob_lib
import os
import re
import struct
import threading
import zipfile
import zlib

from absl import logging
import numpy as np
import tensorflow as tf

from data import image_files
from data.errors import DataSourceError, is_url

EVAL_FRACTION = 0.1


def split_list(items, split):
  """The `split` part of a sorted list: `eval` is its last EVAL_FRACTION (at least one item)."""
  n_eval = max(1, int(round(len(items) * EVAL_FRACTION))) if len(items) > 1 else 0
  return items[:len(items) - n_eval] if split == 'train' else items[len(items) - n_eval:]


def first_line(error):
  """An exception's first line (TFDS appends pages of advice), without its final '.'."""
  text = str(error).strip()
  return text.splitlines()[0].rstrip('.') if text else type(error).__name__


# ----------------------------------------------------------------------------------------------
# Skipped files: a corrupt file in a folder never stops an epoch; it is named once and counted.
# ----------------------------------------------------------------------------------------------
_skipped = collections.Counter()
_skipped_lock = threading.Lock()


def skipped_files():
  """{path: times skipped} for every unreadable file met by folder sources in this process."""
  with _skipped_lock:
    return dict(_skipped)


def _count_skip(name):
  """Counts one skip of `name`: (whether it is its first, how many names were skipped so far)."""
  with _skipped_lock:
    first = name not in _skipped
    _skipped[name] += 1
    return first, len(_skipped)


def _skip(name, error):
  first, total = _count_skip(name)
  if first:
    logging.warning('skipping unreadable image %s (%d skipped so far)', error, total)
  return np.zeros((1, 1, 3), np.uint8), False


def _tf_error_text(error):
  """A TensorFlow OpError's message without the function node before it and the op after it."""
  text = re.sub(r'^\{\{function_node [^}]*\}\}\s*', '', first_line(error.message))
  return re.sub(r'\s*\[Op:[^\]]*\].*$', '', text)


def _read_or_skip(path):
  path = path.decode() if isinstance(path, bytes) else str(path)
  try:
    return image_files.read_image(path), True
  except image_files.ImageReadError as e:
    return _skip(path, e)


def _decode_or_skip(file, index, data, end=-1, compression=''):
  """A TFRecord's image, or a placeholder and False (named once, counted) if it does not decode.

  `end` >= 0 marks the end of a file's records rather than a record: `end` is where its last
  record read ends in the file's (inflated) bytes, `index` how many were read; short of the
  file's size (`compression`'s inflated size), the file is damaged.
  """
  if end >= 0:
    return _check_read_whole(file.decode(), int(index), int(end), compression)
  name = f'{file.decode()} record {int(index)}'
  try:
    return image_files.decode_image(data, name), True
  except image_files.ImageReadError as e:
    return _skip(name, e)


def _opens(path):
  """Whether the file `path` opens and reads; if not, it is named once and counted."""
  path = path.decode()
  try:
    with tf.io.gfile.GFile(path, 'rb') as f:
      f.read(1)
    return True
  except tf.errors.OpError as e:
    _skip_file(path, f'cannot be read ({_tf_error_text(e)}): skipped')
    return False


def _skip_file(path, problem):
  first, total = _count_skip(path)
  if first:
    logging.warning('TFRecord file %s %s (%d skipped so far)', path, problem, total)


def _inflated_size(path, compression):
  """The number of bytes `path`'s compressed TFRecord stream inflates to (for GZIP, modulo 2**32,
  as its trailer gives it), or None if the stream is cut short or corrupt (ZLIB)."""
  with tf.io.gfile.GFile(path, 'rb') as f:
    if compression == 'GZIP':
      size = f.size()
      if size < 4:
        return 0 if size == 0 else None
      f.seek(size - 4)
      return struct.unpack('<I', f.read(4))[0]  # ISIZE (RFC 1952).
    inflater, total = zlib.decompressobj(), 0
    try:
      while chunk := f.read(1 << 20):
        total += len(inflater.decompress(chunk))
    except zlib.error:
      return None
    return total if inflater.eof or total == 0 == f.size() else None


def _check_read_whole(path, count, end, compression=''):
  """A placeholder and False; `path` is named once and counted if its records end before it does."""
  try:
    if compression:
      size = _inflated_size(path, compression)
      whole = size is not None and end % 2**32 == size % 2**32
      how = f'{compression}: its compressed data is cut short or corrupt'
    else:
      size = tf.io.gfile.stat(path).length
      whole = end == size
      how = f'{end} of its {size} bytes: a record is truncated or corrupt'
    problem = None if whole else (
        f'is damaged after its first {count} records ({how}): the rest is skipped')
  except tf.errors.OpError as e:  # Gone, or unreadable, since it was opened.
    problem = f'cannot be read any more ({_tf_error_text(e)}): the rest is skipped'
  if problem:
    _skip_file(path, problem)
  return np.zeros((1, 1, 3), np.uint8), False


def _readable(example, ok):
  del example
  return ok


def _without_flag(example, ok):
  del ok
  return example


def _decoded(read_or_skip, args):
  """({'image': uint8 [H, W, 3]}, ok) from `read_or_skip(*args)` run in Python (Pillow)."""
  image, ok = tf.numpy_function(read_or_skip, args, (tf.uint8, tf.bool), stateful=False)
  image.set_shape([None, None, 3])
  ok.set_shape([])
  return {'image': image}, ok


def _drop_unreadable(ds):
  """(example, ok) pairs -> the examples whose ok is true."""
  return ds.filter(_readable).map(_without_flag)


def files_dataset(files, input_context=None, shuffle_files=False, seed=0):
  """Decodes files in parallel with Pillow; unreadable ones are dropped (see `_read_or_skip`).

  Sharding and file shuffling act on the file names, so a pipeline decodes only its own files.
  """

  def decode(path):
    return _decoded(_read_or_skip, [path])

  ds = tf.data.Dataset.from_tensor_slices(tf.constant(files, tf.string))
  if input_context is not None and input_context.num_input_pipelines > 1:
    ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
  if shuffle_files:
    # File names are cheap: shuffle all of them, so that a large folder stored in some order
    # (by class, by identity) is not fed in that order through a smaller example shuffle buffer.
    ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)

  return _drop_unreadable(ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE))


# ----------------------------------------------------------------------------------------------
# TFRecords
# ----------------------------------------------------------------------------------------------
# Shard-name prefixes of each split (the ImageNet-TFRecord convention: train-00000-of-01024).
TFRECORD_SPLIT_NAMES = {'train': ('train',), 'eval': ('eval', 'validation', 'val')}
TFRECORD_KEY = 'image/encoded'


def _split_of(path):
  base = os.path.basename(path).lower()
  for split, names in TFRECORD_SPLIT_NAMES.items():
    if any(re.match(rf'{n}([-_.]|$)', base) for n in names):
      return split
  return None


def _glob(pattern):
  """The files (not folders) `pattern` matches: local paths (`~` expanded) by Python's glob, remote
  ones (`gs://...` and any other scheme of `tf.io.gfile`) by TensorFlow's."""
  if not is_url(pattern):
    return [f for f in glob_lib.glob(os.path.expanduser(pattern)) if os.path.isfile(f)]
  scheme, schemes = pattern.split('://', 1)[0], tf.io.gfile.get_registered_schemes()
  if scheme not in schemes:
    raise DataSourceError(
        f'{pattern!r}: TensorFlow has no file system for {scheme}:// here (it reads '
        f'{", ".join(s + "://" for s in sorted(schemes) if s)}); '
        'copy the files to this machine and give their local path')
  try:
    return [f for f in tf.io.gfile.glob(pattern) if not tf.io.gfile.isdir(f)]
  except tf.errors.OpError as e:
    raise DataSourceError(f'cannot list {pattern!r}: {first_line(e.message)}') from None


def tfrecord_files(pattern, split):
  """The sorted TFRecord files of `split` that `pattern` names (see the module docstring); several
  globs may be given, separated by commas."""
  if ',' in pattern:
    files = []
    for part in pattern.split(','):
      try:
        files += tfrecord_files(part, split)
      except DataSourceError:
        if not _glob(part.replace('{split}', '*')):
          raise  # A glob that matches nothing at all is a mistake; one without this split is not.
    if not files:
      raise DataSourceError(f'tfrecord source {pattern!r} has no file for split {split!r}')
    return sorted(set(files))
  if '{split}' in pattern:
    for name in TFRECORD_SPLIT_NAMES[split]:
      files = sorted(_glob(pattern.replace('{split}', name)))
      if files:
        return files
    raise DataSourceError(f'tfrecord source {pattern!r}: no file matches it for split {split!r} '
                          f'({{split}} = {" or ".join(TFRECORD_SPLIT_NAMES[split])})')
  files = sorted(_glob(pattern))
  if not files:
    raise DataSourceError(f'tfrecord source {pattern!r} matches no file')
  by_name = [f for f in files if _split_of(f) == split]
  if any(_split_of(f) for f in files):
    if not by_name:
      raise DataSourceError(
          f'tfrecord source {pattern!r}: its files are named by split, but none for {split!r} '
          f'({"/".join(TFRECORD_SPLIT_NAMES[split])}-*)')
    return by_name
  if len(files) < 2:
    raise DataSourceError(
        f'tfrecord source {pattern!r} is one file: name the shards train-* and validation-*, or '
        'put {split} in the glob, so that train and eval are different files')
  return split_list(files, split)


# The compressions a TFRecord file may have (tf.io.TFRecordOptions), tried in this order.
TFRECORD_COMPRESSIONS = ('', 'GZIP', 'ZLIB')


def _check_first_record(path):
  """The compression of `path` ('', 'GZIP' or 'ZLIB': the first that reads its first record; None
  if it has none); a DataSourceError naming `path` unless that record is an Example with
  `image/encoded`."""
  errors = []
  for compression in TFRECORD_COMPRESSIONS:
    try:
      first = next(iter(tf.data.TFRecordDataset(path, compression).take(1)), None)
      break
    except tf.errors.OpError as e:
      errors.append(e)
  else:
    raise DataSourceError(
        f'{path} is not a readable TFRecord file, uncompressed, GZIP or ZLIB '
        f'({_tf_error_text(errors[0])})') from None
  if first is None:
    return None  # An empty shard is allowed; it says nothing of the others' compression.
  try:
    example = tf.train.Example.FromString(first.numpy())
  except Exception:  # pylint: disable=broad-except  (protobuf's DecodeError)
    raise DataSourceError(f'{path}: its records are not tf.train.Example protos') from None
  if TFRECORD_KEY not in example.features.feature:
    keys = sorted(example.features.feature)
    raise DataSourceError(f'{path}: its records have no {TFRECORD_KEY!r} (they have {keys})')
  return compression


def tfrecord(pattern, split, input_context=None, shuffle_files=False, seed=0):
  """`tf.train.Example`s with JPEG/PNG bytes under `image/encoded`; undecodable images are skipped
  and counted as a folder's unreadable files are. Files may be GZIP- or ZLIB-compressed
  (`tf.io.TFRecordWriter(path, 'GZIP')`), each file as the first one that is not empty."""
  files = tfrecord_files(pattern, split)
  compression = None  # Every file is read as the first one that is not empty.
  for path in files:
    compression = _check_first_record(path)
    if compression is not None:
      break
  shard_records = input_context is not None and input_context.num_input_pipelines > 1
  ds = tf.data.Dataset.from_tensor_slices(tf.constant(files, tf.string))
  if shard_records and len(files) >= input_context.num_input_pipelines:
    ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    shard_records = False
  if shuffle_files:
    ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)

  def records(file):
    """(file, index, record, -1) of each record, then (file, records read, '', where they end):
    a damaged file's records stop at the damage instead of stopping training with an error that
    names no file, and the last element lets it be named."""
    last = tf.data.Dataset.from_tensors((tf.constant(''), True))

    def count(state, element):
      end, index = state  # A record takes its length + 16 bytes (length, data and two CRCs).
      record, is_last = element
      size = tf.cast(tf.strings.length(record), tf.int64) + 16
      return (end + size, index + 1), (file, index, record, tf.where(is_last, end, -1))

    def counted(path):
      records = tf.data.TFRecordDataset(path, compression).ignore_errors().map(
          lambda record: (record, False))
      zero = tf.constant(0, tf.int64)
      return records.concatenate(last).scan((zero, zero), count)

    # Only files that open: ignore_errors would retry one that does not for ever.
    opens = lambda path: tf.numpy_function(_opens, [path], tf.bool)
    return tf.data.Dataset.from_tensors(file).filter(opens).flat_map(counted)

  ds = ds.interleave(records, cycle_length=min(len(files), 8), block_length=16,
                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  if shard_records:  # Fewer files than pipelines: each pipeline keeps every n-th record.
    ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)

  def decode(file, index, record, end):
    data = tf.io.parse_single_example(
        record, {TFRECORD_KEY: tf.io.FixedLenFeature([], tf.string, default_value='')})
    return _decoded(functools.partial(_decode_or_skip, compression=compression or ''),
                    [file, index, data[TFRECORD_KEY], end])

  return _drop_unreadable(ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)), None


def npz_array(path, *names):
  """(name, numpy array) of the first of `names` the `.npz` archive at `path` holds.

  Raises:
    DataSourceError: one line naming what is wrong: no such file, a single `.npy` array, not a
      readable archive, or none of `names` in it (with the names it has).
  """
  if not os.path.isfile(path):
    raise DataSourceError(f'npz file {path!r} does not exist')
  with open(path, 'rb') as f:
    magic = f.read(6)
  if not (magic.startswith(b'PK') or magic == b'\x93NUMPY'):  # A JSON, CSV or image file:
    # np.load would take it for a pickle and say so.
    raise DataSourceError(f'{path} is not an .npz file (no zip archive: np.savez(path, '
                          'images=uint8 [N, H, W, 3]) writes one)')
  try:
    arrays = np.load(path)
    if not isinstance(arrays, np.lib.npyio.NpzFile):
      raise DataSourceError(f'{path} is a single .npy array, not an .npz archive of named arrays')
    with arrays:
      for name in names:
        if name in arrays.files:
          return name, arrays[name]
      wanted = (f'neither `{"` nor `".join(reversed(names))}`' if len(names) > 1
                else f'no `{names[0]}`')
      raise DataSourceError(f'{path} has {wanted} (it has {sorted(arrays.files)})')
  except DataSourceError:
    raise
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
    # Not a NumPy file at all, a truncated archive, or object arrays (which need pickle).
    raise DataSourceError(f'{path} is not a readable .npz file ({e})') from None
