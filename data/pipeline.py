"""The tf.data input functions of both papers.

  super-resolution examples:  {'lowres': uint8 [8, 8, 3], 'highres': uint8 [32, 32, 3]}
  colorization examples:      {'gray': uint8 [S, S, 1], 'chroma': int32 [28, 28, 2], 'image': uint8 [S, S, 3]}

`make_dataset` builds a batched pipeline for one input pipeline (shuffle before repeat, static batch
shapes with `drop_remainder=True`, prefetch); `input_fn` wraps it for
`strategy.distribute_datasets_from_function`, which hands each pipeline its `tf.distribute.InputContext`.
"""
import functools
import threading

from absl import logging
import numpy as np
import tensorflow as tf

from data import sources
from data import transforms

TASKS = ('super_resolution', 'colorization')


CROPS = ('celeba', 'center', 'none')  # `crop`'s.


def check_crop(how):
  """ValueError unless `how` is one of CROPS."""
  if how not in CROPS:
    raise ValueError(f"data.crop must be 'celeba', 'center' or 'none', got {how!r}")


def crop(image, how):
  """'celeba' (central 138 x 138 of aligned CelebA), 'center' (largest centred square) or 'none'."""
  check_crop(how)
  if how == 'celeba':
    return transforms.celeba_crop(image)
  if how == 'center':
    return transforms.center_square_crop(image)
  return image


def super_resolution_example(image, highres_size=32, lowres_size=8, crop_how='center',
                             method='area'):
  """uint8 [H, W, 3] -> {'lowres': uint8 [8, 8, 3], 'highres': uint8 [32, 32, 3]}.

  The high-resolution target is the cropped image resized to 32 x 32; the input is that target
  area-downsampled to 8 x 8 (each input pixel is the mean of a 4 x 4 block), as in Dahl et al. 2017.
  """
  highres = transforms.to_uint8(transforms.resize(crop(image, crop_how), highres_size, method))
  lowres = transforms.to_uint8(transforms.resize(highres, lowres_size, 'area'))
  return {'lowres': lowres, 'highres': highres}


def colorization_example(image, image_size=224, chroma_size=28, num_bins=32, crop_how='center'):
  """uint8 [H, W, 3] -> {'gray', 'chroma', 'image'} (PixColor Sec. 3.1).

  'image' is the cropped photo at image_size, 'gray' its BT.601 luminance, 'chroma' its Cb, Cr
  area-downsampled to chroma_size and quantized to num_bins bins each (channel 0 = Cb, 1 = Cr) by
  `transforms.quantize_chroma` (neutral gray is the centre of bin num_bins / 2); decode with
  `transforms.dequantize_chroma`.
  """
  rgb = transforms.to_uint8(transforms.resize(crop(image, crop_how), image_size, 'area'))
  y, cbcr = transforms.split_luma_chroma(rgb, chroma_size)
  return {'gray': transforms.to_uint8(y),
          'chroma': transforms.quantize_chroma(cbcr, num_bins),
          'image': rgb}


def check_data_config(data_config, task):
  """Raises ValueError naming a `data` value the pipeline cannot use (they were tracebacks from
  tf.data or TensorFlow's resize, or ran as something else: a zoom of 1.5, a probability of 2), or
  DataSourceError for a source string of no known form."""
  sources.check_syntax(data_config.source)
  check_crop(data_config.get('crop', 'center'))
  if data_config.get('shuffle_buffer', 1) < 1:
    raise ValueError(f'data.shuffle_buffer must be >= 1, got {data_config.shuffle_buffer}')
  fractions = {'random_zoom': 'super_resolution', 'random_crop': 'colorization'}
  for key, used_by in fractions.items():  # 0: off; else the smallest side kept, a fraction.
    value = data_config.get(key, 0.0) or 0.0
    if task == used_by and not 0 <= value <= 1:
      raise ValueError(f'data.{key} must be in [0, 1] (0: off), got {value}')
  for key in ('random_zoom_probability', 'random_grayscale'):
    value = data_config.get(key, 0.0)
    if task == 'super_resolution' and not 0 <= value <= 1:
      raise ValueError(f'data.{key} must be a probability in [0, 1], got {value}')
  if task == 'super_resolution':
    method = data_config.get('resize_method', 'area')
    if method not in transforms.RESIZE_METHODS:
      raise ValueError(f'data.resize_method must be one of {", ".join(transforms.RESIZE_METHODS)}, '
                       f'got {method!r}')
    low, high = data_config.get('lowres_size', 8), data_config.get('highres_size', 32)
    if not (low >= 1 and high == 4 * low):  # The conditioning network upsamples 4x.
      raise ValueError(f'data.highres_size must be 4 x data.lowres_size >= 1, got {high} and {low}')


