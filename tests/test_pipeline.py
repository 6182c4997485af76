"""The examples of both papers, eagerly and in Dataset.map, and the batched, sharded datasets."""
import ml_collections
import numpy as np
import pytest
import tensorflow as tf

import helpers
from data import pipeline
from data import sources
from data import transforms

# Asymmetric so that a swapped H and W cannot pass.
H, W = 6, 10
N_TRAIN, N_EVAL = 300, 130  # The synthetic "faces" of sr_config (32 x 32).
FACES = None


@pytest.fixture(autouse=True, scope='module')
def faces_npz(tmp_path_factory):
  global FACES
  FACES = helpers.write_npz(tmp_path_factory.mktemp('faces') / 'faces.npz', N_TRAIN, N_EVAL)
  yield FACES


def random_image(shape, seed=0):
  return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


def eager_and_mapped(fn, image):
  eager = {k: v.numpy() for k, v in fn(tf.constant(image)).items()}
  ds = tf.data.Dataset.from_tensors(tf.constant(image)).map(fn)
  return eager, {k: v.numpy() for k, v in next(iter(ds)).items()}


def both_ways(fn, image):
  eager, mapped = eager_and_mapped(fn, image)
  assert set(eager) == set(mapped)
  for k in eager:
    assert eager[k].dtype == mapped[k].dtype and eager[k].shape == mapped[k].shape, k
    np.testing.assert_array_equal(eager[k], mapped[k], err_msg=k)
  return eager


def sr_config(**overrides):
  c = ml_collections.ConfigDict(dict(
      source=FACES, crop='none', highres_size=32, lowres_size=8, resize_method='area',
      shuffle_buffer=1000, cache=False))
  c.update(overrides)
  return c


def color_config(**overrides):
  c = ml_collections.ConfigDict(dict(
      source='samples:photos', crop='center', image_size=64, chroma_size=28, num_bins=32,
      shuffle_buffer=100, cache=False))
  c.update(overrides)
  return c


# ----------------------------------------------------------------------------------------------
# Super-resolution examples (Dahl et al. 2017, Sec. 4: 8x8 -> 32x32).
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize('shape,crop_how', [
    ((218, 178, 3), 'celeba'), ((H, W, 3), 'center'), ((40, 64, 3), 'none'), ((32, 32, 3), 'none')])
def test_super_resolution_example_shapes_both_ways(shape, crop_how):
  fn = lambda x: pipeline.super_resolution_example(x, crop_how=crop_how)
  ex = both_ways(fn, random_image(shape))
  assert set(ex) == {'lowres', 'highres'}
  assert ex['lowres'].shape == (8, 8, 3) and ex['lowres'].dtype == np.uint8
  assert ex['highres'].shape == (32, 32, 3) and ex['highres'].dtype == np.uint8


def test_lowres_is_the_rounded_mean_of_each_4x4_block_of_highres():
  image = random_image([32, 32, 3])
  ex = both_ways(lambda x: pipeline.super_resolution_example(x, crop_how='none'), image)
  np.testing.assert_array_equal(ex['highres'], image)  # Already 32 x 32: area resize is identity.
  np.testing.assert_array_equal(ex['lowres'], np.round(helpers.block_means(ex['highres'], 4)))


def test_a_larger_image_is_resized_to_the_target_by_the_configured_method():
  image = random_image([64, 64, 3])
  area = both_ways(lambda x: pipeline.super_resolution_example(x, crop_how='none'), image)
  np.testing.assert_array_equal(area['highres'], np.round(helpers.block_means(image, 2)))
  bicubic = pipeline.super_resolution_example(tf.constant(image), crop_how='none',
                                              method='bicubic')['highres'].numpy()
  assert np.abs(bicubic.astype(int) - area['highres']).max() > 10


def test_celeba_example_uses_the_central_138_square():
  image = random_image([218, 178, 3])
  image[40:178, 20:158] = 200  # Everything outside the crop is noise, everything inside flat.
  ex = both_ways(lambda x: pipeline.super_resolution_example(x, crop_how='celeba'), image)
  np.testing.assert_array_equal(ex['highres'], np.full([32, 32, 3], 200))


