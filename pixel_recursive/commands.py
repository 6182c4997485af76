"""What every command line of both papers shares: the error contract and the checks of flag values.

Error contract (../shared/INTERFACES.md): a user mistake (missing path, bad flag value, unknown config
key, unusable data source) ends with one line on stderr and exit status 2, never a traceback. A batch
command (`upsample`, `colorize`) that skipped unreadable inputs exits 1 after writing every good
output (`batch_command`, the skeleton of those two). Anything else (a bug, an error TensorFlow
raised) prints its traceback and exits 1, as Python would, but without hanging at exit (`run`).
"""
import contextlib
import gc
import logging as python_logging
import os
import re
import sys
import traceback

from absl import app
from absl import flags
from absl import logging
import numpy as np

from data import errors

EXIT_USAGE = 2
EXIT_PARTIAL = 1
EXIT_INTERRUPTED = 130  # What shells report for a command Ctrl-C stopped (128 + SIGINT).


class UsageError(Exception):
  """A mistake of the user's: reported as one line, exit status 2."""


class Failure(Exception):
  """Something failed that is not the user's mistake and that they can act on (no readable
  checkpoint, a full disk): reported as one line, exit status 1."""


def fail(message, status=EXIT_USAGE):
  """Prints `prog: error: message` as one line on stderr and exits with `status`."""
  prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else 'pixel_recursive'
  if prog == '__main__.py' or prog.endswith('.py'):
    spec = getattr(sys.modules['__main__'], '__spec__', None)
    # `python -m pkg.command` -> pkg.command; `python -m pkg` (its __main__.py) -> pkg.
    prog = spec.name.removesuffix('.__main__') if spec else prog
  message = ' '.join(str(message).split())  # One line, whatever the exception text looked like.
  print(f'{prog}: error: {message}', file=sys.stderr, flush=True)
  sys.exit(status)


# What ml_collections raises on a bad --config.KEY=VALUE: an unknown key as an AttributeError
# wrapping a KeyError of the key's last component (its text may add 'Did you mean "other"'), a
# value of the wrong type as ValueError or TypeError.
CONFIG_OVERRIDE_ERRORS = (KeyError, AttributeError, ValueError, TypeError)


def _config_path(argv):
  """The --config file `argv` names (`--config=PATH` or `--config PATH`; absl keeps the last)."""
  paths = [a.split('=', 1)[1] if a.startswith('--config=') else argv[i + 1]
           for i, a in enumerate(argv)
           if a.startswith('--config=') or (a == '--config' and i + 1 < len(argv))]
  return paths[-1] if paths else 'file'


def config_override_message(error, argv):
  """The one line for one of CONFIG_OVERRIDE_ERRORS raised by the overrides in `argv`."""
  text = str(error.args[0]) if error.args else ''
  if isinstance(error, AttributeError) and "has no attribute 'get_config'" in text:
    return f'--config {_config_path(argv)} defines no get_config()'
  first = re.search(r'[A-Za-z_]\w*', text)  # The key, inside one or two layers of quotes.
  key = first.group(0) if first else None
  if isinstance(error, (KeyError, AttributeError)):
    for arg in argv:
      path = arg.split('=')[0].removeprefix('--config.').split('.')
      if arg.startswith('--config.') and key in path:  # The unknown field, at any depth.
        close = re.search(r'Did you mean \\?"([^"\\]+)', text)
        hint = ''
        if close:
          path[path.index(key)] = close.group(1)
          hint = f' (did you mean --config.{".".join(path)}?)'
        return f'unknown config key {arg.split("=")[0]}: the config file has no such field{hint}'
  return f'bad --config override: {error}'


