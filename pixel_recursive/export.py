r"""Exports a trained super-resolution model as a SavedModel that serves without this project.

  python -m pixel_recursive.export --workdir=/tmp/faces_tiny --output=/tmp/faces_export
  saved_model_cli show --dir /tmp/faces_export --tag_set serve --signature_def serving_default

Without --workdir the demo checkpoint that `pixel_recursive.upsample` uses is exported. The command
restores the newest checkpoint, traces the sampler, writes the SavedModel to --output (a new or
empty folder, or an earlier export, which is replaced), then (unless --noverify) loads what it wrote
and checks that one image it samples equals `SuperResolution.sample`'s.

The `serving_default` signature (a standard `tensorflow/serving/predict` one):

  inputs  lowres       uint8   [B, 8, 8, 3]  any B >= 0
          temperature  float32 []            T > 0: sub-pixels are drawn from softmax(logits / T)
          seed         int32   [] or [B]     a scalar s gives example b the key (s, b), a vector
                                             gives it (seed[b], 0); a seed of shape [1] is a scalar
  output  images       uint8   [B, 32, 32, 3]

Its images are exactly those of `SuperResolution.sample(lowres, temperature, seed)`: the same two
XLA programs (conditioning network, cached sampler) and the same counter-based noise
(`pixel_recursive.sampling`), so an example's image depends only on its input, its key and T, never
on the batch it came in. (`upsample --seed=S` seeds input i, sample k with
`sampling.derive_seed(S, i, k)`; pass those as per-example seeds to reproduce its PNGs.)

Using it, with nothing but TensorFlow installed:

  import tensorflow as tf
  serve = tf.saved_model.load('/tmp/faces_export').signatures['serving_default']
  images = serve(lowres=tf.constant(lowres),             # uint8 [B, 8, 8, 3]
                 temperature=tf.constant(0.9),
                 seed=tf.constant(0))['images']          # uint8 [B, 32, 32, 3]

from a shell, with the inputs in a .npy file:

  saved_model_cli run --dir /tmp/faces_export --tag_set serve --signature_def serving_default \
      --inputs lowres=lowres.npy --input_exprs 'temperature=0.9;seed=0' --outdir /tmp/upsampled

or with TensorFlow Serving (REST, columnar: {"inputs": {"lowres": [...], "temperature": 0.9,
"seed": 0}}). The first call of each chunk size below compiles the sampler with XLA (seconds for a
small model, longer for the paper's); later calls in the same process reuse the compiled program.

The batch dimension. XLA compiles the cached sampler for one static batch size, but a server gets
requests of any size. So the signature takes any B and the exported graph samples it in chunks:
floor(B / N) full chunks of N = --batch_size, one after another, then the remaining B mod N examples
padded to the smallest of 1, 2, 4, ..., N that holds them, so no chunk does more than twice the work
it must. That is one signature for every B, at most 1 + ceil(log2 N) compilations (each on first
use), and memory of one chunk. The alternatives serve worse: a signature fixed to N makes every
caller pad and a request of one image pay for N; padding every request to N inside does the same
silently; one concrete function per batch size cannot be a single serving signature. Pick N near
the batch your hardware samples fastest per image (8-16 on a CPU, more on a GPU).

A temperature that is not a positive finite number fails the call with InvalidArgumentError
("temperature must be a positive finite number, got ..."), as `SuperResolution.sample` raises
ValueError: T -> 0 approaches the argmax but T = 0 divides by zero, and quietly clipping it would
sample something other than what was asked. A seed of the wrong shape fails the same way. The checks
run before any sampling.

Exit status: 0 on success, 2 on a usage error (one line on stderr).
"""
import os
import time

from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf

from pixel_recursive import cli

DEFAULT_BATCH_SIZE = 8
SIGNATURE = 'serving_default'
LOWRES, HIGHRES = 8, 32
# What a folder may hold for --output to replace it (what tf.saved_model.save writes).
_SAVED_MODEL_FILES = {'saved_model.pb', 'fingerprint.pb', 'variables', 'assets'}

INPUT_SIGNATURE = (
    tf.TensorSpec([None, LOWRES, LOWRES, 3], tf.uint8, name='lowres'),
    tf.TensorSpec([], tf.float32, name='temperature'),
    tf.TensorSpec(None, tf.int32, name='seed'),  # Unknown rank: a scalar or one per example.
)


# ----------------------------------------------------------------------------------------------
# Pieces of the exported graph.
# ----------------------------------------------------------------------------------------------
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


def serving_function(model, batch_size):
  """The `tf.function` (with its input signature) that the SavedModel serves.

  Args:
    model: a restored `pixel_recursive.model.SuperResolution`.
    batch_size: N, the largest static batch the sampler is compiled for (see the module docstring).
  """
  # The same two XLA programs `SuperResolution.sample` runs (conditioning network, then the cached
  # sampler with its logits A), so the exported images equal its images bit for bit.
  conditioning = tf.function(model.conditioning, jit_compile=True)
  cached = model.sampler.compiled('cached')

  @tf.function(input_signature=INPUT_SIGNATURE)
  def serve(lowres, temperature, seed):
    temperature = checked_temperature(temperature)
    batch = tf.shape(lowres)[0]

    def sample(chunk):
      lowres, keys = chunk
      a = conditioning(lowres)
      size, height, width = a.shape[:3]
      values = cached(tf.zeros([size, height, width, 0]), a, temperature, keys)
      return tf.cast(values, tf.uint8)

    images = in_chunks(sample, (lowres, per_example_keys(seed, batch)), batch_size,
                       tf.TensorSpec([HIGHRES, HIGHRES, 3], tf.uint8))
    return {'images': images}

  return serve


