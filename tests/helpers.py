"""What several test files share: configs by name, config overrides, strategies, command lines."""
import functools
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest
import tensorflow as tf

from experiments import configs
from pixel_recursive import distribute

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_config(name):
  """get_config() of experiments/configs/<name>.py."""
  return configs.load(name)


def override(config, overrides):
  """Sets dotted keys, e.g. {'data.source': 'samples'}, as --config.KEY=VALUE would."""
  for key, value in overrides.items():
    target = config
    *path, last = key.split('.')
    for p in path:
      target = target[p]
    target[last] = value
  return config


def edit_recorded_config(workdir, overrides):
  """Sets dotted keys in the config.json a training run left in `workdir` (as `override` does),
  e.g. to make it look like a run of another machine or give it other sampling defaults."""
  path = os.path.join(workdir, 'config.json')
  with open(path) as f:
    recorded = json.load(f)
  with open(path, 'w') as f:
    json.dump(override(recorded, overrides), f)


def fake_run(workdir, model_name):
  """A folder that holds only a config.json naming `model_name`: enough for the commands' check of
  which model a --workdir holds."""
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, 'config.json'), 'w') as f:
    json.dump({'model': {'name': model_name}}, f)
  return str(workdir)


# ----------------------------------------------------------------------------------------------
# Images: synthetic ones made here, the photos that ship with the dependencies, or the staged sets.
# ----------------------------------------------------------------------------------------------
SHARED_DATA = os.path.join(os.path.dirname(ROOT), 'shared', 'data')


def subpixel_changes(logits_of, base, move):
  """The causality probe's matrix for an image `base` [1, H, W, C]: entry [k, l] is the largest
  change of sub-pixel l's logits (raster, then channel order) when sub-pixel k alone is set to
  move(its value). One batch holds the base and its n perturbations, so every row goes through the
  same kernels. `logits_of`: batch [n + 1, H, W, C] -> logits [n + 1, H, W, C, K]."""
  _, h, w, channels = base.shape
  n = h * w * channels
  batch = np.repeat(base, n + 1, axis=0)
  for k in range(n):
    i, rest = divmod(k, w * channels)
    j, c = divmod(rest, channels)
    batch[k + 1, i, j, c] = move(base[0, i, j, c])
  logits = np.asarray(logits_of(batch))
  return np.abs(logits[1:] - logits[:1]).max(-1).reshape(n, n)


def randomize_biases(model, seed=0):
  """Random (not zero, as Keras starts them) biases, as a trained model has: so that no connection
  hides behind a zero or a dead ReLU, and a computation that drops a bias shows."""
  for v in model.trainable_variables:
    if v.path.endswith('bias'):
      v.assign(tf.random.normal(v.shape, stddev=0.5, seed=seed))


def bt601_luma(rgb):
  """The tests' own BT.601 luminance of RGB [..., 3] (float64, unrounded), to check the code's."""
  return np.asarray(rgb, np.float64) @ np.array([0.299, 0.587, 0.114])


def grid_cell(grid, row, column, size, scale=1, pad=2, top=0):
  """Cell (row, column) of a `visualize.grid` of size x size images `pad` apart, the grid shown
  `scale` times as large below a band of titles `top` pixels high."""
  y, x = top + (pad + row * (size + pad)) * scale, (pad + column * (size + pad)) * scale
  return grid[y:y + size * scale, x:x + size * scale]


def block_means(images, factor):
  """The tests' own area downsampling: float64 means of `factor` x `factor` blocks of [..., H, W, C]
  (H and W multiples of `factor`)."""
  images = np.asarray(images, np.float64)
  *lead, h, w, c = images.shape
  blocks = images.reshape(*lead, h // factor, factor, w // factor, factor, c)
  return blocks.mean(axis=(len(lead) + 1, len(lead) + 3))


def smooth_images(n, size=32, seed=0, width=None):
  """uint8 [n, size, width or size, 3]: synthetic pictures with structure a model can learn (a colour
  gradient and three soft coloured blobs each), the same for the same seed."""
  rng = np.random.default_rng(seed)
  h, w = size, width or size
  y, x = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing='ij')
  corners = rng.uniform(0, 255, (n, 4, 3))
  image = (corners[:, 0, None, None] * ((1 - y) * (1 - x))[None, ..., None]
           + corners[:, 1, None, None] * ((1 - y) * x)[None, ..., None]
           + corners[:, 2, None, None] * (y * (1 - x))[None, ..., None]
           + corners[:, 3, None, None] * (y * x)[None, ..., None])
  for _ in range(3):
    cy, cx = rng.uniform(0.1, 0.9, (2, n, 1, 1))
    sigma = rng.uniform(0.05, 0.25, (n, 1, 1))
    blob = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * sigma ** 2))[..., None]
    colour = rng.uniform(0, 255, (n, 1, 1, 3))
    image = image * (1 - blob) + colour * blob
  return np.clip(np.round(image), 0, 255).astype(np.uint8)