def _parse_flags(argv):
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    text = str(e)
    if 'Error whilst parsing config file' in text:  # get_config() raised: ml_collections quotes
      last = [line.strip() for line in text.splitlines() if line.strip()][-1]  # the traceback.
      fail(f'--config {_config_path(argv)} raised {last}')
    if 'Overriding config is not allowed' in text:  # evaluate's --config holds overrides only.
      fail(f'--config={_config_path(argv)}: this command reads the config of the run it loads '
           '(its config.json) and takes overrides of it only, e.g. '
           '--config.data.source=folder:/my/photos')
    fail(e)
  except SyntaxError as e:  # The --config file is not Python.
    fail(f'--config {_config_path(argv)} is not valid Python: {e.msg} (line {e.lineno})')
  except CONFIG_OVERRIDE_ERRORS as e:
    fail(config_override_message(e, argv))
  except FileNotFoundError as e:
    fail(f'config file not found: {e.filename or e}')
  except SystemExit as e:
    loading = any(frame.name == '_LoadConfigModule'  # ml_collections running the --config file.
                  for frame in traceback.extract_tb(e.__traceback__))
    if not loading:  # --help, which absl ends with SystemExit.
      raise
    # A script, not a config: setup.py, say, whose setuptools parsed our argv and exited.
    fail(f'--config {_config_path(argv)} exited while it was loaded: a config file defines '
         'get_config() and runs nothing, e.g. one of experiments/configs/*.py')


def _shipped_config_hint(path):
  """For a --config that does not exist but names a shipped config (`faces_tiny`, or
  `experiments/configs/faces_tiny.py` given outside the repository): where that config is."""
  if os.path.exists(path):
    return ''
  from experiments import configs
  name = os.path.splitext(os.path.basename(path))[0]
  if name not in configs.names():
    return ''
  return f' (the shipped config {name} is --config={configs.path(name)})'


def _load_config_flags():
  """ml_collections loads --config files lazily; load them now so a bad path is a usage error."""
  if 'config' in flags.FLAGS:
    try:
      flags.FLAGS.config.keys()  # Any access forces the load.
    except (IOError, OSError) as e:
      first = str(e).strip().splitlines()
      path = flags.FLAGS['config'].serialize().split('=', 1)[-1]
      if not path:
        fail('--config is empty: give a config file, e.g. one of experiments/configs/*.py')
      reason = getattr(e.__cause__, 'strerror', None)  # 'Is a directory', without the wrapping.
      fail(f'cannot load --config {path}: ' + (reason or (first[-1].strip() if first else str(e)))
           + _shipped_config_hint(path))
    except AttributeError:
      pass  # A config dict of overrides only (evaluate's --config.data.source): nothing to load.
    except Exception as e:  # The config file itself raised: the user's file has a bug.
      fail(f'--config file raised {type(e).__name__}: {e}')


class _TensorFlowInfoFilter(python_logging.Filter):
  """Keeps TensorFlow's own INFO lines out of a command's log: its checkpoint writer logs
  'Sharding callback duration: 52 microseconds' at every save. Its warnings and errors stay.
  (TensorFlow's folder is read from the imported module: finding it beforehand would spend the
  quiet import that `pixel_recursive/__init__.py` sets up.)"""

  def filter(self, record):
    if record.levelno >= python_logging.WARNING:
      return True
    module = sys.modules.get('tensorflow')
    folder = os.path.dirname(getattr(module, '__file__', None) or '')
    return not folder or not record.pathname.startswith(folder + os.sep)


def run(main, user_errors=(), positional=False):
  """`absl.app.run(main)` with the error contract: flag errors, `UsageError` and `user_errors` exit 2.

  Args:
    main: the command's main(argv).
    user_errors: extra exception types that mean the user asked for something impossible.
    positional: whether the command takes positional arguments (otherwise any is a usage error).
  """
  handled = (UsageError,) + tuple(user_errors)

  def wrapped(argv):
    if len(argv) > 1 and not positional:
      fail(f'unexpected arguments: {" ".join(argv[1:])}')
    _load_config_flags()
    quiet = _TensorFlowInfoFilter()
    if flags.FLAGS.verbosity < 1:  # --verbosity=1 (debug) shows them.
      logging.get_absl_handler().addFilter(quiet)
    try:
      return main(argv)
    except handled as e:
      message, status = str(e), EXIT_USAGE
    except Failure as e:
      message, status = str(e), 1
    except KeyboardInterrupt as e:  # Ctrl-C: one line and the shell's status for it, no traceback.
      message, status = ' '.join(['interrupted', str(e)]).strip(), EXIT_INTERRUPTED
    except Exception:  # pylint: disable=broad-except  (A bug, or an error TensorFlow raised.)
      if flags.FLAGS['pdb_post_mortem'].value:
        raise  # absl's post-mortem debugger takes it.
      traceback.print_exc()  # What the interpreter prints for it, then its status, 1.
      message, status = None, 1
    finally:
      logging.get_absl_handler().removeFilter(quiet)  # (A test's or a notebook's process goes on.)
    # Out of the except clauses, the exception and the frames of its traceback are let go, and the
    # collection frees what reference cycles held: an input pipeline (one that failed, with Python
    # work of its own in flight) is destroyed now. Left to the interpreter's exit, it waited for
    # threads that exit stops: a hang (tests/test_commands.py).
    gc.collect()
    if message is None:
      sys.exit(status)
    fail(message, status=status)

  app.run(wrapped, flags_parser=_parse_flags)