def example_fn(data_config, task):
  """The per-example preprocessing function of `task` configured by `data_config`."""
  if task == 'super_resolution':
    return functools.partial(
        super_resolution_example, highres_size=data_config.highres_size,
        lowres_size=data_config.lowres_size, crop_how=data_config.crop,
        method=data_config.resize_method)
  if task == 'colorization':
    return functools.partial(
        colorization_example, image_size=data_config.image_size,
        chroma_size=data_config.chroma_size, num_bins=data_config.num_bins,
        crop_how=data_config.crop)
  raise ValueError(f'task must be one of {TASKS}, got {task!r}')


# Grayscale photos met by colorization pipelines in this process (see `transforms.colourfulness`).
_gray = {'dropped': 0}
_gray_lock = threading.Lock()


def grayscale_dropped():
  """How many grayscale photos colorization pipelines of this process have dropped so far."""
  with _gray_lock:
    return _gray['dropped']


def _count_gray(is_gray):
  if is_gray:
    with _gray_lock:
      _gray['dropped'] += 1
      n = _gray['dropped']
    if n & (n - 1) == 0:  # 1, 2, 4, 8, ...: counted in the log without flooding it.
      logging.info('dropped a grayscale photo (colorization learns nothing from it): %d so far', n)
  return np.bool_(not is_gray)


def _is_colour(example):
  is_gray = transforms.colourfulness(example['image']) < transforms.GRAY_COLOURFULNESS
  keep = tf.numpy_function(_count_gray, [is_gray], tf.bool, stateful=True)
  keep.set_shape([])
  return keep


def _with_seeds(ds, seed):
  """Pairs each element with its own stateless seed [2] int64 (the same for the same `seed`)."""
  return tf.data.Dataset.zip((ds, tf.data.Dataset.random(seed=seed).batch(2)))


def make_dataset(data_config, task, split, batch_size, *, training, seed=0, input_context=None,
                 num_examples=None):
  """A batched dataset of `task` examples for one input pipeline (`make_dataset_and_size`'s
  dataset: the arguments are its)."""
  return make_dataset_and_size(data_config, task, split, batch_size, training=training, seed=seed,
                               input_context=input_context, num_examples=num_examples)[0]


def make_dataset_and_size(data_config, task, split, batch_size, *, training, seed=0,
                          input_context=None, num_examples=None):
  """A batched dataset of `task` examples for one input pipeline, and the size of the split.

  Args:
    data_config: a config's `data` field (`source`, `crop`, sizes, `shuffle_buffer`, `cache`,
      `random_flip`, `random_crop`, ...).
    task: 'super_resolution' or 'colorization'.
    split: 'train' or 'eval'.
    batch_size: examples per batch of *this* pipeline (per replica under a strategy).
    training: shuffle (before repeat), repeat forever and augment (`random_flip`: flip every example
      left-right with probability 1/2; `random_crop` > 0, colorization only: a random square of
      side [random_crop, 1] x the short side instead of `crop`; `random_zoom` > 0,
      super-resolution only: with probability `random_zoom_probability`, the central square of
      side [random_zoom, 1] x the cropped image's, a tighter framing; `random_grayscale` > 0,
      super-resolution only: with that probability the example's images turned to gray, so the
      model meets black-and-white photos). Otherwise one ordered pass, never augmented.
    seed: seed of file order, shuffling and augmentation; the same seed gives the same batches.
    input_context: `tf.distribute.InputContext`; the dataset is then this pipeline's shard.
    num_examples: keep only the first N examples of the split (evaluation on a subset), N in all
      over the input pipelines; None or 0: the whole split.
  Returns:
    (`tf.data.Dataset` of dicts of batched tensors with static shapes, the number of examples the
    source's split holds before sharding and before grayscale photos are dropped, or None where
    the source does not say).

  Colorization pipelines drop grayscale photos in every split and source (`_is_colour`), before
  `num_examples` is counted; `grayscale_dropped()` says how many.
  """
  if num_examples is not None and num_examples < 0:  # tf.data's take(-3) is the whole split.
    raise ValueError(f'num_examples must be >= 0 (0 or None: the whole split), got {num_examples}')
  ds, count = sources.load(data_config.source, split, data_config, task=task,
                           input_context=input_context, shuffle_files=training, seed=seed)
  if task == 'colorization':
    ds = ds.filter(_is_colour)
  if num_examples:
    if input_context is not None and input_context.num_input_pipelines > 1:
      # Example k of the split went to pipeline k % n: the first N of the split are this pipeline's
      # share of range(N), not N of its own.
      num_examples = len(range(input_context.input_pipeline_id, num_examples,
                               input_context.num_input_pipelines))
    ds = ds.take(num_examples)
  preprocess = example_fn(data_config, task)
  cache = data_config.get('cache', False)
  random_crop = float(data_config.get('random_crop', 0.0) or 0.0) if training else 0.0
  random_zoom = float(data_config.get('random_zoom', 0.0) or 0.0) if training else 0.0
  if random_zoom and task == 'super_resolution':
    # Drawn anew every epoch, like the colorization crops: what is cached is the photo. The zoomed
    # square is resized to the high-resolution size (enlarged, for 32 x 32 sources) by
    # data.resize_method, then area-downsampled to the input as always.
    if cache:
      ds = ds.cache()
    probability = float(data_config.get('random_zoom_probability', 1.0))
    ds = _with_seeds(ds, seed + 2).map(
        lambda ex, s: preprocess(transforms.random_zoom(
            crop(ex['image'], data_config.crop), s, random_zoom, probability), crop_how='none'),
        num_parallel_calls=tf.data.AUTOTUNE)
  elif random_crop and task == 'colorization':
    # The crop must be drawn anew every epoch, so what is cached is the decoded photo.
    if cache:
      ds = ds.cache()
    ds = _with_seeds(ds, seed).map(
        lambda ex, s: preprocess(transforms.random_square_crop(ex['image'], s, random_crop),
                                 crop_how='none'),
        num_parallel_calls=tf.data.AUTOTUNE)
  else:
    ds = ds.map(lambda ex: preprocess(ex['image']), num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
      ds = ds.cache()  # Small sources: decode and resize once, not every epoch.
  if training:
    buffer = data_config.get('shuffle_buffer', 10_000)
    if count:
      buffer = min(buffer, count)
    ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True).repeat()
    if data_config.get('random_flip', False):
      ds = _with_seeds(ds, seed + 1).map(lambda ex, s: transforms.random_flip(ex, s),
                                         num_parallel_calls=tf.data.AUTOTUNE)
    gray = float(data_config.get('random_grayscale', 0.0) or 0.0)
    if gray and task == 'super_resolution':
      ds = _with_seeds(ds, seed + 3).map(lambda ex, s: transforms.random_grayscale(ex, s, gray),
                                         num_parallel_calls=tf.data.AUTOTUNE)
  ds = ds.batch(batch_size, drop_remainder=True)
  return ds.prefetch(tf.data.AUTOTUNE), count