def test_other_sizes():
  ex = both_ways(lambda x: pipeline.super_resolution_example(x, 64, 16, 'center', 'bicubic'),
                 random_image([80, 120, 3]))
  assert ex['highres'].shape == (64, 64, 3) and ex['lowres'].shape == (16, 16, 3)
  np.testing.assert_array_equal(ex['lowres'], np.round(helpers.block_means(ex['highres'], 4)))


def test_bad_crop():
  with pytest.raises(ValueError, match="data.crop must be"):
    pipeline.super_resolution_example(tf.zeros([H, W, 3], tf.uint8), crop_how='middle')


# ----------------------------------------------------------------------------------------------
# Colorization examples (PixColor Sec. 3.1).
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize('shape', [(H, W, 3), (72, 40, 3), (224, 224, 3)])
def test_colorization_example_shapes_both_ways(shape):
  ex = both_ways(lambda x: pipeline.colorization_example(x, image_size=56), random_image(shape))
  assert set(ex) == {'gray', 'chroma', 'image'}
  assert ex['image'].shape == (56, 56, 3) and ex['image'].dtype == np.uint8
  assert ex['gray'].shape == (56, 56, 1) and ex['gray'].dtype == np.uint8
  assert ex['chroma'].shape == (28, 28, 2) and ex['chroma'].dtype == np.int32
  assert ex['chroma'].min() >= 0 and ex['chroma'].max() < 32


def test_colorization_example_values():
  image = random_image([56, 84, 3])
  ex = both_ways(lambda x: pipeline.colorization_example(x, image_size=56, chroma_size=28), image)
  np.testing.assert_array_equal(ex['image'], image[:, 14:70])  # The centred square.
  ycbcr = transforms.rgb_to_ycbcr(ex['image']).numpy()
  np.testing.assert_array_equal(ex['gray'], np.round(ycbcr[..., :1]))
  # Bins of 8 levels centred on 0, 8, ..., 128, ...: bin k holds [8k - 4, 8k + 4).
  shifted = (helpers.block_means(ycbcr[..., 1:], 2) + 4) / 8
  inside = np.abs(shifted - np.round(shifted)) > 1e-3  # Away from edges, where rounding may flip.
  assert inside.mean() > 0.99
  np.testing.assert_array_equal(ex['chroma'][inside], np.clip(np.floor(shifted), 0, 31)[inside])


def test_a_larger_photo_is_area_resized_to_the_image_size():
  image = random_image([112, 112, 3])
  ex = both_ways(lambda x: pipeline.colorization_example(x, image_size=56), image)
  np.testing.assert_array_equal(ex['image'], np.round(helpers.block_means(image, 2)))


def test_gray_photo_has_neutral_chroma_and_its_own_luminance():
  gray = np.repeat(random_image([64, 64, 1]), 3, axis=-1)
  ex = both_ways(lambda x: pipeline.colorization_example(x, image_size=64, num_bins=32), gray)
  np.testing.assert_array_equal(ex['chroma'], np.full([28, 28, 2], 16))  # 128 is in bin 16.
  np.testing.assert_array_equal(ex['gray'], gray[..., :1])


def test_example_fn_rejects_unknown_tasks():
  with pytest.raises(ValueError, match='task must be one of'):
    pipeline.example_fn(sr_config(), 'inpainting')


# ----------------------------------------------------------------------------------------------
# Batched datasets.
# ----------------------------------------------------------------------------------------------
def test_batches_have_static_shapes_and_drop_the_remainder():
  ds = pipeline.make_dataset(sr_config(), 'super_resolution', 'eval', 64, training=False)
  assert ds.element_spec['lowres'].shape == (64, 8, 8, 3)
  assert ds.element_spec['highres'].shape == (64, 32, 32, 3)
  assert len(list(ds)) == N_EVAL // 64  # Full batches only.


def test_eval_is_one_pass_in_source_order():
  ds = pipeline.make_dataset(sr_config(), 'super_resolution', 'eval', 10, training=False)
  first = next(iter(ds))['highres'].numpy()
  faces = [ex['image'].numpy() for ex in sources.load(FACES, 'eval')[0].take(10)]
  np.testing.assert_array_equal(first, np.stack(faces))