def write_npz(path, n_train, n_eval, size=32, seed=0):
  """An npz source of smooth images: `train_images` and `eval_images`; returns 'npz:<path>'."""
  images = smooth_images(n_train + n_eval, size, seed)
  np.savez(path, train_images=images[:n_train], eval_images=images[n_train:])
  return f'npz:{path}'


@functools.lru_cache(maxsize=None)
def faces_source(n_train=200, n_eval=40):
  """'npz:<path>' of smooth 32 x 32 images written once per process: the tiny configs' data in the
  tests of mechanics (a fresh clone trains them on `samples:faces`, a face detection away)."""
  folder = tempfile.mkdtemp(prefix='pixel_recursive_test_faces_')
  return write_npz(os.path.join(folder, 'faces.npz'), n_train, n_eval)


@functools.lru_cache(maxsize=None)
def photo_crops_source(n_train=96, n_eval=24, size=48):
  """'npz:<path>' of random square crops (a quarter to all of the short side) of the sample photos,
  area-resized to size x size: `train_images` from the train photos, `eval_images` from the eval
  ones (chelsea, coffee). Real colours for PixColor's tests of mechanics, written once per process."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from data import samples  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  arrays = {}
  for split, n in (('train', n_train), ('eval', n_eval)):
    photos = [rgb for _, rgb in samples.photos(split)]
    crops = []
    for k in range(n):
      rgb = photos[k % len(photos)]
      side = int(min(rgb.shape[:2]) * rng.uniform(0.25, 1.0))
      top = rng.integers(0, rgb.shape[0] - side + 1)
      left = rng.integers(0, rgb.shape[1] - side + 1)
      crop = Image.fromarray(rgb[top:top + side, left:left + side])
      crops.append(np.asarray(crop.resize((size, size), Image.BOX)))
    arrays[f'{split}_images'] = np.stack(crops)
  path = os.path.join(tempfile.mkdtemp(prefix='pixel_recursive_test_photos_'), 'photos.npz')
  np.savez(path, **arrays)
  return f'npz:{path}'


@functools.lru_cache(maxsize=None)
def photo_folder(size=96):
  """`write_photo_folder` into a temporary folder, once per process."""
  return write_photo_folder(tempfile.mkdtemp(prefix='pixel_recursive_test_folder_'), size)


def write_photo_folder(folder, size=96):
  """The photos that ship with the dependencies as JPEG files under folder/{train,eval}/, resized to
  `size` on the long side (a folder source and the batch commands' inputs); returns the folder."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from data import samples  # pylint: disable=g-import-not-at-top
  for split in ('train', 'eval'):
    os.makedirs(os.path.join(folder, split), exist_ok=True)
    for name, rgb in samples.photos(split):
      image = Image.fromarray(rgb)
      image.thumbnail((size, size), Image.LANCZOS)
      image.save(os.path.join(folder, split, f'{name}.jpg'), quality=90)
  return str(folder)


def shared_file(*parts):
  """A file of the staged data beside the project (../shared/data/...); skips the test if absent."""
  path = os.path.join(SHARED_DATA, *parts)
  if not os.path.exists(path):
    pytest.skip(f'needs the staged data in {SHARED_DATA} ({os.path.join(*parts)} is absent)')
  return path


def strategy_named(name):
  """The strategy the trainers' --strategy flag makes (conftest gives two logical CPUs)."""
  return distribute.make_strategy(name)


# ----------------------------------------------------------------------------------------------
# Running a command line: in a subprocess (what a user runs), or inside this process (seconds
# faster: no Python start-up and TensorFlow import), reproducing what the subprocess would show.
# ----------------------------------------------------------------------------------------------
def run_cli(module, *args, timeout=300, env=None, python_args=()):
  """`python [python_args] -m module args` in a subprocess from the repository root: a
  CompletedProcess.

  The environment is the user's, without TF_CPP_MIN_LOG_LEVEL (which this test process sets): the
  command itself must keep TensorFlow's C++ start-up chatter off stderr.
  """
  env = dict(os.environ if env is None else env, PYTHONPATH=ROOT)
  env.pop('TF_CPP_MIN_LOG_LEVEL', None)
  return subprocess.run([sys.executable, *python_args, '-m', module, *args], capture_output=True,
                        text=True, timeout=timeout, cwd=ROOT, env=env)


def exit_status(code, stderr):
  """The exit status of a process that raised SystemExit(code), as the interpreter derives it."""
  if code is None:
    return 0
  if isinstance(code, int):
    return code
  print(code, file=stderr)  # sys.exit('message'): printed, status 1.
  return 1


# warnings.filters of `python -m` started without -W or PYTHONWARNINGS (CPython 3.11's defaults).
PYTHON_DEFAULT_WARNING_FILTERS = (('default', DeprecationWarning, '__main__'),
                                  ('ignore', DeprecationWarning, ''),
                                  ('ignore', PendingDeprecationWarning, ''),
                                  ('ignore', ImportWarning, ''),
                                  ('ignore', ResourceWarning, ''))


def run_in_process(module, *args):
  """Runs `python -m module args` inside this process; returns what `run_cli` would: a
  CompletedProcess with the exit status, stdout and stderr (absl's log lines included).

  The module runs as `__main__` (runpy, as `python -m` does), from the repository root, with
  sys.argv set, its flags defined afresh and removed afterwards (absl's flagsaver restores every
  flag's value and deletes the flags the command defined), and absl's one-time start-up (the
  handler, the INFO verbosity) done as in a new process. An exception the command lets escape
  becomes a traceback on stderr and status 1, as in a subprocess. What only a subprocess shows
  (TensorFlow's C++ chatter on file descriptor 2, the real exit of the interpreter) is left to
  tests/test_commands.py.
  """
  import contextlib
  import io
  import logging
  import runpy
  import traceback
  import warnings
  from absl import app
  from absl import command_name
  from absl import logging as absl_logging
  from absl.testing import flagsaver

  app.define_help_flags()  # Once per process, before the flags are saved (as a new process has).
  stdout, stderr = io.StringIO(), io.StringIO()
  handler = absl_logging.get_absl_handler().python_handler
  absl_logger = logging.getLogger('absl')
  saved = dict(argv=sys.argv, cwd=os.getcwd(), stream=handler.stream,
               root_handlers=list(logging.root.handlers), root_level=logging.root.level,
               absl_level=absl_logger.level, run_init=app._run_init.done,  # pylint: disable=protected-access
               parsed=app._register_and_parse_flags_with_usage.done,  # pylint: disable=protected-access
               rename=command_name.make_process_name_useful, faulthandler=app.faulthandler)
  status = 0
  try:
    with flagsaver.flagsaver(), contextlib.redirect_stdout(stdout), \
        contextlib.redirect_stderr(stderr), warnings.catch_warnings():
      # Warnings reach stderr under a new interpreter's filters, not pytest's (which record them).
      warnings.resetwarnings()
      for action, category, module_name in PYTHON_DEFAULT_WARNING_FILTERS:
        warnings.filterwarnings(action, category=category, module=module_name, append=True)
      warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: (
          sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line)))
      # runpy warns when the module was imported before (by a test); `python -m` imports it anew.
      warnings.filterwarnings('ignore', message='.*found in sys.modules', category=RuntimeWarning)
      os.chdir(ROOT)
      # ml_collections loads a --config file as the module `config_config`, into the one already
      # in sys.modules if there is one (a name a removed get_config() would keep): a new process
      # has none.
      sys.modules.pop('config_config', None)
      sys.argv = [module, *args]  # runpy replaces [0] with the module's path, as `python -m` does.
      handler.stream = stderr
      app._run_init.done = False  # pylint: disable=protected-access
      app._register_and_parse_flags_with_usage.done = False  # pylint: disable=protected-access
      command_name.make_process_name_useful = lambda: None  # Keep the test process's name.
      app.faulthandler = None  # pytest's faulthandler stays as it is.
      try:
        runpy.run_module(module, run_name='__main__', alter_sys=True)
      except SystemExit as e:
        status = exit_status(e.code, stderr)
      except Exception:  # pylint: disable=broad-except
        traceback.print_exc(file=stderr)  # What the interpreter prints before exiting 1.
        status = 1
  finally:
    sys.argv = saved['argv']
    os.chdir(saved['cwd'])
    handler.stream = saved['stream']
    logging.root.handlers[:] = saved['root_handlers']
    logging.root.setLevel(saved['root_level'])
    absl_logger.setLevel(saved['absl_level'])
    app._run_init.done = saved['run_init']  # pylint: disable=protected-access
    app._register_and_parse_flags_with_usage.done = saved['parsed']  # pylint: disable=protected-access
    command_name.make_process_name_useful = saved['rename']
    app.faulthandler = saved['faulthandler']
  return subprocess.CompletedProcess([sys.executable, '-m', module, *args], status,
                                     stdout.getvalue(), stderr.getvalue())


def stderr_lines(result):
  """The non-blank lines a command wrote to stderr."""
  return [line for line in result.stderr.splitlines() if line.strip()]


def assert_usage_error(result, message, prog=None):
  """Exit status 2 and exactly one line on stderr, naming `message` (and `prog: error:` first)."""
  lines = stderr_lines(result)
  assert result.returncode == 2, result.stderr[-3000:]
  assert len(lines) == 1 and message in lines[0], result.stderr[-3000:]
  if prog:
    assert lines[0].startswith(f'{prog}: error: '), lines[0]
  assert 'Traceback' not in result.stderr
