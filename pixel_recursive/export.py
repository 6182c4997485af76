r"""Exports a trained super-resolution model as a SavedModel that serves without this project.

  python -m pixel_recursive.export --workdir=/tmp/faces_tiny --output=/tmp/faces_export
  saved_model_cli show --dir /tmp/faces_export --tag_set serve --signature_def serving_default

Without --workdir a shipped demo checkpoint is exported: --model=faces (the default) or bedrooms.
The command restores the newest checkpoint, traces the sampler, writes the SavedModel to --output (a
new or empty folder, or an earlier export, which is replaced), then (unless --noverify) loads what
it wrote and checks that one image it samples equals `SuperResolution.sample`'s.

The `serving_default` signature (a standard `tensorflow/serving/predict` one):

  inputs  lowres       uint8   [B, 8, 8, 3]  any B >= 0
          temperature  float32 []            T > 0: sub-pixels are drawn from softmax((w A + B) / T)
          guidance     float32 []            w >= 0, the weight of the conditioning logits A (1 is
                                             the paper's model; the model's default is in its
                                             config.json, `sampling.guidance`)
          seed         int32   [] or [B]     a scalar s gives example b the key (s, b), a vector
                                             gives it (seed[b], 0); a seed of shape [1] is a scalar
  output  images       uint8   [B, 32, 32, 3]

Its images are exactly those of `SuperResolution.sample(lowres, temperature, seed, guidance=w,
keep_gray=True, top_p=P, candidates=N)` with the model's top-p P and number of candidates N
(`sampling` in its config.json, fixed in the export; a gray input's samples turned to their
luminance, as `upsample` returns them):
the same two XLA programs (conditioning network, cached sampler) and the same counter-based noise
(`pixel_recursive.sampling`), so an example's image depends only on its input, its key and T, never
on the batch it came in. (`upsample --seed=S` seeds input i, sample k with
`sampling.derive_seed(S, i, k)`; pass those as per-example seeds to reproduce its PNGs.)

Using it, with nothing but TensorFlow installed:

  import tensorflow as tf
  serve = tf.saved_model.load('/tmp/faces_export').signatures['serving_default']
  images = serve(lowres=tf.constant(lowres),             # uint8 [B, 8, 8, 3]
                 temperature=tf.constant(0.9),
                 guidance=tf.constant(2.0),
                 seed=tf.constant(0))['images']          # uint8 [B, 32, 32, 3]

from a shell, with the inputs in a .npy file:

  saved_model_cli run --dir /tmp/faces_export --tag_set serve --signature_def serving_default \
      --inputs lowres=lowres.npy --input_exprs 'temperature=0.9;guidance=2.0;seed=0' \
      --outdir /tmp/upsampled

or with TensorFlow Serving (REST, columnar: {"inputs": {"lowres": [...], "temperature": 0.9,
"guidance": 2.0, "seed": 0}}). The first call of each chunk size below compiles the sampler with
XLA (seconds for a small model, longer for the paper's); later calls in the same process reuse the
compiled program.

The batch dimension: the signature takes any B and the exported graph samples it in chunks of
N = --batch_size, the rest padded to a power of two (`pixel_recursive.serving.in_chunks`: at most
1 + ceil(log2 N) compilations, each on first use, and the memory of one chunk). Pick N near the batch
your hardware samples fastest per image (8-16 on a CPU, more on a GPU).

A temperature that is not a positive finite number fails the call with InvalidArgumentError
("temperature must be a positive finite number, got ..."), as `SuperResolution.sample` raises
ValueError: T -> 0 approaches the argmax but T = 0 divides by zero, and quietly clipping it would
sample something other than what was asked. A negative or non-finite guidance, and a seed of the
wrong shape, fail the same way. The checks run before any sampling.

Exit status: 0 on success, 2 on a usage error, 1 when no checkpoint of the workdir can be read
(one line on stderr each).
"""
if __name__ == '__main__':  # The command line, which reads its flags before importing TensorFlow.
  from pixel_recursive import export_command
  export_command.run(  # Exits.
      'super_resolution', 'in pixel_recursive/demo/faces (--model=bedrooms: demo/bedrooms)',
      'lowres, temperature, guidance, seed -> images')

