"""The serving export: its CLI, its signature, a round trip without the project, and equality with
`SuperResolution.sample` for scalar and per-example seeds and batches that are not a chunk size."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from pixel_recursive import commands
from pixel_recursive import workdir as workdir_lib
from pixel_recursive import export
from pixel_recursive import export_command
from pixel_recursive import serving
from pixel_recursive import model as model_lib
from pixel_recursive import task as task_lib
from pixel_recursive.training import loop
from helpers import assert_usage_error
from helpers import fake_run
from helpers import run_in_process
from test_train import tiny_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHUNK = 2  # --batch_size of the export: chunk sizes 1 and 2, so a batch of 3 uses both.


def run_python(args, cwd=ROOT, timeout=300, env=None):
  env = dict(os.environ if env is None else env, TF_CPP_MIN_LOG_LEVEL='2')
  return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                        cwd=cwd, env=env)


def lowres_batch(n, seed=0):
  return np.random.RandomState(seed).randint(0, 256, [n, 8, 8, 3]).astype(np.uint8)


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
  """A 2-step tiny super-resolution run: enough for a checkpoint with non-trivial weights."""
  path = str(tmp_path_factory.mktemp('workdir'))
  config = tiny_config(train_steps=2, checkpoint_every_steps=2, log_every_steps=2,
                       image_every_steps=100, histogram_every_steps=100, eval_every_steps=100)
  loop.run(task_lib.SuperResolutionTask(config), config, path, 'train')
  return path


@pytest.fixture(scope='module')
def exported(workdir, tmp_path_factory):
  """The export the command line writes (with its own load-and-compare check), run in this process
  (test_commands.py runs the command in a real one)."""
  path = os.path.join(str(tmp_path_factory.mktemp('export')), 'model')
  result = run_in_process('pixel_recursive.export', f'--workdir={workdir}', f'--output={path}',
                          f'--batch_size={CHUNK}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'verified: the export samples one image as the model does' in result.stderr
  assert f'tracing the sampler for chunk sizes 1, {CHUNK} ' in result.stderr  # --batch_size's.
  assert f'to {path}' in result.stdout
  assert os.path.isfile(os.path.join(path, 'saved_model.pb'))
  return path


@pytest.fixture(scope='module')
def model(workdir):
  return workdir_lib.restore(workdir, model_lib.build_model)[0]


@pytest.fixture(scope='module')
def serve(exported):
  return tf.saved_model.load(exported).signatures[serving.SIGNATURE]


# A process that has TensorFlow but cannot import the project: the export must need nothing else.
NO_PROJECT = r'''
import sys
BLOCKED = ('pixel_recursive', 'pixcolor', 'data')

class Blocker:
  def find_spec(self, name, path=None, target=None):
    if name.split('.')[0] in BLOCKED:
      raise ImportError(f'{name} is blocked: the export must load without the project')

sys.meta_path.insert(0, Blocker())
try:
  import pixel_recursive
  raise SystemExit('the blocker does not work')
except ImportError:
  pass

import json
import numpy as np
import tensorflow as tf

export_dir, inputs, outputs = sys.argv[1:4]
serve = tf.saved_model.load(export_dir).signatures['serving_default']
spec = {name: [s.dtype.name, None if s.shape.rank is None else s.shape.as_list()]
        for name, s in serve.structured_input_signature[1].items()}
spec['images'] = [serve.structured_outputs['images'].dtype.name,
                  serve.structured_outputs['images'].shape.as_list()]
images = serve(lowres=tf.constant(np.load(inputs)), temperature=tf.constant(0.8),
               guidance=tf.constant(2.5), seed=tf.constant(7))['images']
np.save(outputs, images.numpy())
print(json.dumps({'spec': spec, 'modules': sorted(
    m for m in sys.modules if m.split('.')[0] in BLOCKED)}))
'''


def test_serves_without_the_project(exported, model, tmp_path):
  lowres = lowres_batch(3)  # One chunk of 2 and one of 1.
  np.save(tmp_path / 'lowres.npy', lowres)
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  result = run_python(['-c', NO_PROJECT, exported, str(tmp_path / 'lowres.npy'),
                       str(tmp_path / 'images.npy')], cwd=str(tmp_path), env=env)
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(result.stdout.strip().splitlines()[-1])
  assert report['modules'] == []
  assert report['spec'] == {'lowres': ['uint8', [None, 8, 8, 3]], 'temperature': ['float32', []],
                            'guidance': ['float32', []], 'seed': ['int32', None],
                            'images': ['uint8', [None, 32, 32, 3]]}
  images = np.load(tmp_path / 'images.npy')
  assert images.dtype == np.uint8 and images.shape == (3, 32, 32, 3)
  np.testing.assert_array_equal(
      images, model.sample(lowres, temperature=0.8, seed=7, guidance=2.5).numpy())
  # Guidance is a real input: another weight, other images.
  assert not np.array_equal(images, model.sample(lowres, temperature=0.8, seed=7).numpy())


def test_per_example_seeds_and_any_batch_size(serve, model):
  lowres = lowres_batch(3)
  lowres[1] = lowres[1, ..., :1]  # A gray input gives a gray image, as upsample gives.
  seeds = np.array([5, 11, 2], np.int32)
  got = serve(lowres=tf.constant(lowres), temperature=tf.constant(0.8),
              guidance=tf.constant(1.0), seed=tf.constant(seeds))['images'].numpy()
  np.testing.assert_array_equal(got, model.sample(lowres, temperature=0.8, seed=seeds,
                                                  keep_gray=True).numpy())
  assert (got[1] == got[1, ..., :1]).all() and not (got[0] == got[0, ..., :1]).all()
  # Example b's image depends only on its input and key, not on the batch: seed [5] and seed 5 both
  # give a lone example the key (5, 0), as does seeds[0] in the batch above.
  for seed in (5, [5]):
    alone = serve(lowres=tf.constant(lowres[:1]), temperature=tf.constant(0.8),
                  guidance=tf.constant(1.0), seed=tf.constant(seed, tf.int32))['images'].numpy()
    np.testing.assert_array_equal(alone, got[:1])
  # A batch of one full chunk only, and an empty batch.
  two = serve(lowres=tf.constant(lowres[1:]), temperature=tf.constant(0.8),
              guidance=tf.constant(1.0), seed=tf.constant(seeds[1:]))['images'].numpy()
  np.testing.assert_array_equal(two, got[1:])
  empty = serve(lowres=tf.zeros([0, 8, 8, 3], tf.uint8), temperature=tf.constant(1.0),
                guidance=tf.constant(1.0), seed=tf.constant(0))['images']
  assert empty.shape == (0, 32, 32, 3) and empty.dtype == tf.uint8


@pytest.mark.parametrize('temperature', [0.0, -1.0, float('nan'), float('inf')])
def test_rejects_a_temperature_that_is_not_positive(serve, temperature):
  with pytest.raises(tf.errors.InvalidArgumentError, match='temperature must be a positive'):
    serve(lowres=tf.constant(lowres_batch(1)), temperature=tf.constant(temperature),
          guidance=tf.constant(1.0), seed=tf.constant(0))


@pytest.mark.parametrize('guidance', [-0.5, float('nan'), float('inf')])
def test_rejects_a_guidance_that_is_negative_or_not_finite(serve, guidance):
  with pytest.raises(tf.errors.InvalidArgumentError, match='guidance must be a finite number'):
    serve(lowres=tf.constant(lowres_batch(1)), temperature=tf.constant(1.0),
          guidance=tf.constant(guidance), seed=tf.constant(0))


def test_a_guidance_of_zero_samples_from_the_prior_alone_as_the_model_does(serve, model):
  """w = 0, which the command lines' --guidance accepts (the conditioning logits weigh nothing),
  is served too, not refused as if it were negative."""
  lowres = lowres_batch(2)
  got = serve(lowres=tf.constant(lowres), temperature=tf.constant(0.8),
              guidance=tf.constant(0.0), seed=tf.constant(4))['images'].numpy()
  np.testing.assert_array_equal(
      got, model.sample(lowres, temperature=0.8, seed=4, guidance=0.0).numpy())


@pytest.mark.parametrize('seed', [[1, 2], [1, 2, 3, 4], [[1], [2], [3]]])
def test_rejects_seeds_of_the_wrong_shape(serve, seed):
  with pytest.raises(tf.errors.InvalidArgumentError, match='seed must be a scalar'):
    serve(lowres=tf.constant(lowres_batch(3)), temperature=tf.constant(1.0),
          guidance=tf.constant(1.0), seed=tf.constant(seed, tf.int32))


def test_verify_refuses_an_export_that_differs_from_the_model(exported, serve):
  inputs = {'lowres': lowres_batch(1), 'temperature': np.float32(1.0), 'guidance': np.float32(1.0),
            'seed': np.int32(0)}
  want = serve(**{k: tf.constant(v) for k, v in inputs.items()})['images'].numpy()
  serving.verify(exported, inputs, want, 'samples one image')
  want[0, 5, 7, 1] ^= 1
  with pytest.raises(RuntimeError, match=f'does not equal the model: 1 of {want.size} sub-pixels'):
    serving.verify(exported, inputs, want, 'samples one image')


def test_chunk_sizes():
  assert serving.chunk_sizes(1) == [1]
  assert serving.chunk_sizes(8) == [1, 2, 4, 8]
  assert serving.chunk_sizes(12) == [1, 2, 4, 8, 12]


def test_in_chunks_gives_every_example_its_own_output_for_any_batch_size():
  """Chunks of N, then the rest padded to the next chunk size: each example's output, in order, the
  padding's never (N = 4, so the rest of 3 is padded by one; the exported models use N = 2 in the
  tests, where no rest needs padding)."""
  def sample(inputs):
    (x,) = inputs
    assert x.shape[0] in serving.chunk_sizes(4)  # Static: XLA compiles one program per size.
    return x * 10

  @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.int32)])
  def serve(x):
    return serving.in_chunks(sample, (x,), 4, tf.TensorSpec([3], tf.int32))

  for batch in range(10):
    x = np.arange(batch * 3, dtype=np.int32).reshape(batch, 3) + 1
    np.testing.assert_array_equal(serve(tf.constant(x)).numpy(), x * 10)


def test_the_rest_is_padded_to_the_smallest_chunk_size_that_holds_it():
  """No chunk does more than twice the work it must: with N = 4, a rest of 1 runs as a chunk of 1,
  2 as 2, 3 as 4 (each row here says the size of the chunk that made it)."""
  def sample(inputs):
    (x,) = inputs
    return tf.fill([x.shape[0], 1], x.shape[0])

  @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.int32)])
  def serve(x):
    return serving.in_chunks(sample, (x,), 4, tf.TensorSpec([1], tf.int32))

  for batch, rest in [(1, 1), (2, 2), (3, 4), (4, 0), (5, 1), (6, 2), (7, 4), (8, 0)]:
    full = batch // 4 * 4
    assert list(serve(tf.zeros([batch, 3], tf.int32)).numpy()[:, 0]) == (
        [4] * full + [rest] * (batch - full)), batch


def test_output_and_demo_checks(tmp_path):
  (tmp_path / 'other').mkdir()
  (tmp_path / 'other' / 'notes.txt').write_text('mine')
  with pytest.raises(commands.UsageError, match='not empty and holds no SavedModel'):
    export_command.check_export_dir(str(tmp_path / 'other'))
  (tmp_path / 'half').mkdir()
  (tmp_path / 'half' / 'variables').mkdir()  # What an export holds, but no saved_model.pb: not one.
  with pytest.raises(commands.UsageError, match='not empty and holds no SavedModel'):
    export_command.check_export_dir(str(tmp_path / 'half'))
  export_command.check_export_dir(str(tmp_path / 'new'))  # Created.
  (tmp_path / 'empty').mkdir()
  export_command.check_export_dir(str(tmp_path / 'empty'))  # An empty folder of the user's.
  assert os.path.isdir(tmp_path / 'new')
  (tmp_path / 'new' / 'saved_model.pb').write_text('')
  (tmp_path / 'new' / 'variables').mkdir()
  export_command.check_export_dir(str(tmp_path / 'new'))  # An earlier export: replaced.
  with pytest.raises(commands.UsageError, match='no --workdir given and no demo checkpoint'):
    workdir_lib.resolve(None, demo=str(tmp_path / 'missing'))
  assert workdir_lib.resolve('given', demo=str(tmp_path / 'missing')) == 'given'


def test_usage_errors_are_one_line(tmp_path):
  fake_run(tmp_path / 'pixcolor_run', 'pixcolor')
  result = run_in_process('pixel_recursive.export', f'--workdir={tmp_path / "pixcolor_run"}',
                          f'--output={tmp_path / "out"}')
  assert_usage_error(result, 'holds a pixcolor model', prog='pixel_recursive.export')
  assert not os.path.exists(tmp_path / 'out')  # Checked before --output is created.


def test_the_served_function_samples_the_models_nucleus(model):
  """top-p is not a serving input: the export fixes the model's `sampling.top_p` (export.py)."""
  serve = export.serving_function(model, {'sampling': {'top_p': 0.5}}, CHUNK)
  lowres = lowres_batch(2)
  got = serve(lowres=tf.constant(lowres), temperature=tf.constant(1.0),
              guidance=tf.constant(1.0), seed=tf.constant(3))['images'].numpy()
  np.testing.assert_array_equal(got, model.sample(lowres, seed=3, top_p=0.5).numpy())
  assert not np.array_equal(got, model.sample(lowres, seed=3).numpy())


