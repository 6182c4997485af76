"""The `tfrecord:` source: tf.train.Examples with `image/encoded` (the ImageNet-TFRecord layout),
split by shard names or a split pattern, sharded by file or by record, and its one-line errors.
"""
import logging
import os
import re

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

import helpers
from data import pipeline
from data import readers
from data import samples
from data import sources
from test_sources import H, W, assert_disjoint_halves, color_data_config, contexts, fingerprint
from test_sources import images_of


# ----------------------------------------------------------------------------------------------
# TFRecord sources: tf.train.Examples with `image/encoded` (the ImageNet-TFRecord layout).
# ----------------------------------------------------------------------------------------------
def encoded(image, fmt='png'):
  import io  # pylint: disable=g-import-not-at-top
  buffer = io.BytesIO()
  Image.fromarray(image).save(buffer, format='PNG' if fmt == 'png' else 'JPEG', quality=95)
  return buffer.getvalue()


def write_tfrecord(path, payloads, key='image/encoded', compression=''):
  """One TFRecord file of Examples whose `key` holds each payload (bytes)."""
  with tf.io.TFRecordWriter(str(path), compression) as writer:
    for data in payloads:
      feature = {key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[data]))}
      writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def distinct_shards(folder, names, per_shard=3, compression=''):
  """Shards named `names` of distinct H x W PNGs; returns {name: [images]}."""
  written, k = {}, 0
  for name in names:
    images = []
    for _ in range(per_shard):
      image = np.full([H, W, 3], k + 1, np.uint8)
      image[0, 0] = [k, 255 - k, 9]
      images.append(image)
      k += 1
    write_tfrecord(os.path.join(folder, name), [encoded(im) for im in images],
                   compression=compression)
    written[name] = images
  return written


def test_tfrecord_splits_by_shard_names_and_decodes_png_and_jpeg(tmp_path):
  names = ['train-00000-of-00002', 'train-00001-of-00002', 'validation-00000-of-00001']
  written = distinct_shards(str(tmp_path), names)
  train, count = sources.load(f'tfrecord:{tmp_path}/*', 'train')
  assert count is None  # Unknown without reading every file.
  assert sorted(map(fingerprint, images_of(train))) == sorted(
      fingerprint(im) for n in names[:2] for im in written[n])
  evals = images_of(sources.load(f'tfrecord:{tmp_path}/*', 'eval')[0])
  assert [fingerprint(im) for im in evals] == [fingerprint(im) for im in written[names[2]]]
  photo = dict(samples.photos())['chelsea'][:64, :96]
  os.makedirs(tmp_path / 'jpeg')
  write_tfrecord(tmp_path / 'jpeg' / 'train-0', [encoded(photo, 'jpeg')])
  write_tfrecord(tmp_path / 'jpeg' / 'eval-0', [encoded(photo)])
  jpeg = images_of(sources.load(f'tfrecord:{tmp_path}/jpeg/*', 'train')[0])[0]
  assert jpeg.shape == (64, 96, 3) and np.abs(jpeg.astype(int) - photo).mean() < 4


def test_tfrecord_reads_gzip_and_zlib_compressed_files(tmp_path):
  """TFRecordWriter(path, 'GZIP') output, as many pipelines write it (`*.tfrecord.gz`)."""
  for compression in ('GZIP', 'ZLIB'):
    folder = tmp_path / compression
    folder.mkdir()
    names = ['train-0.tfrecord.gz', 'train-1.tfrecord.gz', 'validation-0.tfrecord.gz']
    written = distinct_shards(str(folder), names, compression=compression)
    (folder / 'train-0-empty.tfrecord.gz').write_bytes(b'')  # Sorted first; it says nothing.
    train = images_of(sources.load(f'tfrecord:{folder}/*', 'train')[0])
    assert sorted(map(fingerprint, train)) == sorted(
        fingerprint(im) for n in names[:2] for im in written[n]), compression
    evals = images_of(sources.load(f'tfrecord:{folder}/*', 'eval')[0])
    assert [fingerprint(im) for im in evals] == [fingerprint(im) for im in written[names[2]]]
    # Whole files, and an empty one, are not taken for damaged ones.
    assert not [k for k in sources.skipped_files() if k.startswith(str(folder))], compression


