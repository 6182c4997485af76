"""Every command's exit-code contract in a real process, and the in-process runner the other tests
use (helpers.run_in_process) reproduces what that process shows.

One subprocess per command: a user mistake ends with exit status 2 and exactly one line on stderr,
`prog: error: ...`, without a traceback and without TensorFlow's C++ start-up chatter (the
environment has no TF_CPP_MIN_LOG_LEVEL: the command must silence it itself), and before
TensorFlow is imported where the mistake is one of flags or paths (Python's import log says).
Every other command line of the suite runs in process; the exit statuses 0 and 1 of the trainer in
a real process are held by test_reliability.py (SIGTERM) and test_checkpoint_damage.py (a failing
save).
"""
import glob
import os
import re
import subprocess
import sys
import textwrap

from absl import app
from absl import flags
import numpy as np
import pytest

import helpers
from pixel_recursive import batch_command
from pixel_recursive import commands
from pixel_recursive import workdir as workdir_lib

# (module, arguments, what the one line says); {file}, {pixcolor_run}, {sr_run} are filled in.
CASES = [
    ('pixel_recursive.train', ['--config=experiments/configs/faces_tiny.py',
                               '--config.no_such_key=1', '--workdir={tmp}/x'], 'no_such_key'),
    ('pixel_recursive.upsample', ['--input=/no/such/file.png', '--output={tmp}/o',
                                  '--workdir={tmp}'], '/no/such/file.png'),
    ('pixel_recursive.evaluate', ['--workdir=pixel_recursive/demo/faces', '--output={tmp}/m.json',
                                  '--guidances=1,nan'], '--guidances must be a finite number'),
    ('pixel_recursive.export', ['--workdir={pixcolor_run}', '--output={tmp}/out'],
     'holds a pixcolor model'),
    ('pixel_recursive.rating', ['frobnicate'], 'say `build`'),
    ('pixcolor.train', ['--config=experiments/configs/pixcolor_tiny.py', '--workdir={tmp}/x',
                        '--config.model.chroma_size=5'], 'chroma_size'),
    ('pixcolor.colorize', ['--workdir=/no/such/run', '--input=docs',
                           '--output={tmp}/o'], '/no/such/run'),
    ('pixcolor.evaluate', ['--workdir=/no/such/run', '--output={tmp}/m.json'], '/no/such/run'),
    ('pixcolor.export', ['--workdir={sr_run}', '--output={tmp}/out'],
     'holds a super_resolution model'),
    ('experiments.demo', ['--output={file}/sub'], 'cannot create output folder'),
]
# More mistakes, in this process only (the cases above hold each command's real process).
MORE_CASES = [
    ('pixcolor.evaluate', ['--workdir={tmp}', '--output={tmp}/m.json', 'stray'],
     'unexpected arguments: stray'),
    ('pixcolor.colorize', ['--input={pixcolor_run}', '--output={tmp}/o'],
     'holds no image files (jpg, png'),
    ('pixcolor.export', ['--workdir={pixcolor_run}'], '--output is required'),
    # A config file of the user's that cannot be used: named, with the reason, in one line.
    ('pixel_recursive.train', ['--config={tmp}/no_such_config.py', '--workdir={tmp}/x'],
     "cannot load --config {tmp}/no_such_config.py: [Errno 2] No such file or directory"),
    ('pixel_recursive.train', ['--config={tmp}', '--workdir={tmp}/x'],
     'cannot load --config {tmp}: Is a directory'),
    # A shipped config's name, or its path given outside the repository: where it is.
    ('pixel_recursive.train', ['--config=faces_tiny', '--workdir={tmp}/x'],
     "cannot load --config faces_tiny: [Errno 2] No such file or directory: 'faces_tiny' (the "
     f"shipped config faces_tiny is --config={helpers.ROOT}/experiments/configs/faces_tiny.py)"),
    ('pixel_recursive.train', ['--config={tmp}/raises.py', '--workdir={tmp}/x'],
     '--config {tmp}/raises.py raised ValueError: learning_rate must be positive'),
    ('pixcolor.train', ['--config', '{tmp}/not_python.py', '--workdir={tmp}/x'],
     '--config {tmp}/not_python.py is not valid Python: invalid syntax (line 1)'),
    ('pixcolor.train', ['--config={tmp}/no_get_config.py', '--workdir={tmp}/x'],
     '--config {tmp}/no_get_config.py defines no get_config()'),
    # evaluate's --config takes overrides of the run's config.json only, not a config file.
    ('pixcolor.evaluate', ['--workdir={pixcolor_run}', '--output={tmp}/m.json',
                           '--config=experiments/configs/pixcolor_tiny.py'],
     '--config=experiments/configs/pixcolor_tiny.py: this command reads the config of the run it '
     'loads (its config.json) and takes overrides of it only, e.g. '
     '--config.data.source=folder:/my/photos'),
    # A script given as --config (setup.py, whose setuptools parses the argv and exits).
    ('pixel_recursive.train', ['--config={tmp}/script.py', '--workdir={tmp}/x'],
     '--config {tmp}/script.py exited while it was loaded: a config file defines get_config() '
     'and runs nothing, e.g. one of experiments/configs/*.py'),
    # Values the loop cannot train with (training.task.Task.check_config), named before it starts
    # (a one-step run otherwise: a bug here fails fast).
    *[('pixel_recursive.train', ['--config=experiments/configs/faces_tiny.py',
                                 '--config.train_steps=1', f'--config.{key}=0', '--workdir={tmp}/x'],
       'train_steps, batch_size and checkpoint_every_steps must be positive')
      for key in ('train_steps', 'batch_size', 'checkpoint_every_steps')],
    ('pixcolor.train', ['--config=experiments/configs/pixcolor_tiny.py',
                        '--config.train_steps=1', '--config.learning_rate=0', '--workdir={tmp}/x'],
     'learning_rate must be positive, got 0'),
    *[('pixel_recursive.train', ['--config=experiments/configs/faces_tiny.py',
                                 '--config.train_steps=1', f'--config.{key}', '--workdir={tmp}/x'],
       message)
      for key, message in (('log_every_steps=-1',  # Stepped backwards without end.
                            'log_every_steps must be >= 0 (0: never), got -1'),
                           ('eval_examples=-5', 'eval_examples must be >= 0 (0: the whole eval '
                            'split), got -5'),  # It was the whole split.
                           ('eval_batch_size=0', 'eval_batch_size must be >= 1, got 0'),
                           ('keep_checkpoints=0', 'keep_checkpoints must be >= 1 (how many of the '
                            'newest checkpoints are kept), got 0'),
                           ('num_image_examples=0', "num_image_examples must be >= 1 (the eval "
                            "examples of TensorBoard's images), got 0"),
                           ('seed=-1', 'seed must be >= 0, got -1'),
                           # The data: tracebacks from tf.data and resize, or run as nonsense.
                           ('data.shuffle_buffer=0', 'data.shuffle_buffer must be >= 1, got 0'),
                           ('data.random_zoom=1.5', 'data.random_zoom must be in [0, 1] (0: off), '
                            'got 1.5'),
                           ('data.random_grayscale=2', 'data.random_grayscale must be a '
                            'probability in [0, 1], got 2.0'),
                           ('data.highres_size=30', 'data.highres_size must be 4 x '
                            'data.lowres_size >= 1, got 30 and 8'),
                           ('data.resize_method=cubic', 'data.resize_method must be one of area, '
                            "bicubic, bilinear, lanczos3, nearest, got 'cubic'"))],
    ('pixcolor.train', ['--config=experiments/configs/pixcolor_tiny.py', '--config.train_steps=1',
                        '--config.data.random_crop=-0.6', '--workdir={tmp}/x'],
     'data.random_crop must be in [0, 1] (0: off), got -0.6'),
    ('pixcolor.train', ['--config=experiments/configs/pixcolor_tiny.py'],
     'Flag --workdir must have a value other than None'),
    # Empty values (a shell variable that was not set) are named, not read as the current folder.
    ('pixcolor.train', ['--config=experiments/configs/pixcolor_tiny.py', '--workdir='],
     '--workdir is empty: give a folder'),
    ('pixel_recursive.train', ['--config=', '--workdir={tmp}/x'],
     '--config is empty: give a config file, e.g. one of experiments/configs/*.py'),
    ('experiments.demo', ['--output='], 'output folder is empty: give a folder'),
    # The framing test's flags, before its faces or model are read (tracebacks, or 1.5 run as 1.0
    # and --num_examples=-4 as all but the last four faces).
    *[('experiments.framing', ['--faces={tmp}/none.npz', *args], message) for args, message in (
        (['--zooms=0.6,1.5'], '--zooms must be in (0, 1], a fraction of the frame, got 1.5'),
        (['--zooms=0.6,x'], '--zooms must be numbers, got 0.6,x'),
        (['--temperature=0'], '--temperature must be a positive number, got 0.0'),
        (['--num_examples=-4'], 'flag --num_examples=-4: -4 is not a positive integer'))],
    # The other experiment scripts' numbers (an IndexError, a division by zero, a head trained
    # for 3000 steps at learning rate 0).
    ('experiments.face_framing', ['--fit={tmp}/a.npz', '--check={tmp}/b.npz', '--check_count=0'],
     'flag --check_count=0: 0 is not a positive integer'),
    ('experiments.colour_regression_bound', ['--train=samples', '--eval=samples',
                                             '--output={tmp}/b.json', '--learning_rate=0'],
     'flag --learning_rate=0.0: must be a positive number (0 trained nothing for 3000 steps)'),
    # Found after the head's 3,000 steps (an open() traceback) or after the model loaded.
    ('experiments.colour_regression_bound', ['--train=samples', '--eval=samples', '--output={tmp}'],
     '--output {tmp} is a folder: give the path of a file, e.g. {tmp}/metrics.json'),
    ('experiments.colour_regression_bound', ['--train=photos.npz', '--eval=samples'],
     "--train: data.source 'photos.npz' is not one of samples"),
    ('experiments.benchmarks.training', ['--configs=faces_tiny', '--data_source=photos'],
     "--data_source: data.source 'photos' is not one of samples"),
    # A sampling default that is no number (float()'s ValueError, in a traceback).
    *[('experiments.make_demo_checkpoint', ['--workdir={sr_run}', '--output={tmp}/demo',
                                            f'--sampling={item}'], message)
      for item, message in (
          ('temperature=abc', "--sampling temperature must be a number, got 'abc'"),
          ('top_p', "--sampling top_p must be a number, got ''"))],
    # The demo's sampling flags and workdirs, before any model runs (they were tracebacks).
    ('experiments.demo', ['--output={tmp}/demo', '--color_temperature=0'],
     '--color_temperature must be a positive number, got 0.0'),
    ('experiments.demo', ['--output={tmp}/demo', '--guidance=-1'],
     '--guidance must be a finite number >= 0, got -1.0'),
    ('experiments.demo', ['--output={tmp}/demo', '--pixcolor_workdir=pixel_recursive/demo/faces'],
     'pixel_recursive/demo/faces holds a super_resolution model, not a pixcolor one: '
     '--pixcolor_workdir takes a pixcolor run'),
    # A model that cannot be built (each of its networks checks its sizes; both tasks say so).
    *[('pixel_recursive.train', ['--config=experiments/configs/faces_tiny.py',
                                 f'--config.model.{key}', '--workdir={tmp}/x'], message)
      for key, message in (('prior.kernel_size=4', 'kernel_size must be odd and >= 1, got 4'),
                           ('conditioning.blocks=(2,2)', 'conditioning.blocks must be three'),
                           ('num_values=1', 'num_values must be >= 2'),
                           ('prior.filters=0', 'filters and head_filters must be >= 1'))],
    ('pixcolor.train', ['--config=experiments/configs/pixcolor_tiny.py', '--workdir={tmp}/x',
                        '--config.model.pixelcnn.num_layers=0'], 'num_layers must be >= 1, got 0'),
    ('pixcolor.train', ['--config=experiments/configs/pixcolor_tiny.py', '--workdir={tmp}/x',
                        '--config.model.conditioning.bn_momentum=1.5'],
     'conditioning.bn_momentum must be in [0, 1], got 1.5'),
    ('pixcolor.train', ['--config=experiments/configs/pixcolor_tiny.py', '--workdir={tmp}/x',
                        '--config.model.chroma_size=0', '--config.data.chroma_size=0'],
     'model.chroma_size must be >= 1, got 0'),
    ('pixcolor.train', ['--config=experiments/configs/pixcolor_tiny.py', '--workdir={tmp}/x',
                        '--config.model.num_bins=1', '--config.data.num_bins=1'],
     'model.num_bins must be >= 2, got 1'),
    ('pixel_recursive.train', ['--config=experiments/configs/faces_tiny.py', '--cpu_replicas=-1',
                               '--workdir={tmp}/x'], '--cpu_replicas=-1: -1 is not a non-negative'),
    # A workdir that cannot be made (here a file in its path; or no permission): exit 2, not 1.
    ('pixcolor.train', ['--config=experiments/configs/pixcolor_tiny.py', '--config.train_steps=1',
                        '--workdir={file}/run'], 'cannot create --workdir {file}/run: Not a '
     'directory'),
    # A URL (a bucket): it became a local folder named 'gs:' beside TensorFlow's own writes there.
    ('pixel_recursive.train', ['--config=experiments/configs/faces_tiny.py',
                               '--workdir=gs://bucket/run'],
     '--workdir gs://bucket/run is a URL: give a local folder'),
    ('pixel_recursive.upsample', ['--workdir=gs://bucket/run', '--input=docs', '--output={tmp}/o'],
     'workdir gs://bucket/run is a URL'),
    ('pixcolor.colorize', ['--input=docs', '--output=s3://bucket/out'],
     'output folder s3://bucket/out is a URL'),
    # An input URL said it "does not exist", which a user who can open it will doubt.
    ('pixel_recursive.upsample', ['--input=gs://bucket/faces', '--output={tmp}/o'],
     '--input gs://bucket/faces is a URL: give a local folder'),
    ('pixcolor.colorize', ['--input=https://example.com/cat.jpg', '--output={tmp}/o'],
     '--input https://example.com/cat.jpg is a URL: give a local folder'),
    # The data source's own errors (data.errors.DataSourceError) are the user's too.
    ('pixel_recursive.train', ['--config=experiments/configs/faces_tiny.py',
                               '--config.train_steps=1', '--config.data.source=folder:{tmp}/none',
                               '--workdir={tmp}/x'], "folder source '{tmp}/none' is not a directory"),
]