def test_the_first_batch_is_the_splits_first_examples_in_order_and_never_augmented():
  """What TensorBoard's grids show at every step: the same examples, as they are."""
  config = sr_config(random_flip=True, random_zoom=0.6)
  for split, source_split in (('train', 'train'), ('eval', 'eval')):
    got = pipeline.first_batch(config, 'super_resolution', split, 5)['highres']
    faces = [ex['image'].numpy() for ex in sources.load(FACES, source_split)[0].take(5)]
    np.testing.assert_array_equal(got, np.stack(faces), err_msg=split)
  with pytest.raises(sources.DataSourceError, match=f'^the eval split of {config.source} has only '
                     f'{N_EVAL} of the {N_EVAL + 1} examples asked for$'):
    pipeline.first_batch(config, 'super_resolution', 'eval', N_EVAL + 1)


def first_batches(config, task, seed, n=3, batch_size=8):
  ds = pipeline.make_dataset(config, task, 'train', batch_size, training=True, seed=seed)
  return [b for b in ds.take(n)]


def test_training_shuffles_by_seed_and_repeats():
  config = sr_config(shuffle_buffer=N_TRAIN)
  a, b, c = (first_batches(config, 'super_resolution', s) for s in (1, 1, 2))
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x['highres'], y['highres'])
  assert not np.array_equal(a[0]['highres'], c[0]['highres'])
  ordered = pipeline.make_dataset(config, 'super_resolution', 'train', 8, training=False)
  assert not np.array_equal(a[0]['highres'], next(iter(ordered))['highres'])
  ds = pipeline.make_dataset(config, 'super_resolution', 'train', 8, training=True)
  assert ds.cardinality() == tf.data.INFINITE_CARDINALITY  # Repeats forever.
  # Every epoch is the whole split in a new order (one batch is one epoch here).
  epochs = iter(pipeline.make_dataset(config, 'super_resolution', 'train', N_TRAIN, training=True))
  first, second = (next(epochs)['highres'].numpy() for _ in range(2))
  assert sorted(x.tobytes() for x in first) == sorted(x.tobytes() for x in second)
  assert len({x.tobytes() for x in first}) == N_TRAIN
  assert not np.array_equal(first, second)


def test_colorization_training_batches_from_the_sample_photos():
  config = color_config()
  a, b = first_batches(config, 'colorization', 5, n=2), first_batches(config, 'colorization', 5, n=2)
  for x, y in zip(a, b):
    assert x['image'].shape == (8, 64, 64, 3) and x['chroma'].shape == (8, 28, 28, 2)
    np.testing.assert_array_equal(x['image'], y['image'])


def test_cache_gives_the_same_examples():
  plain = pipeline.make_dataset(sr_config(), 'super_resolution', 'eval', 100, training=False)
  cached = pipeline.make_dataset(sr_config(cache=True), 'super_resolution', 'eval', 100,
                                 training=False)
  for _ in range(2):  # The second pass reads the cache.
    for x, y in zip(plain, cached):
      np.testing.assert_array_equal(x['highres'], y['highres'])


def context(i, n=2):
  return tf.distribute.InputContext(num_input_pipelines=n, input_pipeline_id=i,
                                    num_replicas_in_sync=n)


def test_num_examples_is_the_first_n_of_the_split_in_all():
  config = sr_config()
  whole = pipeline.make_dataset(config, 'super_resolution', 'eval', 1, training=False,
                                num_examples=7)
  whole = np.concatenate([b['highres'] for b in whole])
  assert len(whole) == 7
  shards = [np.concatenate([b['highres'] for b in pipeline.make_dataset(
      config, 'super_resolution', 'eval', 1, training=False, num_examples=7,
      input_context=context(i))]) for i in range(2)]
  assert [len(s) for s in shards] == [4, 3]
  np.testing.assert_array_equal(shards[0], whole[0::2])
  np.testing.assert_array_equal(shards[1], whole[1::2])
  with pytest.raises(ValueError, match=r'num_examples must be >= 0 \(0 or None: the whole split\), '
                     'got -3'):  # take(-3) read the whole split.
    pipeline.make_dataset(config, 'super_resolution', 'eval', 1, training=False, num_examples=-3)


