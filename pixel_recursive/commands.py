"""What every command line of both papers shares: the error contract and the batch-command skeleton.

Error contract (../shared/INTERFACES.md): a user mistake (missing path, bad flag value, unknown config
key, unusable data source) ends with one line on stderr and exit status 2, never a traceback. A batch
command (`upsample`, `colorize`) that skipped unreadable inputs exits 1 after writing every good
output.
"""
import collections
import contextlib
import os
import re
import sys
import traceback

from absl import app
from absl import flags
from absl import logging
import numpy as np

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
    try:
      return main(argv)
    except handled as e:
      fail(e)
    except Failure as e:
      fail(e, status=1)
    except KeyboardInterrupt as e:  # Ctrl-C: one line and the shell's status for it, no traceback.
      fail(' '.join(['interrupted', str(e)]).strip(), status=EXIT_INTERRUPTED)

  app.run(wrapped, flags_parser=_parse_flags)


# ----------------------------------------------------------------------------------------------
# Checks of flag values.
# ----------------------------------------------------------------------------------------------
# Names that are a file's, not a folder's: `--output=result.png` made a folder of that name.
FILE_NAME_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.gif', '.bmp', '.webp', '.tif', '.tiff', '.json',
                        '.html')


def check_output_dir(path, what='output folder'):
  """Creates the output folder (`what` names it in the messages: a training run's '--workdir'), or
  raises UsageError if it is a file, is named as a file (`result.png`, not yet a folder; with a
  final slash it is meant as one) or cannot be created or written."""
  if not path:
    raise UsageError(f'{what} is empty: give a folder')
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


# ----------------------------------------------------------------------------------------------
# The batch-command skeleton (upsample, colorize): read every input, skipping and naming the
# unreadable ones; sample in padded batches with one seed per (input, sample); write as results come.
# ----------------------------------------------------------------------------------------------
def read_inputs(path, output=None):
  """The image files under `path` (a file or a folder, searched with its sub-folders), or
  UsageError if there are none. Those under the command's `output` folder are left out, so that a
  second run does not read the first one's outputs; `output` = `path` is a UsageError, as there
  the outputs could not be told from the inputs."""
  from data import image_files
  try:
    files = image_files.list_images(path)
  except FileNotFoundError:
    raise UsageError(f'--input {path} does not exist') from None
  if output:
    out = os.path.realpath(output)
    if out == os.path.realpath(path) and os.path.isdir(path):
      raise UsageError(f'--output {output} is the --input folder: a later run would read the '
                       'outputs as inputs; choose another folder (a sub-folder will do)')
    if not os.path.isfile(out):  # A file is refused as --output later (check_output_dir).
      files = [f for f in files if os.path.commonpath([out, os.path.realpath(f)]) != out]
  if not files:
    raise UsageError(f'--input {path} holds no image files (jpg, png, bmp, gif, webp, tif)')
  return files


def output_names(files, root, output_dir):
  """A function (path, suffix) -> the output PNG of input `path` (one of `files`, read from
  --input `root`): its path under `root` (sub-folders kept) without the extension, then `suffix`.
  Inputs whose names differ only in the extension (photo.jpg, photo.png) keep it
  (photo.jpg_sample0.png, photo.png_sample0.png), so that no output overwrites another."""

  def relative(path):
    return os.path.relpath(path, root) if os.path.isdir(root) else os.path.basename(path)

  stems = collections.Counter(os.path.splitext(relative(path))[0] for path in files)

  def name(path, suffix):
    stem = os.path.splitext(relative(path))[0]
    return os.path.join(output_dir, f'{relative(path) if stems[stem] > 1 else stem}{suffix}.png')

  return name