def test_tfrecord_split_placeholder_and_unnamed_shards(tmp_path):
  distinct_shards(str(tmp_path), ['train.tfrecord', 'val.tfrecord'])
  assert len(images_of(sources.load(f'tfrecord:{tmp_path}/{{split}}.tfrecord', 'eval')[0])) == 3
  unnamed = tmp_path / 'unnamed'
  unnamed.mkdir()
  written = distinct_shards(str(unnamed), [f'part-{i}' for i in range(10)], per_shard=1)
  evals = images_of(sources.load(f'tfrecord:{unnamed}/part-*', 'eval')[0])
  assert [fingerprint(im) for im in evals] == [fingerprint(written['part-9'][0])]  # The last 10%.


def test_tfrecord_globs_separated_by_commas(tmp_path):
  written = distinct_shards(str(tmp_path), ['train-0', 'train-1', 'validation-0', 'validation-1'])
  source = f'tfrecord:{tmp_path}/train-*,{tmp_path}/validation-0'
  evals = images_of(sources.load(source, 'eval')[0])
  assert [fingerprint(im) for im in evals] == [fingerprint(im) for im in written['validation-0']]
  assert len(images_of(sources.load(source, 'train')[0])) == 6
  with pytest.raises(sources.DataSourceError, match='matches no file'):
    sources.load(f'tfrecord:{tmp_path}/train-*,{tmp_path}/nothing-*', 'train')
  # A glob with {split} that has files for the other split only is no mistake.
  (tmp_path / 'more').mkdir()
  more = distinct_shards(str(tmp_path / 'more'), ['validation-5'])
  source = f'tfrecord:{tmp_path}/train-*,{tmp_path}/more/{{split}}-*'
  assert len(images_of(sources.load(source, 'train')[0])) == 6
  evals = images_of(sources.load(source, 'eval')[0])
  assert [fingerprint(im) for im in evals] == [fingerprint(im) for im in more['validation-5']]


def test_a_shard_belongs_to_a_split_only_when_its_name_is_the_split_and_a_separator(tmp_path):
  """train-*, validation_*, val.*: yes; `values-0` or `trainer-0` are not shards of a split (they are
  left out, as every file without a split's name is when the others have one)."""
  names = ['train-00000-of-00002', 'train_00001', 'validation-00000', 'val.tfrecord', 'values-0',
           'trainer-0', 'eval']
  for name in names:
    (tmp_path / name).write_bytes(b'')
  files = lambda split: [os.path.basename(f) for f in sources.tfrecord_files(f'{tmp_path}/*', split)]
  assert files('train') == ['train-00000-of-00002', 'train_00001']
  assert files('eval') == ['eval', 'val.tfrecord', 'validation-00000']


def test_tfrecord_globs_given_twice_a_folder_an_empty_shard_and_the_home_folder(tmp_path,
                                                                                monkeypatch):
  """Two globs naming the same shards read each once; a folder the glob matches is no shard; an
  empty first shard is allowed (the others are read); `~` is the home folder."""
  written = distinct_shards(str(tmp_path), ['train-1', 'validation-0'])
  write_tfrecord(tmp_path / 'train-0', [])
  (tmp_path / 'train-folder').mkdir()
  monkeypatch.setenv('HOME', str(tmp_path))
  files = sources.tfrecord_files('~/train-*,~/train-*', 'train')
  assert [os.path.basename(f) for f in files] == ['train-0', 'train-1']
  images = images_of(sources.load('tfrecord:~/train-*,~/train-*', 'train')[0])
  assert sorted(map(fingerprint, images)) == sorted(fingerprint(im) for im in written['train-1'])
  images = images_of(sources.load('tfrecord:~/train-*', 'train')[0])
  assert len(images) == len(written['train-1'])


def test_tfrecords_on_a_file_system_tensorflow_reads_by_url(tmp_path):
  """`tfrecord:` globs on TensorFlow's file systems (gs:// for cloud users; its in-memory ram://
  here), split and sharded as local files are; a scheme TensorFlow lacks, and a URL given to
  folder: or npz:, end with one line."""
  bucket = f'ram://{tmp_path.name}'
  written = distinct_shards(bucket, ['train-0', 'train-1', 'validation-0'])
  tf.io.gfile.makedirs(f'{bucket}/train-folder')  # Matched by the glob, but no shard.
  write_tfrecord(f'{bucket}/train-folder/train-9', [])
  assert [os.path.basename(f) for f in sources.tfrecord_files(f'{bucket}/*', 'train')] == [
      'train-0', 'train-1']
  assert [os.path.basename(f) for f in sources.tfrecord_files(f'{bucket}/*', 'eval')] == [
      'validation-0']
  evals = images_of(sources.load(f'tfrecord:{bucket}/*', 'eval')[0])
  assert list(map(fingerprint, evals)) == list(map(fingerprint, written['validation-0']))
  assert_disjoint_halves(
      lambda ctx: images_of(sources.load(f'tfrecord:{bucket}/train-*,{bucket}/validation-*',
                                         'train', input_context=ctx, shuffle_files=True)[0]),
      written['train-0'] + written['train-1'])
  with pytest.raises(sources.DataSourceError, match=f'{bucket}/nothing-.*matches no file'):
    sources.load(f'tfrecord:{bucket}/nothing-*', 'train')
  with pytest.raises(sources.DataSourceError,
                     match=r"'nofs://b/train-\*': TensorFlow has no file system for nofs:// "
                           r'here \(it reads .*gs://.*\); copy the files'):
    sources.load('tfrecord:nofs://b/train-*', 'train')
  for kind in ('folder', 'npz'):
    with pytest.raises(sources.DataSourceError, match=(
        f"{kind} source 'gs://b/faces' is not on this machine: {kind}: reads local files")):
      sources.load(f'{kind}:gs://b/faces', 'train')


