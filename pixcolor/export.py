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

Its images are exactly those of `PixColor.colorize` with one sample, at the model's top-p and
number of candidates (`sampling` in its config.json, fixed in the export):

  serve(gray, T, seed=s)[b]            == model.colorize(gray, 1, T, s, top_p=P, candidates=N)[0, b]
  serve(gray, T, seed=[s_0..s_B-1])[b] == model.colorize(gray[b:b + 1], 1, T, s_b, ...)[0, 0]

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

The batch dimension is handled as in `pixel_recursive.export` (`pixel_recursive.serving.in_chunks`):
the network-size images are sampled in floor(B / N) chunks of N = --batch_size, then the remainder
padded to the smallest power of two (or N) that holds it; every chunk size compiles on its first
use after loading. The input size H x W costs no compilation: the compiled programs only ever see
S x S, and resizing to and from it runs as ordinary TensorFlow ops.

A temperature that is not a positive finite number, or a seed that is neither a scalar nor one per
example, fails the call with InvalidArgumentError before any sampling.

Exit status: 0 on success, 2 on a usage error, 1 when no checkpoint of the workdir can be read
(one line on stderr each).
"""
if __name__ == '__main__':  # The command line, which reads its flags before importing TensorFlow.
  from pixel_recursive import export_command
  export_command.run(  # Exits.
      'pixcolor', 'in pixcolor/demo/photos', 'gray, temperature, seed -> images')

import numpy as np
import tensorflow as tf

from pixcolor import color
from pixel_recursive import candidates as candidates_lib
from pixel_recursive import commands
from pixel_recursive import sampling
from pixel_recursive import serving

INPUT_SIGNATURE = (
    tf.TensorSpec([None, None, None, 1], tf.uint8, name='gray'),
    tf.TensorSpec([], tf.float32, name='temperature'),
    tf.TensorSpec(None, tf.int32, name='seed'),  # Unknown rank: a scalar or one per example.
)


def colorize_keys(seed, batch):
  """Sampler keys int32 [B, 2] of `colorize(..., seed)` for an int32 seed [] (or [1]) or [B].

  A scalar s gives example b the seed derive_seed(s, b, 0), as `colorize` does; a vector gives it
  derive_seed(seed[b], 0, 0), what `colorize` gives that example alone.
  """
  flat = serving.checked_seed(seed, batch)
  seeds = tf.cond(tf.equal(tf.size(flat), 1),
                  lambda: sampling.derive_seed_tensor(flat[0], tf.range(batch)),
                  lambda: sampling.derive_seed_tensor(flat, 0))
  # `sampling.example_keys` of one seed per example.
  return tf.stack([seeds, tf.zeros_like(seeds)], -1)


def serving_function(model, config=None, batch_size=serving.DEFAULT_BATCH_SIZE):
  """The `tf.function` (with its input signature) that the SavedModel serves.

  Args:
    model: a restored `pixcolor.model.PixColor`.
    config: its config: the signature takes temperature and seed; top-p and the number of
      candidates are the model's `sampling.top_p` and `sampling.candidates`, fixed in the export
      (1 and 1 when the config has none).
    batch_size: N, the largest static batch the networks are compiled for.
  """
  top_p = tf.constant(commands.sampling_setting(config or {}, 'top_p', None), tf.float32)
  candidates = candidates_lib.check_candidates(
      commands.sampling_setting(config or {}, 'candidates', None))
  # The very XLA programs `colorize` runs (the model's compiled conditioning and refinement
  # networks, the cached sampler) and its colour plumbing, so the exported images equal its images
  # bit for bit.
  conditioning = model.compiled_network('conditioning')
  refine = model.compiled_network('refine')
  cached = model.sampler.compiled('cached')
  size = model.image_size

  @tf.function(input_signature=INPUT_SIGNATURE)
  def serve(gray, temperature, seed):
    temperature = serving.checked_temperature(temperature)
    batch = tf.shape(gray)[0]

    def sample(chunk):
      small, keys = chunk
      features = conditioning(small)

      def draw(keys):  # No extra logits, so guidance has nothing to weigh: 1.0.
        return cached(features, tf.zeros([0]), temperature, tf.constant(1.0), keys, top_p)

      bins = candidates_lib.select(draw, keys, candidates, model.bin_centres,
                                   candidates_lib.keys_of)
      return refine(small, model.dequantize(bins, keys))

    chroma = serving.in_chunks(
        sample, (color.resize_gray(gray, size), colorize_keys(seed, batch)), batch_size,
        tf.TensorSpec([size, size, 2], tf.float32))
    return {'images': color.combine(gray, chroma)}

  return serve


def export(model, path, batch_size=serving.DEFAULT_BATCH_SIZE, config=None):
  """Writes `model` as a SavedModel with the `serving_default` signature to `path`; returns the
  traced concrete function. `config`: the model's, for its `sampling.top_p` and
  `sampling.candidates` (else 1)."""
  return serving.save(serving_function(model, config, batch_size), path, batch_size)


def verify(path, model, config=None, seed=0):
  """Checks that the export at `path` colours an odd-sized, non-square gray image as
  `model.colorize` does, at the model's default temperature. Raises RuntimeError if not."""
  temperature = commands.sampling_setting(config or {}, 'temperature', None)
  size = model.image_size
  gray = np.random.RandomState(seed).randint(0, 256, [1, size + 3, size // 2 + 1, 1])
  gray = gray.astype(np.uint8)
  top_p = commands.sampling_setting(config or {}, 'top_p', None)
  candidates = commands.sampling_setting(config or {}, 'candidates', None)
  want = model.colorize(gray, num_samples=1, temperature=temperature, seed=seed,
                        top_p=top_p, candidates=candidates).numpy()[0]
  serving.verify(path, {'gray': gray, 'temperature': np.float32(temperature),
                        'seed': np.int32(seed)},
                 want, f'colours one {gray.shape[1]}x{gray.shape[2]} image')