@pytest.fixture
def paths(tmp_path):
  (tmp_path / 'file').write_text('')
  (tmp_path / 'raises.py').write_text(
      'def get_config():\n  raise ValueError("learning_rate must be positive")\n')
  (tmp_path / 'not_python.py').write_text('def get_config(:\n')
  (tmp_path / 'no_get_config.py').write_text('LEARNING_RATE = 1e-3\n')
  (tmp_path / 'script.py').write_text('import sys\nsys.exit("usage: script.py [options]")\n')
  for name, model in (('pixcolor_run', 'pixcolor'), ('sr_run', 'super_resolution')):
    helpers.fake_run(tmp_path / name, model)
  return {'tmp': str(tmp_path), 'file': str(tmp_path / 'file'),
          'pixcolor_run': str(tmp_path / 'pixcolor_run'), 'sr_run': str(tmp_path / 'sr_run')}


def runnable_modules():
  """Every `python -m` command of the two packages: a module with a __main__ block, or a package
  with a __main__.py. Found on disk, so that a new command without a case here fails the test."""
  found = set()
  for package in ('pixel_recursive', 'pixcolor'):
    for path in glob.glob(os.path.join(helpers.ROOT, package, '**', '*.py'), recursive=True):
      with open(path) as f:
        if "__name__ == '__main__'" not in f.read():
          continue
      module = os.path.relpath(path, helpers.ROOT)[:-len('.py')].replace(os.sep, '.')
      found.add(module[:-len('.__main__')] if module.endswith('.__main__') else module)
  return found