def test_input_fn_splits_the_global_batch_over_replicas():
  dataset_fn = pipeline.input_fn(sr_config(), 'super_resolution', 'eval', 16, training=False)
  assert next(iter(dataset_fn()))['lowres'].shape == (16, 8, 8, 3)
  per_pipeline = [next(iter(dataset_fn(context(i))))['lowres'].numpy() for i in range(2)]
  assert per_pipeline[0].shape == (8, 8, 8, 3)
  assert not np.array_equal(per_pipeline[0], per_pipeline[1])


def test_input_fn_under_mirrored_strategy_on_two_cpus():
  strategy = helpers.strategy_named('mirrored')
  dist = strategy.distribute_datasets_from_function(
      pipeline.input_fn(sr_config(), 'super_resolution', 'train', 8, training=True))
  batch = next(iter(dist))
  replicas = strategy.experimental_local_results(batch['highres'])
  assert len(replicas) == 2
  assert all(r.shape == (4, 32, 32, 3) and r.dtype == tf.uint8 for r in replicas)
  assert not np.array_equal(replicas[0].numpy(), replicas[1].numpy())


# ----------------------------------------------------------------------------------------------
# Augmentation (training only) and grayscale photos (dropped for colorization).
# ----------------------------------------------------------------------------------------------
def all_examples(ds, n):
  out = {}
  for batch in ds.take(n):
    for k, v in batch.items():
      out.setdefault(k, []).append(v.numpy())
  return {k: np.concatenate(v) for k, v in out.items()}


def test_flips_only_in_training_and_on_both_images_together():
  config = sr_config(random_flip=True, shuffle_buffer=1)  # Buffer 1: the file order, no shuffle.
  plain = all_examples(pipeline.make_dataset(sr_config(shuffle_buffer=1), 'super_resolution',
                                             'train', 8, training=True), 4)
  flipped = all_examples(pipeline.make_dataset(config, 'super_resolution', 'train', 8,
                                               training=True, seed=5), 4)
  which = [not np.array_equal(a, b) for a, b in zip(plain['highres'], flipped['highres'])]
  assert 8 < sum(which) < 24  # About half of 32.
  for k in range(32):
    for key in ('highres', 'lowres'):
      want = plain[key][k][:, ::-1] if which[k] else plain[key][k]
      np.testing.assert_array_equal(flipped[key][k], want)
  # Eval never augments, whatever the config says.
  eval_plain = all_examples(pipeline.make_dataset(sr_config(), 'super_resolution', 'eval', 8,
                                                  training=False), 2)
  eval_aug = all_examples(pipeline.make_dataset(config, 'super_resolution', 'eval', 8,
                                                training=False), 2)
  np.testing.assert_array_equal(eval_aug['highres'], eval_plain['highres'])


def test_random_crops_only_in_training():
  config = color_config(random_crop=0.5, random_flip=True, shuffle_buffer=1)
  train_a = all_examples(pipeline.make_dataset(config, 'colorization', 'train', 4, training=True,
                                               seed=1), 2)
  train_b = all_examples(pipeline.make_dataset(config, 'colorization', 'train', 4, training=True,
                                               seed=2), 2)
  centred = all_examples(pipeline.make_dataset(color_config(shuffle_buffer=1), 'colorization',
                                               'train', 4, training=True), 2)
  assert train_a['image'].shape == (8, 64, 64, 3)
  assert not np.array_equal(train_a['image'], centred['image'])
  # Without random_crop, training takes the config's crop (the sample photos are not square).
  plain = all_examples(pipeline.make_dataset(color_config(shuffle_buffer=1), 'colorization',
                                             'train', 4, training=False), 2)
  np.testing.assert_array_equal(centred['image'][:4], plain['image'])  # The 4 of the split.
  assert not np.array_equal(train_a['image'], train_b['image'])  # A new crop for another seed.
  eval_aug = all_examples(pipeline.make_dataset(config, 'colorization', 'eval', 2,
                                                training=False), 1)
  eval_plain = all_examples(pipeline.make_dataset(color_config(), 'colorization', 'eval', 2,
                                                  training=False), 1)
  np.testing.assert_array_equal(eval_aug['image'], eval_plain['image'])