def read_each(files, read):
  """Applies `read(path)` to every file; a file it cannot read is named on stderr and skipped.

  Returns:
    (paths read, their `read` results, one message per skipped file).
  """
  from data import image_files
  good, items, failures = [], [], []
  for n, path in enumerate(files, 1):
    try:
      items.append(read(path))
    except image_files.ImageReadError as e:
      failures.append(str(e))
      print(f'skipped {e}', file=sys.stderr, flush=True)
      continue
    good.append(path)
    if len(files) > 1:
      log_progress(n, len(files), 'read', every=max(1, len(files) // 10))
  return good, items, failures


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


def sample_in_batches(items, num_samples, seed, batch_size, sample, write, what='sampled'):
  """Samples `num_samples` outputs of each item, `batch_size` at a time.

  Sample k of item i is drawn with the seed `sampling.derive_seed(seed, i, k)`, so it does not depend
  on the batching; the last batch is padded to `batch_size` so that one compiled sampler serves
  every batch.

  Args:
    items: equally shaped numpy arrays, one per input.
    num_samples, seed, batch_size: as the flags.
    sample: function (stacked items [N, ...], seeds [N]) -> numpy outputs [N, ...].
    write: function (i, k, output) called for every output as soon as it exists.
    what: the word of the progress lines ("sampled 12/40 (30%)").
  """
  from pixel_recursive import sampling
  num_samples = check_count('num_samples', num_samples, 0)
  batch_size = check_count('batch_size', batch_size, 1)  # A negative one sampled nothing.
  jobs = [(i, k) for i in range(len(items)) for k in range(num_samples)]
  if not jobs:  # No input, or no sample asked for.
    return
  batch_size = min(batch_size, len(jobs))
  for start in range(0, len(jobs), batch_size):
    chunk = jobs[start:start + batch_size]
    padded = chunk + [chunk[-1]] * (batch_size - len(chunk))
    outputs = sample(np.stack([items[i] for i, _ in padded]),
                     np.array([sampling.derive_seed(seed, i, k) for i, k in padded]))
    for (i, k), output in zip(chunk, outputs):
      write(i, k, output)
    log_progress(start + len(chunk), len(jobs), what)


def counted(count, noun):
  """'1 PNG', '3 PNGs'."""
  return f'{count} {noun}{"" if count == 1 else "s"}'


def report_written(count, grid_path, what=''):
  """A batch command's last line on stdout: how many PNGs (of `what`) it wrote, and its grid."""
  print(f'wrote {counted(count, "PNG")}{what} and {grid_path}', flush=True)


def finish(failures, total):
  """Ends a batch command: exit status 1, with a count on stderr, if some inputs were skipped."""
  if failures:
    print(f'{len(failures)} of {total} inputs could not be read', file=sys.stderr)
    sys.exit(EXIT_PARTIAL)


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


@command_flags()
def define_batch_flags(demo, what, guidance=False, models=(), candidates=False):
  """The flags `upsample` and `colorize` share; `demo` names the shipped checkpoint's folder,
  `models` the shipped models --model picks from (none: no --model flag); `candidates` adds
  --candidates."""
  flags.DEFINE_string('workdir', None, 'Training workdir to load (config.json + checkpoints/). '
                      f'Default: the demo checkpoint shipped in {demo}.')
  if models:
    define_model_flag(models)
  flags.DEFINE_string('input', None, 'An image file or a folder of images (searched recursively).')
  flags.DEFINE_string('output', None, 'Folder for the PNGs (created if missing).')
  flags.DEFINE_float('temperature', None, 'Sampling temperature T > 0: values are drawn from '
                     'softmax(logits / T); lower is less diverse and less noisy. Default: the '
                     "model's sampling.temperature (config.json), else 1.0.")
  if guidance:
    flags.DEFINE_float('guidance', None, 'Weight w >= 0 of the conditioning logits A: samples are '
                       'drawn from softmax((w A + B) / T). 1 is the paper\'s model; larger follows '
                       "the input more closely. Default: the model's sampling.guidance, else 1.")
  flags.DEFINE_float('top_p', None, 'Nucleus p in (0, 1]: each value is drawn from the smallest '
                     'set of values holding this much probability, which cuts unlikely draws. '
                     "Default: the model's sampling.top_p, else 1 (the whole distribution, as "
                     'the papers sample).')
  if candidates:
    flags.DEFINE_integer('candidates', None, 'N >= 1: each output is the one of N draws nearest '
                         'to their mean, the most typical (N times the sampling; 1: one plain draw, '
                         "as the papers sample). Default: the model's sampling.candidates, else 1.",
                         lower_bound=1)
    register_two_candidates_check()
  flags.DEFINE_integer('num_samples', 1, f'{what} per input.', lower_bound=1)
  flags.DEFINE_integer('seed', 0, 'Random seed; the same seed gives the same samples.')
  flags.DEFINE_integer('batch_size', 16, 'Samples drawn at once.', lower_bound=1)
  flags.DEFINE_enum('method', 'cached', ['cached', 'naive'], 'Sampler: cached (fast) or naive.')