def test_every_command_is_covered():
  commands = runnable_modules()
  assert {'pixel_recursive.train', 'pixcolor.colorize', 'pixel_recursive.rating'} <= commands
  modules = [m for m, _, _ in CASES]
  assert len(modules) == len(set(modules))  # One subprocess per command.
  assert set(modules) == commands | {'experiments.demo'}


# The cases whose mistake only the model's own code finds, after TensorFlow has loaded (PixColor's
# sizes, checked by its task). Every other mistake is named before: in a fraction of a second.
AFTER_TENSORFLOW = {'pixcolor.train'}


@pytest.mark.parametrize('module,args,message', CASES, ids=[m for m, _, _ in CASES])
def test_a_user_mistake_exits_2_with_one_line_in_a_real_process_and_in_process(
    paths, module, args, message):
  args = [a.format(**paths) for a in args]
  real = helpers.run_cli(module, *args, python_args=('-X', 'importtime'))
  # Python's import log (on stderr, one line per module: 'import time: ... |   name') set apart.
  log = [line for line in real.stderr.splitlines() if line.startswith('import time:')]
  imported = {line.rsplit('|', 1)[1].strip() for line in log}
  real.stderr = ''.join(line for line in real.stderr.splitlines(keepends=True)
                        if not line.startswith('import time:'))
  assert 'absl' in imported  # The log is there,
  assert ('tensorflow' in imported) == (module in AFTER_TENSORFLOW), module  # and what it shows.
  helpers.assert_usage_error(real, message, prog=module)
  inside = helpers.run_in_process(module, *args)
  assert inside.returncode == real.returncode
  assert helpers.stderr_lines(inside) == helpers.stderr_lines(real)
  assert inside.stdout == real.stdout == ''
  # The mistake is found before the command makes its --output (each case but rating's has one).
  outputs = [a.split('=', 1)[1] for a in args if a.startswith('--output=')]
  assert outputs or module.endswith(('.train', '.rating'))
  assert not any(os.path.exists(out) for out in outputs), outputs