def test_a_reading_errors_first_line_drops_the_advice_after_it_and_its_full_stop():
  assert readers.first_line(ValueError('No such dataset.\nSee the catalog at ...')) == (
      'No such dataset')
  assert readers.first_line(ValueError()) == 'ValueError'


def test_tfrecord_shards_by_file_and_by_record(tmp_path):
  written = distinct_shards(str(tmp_path), ['train-0', 'train-1', 'eval-0'])
  full = written['train-0'] + written['train-1']
  assert_disjoint_halves(
      lambda ctx: images_of(sources.load(f'tfrecord:{tmp_path}/*', 'train', input_context=ctx)[0]),
      full)
  # As many files as pipelines: a file each (a worker then opens its own shard only).
  per_pipeline = [[fingerprint(im) for im in images_of(sources.load(
      f'tfrecord:{tmp_path}/*', 'train', input_context=ctx)[0])] for ctx in contexts(2)]
  by_file = [[fingerprint(im) for im in written[name]] for name in ('train-0', 'train-1')]
  assert sorted(per_pipeline) == sorted(by_file)
  # One file for two pipelines: every other record each.
  assert_disjoint_halves(
      lambda ctx: images_of(sources.load(f'tfrecord:{tmp_path}/*', 'eval', input_context=ctx)[0]),
      written['eval-0'])


def test_tfrecord_training_shuffles_files_by_seed(tmp_path):
  distinct_shards(str(tmp_path), [f'train-{i}' for i in range(6)] + ['eval-0'], per_shard=1)
  orders = [[fingerprint(im) for im in images_of(sources.load(
      f'tfrecord:{tmp_path}/*', 'train', shuffle_files=True, seed=s)[0])] for s in (1, 1, 2)]
  assert orders[0] == orders[1] and orders[0] != orders[2]
  assert sorted(orders[0]) == sorted(orders[2])
  ds = sources.load(f'tfrecord:{tmp_path}/*', 'train', shuffle_files=True, seed=1)[0]
  two = [fingerprint(im) for im in images_of(ds.repeat(2))]
  assert two[:6] == orders[0] and sorted(two[6:]) == sorted(orders[0]) and two[6:] != orders[0]


def test_tfrecord_shards_are_read_side_by_side_in_blocks_of_16_records(tmp_path):
  """Records of several shards mix (a shard often holds one class): files are interleaved, 16
  records of each in turn, not read one after the other."""
  written = distinct_shards(str(tmp_path), ['train-0', 'train-1', 'eval-0'], per_shard=20)
  first, second = ([fingerprint(im) for im in written[n]] for n in ('train-0', 'train-1'))
  order = [fingerprint(im) for im in images_of(sources.load(f'tfrecord:{tmp_path}/*', 'train')[0])]
  assert order == first[:16] + second[:16] + first[16:] + second[16:]