def test_the_served_function_keeps_the_models_number_of_candidates(model):
  """Each image the most typical of the model's `sampling.candidates` draws, as `sample` makes it,
  for one seed per batch and per-example seeds, a gray input among them."""
  serve = export.serving_function(model, {'sampling': {'candidates': 3}}, CHUNK)
  lowres = lowres_batch(3, seed=2)
  lowres[2] = lowres[2, ..., :1]
  for seed in (3, np.array([5, 11, 2], np.int32)):
    got = serve(lowres=tf.constant(lowres), temperature=tf.constant(1.0),
                guidance=tf.constant(1.0), seed=tf.constant(seed))['images'].numpy()
    np.testing.assert_array_equal(
        got, model.sample(lowres, seed=seed, keep_gray=True, candidates=3).numpy())
    assert not np.array_equal(got, model.sample(lowres, seed=seed, keep_gray=True).numpy())


def test_saving_leaves_the_callers_logging_as_it_was(workdir, tmp_path):
  """Saving quiets TensorFlow's INFO lines; afterwards absl's logger has its own level back, and
  --verbosity is still unset (`tf.saved_model.save` sets it; set, it keeps a later absl command in
  the same process, as the in-process runs of these tests, from logging INFO)."""
  from absl import flags as absl_flags
  from absl import logging as absl_logging
  logger, verbosity = absl_logging.get_absl_logger(), absl_flags.FLAGS['verbosity']
  before = logger.level, verbosity.value, verbosity.using_default_value
  serve = tf.function(lambda x: {'images': x}, input_signature=[tf.TensorSpec([None], tf.uint8)])
  serving.save(serve, str(tmp_path / 'export'), CHUNK)
  assert (logger.level, verbosity.value, verbosity.using_default_value) == before
  image = tmp_path / 'input.png'
  tf.io.write_file(str(image), tf.io.encode_png(tf.constant(lowres_batch(1)[0])))
  result = run_in_process('pixel_recursive.upsample', f'--workdir={workdir}', f'--input={image}',
                          f'--output={tmp_path / "out"}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'sampling 1 x 1 images at temperature' in result.stderr  # An INFO line.


def test_verify_checks_the_export_at_the_models_own_sampling_defaults(monkeypatch):
  """The load-and-compare check samples at the model's `sampling` settings (what users of the
  export get by default), not at the papers' T = 1, w = 1: a model and a serving check that agree
  only at other settings would pass it."""
  class Model:
    def sample(self, lowres, **kwargs):
      self.kwargs = kwargs
      return tf.zeros([len(lowres), 32, 32, 3], tf.uint8)

  checked = {}
  monkeypatch.setattr(serving, 'verify',
                      lambda path, inputs, want, what: checked.update(inputs=inputs, want=want))
  model = Model()
  config = {'sampling': {'temperature': 0.8, 'guidance': 3.0, 'top_p': 0.9, 'candidates': 2}}
  export.verify('unused', model, config, seed=7)
  assert model.kwargs == dict(temperature=0.8, guidance=3.0, top_p=0.9, candidates=2, seed=7,
                              keep_gray=True)
  inputs = checked['inputs']
  assert (inputs['temperature'], inputs['guidance'], inputs['seed']) == (0.8, 3.0, 7)
  assert inputs['lowres'].shape == (1, 8, 8, 3) and checked['want'].shape == (1, 32, 32, 3)