@pytest.mark.parametrize('module,args,message', MORE_CASES, ids=[m for m, _, _ in MORE_CASES])
def test_more_user_mistakes_exit_2_with_one_line(paths, module, args, message):
  result = helpers.run_in_process(module, *[a.format(**paths) for a in args])
  helpers.assert_usage_error(result, message.format(**paths), prog=module)


def test_training_that_diverges_exits_1_with_one_line(tmp_path):
  # Adam's first step moves every weight by about the learning rate: the next loss overflows.
  result = helpers.run_in_process(
      'pixel_recursive.train', '--config=experiments/configs/faces_tiny.py',
      '--config.learning_rate=1e30', '--config.train_steps=3', f'--workdir={tmp_path}/x')
  assert result.returncode == 1, result.stderr[-2000:]
  last = helpers.stderr_lines(result)[-1]
  assert last.startswith('pixel_recursive.train: error: non-finite loss or gradient at step '), last
  assert 'Last good checkpoint: none' in last and 'starts from the beginning' in last, last


# A command whose input pipeline fails while its Python decoding has work in flight (as a TFRecord
# file read from a bucket can, or a reader that raises): the failed iterator, held by the frames of
# the exception's traceback or by a reference cycle, was destroyed only as the interpreter exited,
# and its destructor waited for the decoding threads that exit had stopped.
FAILING_PIPELINE_COMMAND = '''
import time
from absl import flags
import numpy as np
import tensorflow as tf
from pixel_recursive import commands

flags.DEFINE_string('outcome', 'crash', 'crash (a traceback) or failure (one line).')


def decode(i):
  if i == 40:
    raise ValueError('record 40 is broken')
  time.sleep(0.002)  # Decoding takes time: other elements are being decoded when one fails.
  return np.full([8, 8, 3], i % 255, np.uint8)


def main(argv):
  del argv
  files = tf.data.Dataset.range(8).interleave(
      lambda f: tf.data.Dataset.range(f * 1000, f * 1000 + 1000), cycle_length=8,
      num_parallel_calls=tf.data.AUTOTUNE)
  images = files.map(lambda i: tf.numpy_function(lambda j: decode(j % 100), [i], tf.uint8),
                     num_parallel_calls=tf.data.AUTOTUNE).batch(4).prefetch(4)
  iterator = iter(images)
  loop = {'iterator': iterator}
  loop['self'] = loop  # In a reference cycle too, as objects that point back at their owner are.

  @tf.function
  def steps(iterator):
    total = tf.constant(0, tf.int64)
    for _ in tf.range(100):
      total += tf.reduce_sum(tf.cast(next(iterator), tf.int64))
    return total

  try:
    for _ in range(10):
      steps(iterator)
  except tf.errors.InvalidArgumentError as e:
    if flags.FLAGS.outcome == 'crash':
      raise
    raise commands.Failure('the input pipeline failed') from e


if __name__ == '__main__':
  commands.run(main)
'''


@pytest.mark.parametrize('outcome, status, last_line', [
    ('crash', 1, None),
    ('failure', 1, 'failing_pipeline.py: error: the input pipeline failed')])
def test_a_command_whose_input_pipeline_fails_exits_instead_of_hanging(
    tmp_path, outcome, status, last_line):
  script = tmp_path / 'failing_pipeline.py'
  script.write_text(FAILING_PIPELINE_COMMAND)
  env = dict(os.environ, PYTHONPATH=helpers.ROOT)
  try:  # It exits in seconds; it hung (6 times in 6 on an AMD EPYC, 2026-12-07) until killed.
    result = subprocess.run([sys.executable, str(script), f'--outcome={outcome}'], env=env,
                            capture_output=True, text=True, timeout=120)
  except subprocess.TimeoutExpired as e:
    raise AssertionError(f'still running after 120 s: {(e.stderr or b"")[-1500:]}') from None
  assert result.returncode == status, result.stderr[-2000:]
  if outcome == 'crash':  # The traceback the interpreter would print, down to the reader's error.
    assert 'Traceback (most recent call last)' in result.stderr, result.stderr[-2000:]
    assert 'ValueError: record 40 is broken' in result.stderr, result.stderr[-2000:]
  else:
    assert 'Traceback' not in result.stderr, result.stderr[-2000:]
    assert helpers.stderr_lines(result)[-1] == last_line, result.stderr[-2000:]


# ----------------------------------------------------------------------------------------------
# The in-process runner itself.
# ----------------------------------------------------------------------------------------------
FAKE_COMMAND = '''
import sys
from absl import flags
from absl import logging
from pixel_recursive import commands

flags.DEFINE_string('outcome', 'ok', 'What to do.')
flags.DEFINE_integer('verbosity_seen', 0, 'Unused.')


def main(argv):
  del argv
  print('to stdout')
  logging.info('an info line')
  if flags.FLAGS.outcome == 'partial':
    print('skipped one', file=sys.stderr)
    sys.exit(1)
  if flags.FLAGS.outcome == 'failure':
    raise commands.Failure('the disk is full')
  if flags.FLAGS.outcome == 'crash':
    raise RuntimeError('a bug')
  if flags.FLAGS.outcome == 'message':
    sys.exit('fatal: message')


if __name__ == '__main__':
  commands.run(main)
'''


@pytest.fixture
def fake_command(tmp_path, monkeypatch):
  (tmp_path / 'fake_command.py').write_text(textwrap.dedent(FAKE_COMMAND))
  monkeypatch.syspath_prepend(str(tmp_path))
  return 'fake_command'