def input_fn(data_config, task, split, global_batch_size, *, training, seed=0, num_examples=None):
  """A function of `tf.distribute.InputContext` for `strategy.distribute_datasets_from_function`.

  The global batch is split evenly over replicas; each input pipeline reads its own shard.
  """

  def dataset_fn(input_context=None):
    batch_size = global_batch_size
    if input_context is not None:
      batch_size = input_context.get_per_replica_batch_size(global_batch_size)
    return make_dataset(data_config, task, split, batch_size, training=training, seed=seed,
                        input_context=input_context, num_examples=num_examples)

  return dataset_fn


def example_size(data_config, task):
  """The side the examples of `task` are made at: super-resolution's high-resolution target,
  colorization's photo."""
  return data_config.highres_size if task == 'super_resolution' else data_config.image_size


def warn_if_enlarged(data_config, task, count=64):
  """Logs a warning when some of the first `count` training images are smaller than the examples
  made from them (`example_size`): the resize enlarges them, so the targets the model learns from
  hold less detail than it is asked to draw (e.g. 16 x 16 thumbnails for 32 x 32 super-resolution).
  Returns the number of those images (an enlarging crop or zoom, `random_crop`/`random_zoom`, is by
  design and not counted)."""
  size = example_size(data_config, task)
  ds, _ = sources.load(data_config.source, 'train', data_config, task=task)
  shapes = [tuple(ex['image'].shape[:2]) for ex in ds.take(count)]
  small = [s for s in shapes if min(s) < size]
  if small:
    logging.warning('%d of the first %d training images of %s are smaller than the %d x %d '
                    'examples made from them (e.g. %d x %d): enlarged, they hold less detail than '
                    'the model learns to draw', len(small), len(shapes), data_config.source, size,
                    size, *small[0])
  return len(small)


def first_batch(data_config, task, split, batch_size):
  """The first `batch_size` examples of `split`, in order, as a dict of numpy arrays.

  The fixed batch the training loop draws its TensorBoard image grids from.

  Raises:
    sources.DataSourceError: the split has fewer examples.
  """
  ds = make_dataset(data_config, task, split, batch_size, training=False)
  try:
    return {k: v.numpy() for k, v in next(iter(ds)).items()}
  except StopIteration:  # Fewer than one batch, so a small split: counting it is quick.
    dropped = grayscale_dropped()
    count = sum(1 for _ in make_dataset(data_config, task, split, 1, training=False))
    dropped = grayscale_dropped() - dropped
    gray = (f' ({dropped} grayscale photo{"s" * (dropped != 1)} dropped: colorization learns '
            'nothing from them)') if dropped else ''
    raise sources.DataSourceError(
        f'the {split} split of {data_config.source} has only {count} of the {batch_size} '
        f'examples asked for{gray}') from None
