"""Serving both papers' models as SavedModels that run without this project: the shared pieces.

  in_chunks      samples a request of any batch size B with programs compiled for a few static
                 batch sizes: floor(B / N) chunks of N, then the rest padded to the smallest power of
                 two (or N) that holds it. XLA compiles the cached sampler for one static batch size,
                 but a server gets requests of any size; one signature for every B, at most
                 1 + ceil(log2 N) compilations (each on first use), the memory of one chunk, and no
                 chunk doing more than twice the work it must. (A signature fixed to N makes every
                 caller pad and a request of one image pay for N; one concrete function per batch size
                 cannot be a single serving signature.)
  checked_*      assertions on the signature's scalar inputs that run before any sampling;
  save, verify   writing the SavedModel (only the variables the function reads, as plain
                 tf.Variables: loading needs no Keras) and checking what it samples.
The `export` command line of both papers is `pixel_recursive.export_command`.
"""
import contextlib
import time

from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf

from pixel_recursive.export_command import DEFAULT_BATCH_SIZE  # pylint: disable=unused-import

SIGNATURE = 'serving_default'


def chunk_sizes(batch_size):
  """The static batch sizes the exported sampler compiles for: powers of two below N, then N."""
  sizes, size = [], 1
  while size < batch_size:
    sizes.append(size)
    size *= 2
  return sizes + [batch_size]


def checked_temperature(temperature):
  """`temperature`, once an assertion that it is positive and finite has run."""
  ok = tf.logical_and(temperature > 0, tf.math.is_finite(temperature))
  check = tf.debugging.Assert(
      ok, ['temperature must be a positive finite number, got', temperature])
  with tf.control_dependencies([check]):
    return tf.identity(temperature)


def checked_guidance(guidance):
  """`guidance`, once an assertion that it is finite and >= 0 has run."""
  ok = tf.logical_and(guidance >= 0, tf.math.is_finite(guidance))
  check = tf.debugging.Assert(ok, ['guidance must be a finite number >= 0, got', guidance])
  with tf.control_dependencies([check]):
    return tf.identity(guidance)


def checked_seed(seed, batch):
  """int32 seed [] or [B] (or [1]) -> the seeds as a vector [1] (one for the batch) or [B], once
  assertions that the shape is one of these have run."""
  checks = [tf.debugging.assert_less_equal(
      tf.rank(seed), 1, message='seed must be a scalar or a vector of one seed per example')]
  with tf.control_dependencies(checks):
    flat = tf.reshape(seed, [-1])
  size = tf.size(flat)
  checks = [tf.debugging.Assert(
      tf.logical_or(tf.equal(size, 1), tf.equal(size, batch)),
      ['seed must be a scalar or have one entry per example: got', size, 'seeds for', batch,
       'examples'])]
  with tf.control_dependencies(checks):
    return tf.identity(flat)


def per_example_keys(seed, batch):
  """`sampling.example_keys` as graph ops: int32 seed [] or [B] (or [1]) -> keys int32 [B, 2]."""
  flat = checked_seed(seed, batch)
  return tf.cond(
      tf.equal(tf.size(flat), 1),
      lambda: tf.stack([tf.fill([batch], flat[0]), tf.range(batch)], -1),
      lambda: tf.stack([flat, tf.zeros_like(flat)], -1))