@pytest.mark.parametrize('outcome,status,last_line', [
    ('ok', 0, 'an info line'),
    ('partial', 1, 'skipped one'),
    ('failure', 1, 'fake_command: error: the disk is full'),
    ('crash', 1, 'RuntimeError: a bug'),
    ('message', 1, 'fatal: message'),
    ('nonsense', None, None),
])
def test_run_in_process_reports_what_a_process_would(fake_command, outcome, status, last_line):
  # The help flags run_in_process defines once per process (as absl does in a new one) are there
  # before the snapshot, whether or not an earlier test of this worker ran a command in process.
  app.define_help_flags()
  flag_values = {name: flags.FLAGS[name].value for name in flags.FLAGS}
  argv, cwd = sys.argv, os.getcwd()
  args = [f'--outcome={outcome}'] if outcome != 'nonsense' else ['--no_such_flag=1']
  result = helpers.run_in_process(fake_command, *args)
  if outcome == 'nonsense':
    helpers.assert_usage_error(result, 'no_such_flag', prog='fake_command')
  else:
    assert result.returncode == status, result.stderr
    assert result.stdout == 'to stdout\n'
    lines = helpers.stderr_lines(result)
    assert 'an info line' in lines[0]  # absl's INFO lines are on, as in a new process.
    assert last_line in lines[-1], lines
    assert ('Traceback' in result.stderr) == (outcome == 'crash')
  # Nothing is left behind: the command's flags are gone, the others have their values.
  assert {name: flags.FLAGS[name].value for name in flags.FLAGS} == flag_values
  assert sys.argv is argv and os.getcwd() == cwd
  # The same command can run again in this process (its flags are defined anew).
  assert helpers.run_in_process(fake_command, '--outcome=ok').returncode == 0


@pytest.mark.parametrize('module, override, suggestion', [
    ('pixel_recursive.train', '--config.eval_every=5', '--config.eval_every_steps'),
    ('pixcolor.train', '--config.modl.prior.num_layers=2', '--config.model.prior.num_layers'),
    ('pixel_recursive.evaluate', '--config.data.sourc=samples', '--config.data.source'),
    ('pixcolor.evaluate', '--config.datas.source=samples', '--config.data.source'),
])
def test_a_mistyped_config_key_is_named_with_its_likely_spelling(module, override, suggestion,
                                                                 tmp_path):
  # Evaluate's config is a dict flag, which reads its overrides when it is defined, before the
  # flags are parsed; train's is a file, read while they are parsed: one line from both.
  if module.endswith('train'):
    config = 'faces_tiny' if module.startswith('pixel_recursive') else 'pixcolor_tiny'
    args = [f'--config=experiments/configs/{config}.py', f'--workdir={tmp_path}/w']
  else:
    args = ['--workdir=pixcolor/demo/photos', f'--output={tmp_path}/m.json']
  result = helpers.run_in_process(module, *args, override)
  key = override.split('=')[0]
  helpers.assert_usage_error(
      result, f'unknown config key {key}: the config file has no such field (did you mean '
      f'{suggestion}?)', prog=module)


@pytest.mark.parametrize('module, config, other', [
    ('pixel_recursive.train', 'pixcolor_tiny', 'pixcolor.train'),
    ('pixcolor.train', 'faces_tiny', 'pixel_recursive.train'),
])
def test_a_config_of_the_other_paper_names_its_command(module, config, other, tmp_path):
  result = helpers.run_in_process(module, f'--config=experiments/configs/{config}.py',
                                  f'--workdir={tmp_path}/run')
  helpers.assert_usage_error(result, f'trains with python -m {other}', prog=module)
  assert not os.path.exists(tmp_path / 'run')  # Nothing written for the wrong command.


def test_a_workdir_that_is_a_file_is_named_as_such(tmp_path):
  (tmp_path / 'run').write_text('')
  result = helpers.run_in_process('pixel_recursive.train',
                                  '--config=experiments/configs/faces_tiny.py',
                                  f'--workdir={tmp_path}/run')
  helpers.assert_usage_error(result, f'--workdir {tmp_path}/run is a file, not a folder',
                             prog='pixel_recursive.train')


def test_a_workdir_without_config_json_is_named_as_not_a_training_run(tmp_path):
  (tmp_path / 'photos').mkdir()
  result = helpers.run_in_process('pixel_recursive.upsample', f'--workdir={tmp_path}/photos',
                                  '--input=docs', f'--output={tmp_path}/o')
  helpers.assert_usage_error(
      result, f'{tmp_path}/photos has no config.json: is it the --workdir of a training run?',
      prog='pixel_recursive.upsample')


def test_a_message_of_several_lines_is_reported_as_one(capsys):
  with pytest.raises(SystemExit) as exit_:
    commands.fail('first line\n  second   line\n', status=2)
  assert exit_.value.code == 2
  err = capsys.readouterr().err
  assert err.endswith(': error: first line second line\n') and err.count('\n') == 1


@pytest.mark.parametrize('bad', ['0', '-1', '1.5', 'x', ''])
def test_a_number_of_candidates_is_an_integer_of_at_least_1_and_not_2(bad):
  with pytest.raises(commands.UsageError, match=f'--candidates must be an integer >= 1, got {bad}'):
    commands.check_candidates(bad)
  with pytest.raises(commands.UsageError, match='--candidates=2 cannot choose'):
    commands.check_candidates('2')
  assert commands.check_candidates(' 3') == commands.check_candidates(3) == 3
  assert commands.check_candidates('1') == 1


def test_a_sampling_flag_given_wins_over_the_model_even_when_it_is_zero():
  import ml_collections  # pylint: disable=g-import-not-at-top
  config = ml_collections.ConfigDict({'sampling': {'guidance': 4.0}})
  assert commands.sampling_setting(config, 'guidance', 0.0) == 0.0  # w = 0: the prior alone.
  assert commands.sampling_setting(config, 'guidance', None) == 4.0
  assert commands.sampling_setting(config, 'temperature', None) == 1.0  # The papers'.


def test_output_names_never_collide(tmp_path):
  root = tmp_path / 'in'
  files = [str(root / name) for name in ('a.jpg', 'a.png', 'b.jpg', 'sub/a.jpg', 'sub/c.tif')]
  for path in files:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, 'w').close()
  name = batch_command.output_names(files, str(root), 'out')
  assert [name(path, '_sample0') for path in files] == [
      'out/a.jpg_sample0.png', 'out/a.png_sample0.png', 'out/b_sample0.png',
      'out/sub/a_sample0.png', 'out/sub/c_sample0.png']
  assert batch_command.output_names(files[:1], files[0], 'out')(files[0], '_x') == 'out/a_x.png'


