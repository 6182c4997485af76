"""PixColor's serving export: its CLI, its signature, a round trip without the project, and equality
with `PixColor.colorize` for inputs of any size, scalar and per-example seeds and any batch size."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from data import transforms
from pixcolor import color
from pixcolor import export
from pixcolor import model as model_lib
from pixcolor import task as task_lib
from pixel_recursive import workdir as workdir_lib
from pixel_recursive import sampling
from pixel_recursive import serving
from pixel_recursive.training import loop
from test_export import NO_PROJECT as SR_NO_PROJECT
from test_export import run_python
from helpers import assert_usage_error
from helpers import fake_run
from helpers import run_in_process
from test_pixcolor_e2e import tiny_config

CHUNK = 2  # --batch_size of the export: chunk sizes 1 and 2, so a batch of 3 uses both.
SIZE = 16  # tiny_config's image_size S.


def gray_batch(n, height, width, seed=0):
  return np.random.RandomState(seed).randint(0, 256, [n, height, width, 1]).astype(np.uint8)


def call(serve, gray, temperature=0.8, seed=7):
  return serve(gray=tf.constant(gray), temperature=tf.constant(temperature, tf.float32),
               seed=tf.constant(seed, tf.int32))['images'].numpy()


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
  """A 2-step tiny PixColor run: enough for a checkpoint with non-trivial weights."""
  path = str(tmp_path_factory.mktemp('workdir'))
  config = tiny_config(train_steps=2, checkpoint_every_steps=2, log_every_steps=2,
                       image_every_steps=100, eval_every_steps=100)
  loop.run(task_lib.PixColorTask(config), config, path, 'train')
  return path


@pytest.fixture(scope='module')
def model(workdir):
  return workdir_lib.restore(workdir, model_lib.build_model)[0]


@pytest.fixture(scope='module')
def exported(workdir, model, tmp_path_factory):
  """The export the command line writes, run in this process (test_commands.py runs the command in
  a real one). With --noverify, which skips the command's load-and-compare check (test_export.py's
  export runs it), then the same check called here: the export colours as the model does."""
  path = os.path.join(str(tmp_path_factory.mktemp('export')), 'model')
  result = run_in_process('pixcolor.export', f'--workdir={workdir}', f'--output={path}',
                          f'--batch_size={CHUNK}', '--noverify')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'verified' not in result.stderr
  assert f'to {path}' in result.stdout
  assert os.path.isfile(os.path.join(path, 'saved_model.pb'))
  export.verify(path, model, workdir_lib.read_config(workdir))
  return path


@pytest.fixture(scope='module')
def serve(exported):
  return tf.saved_model.load(exported).signatures[serving.SIGNATURE]


# test_export's process that has TensorFlow but cannot import the project, calling this signature.
NO_PROJECT = SR_NO_PROJECT.replace('serve(lowres=', 'serve(gray=').replace(
    'guidance=tf.constant(2.5), ', '')  # PixColor has no conditioning logits to weigh.
assert 'serve(gray=' in NO_PROJECT and 'guidance' not in NO_PROJECT


def test_serves_without_the_project(exported, model, tmp_path):
  gray = gray_batch(2, 13, 21)  # Odd, non-square, smaller than S; one chunk (fewer compilations).
  np.save(tmp_path / 'gray.npy', gray)
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  result = run_python(['-c', NO_PROJECT, exported, str(tmp_path / 'gray.npy'),
                       str(tmp_path / 'images.npy')], cwd=str(tmp_path), env=env)
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(result.stdout.strip().splitlines()[-1])
  assert report['modules'] == []
  assert report['spec'] == {'gray': ['uint8', [None, None, None, 1]],
                            'temperature': ['float32', []], 'seed': ['int32', None],
                            'images': ['uint8', [None, None, None, 3]]}
  images = np.load(tmp_path / 'images.npy')
  assert images.dtype == np.uint8 and images.shape == (2, 13, 21, 3)
  np.testing.assert_array_equal(
      images, model.colorize(gray, num_samples=1, temperature=0.8, seed=7).numpy()[0])
  # The luminance is the input's, and there is colour.
  luma = transforms.luminance(images).numpy()
  assert np.abs(luma - gray).max() <= 0.5 + 1e-3
  assert np.abs(images.astype(int) - luma.round()).max() > 0


# Every way Y reaches the network's S x S: bilinear up, area down, unchanged, and mixed sides.
@pytest.mark.parametrize('height,width', [(13, 21), (37, 23), (SIZE, SIZE), (9, 40), (1, 1)])
def test_equals_colorize_at_any_size(serve, model, height, width):
  gray = gray_batch(1, height, width, seed=height)
  got = call(serve, gray, temperature=1.0, seed=3)
  assert got.shape == (1, height, width, 3)
  np.testing.assert_array_equal(
      got, model.colorize(gray, num_samples=1, temperature=1.0, seed=3).numpy()[0])
  assert np.abs(transforms.luminance(got).numpy() - gray).max() <= 0.5 + 1e-3


def test_per_example_seeds_and_any_batch_size(serve, model):
  gray = gray_batch(3, 13, 21)
  seeds = np.array([5, -11, 2 ** 31 - 1], np.int32)
  got = call(serve, gray, seed=seeds)
  # A vector colours each example as colorize colours it alone with its seed.
  for b, seed in enumerate(seeds):
    np.testing.assert_array_equal(
        got[b:b + 1], model.colorize(gray[b:b + 1], 1, temperature=0.8, seed=int(seed)).numpy()[0])
  # Seed [5] is the scalar 5, which gives a lone example what seeds[0] gave it in the batch.
  for seed in (5, [5]):
    np.testing.assert_array_equal(call(serve, gray[:1], seed=seed), got[:1])
  # A batch of one full chunk only, and an empty batch.
  np.testing.assert_array_equal(call(serve, gray[1:], seed=seeds[1:]), got[1:])
  empty = call(serve, np.zeros([0, 13, 21, 1], np.uint8), temperature=1.0, seed=0)
  assert empty.shape == (0, 13, 21, 3) and empty.dtype == np.uint8
  # Several colourings of one photo: repeat it with different seeds.
  two = call(serve, np.repeat(gray[:1], 2, 0), seed=[0, 1])
  assert (two[0] != two[1]).any()


@pytest.mark.parametrize('temperature', [0.0, -1.0, float('nan'), float('inf')])
def test_rejects_a_temperature_that_is_not_positive(serve, temperature):
  with pytest.raises(tf.errors.InvalidArgumentError, match='temperature must be a positive'):
    call(serve, gray_batch(1, 13, 21), temperature=temperature, seed=0)


@pytest.mark.parametrize('seed', [[1, 2], [[1], [2], [3]]])
def test_rejects_seeds_of_the_wrong_shape(serve, seed):
  with pytest.raises(tf.errors.InvalidArgumentError, match='seed must be a scalar'):
    call(serve, gray_batch(3, 13, 21), temperature=1.0, seed=seed)


def test_graph_pieces_equal_the_model_steps():
  """The export serves `colorize`'s own resizing (traced with H, W unknown) and seeds."""
  network_gray = tf.function(lambda gray: color.resize_gray(gray, SIZE),
                             input_signature=[tf.TensorSpec([None, None, None, 1], tf.uint8)])
  values = [0, 1, 7, -1, -(2 ** 31), 2 ** 31 - 1, 123456789]
  for index in (0, 1, 5):
    got = sampling.derive_seed_tensor(tf.constant(values, tf.int32), index).numpy()
    assert got.tolist() == [sampling.derive_seed(v, index, 0) for v in values]
  for height, width in [(13, 21), (37, 23), (SIZE, SIZE), (9, 40), (40, 9), (SIZE, 40)]:
    gray = gray_batch(2, height, width)
    want = color.resize_gray(tf.constant(gray), SIZE).numpy()
    np.testing.assert_array_equal(network_gray(tf.constant(gray)).numpy(), want)
    shrink = height >= SIZE and width >= SIZE
    direct = transforms.to_uint8(transforms.resize(gray, SIZE, 'area' if shrink else 'bilinear'))
    np.testing.assert_array_equal(want, gray if (height, width) == (SIZE, SIZE) else direct)


