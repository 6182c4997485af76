"""What several test files share: configs by name, config overrides, strategies, command lines."""
import os
import subprocess
import sys

from experiments import configs
from pixel_recursive import distribute

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_config(name):
  """get_config() of experiments/configs/<name>.py."""
  return configs.load(name)


def override(config, overrides):
  """Sets dotted keys, e.g. {'data.source': 'bundled'}, as --config.KEY=VALUE would."""
  for key, value in overrides.items():
    target = config
    *path, last = key.split('.')
    for p in path:
      target = target[p]
    target[last] = value
  return config


def strategy_named(name):
  """The strategy the trainers' --strategy flag makes (conftest gives two logical CPUs)."""
  return distribute.make_strategy(name)


# ----------------------------------------------------------------------------------------------
# Running a command line: in a subprocess (what a user runs), or inside this process (seconds
# faster: no Python start-up and TensorFlow import), reproducing what the subprocess would show.
# ----------------------------------------------------------------------------------------------
def run_cli(module, *args, timeout=300, env=None):
  """`python -m module args` in a subprocess from the repository root: a CompletedProcess.

  The environment is the user's, without TF_CPP_MIN_LOG_LEVEL (which this test process sets): the
  command itself must keep TensorFlow's C++ start-up chatter off stderr.
  """
  env = dict(os.environ if env is None else env, PYTHONPATH=ROOT)
  env.pop('TF_CPP_MIN_LOG_LEVEL', None)
  return subprocess.run([sys.executable, '-m', module, *args], capture_output=True, text=True,
                        timeout=timeout, cwd=ROOT, env=env)


def exit_status(code, stderr):
  """The exit status of a process that raised SystemExit(code), as the interpreter derives it."""
  if code is None:
    return 0
  if isinstance(code, int):
    return code
  print(code, file=stderr)  # sys.exit('message'): printed, status 1.
  return 1


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
      # runpy warns when the module was imported before (by a test); `python -m` imports it anew.
      warnings.filterwarnings('ignore', message='.*found in sys.modules', category=RuntimeWarning)
      os.chdir(ROOT)
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