def test_a_quoted_glob_pattern_picks_the_inputs_and_names_them_under_its_folder_part(
    tmp_path, monkeypatch):
  """`--input='photos/*.jpg'` (the shell leaves `--input=photos/*.jpg` as it is: it named a file
  that does not exist). Matching folders are searched, matching files kept by their extension, `**`
  goes to any depth; outputs are named under the pattern's folder part, so never collide."""
  root = tmp_path / 'in'
  for name in ('a.jpg', 'b.png', 'notes.txt', 'sub/a.jpg', 'sub/deep/c.tif', 'other/d.jpg',
               'out/a_sample0.png', '[x].jpg'):
    os.makedirs(os.path.dirname(root / name), exist_ok=True)
    (root / name).write_bytes(b'')  # Listed by extension; not read here.
  monkeypatch.chdir(root)
  read = lambda pattern, output=None: [os.path.relpath(f, root) for f in
                                       batch_command.read_inputs(pattern, output)]
  assert read(f'{root}/*.jpg') == ['[x].jpg', 'a.jpg']
  assert read('*') == ['[x].jpg', 'a.jpg', 'b.png', 'other/d.jpg', 'out/a_sample0.png', 'sub/a.jpg',
                       'sub/deep/c.tif']  # Folders searched; notes.txt is no image.
  assert read('*', f'{root}/out') == ['[x].jpg', 'a.jpg', 'b.png', 'other/d.jpg', 'sub/a.jpg',
                                      'sub/deep/c.tif']  # The outputs left out, as for a folder.
  assert read('**/a.jpg') == ['a.jpg', 'sub/a.jpg']
  assert read('s?b/*') == ['sub/a.jpg', 'sub/deep/c.tif']  # The folder deep/ it matches: searched.
  assert read('sub/*.jpg') == ['sub/a.jpg']  # '*' itself goes no deeper.
  assert read('[x].jpg') == ['[x].jpg']  # A file's own name is no pattern...
  assert read('[ab].jpg') == ['a.jpg']  # ...but a name that is no file is.
  files = batch_command.read_inputs('**/a.jpg')
  name = batch_command.output_names(files, '**/a.jpg', 'out')
  assert [name(f, '_sample0') for f in files] == ['out/a_sample0.png', 'out/sub/a_sample0.png']
  name = batch_command.output_names(files, f'{root}/s*/../*.jpg', 'out')  # Under in/.
  assert [name(f, '') for f in files] == ['out/a.png', 'out/sub/a.png']
  assert batch_command.pattern_root('/*.jpg') == '/'
  with pytest.raises(commands.UsageError, match=r'^--input \*\.gif matches no file or folder$'):
    read('*.gif')
  with pytest.raises(commands.UsageError, match=r'^--input \*\.txt matches no image files \(jpg'):
    read('*.txt')
  with pytest.raises(commands.UsageError, match=r'^--input nothing\.jpg does not exist$'):
    read('nothing.jpg')  # No glob character: a file that is not there.


@pytest.mark.parametrize('batch_size', [1, 4, 10])
def test_each_output_is_seeded_by_its_input_and_sample_whatever_the_batch(batch_size, caplog):
  """`upsample` and `colorize` sample output k of input i with derive_seed(seed, i, k): each output
  once, the samples of one input with different seeds, the last batch's padding never written."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from pixel_recursive import sampling  # pylint: disable=g-import-not-at-top
  caplog.set_level('INFO')
  items = [np.full([2], i) for i in range(3)]
  written, sizes = {}, []

  def sample(stacked, seeds):
    sizes.append(len(stacked))
    return [(int(item[0]), int(s)) for item, s in zip(stacked, seeds)]

  def write(i, k, output):
    assert (i, k) not in written and output[0] == i
    written[i, k] = output[1]

  batch_command.sample_in_batches(items, 2, 7, batch_size, sample, write)
  assert written == {(i, k): sampling.derive_seed(7, i, k) for i in range(3) for k in range(2)}
  assert len(set(written.values())) == 6
  assert set(sizes) == {min(batch_size, 6)}  # One shape for the compiled sampler.
  # Progress after each batch, in outputs written (the padding not counted): 6 outputs in all.
  progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith('sampled ')]
  done = list(range(batch_size, 6, batch_size)) + [6]
  assert progress == [f'sampled {n}/6 ({100 * n // 6}%)' for n in done]


def test_the_last_line_counts_what_was_written_in_good_english(capsys):
  batch_command.report_written(1, 'out/grid.png')
  batch_command.report_written(3, 'out/grid.png', ' of 1 face')
  assert capsys.readouterr().out.splitlines() == [
      'wrote 1 PNG and out/grid.png', 'wrote 3 PNGs of 1 face and out/grid.png']


@pytest.mark.parametrize('module,names', [
    ('pixel_recursive.upsample', 'faces, bedrooms'), ('pixel_recursive.export', 'faces, bedrooms'),
    ('pixel_recursive.evaluate', 'faces, bedrooms'), ('pixcolor.evaluate', 'photos'),
    ('pixcolor.colorize', 'photos'), ('pixcolor.export', 'photos')])
def test_an_unknown_shipped_model_ends_in_one_line(module, names, tmp_path):
  args = ['--model=cats', f'--output={tmp_path}/out'] + (
      [f'--input={helpers.ROOT}/docs'] if module.endswith(('upsample', 'colorize')) else [])
  helpers.assert_usage_error(helpers.run_in_process(module, *args),
                             f"--model must be one of {names}, got 'cats'", prog=module)
  both = helpers.run_in_process(module, *args[1:], f'--model={names.split(",")[0]}',
                                f'--workdir={tmp_path}')
  helpers.assert_usage_error(both, 'not both', prog=module)


@pytest.mark.parametrize('module,model,folder', [
    ('pixel_recursive.evaluate', 'bedrooms', workdir_lib.SR_DEMO_WORKDIRS['bedrooms']),
    ('pixel_recursive.evaluate', 'faces', workdir_lib.SR_DEMO_WORKDIRS['faces']),
    ('pixcolor.evaluate', 'photos', workdir_lib.PIXCOLOR_DEMO_WORKDIR)])
def test_evaluate_takes_a_shipped_model_by_name_and_needs_a_model_or_a_workdir(
    module, model, folder, tmp_path, monkeypatch):
  """`--model` evaluates a shipped demo (installed, its folder is inside site-packages: a user
  cannot be expected to know it); without it or --workdir, one line names both."""
  restored = []

  def restore(workdir, *args, **kwargs):
    restored.append(workdir)
    raise commands.UsageError('restored')

  monkeypatch.setattr(workdir_lib, 'restore', restore)
  output = f'--output={tmp_path}/m.json'
  helpers.assert_usage_error(helpers.run_in_process(module, f'--model={model}', output),
                             'restored', prog=module)
  assert restored == [folder]
  helpers.assert_usage_error(helpers.run_in_process(module, output),
                             '--output and --workdir (or --model=', prog=module)


@pytest.mark.parametrize('module', ['pixcolor.colorize', 'pixcolor.export'])
def test_pixcolors_commands_take_the_shipped_model_by_name_too(module, tmp_path, monkeypatch):
  """--model=photos, as `pixcolor.evaluate` takes it: the one shipped PixColor model."""
  restored = []

  def restore(workdir, *args, **kwargs):
    restored.append(workdir)
    raise commands.UsageError('restored')

  monkeypatch.setattr(workdir_lib, 'restore', restore)
  args = ['--model=photos', f'--output={tmp_path}/out'] + (
      [f'--input={helpers.ROOT}/docs'] if module.endswith('colorize') else [])
  helpers.assert_usage_error(helpers.run_in_process(module, *args), 'restored', prog=module)
  assert restored == [workdir_lib.PIXCOLOR_DEMO_WORKDIR]


@pytest.mark.parametrize('module', ['pixel_recursive.upsample', 'pixcolor.colorize',
                                    'experiments.demo', 'pixel_recursive.train',
                                    'pixcolor.evaluate', 'pixel_recursive.export',
                                    'pixcolor.export'])
def test_a_mistyped_flag_is_reported_before_tensorflow_is_imported(module):
  """The quiet TensorFlow import of the command lines (pixel_recursive/__init__.py) waits until the
  command needs TensorFlow, so a mistyped flag costs a tenth of a second, not TensorFlow's import.
  Python's own import profile (PYTHONPROFILEIMPORTTIME) lists every module the process imported."""
  real = helpers.run_cli(module, '--no_such_flag=1', env=dict(os.environ,
                                                              PYTHONPROFILEIMPORTTIME='1'))
  lines = real.stderr.splitlines()
  imported = {line.rsplit('|', 1)[-1].strip() for line in lines if line.startswith('import time:')}
  assert 'absl.flags' in imported  # The profile is there.
  assert 'tensorflow' not in imported and 'keras' not in imported
  others = [line for line in lines if not line.startswith('import time:')]
  assert real.returncode == 2
  assert others == [f"{module}: error: Unknown command line flag 'no_such_flag'"]