import numpy as np
import tensorflow as tf

from pixel_recursive import candidates as candidates_lib
from pixel_recursive import commands
from pixel_recursive import model as model_lib
from pixel_recursive import serving

LOWRES, HIGHRES = 8, 32
INPUT_SIGNATURE = (
    tf.TensorSpec([None, LOWRES, LOWRES, 3], tf.uint8, name='lowres'),
    tf.TensorSpec([], tf.float32, name='temperature'),
    tf.TensorSpec([], tf.float32, name='guidance'),
    tf.TensorSpec(None, tf.int32, name='seed'),  # Unknown rank: a scalar or one per example.
)


def serving_function(model, config=None, batch_size=serving.DEFAULT_BATCH_SIZE):
  """The `tf.function` (with its input signature) that the SavedModel serves.

  Args:
    model: a restored `pixel_recursive.model.SuperResolution`.
    config: its config: the signature takes temperature, guidance and seed; top-p and the number
      of candidates are the model's `sampling.top_p` and `sampling.candidates`, fixed in the
      export (1 and 1 when the config has none). A gray input
      gives a gray image, as `SuperResolution.sample(keep_gray=True)` and `upsample` give.
    batch_size: N, the largest static batch the sampler is compiled for.
  """
  top_p = tf.constant(commands.sampling_setting(config or {}, 'top_p', None), tf.float32)
  candidates = candidates_lib.check_candidates(
      commands.sampling_setting(config or {}, 'candidates', None))
  # The same two XLA programs `SuperResolution.sample` runs (conditioning network, then the cached
  # sampler with its logits A), so the exported images equal its images bit for bit.
  conditioning = model.conditioning_function()
  cached = model.sampler.compiled('cached')

  @tf.function(input_signature=INPUT_SIGNATURE)
  def serve(lowres, temperature, guidance, seed):
    temperature = serving.checked_temperature(temperature)
    guidance = serving.checked_guidance(guidance)
    batch = tf.shape(lowres)[0]

    def sample(chunk):
      lowres, keys = chunk
      a = conditioning(lowres)
      size, height, width = a.shape[:3]

      def draw(keys):  # As `SuperResolution.sample` draws it.
        values = cached(tf.zeros([size, height, width, 0]), a, temperature, guidance, keys, top_p)
        return model_lib.keep_gray_images(lowres, tf.cast(values, tf.uint8))

      return candidates_lib.select(draw, keys, candidates, derive=candidates_lib.keys_of)

    images = serving.in_chunks(sample, (lowres, serving.per_example_keys(seed, batch)), batch_size,
                               tf.TensorSpec([HIGHRES, HIGHRES, 3], tf.uint8))
    return {'images': images}

  return serve


def export(model, path, batch_size=serving.DEFAULT_BATCH_SIZE, config=None):
  """Writes `model` as a SavedModel with the `serving_default` signature to `path`; returns the
  traced concrete function. `config`: the model's, for its `sampling.top_p` and
  `sampling.candidates` (else 1)."""
  return serving.save(serving_function(model, config, batch_size), path, batch_size)


def verify(path, model, config=None, seed=0):
  """Checks that the export at `path` samples what `model.sample` samples, at the model's default
  temperature and guidance (`sampling` of its config). Raises RuntimeError if not."""
  temperature = commands.sampling_setting(config or {}, 'temperature', None)
  guidance = commands.sampling_setting(config or {}, 'guidance', None)
  lowres = np.random.RandomState(seed).randint(0, 256, [1, LOWRES, LOWRES, 3]).astype(np.uint8)
  top_p = commands.sampling_setting(config or {}, 'top_p', None)
  candidates = commands.sampling_setting(config or {}, 'candidates', None)
  want = model.sample(lowres, temperature=temperature, seed=seed, guidance=guidance,
                      top_p=top_p, keep_gray=True, candidates=candidates).numpy()
  serving.verify(path, {'lowres': lowres, 'temperature': np.float32(temperature),
                        'guidance': np.float32(guidance), 'seed': np.int32(seed)},
                 want, 'samples one image')