def in_chunks(sample, inputs, batch_size, example_spec):
  """Applies `sample` (static batch sizes only) to tensors of any batch B, in chunks.

  Args:
    sample: function of a tuple of tensors whose static batch dimension is one of
      `chunk_sizes(batch_size)` -> one tensor with that batch dimension.
    inputs: tuple of tensors [B, ...] (B may be unknown).
    batch_size: N, the largest chunk.
    example_spec: `tf.TensorSpec` of one example of sample's output.
  Returns:
    sample's outputs of every example, [B, ...], in order.
  """
  sizes = chunk_sizes(batch_size)
  shape, dtype = example_spec.shape.as_list(), example_spec.dtype
  batch = tf.shape(inputs[0])[0]
  full = batch // batch_size

  # floor(B / N) chunks of N, one after another (memory stays that of one chunk).
  def split(x):
    return tf.reshape(x[:full * batch_size], tf.concat([[full, batch_size], tf.shape(x)[1:]], 0))

  head = tf.map_fn(sample, tuple(split(x) for x in inputs), parallel_iterations=1,
                   fn_output_signature=tf.TensorSpec([batch_size] + shape, dtype))
  head = tf.reshape(head, [-1] + shape)

  # The remaining B mod N examples, padded to the smallest chunk size that holds them.
  rest = tuple(x[full * batch_size:] for x in inputs)
  count = batch - full * batch_size

  def padded(size):
    def branch():
      chunk = tuple(tf.ensure_shape(tf.pad(x, [[0, size - count]] + [[0, 0]] * (x.shape.rank - 1)),
                                    [size] + x.shape[1:].as_list()) for x in rest)
      return sample(chunk)[:count]
    return branch

  def empty():
    return tf.zeros([0] + shape, dtype)

  index = tf.where(count > 0, 1 + tf.reduce_sum(tf.cast(tf.constant(sizes) < count, tf.int32)), 0)
  tail = tf.switch_case(index, [empty] + [padded(s) for s in sizes])
  return tf.ensure_shape(tf.concat([head, tail], 0), [None] + shape)


@contextlib.contextmanager
def _quiet_logging():
  """WARNING and above only, then the caller's logging exactly as it was.

  The loggers' own levels are restored, not absl's verbosity (restoring that would give absl's
  logger a level of its own, WARNING before absl's start-up, for good), and so is whether --verbosity
  counts as set: `tf.saved_model.save` itself sets it to its current value, which would keep the
  start-up of a later absl command (a notebook, a test) from raising it to INFO."""
  loggers = (logging.get_absl_logger(), tf.get_logger())
  levels = [logger.level for logger in loggers]
  verbosity = flags.FLAGS['verbosity']
  was_default = verbosity.using_default_value
  for logger in loggers:
    logger.setLevel('WARNING')
  try:
    yield
  finally:
    for logger, level in zip(loggers, levels):
      logger.setLevel(level)
    verbosity.using_default_value = was_default


def save(serve, path, batch_size):
  """Traces `serve` (a `tf.function` with an input signature that samples in chunks of
  `batch_size`, see `in_chunks`) and writes it as the `serving_default` signature of a SavedModel.

  Returns:
    the traced concrete function that was saved.
  """
  logging.info('tracing the sampler for chunk sizes %s (XLA compiles each on its first use after '
               'loading)', ', '.join(map(str, chunk_sizes(batch_size))))
  start = time.time()
  concrete = serve.get_concrete_function()
  logging.info('traced in %.1f s', time.time() - start)
  module = tf.Module()
  # Only the variables the function reads are saved, as plain tf.Variables: loading needs no Keras.
  module.weights = list(concrete.variables)
  module.serve = serve
  logging.info('writing %d weights and the graph to %s', len(module.weights), path)
  start = time.time()
  # TensorFlow logs INFO lines while saving (one names every variable the chunk loop captures) that
  # say nothing a user can act on.
  with _quiet_logging():
    tf.saved_model.save(module, path, signatures={SIGNATURE: concrete})
  logging.info('wrote the SavedModel in %.1f s', time.time() - start)
  return concrete


def verify(path, inputs, want, what):
  """Loads the SavedModel at `path`, calls its signature with `inputs` and checks that it returns
  the images `want` (what the model itself makes of the same inputs).

  Args:
    inputs: {signature input name: value}.
    want: uint8 numpy images.
    what: what the check does, for the log ("samples one image").
  Raises:
    RuntimeError: the images differ (a bug, not a user error).
  """
  logging.info('verifying: loading %s; it %s (compiling with XLA)', path, what)
  serve = tf.saved_model.load(path).signatures[SIGNATURE]
  got = serve(**{k: tf.constant(v) for k, v in inputs.items()})['images'].numpy()
  if not np.array_equal(got, want):
    raise RuntimeError(f'the export at {path} does not equal the model: '
                       f'{int((got != want).sum())} of {got.size} sub-pixels differ')
  logging.info('verified: the export %s as the model does', what)