@pytest.mark.parametrize('check,good,bad,message', [
    (commands.check_temperature, ['0.5', 2], [0, -1, 'inf', 'nan'],
     '--temperature must be a positive number'),
    (commands.check_guidance, [0, '5'], [-1, 'inf', 'nan'], '--guidance must be a finite number >= 0'),
    (commands.check_top_p, ['0.9', 1], [0, -0.1, 1.5, 'nan'], r'--top_p must be in \(0, 1\]'),
])
def test_a_sampling_setting_that_cannot_be_meant_is_a_usage_error(check, good, bad, message):
  assert [check(value) for value in good] == [float(value) for value in good]
  for value in bad:
    with pytest.raises(commands.UsageError, match=message):
      check(value)


def test_an_output_folder_that_cannot_be_written_is_a_usage_error(tmp_path, monkeypatch):
  # Permissions cannot deny root (CI may run as root): os.access is made to answer as for a user.
  monkeypatch.setattr(commands.os, 'access', lambda path, mode: False)
  with pytest.raises(commands.UsageError, match=f'output folder {tmp_path}/out is not writable'):
    commands.check_output_dir(str(tmp_path / 'out'))


def test_an_output_folder_named_as_a_file_is_a_usage_error_unless_it_is_a_folder(tmp_path):
  for stem, extension in (('result', '.png'), ('study', '.HTML')):
    with pytest.raises(commands.UsageError, match=(
        f'^output folder {tmp_path}/{stem}{extension} is named as a file \\({extension}\\): '
        f'the outputs go into a folder, e.g. {tmp_path}/{stem}/$')):
      commands.check_output_dir(f'{tmp_path}/{stem}{extension}')
    assert not os.path.exists(f'{tmp_path}/{stem}{extension}')
  (tmp_path / 'kept.png').mkdir()  # A folder of that name already: the user's choice.
  commands.check_output_dir(str(tmp_path / 'kept.png'))
  for name in ('meant.png/', 'run.v2'):  # A final slash says a folder is meant; not a file's name.
    commands.check_output_dir(f'{tmp_path}/{name}')
    assert os.path.isdir(f'{tmp_path}/{name}')


def test_the_config_named_in_a_message_is_the_last_one_given_as_absl_uses_it():
  assert commands._config_path(['prog', '--config=a.py', '--config', 'b.py']) == 'b.py'
  assert commands._config_path(['prog', '--config', 'a.py', '--config=b.py']) == 'b.py'
  assert commands._config_path(['prog', '--workdir=w']) == 'file'


def test_inputs_are_read_beside_the_output_folder_but_not_inside_it(tmp_path):
  """The output folder's own files are left out; a sibling whose name starts like it is not."""
  for name in ('a.png', 'out/sample.png', 'out_old/b.png', 'out/deep/c.png'):
    os.makedirs(os.path.dirname(tmp_path / 'in' / name), exist_ok=True)
    (tmp_path / 'in' / name).write_bytes(b'')  # Listed by extension; not read here.
  files = batch_command.read_inputs(str(tmp_path / 'in'), str(tmp_path / 'in' / 'out'))
  assert [os.path.relpath(f, tmp_path / 'in') for f in files] == ['a.png', 'out_old/b.png']