def test_tfrecord_errors_name_the_glob_or_the_file(tmp_path):
  with pytest.raises(sources.DataSourceError, match='matches no file'):
    sources.load(f'tfrecord:{tmp_path}/nothing-*', 'train')
  write_tfrecord(tmp_path / 'train-0', [b'x'], key='jpeg_bytes')
  write_tfrecord(tmp_path / 'eval-0', [b'x'], key='jpeg_bytes')
  with pytest.raises(sources.DataSourceError,
                     match=r"train-0: its records have no 'image/encoded' \(they have \['jpeg_bytes'\]\)"):
    sources.load(f'tfrecord:{tmp_path}/*', 'train')
  (tmp_path / 'text').mkdir()
  (tmp_path / 'text' / 'train-0').write_text('not a record file at all, just some text')
  (tmp_path / 'text' / 'eval-0').write_text('nor this')
  unreadable = 'train-0 is not a readable TFRecord file, uncompressed, GZIP or ZLIB'
  with pytest.raises(sources.DataSourceError, match=unreadable) as e:
    sources.load(f'tfrecord:{tmp_path}/text/*', 'train')
  assert str(e.value).endswith('(corrupted record at 0 (Is this even a TFRecord file?))'), e.value
  (tmp_path / 'only').mkdir()
  distinct_shards(str(tmp_path / 'only'), ['train-0'])
  with pytest.raises(sources.DataSourceError, match="none for 'eval'"):
    sources.load(f'tfrecord:{tmp_path}/only/*', 'eval')
  # One file not named by split: train and eval cannot be different files, in either split.
  (tmp_path / 'one').mkdir()
  distinct_shards(str(tmp_path / 'one'), ['photos.tfrecord'])
  for split in ('train', 'eval'):
    with pytest.raises(sources.DataSourceError, match=r'photos.tfrecord\' is one file: name the'):
      sources.load(f'tfrecord:{tmp_path}/one/photos.tfrecord', split)


def test_undecodable_records_are_skipped_named_and_counted(tmp_path, caplog):
  good = [np.full([H, W, 3], k, np.uint8) for k in (10, 20, 30)]
  payloads = [encoded(good[0]), b'not an image', encoded(good[1]), encoded(good[2])[:40], b'']
  write_tfrecord(tmp_path / 'train-0', payloads + [encoded(good[2])])
  write_tfrecord(tmp_path / 'eval-0', [encoded(good[0])])
  caplog.set_level(logging.WARNING)
  images = images_of(sources.load(f'tfrecord:{tmp_path}/*', 'train')[0])
  assert [int(im[0, 0, 0]) for im in images] == [10, 20, 30]
  skipped = {k for k in sources.skipped_files() if k.startswith(str(tmp_path))}
  assert skipped == {f'{tmp_path}/train-0 record {k}' for k in (1, 3, 4)}
  messages = [r.getMessage() for r in caplog.records]
  assert sum('skipping unreadable image' in m for m in messages) >= 3
  assert any('train-0 record 4: empty image data' in m for m in messages)


@pytest.mark.parametrize('damage', ['cut in its last record', 'cut in a header', 'a byte changed',
                                    'cut in its first header'])
def test_a_damaged_shard_gives_its_records_up_to_the_damage_and_is_named_once(
    tmp_path, caplog, damage):
  """A truncated download or a flipped bit used to stop training with a DataLossError naming no
  file. Now the records before the damage are read and the file is named on the log, once."""
  names = ['train-0', 'train-1', 'eval-0']
  written = distinct_shards(str(tmp_path), names, per_shard=4)
  damaged = tmp_path / 'train-1'
  data = damaged.read_bytes()
  size = len(data) // 4  # The PNGs are alike: every record takes as many bytes.
  data = {'cut in its last record': data[:-10], 'cut in a header': data[:3 * size + 5],
          'a byte changed': data[:3 * size + 40] + b'!' + data[3 * size + 41:],
          'cut in its first header': data[:5]}[damage]
  kept = 0 if damage == 'cut in its first header' else 3
  damaged.write_bytes(data)
  caplog.set_level(logging.WARNING)
  train, _ = sources.load(f'tfrecord:{tmp_path}/*', 'train')
  for _ in range(2):  # Every epoch reads what it can.
    assert sorted(map(fingerprint, images_of(train))) == sorted(
        map(fingerprint, written['train-0'] + written['train-1'][:kept]))
  assert {k: v for k, v in sources.skipped_files().items() if k.startswith(str(tmp_path))} == {
      str(damaged): 2}
  warnings = [r.getMessage() for r in caplog.records if 'damaged' in r.getMessage()]
  assert [re.sub(r' \(\d+ skipped so far\)$', '', w) for w in warnings] == [  # Named once.
      f'TFRecord file {damaged} is damaged after its first {kept} records ({kept * size} of its '
      f'{len(data)} bytes: a record is truncated or corrupt): the rest is skipped'], warnings