# ----------------------------------------------------------------------------------------------
# Writing and checking an export.
# ----------------------------------------------------------------------------------------------
def export(model, path, batch_size=DEFAULT_BATCH_SIZE):
  """Writes `model` as a SavedModel with the `serving_default` signature to `path`.

  Returns:
    the traced concrete function that was saved.
  """
  return save(serving_function(model, batch_size), path, batch_size)


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
  verbosity, tf_level = logging.get_verbosity(), tf.get_logger().level
  logging.set_verbosity(logging.WARNING)
  tf.get_logger().setLevel('WARNING')
  try:
    tf.saved_model.save(module, path, signatures={SIGNATURE: concrete})
  finally:
    logging.set_verbosity(verbosity)
    tf.get_logger().setLevel(tf_level)
  logging.info('wrote the SavedModel in %.1f s', time.time() - start)
  return concrete


def verify(path, model, seed=0, temperature=1.0):
  """Loads the export at `path` and checks that it samples what `model.sample` samples.

  Raises:
    RuntimeError: the images differ (a bug, not a user error).
  """
  lowres = np.random.RandomState(seed).randint(0, 256, [1, LOWRES, LOWRES, 3]).astype(np.uint8)
  logging.info('verifying: loading %s and sampling one image (compiles the sampler with XLA)', path)
  start = time.time()
  serve = tf.saved_model.load(path).signatures[SIGNATURE]
  got = serve(lowres=tf.constant(lowres), temperature=tf.constant(temperature, tf.float32),
              seed=tf.constant(seed, tf.int32))['images'].numpy()
  logging.info('sampled in %.1f s; sampling the same image with the restored model',
               time.time() - start)
  want = model.sample(lowres, temperature=temperature, seed=seed).numpy()
  if not np.array_equal(got, want):
    raise RuntimeError(f'the export at {path} samples different images than the model: '
                       f'{int((got != want).sum())} of {got.size} sub-pixels differ')
  logging.info('verified: the export samples the same image as SuperResolution.sample')


def check_export_dir(path):
  """Creates --output, or raises UsageError if it holds anything but an earlier SavedModel."""
  if os.path.isdir(path):
    entries = set(os.listdir(path))
    if entries and not (entries <= _SAVED_MODEL_FILES and 'saved_model.pb' in entries):
      raise cli.UsageError(f'--output {path} is not empty and holds no SavedModel: give a new or '
                           'empty folder (an earlier export there is replaced)')
  cli.check_output_dir(path)


# ----------------------------------------------------------------------------------------------
# Command line.
# ----------------------------------------------------------------------------------------------
def define_flags(demo='pixel_recursive/demo/faces'):
  flags.DEFINE_string('workdir', None, 'Training workdir to export (config.json + '
                      f'checkpoints/). Default: the demo checkpoint in {demo}.')
  flags.DEFINE_string('output', None, 'Folder for the SavedModel (created if missing; must be '
                      'empty or hold an earlier export, which is replaced).')
  flags.DEFINE_integer('batch_size', DEFAULT_BATCH_SIZE, 'Largest batch the sampler is compiled '
                       'for: requests are sampled in chunks of it, the remainder padded to a power '
                       'of two (see the module docstring).', lower_bound=1)
  flags.DEFINE_boolean('verify', True, 'Load the written SavedModel and check that it samples '
                       'what the model samples (compiles the sampler once more).')


def main(argv):
  if len(argv) > 1:
    raise cli.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  from pixel_recursive import model as model_lib
  FLAGS = flags.FLAGS
  if not FLAGS.output:
    raise cli.UsageError('--output is required')
  workdir = cli.resolve_workdir(FLAGS.workdir, model_lib.DEMO_WORKDIR)
  # A missing or foreign workdir is reported before any slow work and before --output is created.
  name = cli.read_config(workdir).model.get('name', 'super_resolution')
  if name != 'super_resolution':
    hint = 'export it with python -m pixcolor.export' if name == 'pixcolor' else (
        'only sampling models can be exported')
    raise cli.UsageError(f'{workdir} holds a {name} model, not a super_resolution one: {hint}')
  check_export_dir(FLAGS.output)
  model, _, step = cli.restore(workdir, model_lib.build_model)
  export(model, FLAGS.output, FLAGS.batch_size)
  if FLAGS.verify:
    verify(FLAGS.output, model)
  print(f'exported the step-{step} model from {workdir} to {FLAGS.output} '
        f'(signature {SIGNATURE}: lowres, temperature, seed -> images)', flush=True)


if __name__ == '__main__':
  define_flags()
  cli.run(main)
