r"""Exports a trained PixColor model as a SavedModel that colorizes without this project.

  python -m pixcolor.export --workdir=/tmp/pixcolor_tiny --output=/tmp/pixcolor_export
  saved_model_cli show --dir /tmp/pixcolor_export --tag_set serve --signature_def serving_default

Without --workdir the demo checkpoint that `pixcolor.colorize` uses (pixcolor/demo/photos) is
exported. The command restores the newest checkpoint, traces the colorizer, writes the SavedModel to
--output (a new or empty folder, or an earlier export, which is replaced), then (unless --noverify)
loads what it wrote and checks that it colours one odd-sized gray image exactly as
`PixColor.colorize` does.

The `serving_default` signature (a standard `tensorflow/serving/predict` one):

  inputs  gray         uint8   [B, H, W, 1]  any B >= 0 and any H, W >= 1 (one size per call)
          temperature  float32 []            T > 0: chroma bins are drawn from softmax(logits / T)
          seed         int32   [] or [B]     see below; a seed of shape [1] is a scalar
  output  images       uint8   [B, H, W, 3]  RGB whose BT.601 luminance is the input's (up to
                                             rounding)

Its images are exactly those of `PixColor.colorize` with one sample:

  serve(gray, T, seed=s)[b]            == model.colorize(gray, 1, T, s)[0, b]
  serve(gray, T, seed=[s_0..s_B-1])[b] == model.colorize(gray[b:b + 1], 1, T, s_b)[0, 0]

that is, a scalar seed colours the batch as `colorize` does (example b sampled with
`sampling.derive_seed(s, b, 0)`) and a vector colours each example as `colorize` would colour it
alone with its seed, so an example's colouring depends only on its input, T and its seed (and, for
a scalar seed, its row b), never on the rest of the batch. The steps are those of `colorize`: Y
resized to the network's S x S (area when shrinking, bilinear otherwise), the same three XLA
programs (conditioning network, cached chroma sampler, refinement network) on chunks of it, the
chroma resized back to H x W and put on the original Y.

Several colourings of one photo: repeat it along the batch with different seeds, e.g.
gray=[g, g, g, g] and seed=[0, 1, 2, 3]. (There is no `num_samples` input: a serving signature's
outputs share the batch dimension of its inputs, so K colourings per input would have to come back
as K * B rows, which batching servers cannot split.) Sample 0 of `colorize` is reproduced as
above, and so is the NAME_sample0.png that `pixcolor.colorize --seed=S` writes for its b-th input
(example b of a call with seed S); its samples k >= 1, seeded `derive_seed(S, b, k)`, have no
simple counterpart here.

Using it, with nothing but TensorFlow installed:

  import tensorflow as tf
  serve = tf.saved_model.load('/tmp/pixcolor_export').signatures['serving_default']
  images = serve(gray=tf.constant(gray),                 # uint8 [B, H, W, 1]
                 temperature=tf.constant(1.0),
                 seed=tf.constant(0))['images']          # uint8 [B, H, W, 3]

from a shell, with the inputs in a .npy file:

  saved_model_cli run --dir /tmp/pixcolor_export --tag_set serve --signature_def serving_default \
      --inputs gray=gray.npy --input_exprs 'temperature=1.0;seed=0' --outdir /tmp/colorized

or with TensorFlow Serving (REST, columnar: {"inputs": {"gray": [...], "temperature": 1.0,
"seed": 0}}). A colour photo's Y is 0.299 R + 0.587 G + 0.114 B, rounded to uint8.

The batch dimension is handled as in `pixel_recursive.export` (whose chunking this command shares):
the network-size images are sampled in floor(B / N) chunks of N = --batch_size, then the remainder
padded to the smallest power of two (or N) that holds it; every chunk size compiles on its first
use after loading. The input size H x W costs no compilation: the compiled programs only ever see
S x S, and resizing to and from it runs as ordinary TensorFlow ops.

A temperature that is not a positive finite number, or a seed that is neither a scalar nor one per
example, fails the call with InvalidArgumentError before any sampling.

Exit status: 0 on success, 2 on a usage error (one line on stderr).
"""
from absl import flags
from absl import logging
import numpy as np