def test_usage_errors_are_one_line(tmp_path):
  fake_run(tmp_path / 'sr_run', 'super_resolution')
  result = run_in_process('pixcolor.export', f'--workdir={tmp_path / "sr_run"}',
                          f'--output={tmp_path / "out"}')
  assert_usage_error(result, 'holds a super_resolution model', prog='pixcolor.export')
  assert 'pixel_recursive.export' in result.stderr  # The command that exports it.
  assert not os.path.exists(tmp_path / 'out')  # Checked before --output is created.
  # Without --workdir the demo checkpoint is the one read (then --output is refused).
  (tmp_path / 'busy').mkdir()
  (tmp_path / 'busy' / 'notes.txt').write_text('mine')
  result = run_in_process('pixcolor.export', f'--output={tmp_path / "busy"}')
  expected = ('not empty and holds no SavedModel' if os.path.isdir(model_lib.DEMO_WORKDIR)
              else 'no demo checkpoint')
  assert_usage_error(result, expected, prog='pixcolor.export')


def test_keeps_the_models_number_of_candidates(model):
  """A model that ships `sampling.candidates` N exports it: each colouring is the most typical of N
  draws, exactly as `colorize(..., candidates=N)` makes it (traced, not saved: the saved program is
  this one)."""
  serve = export.serving_function(model, {'sampling': {'candidates': 3}}, batch_size=CHUNK)
  gray = gray_batch(3, 13, 21, seed=4)
  seeds = np.array([5, -11, 2 ** 31 - 1], np.int32)
  got = call(serve, gray, temperature=1.2, seed=seeds)
  for b, seed in enumerate(seeds):
    np.testing.assert_array_equal(got[b:b + 1], model.colorize(
        gray[b:b + 1], 1, temperature=1.2, seed=int(seed), candidates=3).numpy()[0])
  plain = np.concatenate([model.colorize(gray[b:b + 1], 1, temperature=1.2, seed=int(s)).numpy()[0]
                          for b, s in enumerate(seeds)])
  assert (got != plain).any()  # The candidates were chosen among, not the first draw kept.