@pytest.mark.parametrize('compression', ['GZIP', 'ZLIB'])
@pytest.mark.parametrize('damage', ['cut in half', 'a byte changed', 'its trailer cut'])
def test_a_damaged_compressed_shard_gives_its_records_up_to_the_damage_and_is_named_once(
    tmp_path, caplog, compression, damage):
  """A compressed file's records end where its inflated bytes do, which its size does not tell: a
  GZIP file's last 4 bytes give that size, a ZLIB file is inflated again to find it. They stopped
  training with a DataLossError naming no file; a file whose trailer alone is cut gives all its
  records and is still named (its data cannot be checked)."""
  names = ['train-0.gz', 'train-1.gz', 'eval-0.gz']
  written = distinct_shards(str(tmp_path), names, per_shard=4, compression=compression)
  damaged = tmp_path / 'train-1.gz'
  data = damaged.read_bytes()
  damaged.write_bytes({'cut in half': data[:len(data) // 2],
                       'a byte changed': data[:len(data) // 2] + b'!' + data[len(data) // 2 + 1:],
                       'its trailer cut': data[:-4]}[damage])
  caplog.set_level(logging.WARNING)
  train, _ = sources.load(f'tfrecord:{tmp_path}/*', 'train')
  first = images_of(train)
  whole = sorted(map(fingerprint, written['train-0.gz']))
  kept = [im for im in first if fingerprint(im) not in whole]
  assert sorted(map(fingerprint, first)) == sorted(whole + [fingerprint(im) for im in kept])
  assert [fingerprint(im) for im in kept] == list(map(fingerprint, written['train-1.gz']))[
      :len(kept)]  # What it gives is a beginning of the file's records,
  assert len(kept) == (4 if damage == 'its trailer cut' else 0)  # all of them if they are whole.
  assert sorted(map(fingerprint, images_of(train))) == sorted(map(fingerprint, first))
  assert {k: v for k, v in sources.skipped_files().items() if k.startswith(str(tmp_path))} == {
      str(damaged): 2}  # Named at the end of each epoch's reading,
  warnings = [r.getMessage() for r in caplog.records if 'damaged' in r.getMessage()]
  assert [re.sub(r' \(\d+ skipped so far\)$', '', w) for w in warnings] == [  # once on the log.
      f'TFRecord file {damaged} is damaged after its first {len(kept)} records ({compression}: '
      'its compressed data is cut short or corrupt): the rest is skipped'], warnings


def test_a_gzip_file_of_more_than_4_gib_of_records_is_whole_when_its_trailer_says_so(
    tmp_path, caplog):
  """A GZIP trailer gives the inflated size modulo 2**32 (RFC 1952): ImageNet's shards stay under
  it, a user's may not."""
  path = tmp_path / 'train-0.gz'
  write_tfrecord(path, [b'x' * 100], compression='GZIP')
  records = sum(len(r.numpy()) + 16 for r in tf.data.TFRecordDataset(str(path), 'GZIP'))
  caplog.set_level(logging.WARNING)
  for end, named in ((records, False), (records + 2**32, False), (records + 1, True)):
    assert not readers._check_read_whole(str(path), 1, end, 'GZIP')[1]
    assert (str(path) in sources.skipped_files()) == named, end


def test_a_shard_removed_after_the_source_was_made_is_named_not_a_traceback(tmp_path, caplog):
  written = distinct_shards(str(tmp_path), ['train-0', 'train-1', 'eval-0'])
  train, _ = sources.load(f'tfrecord:{tmp_path}/*', 'train')
  os.remove(tmp_path / 'train-1')
  caplog.set_level(logging.WARNING)
  assert sorted(map(fingerprint, images_of(train))) == sorted(map(fingerprint, written['train-0']))
  assert [r.getMessage() for r in caplog.records if 'train-1' in r.getMessage()][0].startswith(
      f'TFRecord file {tmp_path}/train-1 cannot be read (')
  # One removed while it was read: named at the end of its records.
  image, ok = readers._check_read_whole(str(tmp_path / 'gone'), 2, 254)
  assert not ok and caplog.records[-1].getMessage().startswith(
      f'TFRecord file {tmp_path}/gone cannot be read any more (')


def test_staged_tiny_imagenet_reads_through_the_tfrecord_source():
  folder = os.path.dirname(helpers.shared_file('natural', 'tiny_imagenet', 'synsets.txt'))
  source = f'tfrecord:{folder}/*.tfrecord'
  assert len(sources.tfrecord_files(source[len('tfrecord:'):], 'train')) == 8
  assert len(sources.tfrecord_files(source[len('tfrecord:'):], 'eval')) == 2
  ds = pipeline.make_dataset(color_data_config(source), 'colorization', 'eval', 16, training=False,
                             num_examples=64)
  batches = list(ds)
  assert len(batches) == 4 and batches[0]['image'].shape == (16, 64, 64, 3)