# ----------------------------------------------------------------------------------------------
# Checks of flag values.
# ----------------------------------------------------------------------------------------------
# Names that are a file's, not a folder's: `--output=result.png` made a folder of that name.
FILE_NAME_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.gif', '.bmp', '.webp', '.tif', '.tiff', '.json',
                        '.html')


def check_local(path, what):
  """UsageError if `path` is a URL (gs://bucket/run, s3://..., https://...): workdirs, outputs and
  the batch commands' inputs are read and written through the local file system (os, open), so such
  a path became a local folder named 'gs:' beside TensorFlow's own writes to the bucket, or an input
  that "does not exist"."""
  if errors.is_url(path):
    raise UsageError(f'{what} {path} is a URL: give a local folder (a bucket mounted with gcsfuse, '
                     'or a copy of it, is one)')


def check_output_dir(path, what='output folder'):
  """Creates the output folder (`what` names it in the messages: a training run's '--workdir'), or
  raises UsageError if it is a file, is named as a file (`result.png`, not yet a folder; with a
  final slash it is meant as one), a URL, or cannot be created or written."""
  if not path:
    raise UsageError(f'{what} is empty: give a folder')
  check_local(path, what)
  if os.path.exists(path) and not os.path.isdir(path):
    raise UsageError(f'{what} {path} is a file, not a folder')
  root, extension = os.path.splitext(path)
  if extension.lower() in FILE_NAME_EXTENSIONS and not os.path.isdir(path):  # 'x.png/' is meant.
    raise UsageError(f'{what} {path} is named as a file ({extension}): the outputs go into a '
                     f'folder, e.g. {root}/')
  try:
    os.makedirs(path, exist_ok=True)
  except OSError as e:
    raise UsageError(f'cannot create {what} {path}: {e.strerror or e}') from None
  if not os.access(path, os.W_OK | os.X_OK):
    raise UsageError(f'{what} {path} is not writable')


def check_output_file(path, flag='--output'):
  """Raises UsageError if the file `path` cannot be written (a folder, an unwritable folder), and
  creates its folder: before the work whose result it holds, not after it (an open() traceback)."""
  if os.path.isdir(path):
    raise UsageError(f'{flag} {path} is a folder: give the path of a file, e.g. '
                     f'{os.path.join(path, "metrics.json")}')
  check_output_dir(os.path.dirname(os.path.abspath(path)), f'folder of {flag}')


def check_source(value, flag):
  """UsageError naming `flag` unless `value` has the form of a data source (`data.sources`; it
  imports TensorFlow, so only commands that load it anyway check here); returns the value."""
  from data import sources
  try:
    sources.check_syntax(value)
  except sources.DataSourceError as e:
    raise UsageError(f'{flag}: {e}') from None
  return value


def _number(value, flag):
  """float(value), or UsageError naming `flag` (make_demo_checkpoint --sampling temperature=abc
  was float()'s ValueError)."""
  try:
    return float(value)
  except (TypeError, ValueError):
    raise UsageError(f'{flag} must be a number, got {value!r}') from None


def check_temperature(value, flag='--temperature'):
  value = _number(value, flag)
  if not value > 0 or not np.isfinite(value):
    raise UsageError(f'{flag} must be a positive number, got {value}')
  return value