def test_keeps_the_models_nucleus(model):
  """top-p is not a serving input either: the export fixes the model's `sampling.top_p`."""
  serve = export.serving_function(model, {'sampling': {'top_p': 0.5}}, batch_size=CHUNK)
  gray = gray_batch(2, 13, 21, seed=6)
  got = call(serve, gray, temperature=1.0, seed=3)
  np.testing.assert_array_equal(got, model.colorize(gray, 1, 1.0, 3, top_p=0.5).numpy()[0])
  assert not np.array_equal(got, model.colorize(gray, 1, 1.0, 3).numpy()[0])


def test_verify_colours_an_odd_non_square_image_at_the_models_own_sampling_defaults(monkeypatch):
  """The load-and-compare check colours an image that is neither the network's size nor square
  (so the export's resizing to S x S and back is checked, not only the networks), at the model's
  `sampling` settings rather than the papers' defaults."""
  class Model:
    image_size = SIZE

    def colorize(self, gray, **kwargs):
      self.gray, self.kwargs = gray, kwargs
      return tf.zeros([1, len(gray), gray.shape[1], gray.shape[2], 3], tf.uint8)

  checked = {}
  monkeypatch.setattr(serving, 'verify',
                      lambda path, inputs, want, what: checked.update(inputs=inputs, want=want))
  model = Model()
  export.verify('unused', model, {'sampling': {'temperature': 1.2, 'top_p': 0.9, 'candidates': 8}},
                seed=5)
  assert model.kwargs == dict(num_samples=1, temperature=1.2, seed=5, top_p=0.9, candidates=8)
  _, height, width, channels = model.gray.shape
  assert channels == 1 and height != width and SIZE not in (height, width)
  assert height % 2 and width % 2  # Odd: resizing to and from S x S cannot be exact halvings.
  np.testing.assert_array_equal(checked['inputs']['gray'], model.gray)
  assert (checked['inputs']['temperature'], checked['inputs']['seed']) == (1.2, 5)
  assert checked['want'].shape == (1, height, width, 3)