# pixel_recursive first: it imports TensorFlow with its C++ start-up chatter on stderr silenced,
# which the one-line error contract needs (see pixel_recursive/__init__.py).
from pixel_recursive import cli
from pixel_recursive import export as export_lib
import tensorflow as tf  # pylint: disable=g-bad-import-order

from data import transforms  # pylint: disable=g-bad-import-order
from pixcolor import model as model_lib

SIGNATURE = export_lib.SIGNATURE
DEFAULT_BATCH_SIZE = export_lib.DEFAULT_BATCH_SIZE
# `sampling.derive_seed`'s constants.
_SEED_FACTOR, _INDEX_FACTOR, _SEED_MODULUS = 1_000_003, 7919, 2 ** 31 - 1

INPUT_SIGNATURE = (
    tf.TensorSpec([None, None, None, 1], tf.uint8, name='gray'),
    tf.TensorSpec([], tf.float32, name='temperature'),
    tf.TensorSpec(None, tf.int32, name='seed'),  # Unknown rank: a scalar or one per example.
)


# ----------------------------------------------------------------------------------------------
# Pieces of the exported graph: `PixColor.colorize`'s steps for inputs of unknown size.
# ----------------------------------------------------------------------------------------------
def derive_seed(seed, index, sample=0):
  """`sampling.derive_seed` as graph ops (int64 inside, so seed * 1000003 cannot overflow)."""
  value = (tf.cast(seed, tf.int64) * _SEED_FACTOR + tf.cast(index, tf.int64) * _INDEX_FACTOR
           + sample)
  return tf.cast(tf.math.floormod(value, _SEED_MODULUS), tf.int32)


def colorize_keys(seed, batch):
  """Sampler keys int32 [B, 2] of `colorize(..., seed)` for an int32 seed [] (or [1]) or [B].

  A scalar s gives example b the seed derive_seed(s, b, 0), as `colorize` does; a vector gives it
  derive_seed(seed[b], 0, 0), what `colorize` gives that example alone.
  """
  flat = export_lib.checked_seed(seed, batch)
  seeds = tf.cond(tf.equal(tf.size(flat), 1),
                  lambda: derive_seed(flat[0], tf.range(batch)),
                  lambda: derive_seed(flat, 0))
  # `sampling.example_keys` of one seed per example.
  return tf.stack([seeds, tf.zeros_like(seeds)], -1)


def network_gray(gray, size):
  """`model_lib.resize_gray` for an input whose H, W are only known when it runs.

  uint8 [B, H, W, 1] -> uint8 [B, size, size, 1]: unchanged at the size itself, area when both
  sides shrink, bilinear otherwise.
  """
  height, width = tf.shape(gray)[1], tf.shape(gray)[2]
  same = tf.logical_and(tf.equal(height, size), tf.equal(width, size))
  shrink = tf.logical_and(height >= size, width >= size)
  out = tf.case([(same, lambda: tf.identity(gray)),
                 (shrink, lambda: transforms.to_uint8(transforms.resize(gray, size, 'area')))],
                default=lambda: transforms.to_uint8(transforms.resize(gray, size, 'bilinear')),
                exclusive=False)
  return tf.ensure_shape(out, [None, size, size, 1])


def combine(gray, chroma):
  """`PixColor.combine` for an input whose H, W are only known when it runs: the original Y
  [B, H, W, 1] with chroma [B, S, S, 2] (0..255) resized to H x W -> uint8 RGB [B, H, W, 3]."""
  size = tf.shape(gray)[1:3]
  chroma = tf.cond(tf.reduce_all(tf.equal(tf.shape(chroma)[1:3], size)),
                   lambda: tf.identity(chroma),
                   lambda: transforms.resize(chroma, size, 'bilinear'))
  return model_lib.ycbcr_to_rgb_in_gamut(tf.cast(gray, tf.float32), chroma)