def check_top_p(value, flag='--top_p'):
  value = _number(value, flag)
  if not 0 < value <= 1:
    raise UsageError(f'{flag} must be in (0, 1], got {value}')
  return value


# Why 2 candidates are refused (`pixel_recursive.candidates`): the mean of two draws lies exactly
# halfway between them, so neither is nearer and the tie keeps the first: 2x the sampling for the
# plain draw (found on 2026-12-05: N = 2 scored exactly as N = 1 on 500 validation faces).
TWO_CANDIDATES = ('two draws lie equally far from their mean, so the most typical would always be '
                  'the first draw: use 1, or 3 or more')


def register_two_candidates_check():
  """Refuses --candidates=2 while the flags are parsed: one line, exit 2."""
  flags.register_validator('candidates', lambda n: n != 2, message=f'2 cannot choose: {TWO_CANDIDATES}')


def check_candidates(value, flag='--candidates'):
  try:
    number = int(value)
  except ValueError:
    number = None
  if number is None or str(number) != str(value).strip() or number < 1:
    raise UsageError(f'{flag} must be an integer >= 1, got {value}')
  if number == 2:
    raise UsageError(f'{flag}=2 cannot choose: {TWO_CANDIDATES}')
  return number


def check_guidance(value, flag='--guidance'):
  value = _number(value, flag)
  if not value >= 0 or not np.isfinite(value):
    raise UsageError(f'{flag} must be a finite number >= 0, got {value}')
  return value


# The papers' sampling: one draw from the whole of softmax(A + B) (w = 1: the paper's model).
PAPER_SAMPLING = {'temperature': 1.0, 'guidance': 1.0, 'top_p': 1.0, 'candidates': 1}


def sampling_setting(config, key, flag_value):
  """A sampling parameter: the flag's value if given, else the model's `sampling.<key>` from its
  config.json (what the model ships with), else the papers' (`PAPER_SAMPLING`)."""
  if flag_value is not None:
    return flag_value
  return config.get('sampling', {}).get(key, PAPER_SAMPLING[key])


def log_progress(done, total, what, every=None):
  """One progress line for folder-sized work: `what 12/40 (30%)`."""
  if total and (every is None or done == total or done % every == 0):
    logging.info('%s %d/%d (%d%%)', what, done, total, 100 * done // total)


def check_choices(flag, values, choices, noun):
  """UsageError unless the list flag `flag` names one or more of `choices`, each by its name
  (`noun` says what one is: '--methods: no method fast; choose from ...')."""
  unknown = [v for v in values if v not in choices]
  if unknown or not values:
    what = f'no {noun} {", ".join(unknown)}' if unknown else 'empty'
    raise UsageError(f'{flag}: {what}; choose from {", ".join(choices)}')
  return values


def check_count(name, value, minimum):
  """`value` as an int if it is a whole number >= `minimum` (not a bool); ValueError naming `name`
  otherwise: the Python API's arguments, which no flag parser has checked."""
  try:
    whole = not isinstance(value, (bool, np.bool_)) and int(value) == value
  except (TypeError, ValueError):  # None, a string, a list.
    whole = False
  if not whole or value < minimum:
    raise ValueError(f'{name} must be an integer >= {minimum}, got {value!r}')
  return int(value)


def counted(count, noun):
  """'1 PNG', '3 PNGs'."""
  return f'{count} {noun}{"" if count == 1 else "s"}'


@contextlib.contextmanager
def command_flags():
  """Flags defined inside it (a `with` block, or a function it decorates) are listed by the
  running command's --help, not only by --helpfull: absl's --help shows the main module's own flags
  and its key flags, and the shared modules define most of a command's flags (absl names the main
  module by sys.argv[0])."""
  before = set(flags.FLAGS)
  yield
  for name in sorted(set(flags.FLAGS) - before):
    flags.FLAGS.register_key_flag_for_module(sys.argv[0], flags.FLAGS[name])


def define_model_flag(names, default_text=None):
  """--model: which shipped demo model to use without --workdir (`default_text`: the help's
  default, the first name unless given)."""
  flags.DEFINE_string('model', None, f'A shipped demo model: {" or ".join(names)} (default '
                      f'{default_text or names[0]}); instead of --workdir.')