def test_colorization_drops_grayscale_photos_and_counts_them(tmp_path):
  rng = np.random.default_rng(0)
  colour = rng.integers(0, 256, [6, 40, 40, 3]).astype(np.uint8)
  gray = np.repeat(rng.integers(0, 256, [3, 40, 40, 1]), 3, axis=-1).astype(np.uint8)
  images = np.concatenate([colour[:2], gray[:1], colour[2:4], gray[1:], colour[4:]])
  path = str(tmp_path / 'mixed.npz')
  np.savez(path, train_images=images, eval_images=images)
  config = color_config(source=f'npz:{path}', image_size=32, chroma_size=8)
  before = pipeline.grayscale_dropped()
  every = all_examples(pipeline.make_dataset(config, 'colorization', 'eval', 1, training=False),
                       100)
  assert len(every['image']) == 6
  assert pipeline.grayscale_dropped() - before == 3
  assert all(float(transforms.colourfulness(im)) > 10 for im in every['image'])
  # num_examples counts colour photos: the first 4 colour ones, though 5 files precede the 4th.
  out = all_examples(pipeline.make_dataset(config, 'colorization', 'eval', 1, training=False,
                                           num_examples=4), 100)
  np.testing.assert_array_equal(out['image'], every['image'][:4])
  # A split too small for TensorBoard's grid says what the gray photos took from it.
  with pytest.raises(sources.DataSourceError, match=f'^the eval split of npz:{path} has only 6 '
                     r'of the 7 examples asked for \(3 grayscale photos dropped: colorization '
                     r'learns nothing from them\)$'):
    pipeline.first_batch(config, 'colorization', 'eval', 7)
  one = str(tmp_path / 'one_gray.npz')  # One gray photo: 'photo'.
  np.savez(one, train_images=images, eval_images=images[:3])
  with pytest.raises(sources.DataSourceError, match=r'has only 2 of the 3 examples asked for '
                     r'\(1 grayscale photo dropped: colorization learns nothing from them\)$'):
    pipeline.first_batch(color_config(source=f'npz:{one}', image_size=32, chroma_size=8),
                         'colorization', 'eval', 3)
  # Super-resolution keeps gray photos: they are faces too.
  sr = all_examples(pipeline.make_dataset(sr_config(source=f'npz:{path}', crop='center'),
                                          'super_resolution', 'eval', 1, training=False), 100)
  assert len(sr['highres']) == 9


def sr_training_batches(config, seed=0):
  """The first 16 super-resolution training examples of `config` (two batches of 8)."""
  return all_examples(pipeline.make_dataset(config, 'super_resolution', 'train', 8, training=True,
                                            seed=seed), 2)


def assert_eval_split_not_augmented(config):
  """The eval examples of `config` are those of the same source without augmentation."""
  evaluated, plain = (all_examples(pipeline.make_dataset(c, 'super_resolution', 'eval', 8,
                                                         training=False), 1)
                      for c in (config, sr_config()))
  np.testing.assert_array_equal(evaluated['highres'], plain['highres'])


def test_random_zoom_only_in_training_and_on_both_images():
  config = sr_config(random_zoom=0.6, shuffle_buffer=1)
  plain = sr_training_batches(sr_config(shuffle_buffer=1))
  zoomed = sr_training_batches(config, seed=5)
  changed = [not np.array_equal(a, b) for a, b in zip(plain['highres'], zoomed['highres'])]
  assert sum(changed) >= 12
  # The input is always the zoomed truth area-downsampled: the pair stays consistent.
  for highres, lowres in zip(zoomed['highres'], zoomed['lowres']):
    np.testing.assert_allclose(helpers.block_means(highres, 4), lowres, atol=0.51)
  assert_eval_split_not_augmented(config)
  # The zooms follow the run's seed (a resumed run, seeded anew, zooms anew) ...
  other = sr_training_batches(config, seed=6)
  assert not np.array_equal(other['highres'], zoomed['highres'])
  # ... and with random_zoom_probability only that share of the examples is zoomed.
  some = sr_training_batches(sr_config(random_zoom=0.6, random_zoom_probability=0.5,
                                       shuffle_buffer=1), seed=5)
  changed = [not np.array_equal(a, b) for a, b in zip(plain['highres'], some['highres'])]
  assert 3 <= sum(changed) <= 13, changed  # About half of 16.