def test_reading_and_sampling_show_their_progress_ending_at_the_total(caplog):
  with caplog.at_level('INFO'):
    good, items, failures = batch_command.read_each(['x', 'y', 'z'], lambda path: path.upper())
    for done in range(1, 8):
      commands.log_progress(done, 7, 'sampled', every=3)
  assert (good, items, failures) == (['x', 'y', 'z'], ['X', 'Y', 'Z'], [])
  assert [r.getMessage() for r in caplog.records] == [
      'read 1/3 (33%)', 'read 2/3 (66%)', 'read 3/3 (100%)',
      'sampled 3/7 (42%)', 'sampled 6/7 (85%)', 'sampled 7/7 (100%)']


@pytest.mark.parametrize('num_samples,batch_size,message', [
    (-1, 2, 'num_samples must be an integer >= 0, got -1'),
    (1.5, 2, 'num_samples must be an integer >= 0, got 1.5'),
    (1, 0, 'batch_size must be an integer >= 1, got 0'),
    (1, -1, 'batch_size must be an integer >= 1, got -1'),  # Sampled nothing, silently.
    (True, 2, 'num_samples must be an integer >= 0, got True'),
])
def test_sampling_in_batches_refuses_counts_that_are_not_counts(num_samples, batch_size, message):
  with pytest.raises(ValueError, match=f'^{re.escape(message)}$'):
    batch_command.sample_in_batches([np.zeros(2)], num_samples, 0, batch_size, None, None)


def test_sampling_in_batches_of_nothing_samples_nothing():
  calls = []
  for items, num_samples in (([], 2), ([np.zeros(2)], 0)):
    batch_command.sample_in_batches(items, num_samples, 0, 4, calls.append, calls.append)
  assert calls == []


@pytest.mark.parametrize('command', ['pixel_recursive.upsample', 'pixcolor.colorize'])
def test_the_grid_previews_the_first_inputs_of_a_large_folder_and_says_so(
    command, tmp_path, monkeypatch):
  """A folder of 10,000 inputs made a grid.png 1,300,000 pixels tall (colorize holding every
  thumbnail until then): the grid shows the first GRID_ROWS inputs, every input's PNGs are written,
  and the log says so. (GRID_ROWS 2 here, of 3 inputs.)"""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(batch_command, 'GRID_ROWS', 2)
  inputs = tmp_path / 'in'
  inputs.mkdir()
  for i, image in enumerate(helpers.smooth_images(3, size=32, seed=5)):
    Image.fromarray(image).save(inputs / f'{i}.png')
  out = tmp_path / 'out'
  result = helpers.run_in_process(command, f'--input={inputs}', f'--output={out}',
                                  '--candidates=1')
  assert result.returncode == 0, result.stderr[-3000:]
  assert all((out / f'{i}_sample0.png').exists() for i in range(3))
  assert 'grid.png shows the first 2 of 3 inputs (GRID_ROWS); the PNGs of all are written' in (
      result.stderr)
  monkeypatch.setattr(batch_command, 'GRID_ROWS', 3)  # All three: one row more, no such line.
  result = helpers.run_in_process(command, f'--input={inputs}', f'--output={tmp_path}/all',
                                  '--candidates=1')
  assert result.returncode == 0 and 'grid.png shows the first' not in result.stderr
  grid, full = (np.asarray(Image.open(folder / 'grid.png')) for folder in (out, tmp_path / 'all'))
  row = full.shape[0] - grid.shape[0]
  assert row > 30 and grid.shape[1] == full.shape[1]
  np.testing.assert_array_equal(grid, full[:grid.shape[0]])  # The same first two rows.


def test_upsample_hands_over_each_sample_as_soon_as_its_batch_is_made():
  """upsample wrote no sample PNG before every input was sampled: a run over a large folder
  stopped after an hour kept nothing. `on_sample` receives each sample when its batch ends, before
  the next batch is drawn, and exactly what upsample_all returns."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from pixel_recursive import upsample  # pylint: disable=g-import-not-at-top
  events = []

  class Fake:
    def sample(self, images, temperature, seed, **unused):
      events.append(('batch', len(seed)))
      return tf.cast(tf.broadcast_to(tf.reshape(tf.constant(seed) % 251, [-1, 1, 1, 1]),
                                     [len(seed), 32, 32, 3]), tf.uint8)

  received = {}

  def on_sample(i, k, image):
    events.append(('sample', i, k))
    received[i, k] = image.copy()

  out = upsample.upsample_all(Fake(), np.zeros([3, 8, 8, 3], np.uint8), 2, 1.0, 7, 2,
                              on_sample=on_sample)
  assert events == [('batch', 2), ('sample', 0, 0), ('sample', 0, 1),
                    ('batch', 2), ('sample', 1, 0), ('sample', 1, 1),
                    ('batch', 2), ('sample', 2, 0), ('sample', 2, 1)]
  for (i, k), image in received.items():
    np.testing.assert_array_equal(image, out[i, k])
  assert len({int(out[i, k, 0, 0, 0]) for i in range(3) for k in range(2)}) == 6  # Six seeds.


def test_upsample_writes_each_sample_before_the_next_batch_is_drawn(tmp_path, monkeypatch):
  """The command side of `on_sample`: by the time the second batch is drawn, the first batch's
  PNGs are on disk (with a model that only looks)."""
  import ml_collections  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  out, seen = tmp_path / 'out', []

  class Fake:
    def sample(self, images, temperature, seed, **unused):
      seen.append(sorted(os.listdir(out)))
      return tf.zeros([len(seed), 32, 32, 3], tf.uint8)

  monkeypatch.setattr(workdir_lib, 'restore', lambda *unused: (
      Fake(), ml_collections.ConfigDict({'sampling': {}}), 1))
  (tmp_path / 'in').mkdir()
  for i in range(3):
    Image.fromarray(np.full([8, 8, 3], 40 * i, np.uint8)).save(tmp_path / 'in' / f'{i}.png')
  result = helpers.run_in_process('pixel_recursive.upsample', f'--input={tmp_path}/in',
                                  f'--output={out}', '--batch_size=2')
  assert result.returncode == 0, result.stderr[-3000:]
  assert seen == [['0_input.png', '1_input.png', '2_input.png'],
                  ['0_input.png', '0_sample0.png', '1_input.png', '1_sample0.png', '2_input.png']]