def serving_function(model, batch_size):
  """The `tf.function` (with its input signature) that the SavedModel serves.

  Args:
    model: a restored `pixcolor.model.PixColor`.
    batch_size: N, the largest static batch the networks are compiled for (see the module
      docstring).
  """
  # The very XLA programs `colorize` runs (the model's compiled conditioning and refinement
  # networks, the cached sampler), so the exported images equal its images bit for bit.
  conditioning = model._fn('conditioning')  # pylint: disable=protected-access
  refine = model._fn('refine')  # pylint: disable=protected-access
  cached = model.sampler.compiled('cached')
  size, num_bins = model.image_size, model.num_bins

  @tf.function(input_signature=INPUT_SIGNATURE)
  def serve(gray, temperature, seed):
    temperature = export_lib.checked_temperature(temperature)
    batch = tf.shape(gray)[0]

    def sample(chunk):
      small, keys = chunk
      bins = cached(conditioning(small), tf.zeros([0]), temperature, keys)
      return refine(small, transforms.dequantize_chroma(bins, num_bins))

    chroma = export_lib.in_chunks(
        sample, (network_gray(gray, size), colorize_keys(seed, batch)), batch_size,
        tf.TensorSpec([size, size, 2], tf.float32))
    return {'images': combine(gray, chroma)}

  return serve


# ----------------------------------------------------------------------------------------------
# Writing and checking an export.
# ----------------------------------------------------------------------------------------------
def export(model, path, batch_size=DEFAULT_BATCH_SIZE):
  """Writes `model` as a SavedModel with the `serving_default` signature to `path`.

  Returns:
    the traced concrete function that was saved.
  """
  return export_lib.save(serving_function(model, batch_size), path, batch_size)


def verify(path, model, seed=0, temperature=1.0):
  """Loads the export at `path` and checks that it colours an odd-sized, non-square gray image as
  `model.colorize` does.

  Raises:
    RuntimeError: the images differ (a bug, not a user error).
  """
  size = model.image_size
  gray = np.random.RandomState(seed).randint(0, 256, [1, size + 3, size // 2 + 1, 1])
  gray = gray.astype(np.uint8)
  logging.info('verifying: loading %s and colouring one %dx%d image (compiles the networks with '
               'XLA)', path, gray.shape[1], gray.shape[2])
  serve = tf.saved_model.load(path).signatures[SIGNATURE]
  got = serve(gray=tf.constant(gray), temperature=tf.constant(temperature, tf.float32),
              seed=tf.constant(seed, tf.int32))['images'].numpy()
  logging.info('colouring the same image with the restored model')
  want = model.colorize(gray, num_samples=1, temperature=temperature, seed=seed).numpy()[0]
  if not np.array_equal(got, want):
    raise RuntimeError(f'the export at {path} colours differently than the model: '
                       f'{int((got != want).sum())} of {got.size} sub-pixels differ')
  logging.info('verified: the export colours the same image as PixColor.colorize')


# ----------------------------------------------------------------------------------------------
# Command line.
# ----------------------------------------------------------------------------------------------
def main(argv):
  if len(argv) > 1:
    raise cli.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  FLAGS = flags.FLAGS
  if not FLAGS.output:
    raise cli.UsageError('--output is required')
  workdir = cli.resolve_workdir(FLAGS.workdir, model_lib.DEMO_WORKDIR)
  # A missing or foreign workdir is reported before any slow work and before --output is created.
  name = cli.read_config(workdir).get('model', {}).get('name', 'super_resolution')
  if name != 'pixcolor':
    hint = ('export it with python -m pixel_recursive.export' if name == 'super_resolution'
            else 'only sampling models can be exported')
    raise cli.UsageError(f'{workdir} holds a {name} model, not a pixcolor one: {hint}')
  export_lib.check_export_dir(FLAGS.output)
  model, _, step = cli.restore(workdir, model_lib.build_model)
  export(model, FLAGS.output, FLAGS.batch_size)
  if FLAGS.verify:
    verify(FLAGS.output, model)
  print(f'exported the step-{step} model from {workdir} to {FLAGS.output} '
        f'(signature {SIGNATURE}: gray, temperature, seed -> images)', flush=True)


if __name__ == '__main__':
  export_lib.define_flags(demo='pixcolor/demo/photos')
  flags.adopt_module_key_flags(export_lib)  # So that --help lists them as this command's flags.
  cli.run(main)