def test_random_grayscale_only_in_super_resolution_training_and_on_both_images():
  plain = sr_training_batches(sr_config(shuffle_buffer=1))
  config = sr_config(random_grayscale=0.5, shuffle_buffer=1)
  mixed = sr_training_batches(config, seed=5)
  gray = [bool(np.all(h == h[..., :1]) and np.all(l == l[..., :1]))
          for h, l in zip(mixed['highres'], mixed['lowres'])]
  assert 3 <= sum(gray) <= 13, gray  # About half of 16.
  for is_gray, highres, lowres, original in zip(gray, mixed['highres'], mixed['lowres'],
                                                plain['highres']):
    if not is_gray:
      np.testing.assert_array_equal(highres, original)
      continue
    np.testing.assert_allclose(highres[..., 0], np.round(helpers.bt601_luma(original)), atol=1)
    # The gray input is still the gray truth area-downsampled, within rounding.
    np.testing.assert_allclose(helpers.block_means(highres, 4), lowres, atol=1.01)
  assert_eval_split_not_augmented(config)


def test_training_images_smaller_than_the_examples_are_counted_in_a_warning(tmp_path, caplog):
  # 16 x 16 thumbnails trained a 32 x 32 model from enlarged, blurred targets without a word.
  from PIL import Image
  for split in ('train', 'eval'):
    (tmp_path / split).mkdir()
    for k in range(8):
      shape = [16, 40, 3] if k < 3 else [32, 32, 3]  # Its short side decides: 16 < 32.
      Image.fromarray(random_image(shape, seed=k)).save(tmp_path / split / f'{k}.png')
  caplog.set_level('WARNING')
  source = f'folder:{tmp_path}'
  assert pipeline.warn_if_enlarged(sr_config(source=source), 'super_resolution') == 3
  said = [r.getMessage() for r in caplog.records]
  assert said == [f'3 of the first 8 training images of {source} are smaller than the 32 x 32 '
                  'examples made from them (e.g. 16 x 40): enlarged, they hold less detail than '
                  'the model learns to draw']
  assert pipeline.warn_if_enlarged(sr_config(source=source, highres_size=16),
                                   'super_resolution') == 0
  assert pipeline.warn_if_enlarged(color_config(source=source, image_size=33), 'colorization') == 8
  assert pipeline.warn_if_enlarged(sr_config(), 'super_resolution') == 0  # 32 x 32 faces.
  assert len(caplog.records) == 2


def test_data_config_values_the_pipeline_cannot_use_are_named():
  pipeline.check_data_config(sr_config(random_zoom=0.6, random_zoom_probability=0.5),
                             'super_resolution')
  pipeline.check_data_config(color_config(random_crop=1.0), 'colorization')
  pipeline.check_data_config(color_config(shuffle_buffer=1), 'colorization')  # 1: no shuffling.
  for config, task, message in (
      (sr_config(crop='middle'), 'super_resolution', "data.crop must be 'celeba', 'center' or"),
      (color_config(shuffle_buffer=-1), 'colorization', 'data.shuffle_buffer must be >= 1'),
      (sr_config(random_zoom_probability=-0.1), 'super_resolution', 'random_zoom_probability'),
      (sr_config(lowres_size=0, highres_size=0), 'super_resolution', r'got 0 and 0$'),
      (sr_config(lowres_size=8, highres_size=40), 'super_resolution', r'got 40 and 8$'),
      (color_config(random_crop=2.0), 'colorization', r'random_crop must be in \[0, 1\]'),
      (color_config(source='photos'), 'colorization', "data.source 'photos' is not one of")):
    with pytest.raises((ValueError, sources.DataSourceError), match=message):
      pipeline.check_data_config(config, task)
