"""What every command line of the project shares: the error contract, strategies and workdirs.

Error contract (../shared/INTERFACES.md): a user mistake (missing path, bad flag value, unknown config
key, unusable data source) ends with one line on stderr and exit status 2, never a traceback. A batch
command that skipped unreadable inputs exits 1 after writing every good output.
"""
import json
import os
import sys

from absl import app
from absl import flags
from absl import logging
import ml_collections

EXIT_USAGE = 2
EXIT_PARTIAL = 1


class UsageError(Exception):
  """A mistake of the user's: reported as one line, exit status 2."""


def fail(message):
  """Prints `error: message` as one line on stderr and exits with status 2."""
  prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else 'pixel_recursive'
  if prog == '__main__.py' or prog.endswith('.py'):
    prog = (sys.modules['__main__'].__spec__.name if getattr(sys.modules['__main__'], '__spec__', None)
            else prog)
  message = ' '.join(str(message).split())  # One line, whatever the exception text looked like.
  print(f'{prog}: error: {message}', file=sys.stderr, flush=True)
  sys.exit(EXIT_USAGE)


def _parse_flags(argv):
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    fail(e)
  except (KeyError, AttributeError, ValueError, TypeError) as e:
    # ml_collections reports an unknown --config.KEY as an AttributeError wrapping a KeyError of
    # the key's last component, and a value of the wrong type as ValueError or TypeError.
    key = str(e.args[0]).strip('"\'') if e.args else ''
    given = [a.split('=')[0] for a in argv if a.startswith('--config.') and
             a.split('=')[0].rsplit('.', 1)[-1] == key]
    if given and isinstance(e, (KeyError, AttributeError)):
      fail(f'unknown config key {given[0]}: the config file has no such field')
    fail(f'bad --config override: {e}')
  except FileNotFoundError as e:
    fail(f'config file not found: {e.filename or e}')


def _load_config_flags():
  """ml_collections loads --config files lazily; load them now so a bad path is a usage error."""
  for name in ('config',):
    if name in flags.FLAGS:
      try:
        getattr(flags.FLAGS, name).keys()  # Any access forces the load.
      except (IOError, OSError) as e:
        first = str(e).strip().splitlines()
        path = flags.FLAGS[name].serialize().split('=', 1)[-1]
        fail(f'cannot load --{name} {path}: ' + (first[-1].strip() if first else str(e)))
      except Exception as e:  # The config file itself raised: the user's file has a bug.
        fail(f'--{name} file raised {type(e).__name__}: {e}')


def run(main, user_errors=()):
  """`absl.app.run(main)` with the error contract: flag errors, `UsageError` and `user_errors` exit 2.

  Args:
    main: the command's main(argv).
    user_errors: extra exception types that mean the user asked for something impossible.
  """
  handled = (UsageError,) + tuple(user_errors)

  def wrapped(argv):
    _load_config_flags()
    try:
      return main(argv)
    except handled as e:
      fail(e)

  app.run(wrapped, flags_parser=_parse_flags)


# ----------------------------------------------------------------------------------------------
# Devices and strategies.
# ----------------------------------------------------------------------------------------------
STRATEGIES = ('default', 'mirrored', 'multi_worker')


def split_cpu(num_devices):
  """Splits the CPU into `num_devices` logical devices (so MirroredStrategy has replicas on a CPU).

  Must run before TensorFlow initialises its devices, i.e. before the first op.
  """
  import tensorflow as tf
  if num_devices and num_devices > 1:
    cpu = tf.config.list_physical_devices('CPU')[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)])


def make_strategy(name, cpu_replicas=0):
  """The `tf.distribute` strategy `name` names.

  default:      one device (the first GPU if there is one).
  mirrored:     synchronous data parallelism over all local GPUs, or over `cpu_replicas` logical CPUs.
  multi_worker: MultiWorkerMirroredStrategy across the machines listed in the TF_CONFIG variable.
  """
  import tensorflow as tf
  if name not in STRATEGIES:
    raise UsageError(f'--strategy must be one of {", ".join(STRATEGIES)}, got {name!r}')
  if name == 'multi_worker':
    if 'TF_CONFIG' not in os.environ:
      raise UsageError('--strategy=multi_worker needs the TF_CONFIG environment variable '
                       '(see WORKSPACE.md, "Training on several machines")')
    try:
      json.loads(os.environ['TF_CONFIG'])
    except ValueError as e:
      raise UsageError(f'TF_CONFIG is not valid JSON: {e}') from None
    split_cpu(cpu_replicas)
    return tf.distribute.MultiWorkerMirroredStrategy()
  split_cpu(cpu_replicas)
  if name == 'default':
    return tf.distribute.get_strategy()
  gpus = tf.config.list_logical_devices('GPU')
  devices = tuple(d.name for d in gpus) or tuple(d.name for d in tf.config.list_logical_devices('CPU'))
  # One MirroredStrategy per device set and process. Every new MirroredStrategy numbers its
  # collective ops from the same keys (group 1, instance 100, ...), so a second one in the same
  # process (a notebook training two models, a test suite) can meet the first one's records and
  # fail with "Shape mismatch in the collective instance 100". Reusing the strategy keeps the
  # keys unique.
  if devices not in _MIRRORED:
    _MIRRORED[devices] = tf.distribute.MirroredStrategy(list(devices))
  return _MIRRORED[devices]


_MIRRORED = {}


# ----------------------------------------------------------------------------------------------
# Workdirs and configs.
# ----------------------------------------------------------------------------------------------
CONFIG_FILE = 'config.json'


def write_config(config, workdir, config_file=None):
  """Writes the resolved config to workdir/config.json (what `--config.*` overrides made of it),
  with the config file it came from as the extra key `config_file` when given."""
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, CONFIG_FILE)
  tmp = path + '.tmp'
  resolved = json.loads(config.to_json_best_effort())
  if config_file:
    resolved['config_file'] = config_file
  with open(tmp, 'w') as f:
    json.dump(resolved, f, indent=2, sort_keys=True)
    f.write('\n')
  os.replace(tmp, path)


def read_config(workdir):
  """The resolved config a training run left in `workdir`, as a ConfigDict."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.isdir(workdir):
    raise UsageError(f'workdir {workdir} does not exist')
  if not os.path.isfile(path):
    raise UsageError(f'{workdir} has no {CONFIG_FILE}: is it the --workdir of a training run?')
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def latest_checkpoint(workdir):
  """Path of the newest checkpoint under workdir/checkpoints; UsageError if there is none."""
  import tensorflow as tf
  path = tf.train.latest_checkpoint(os.path.join(workdir, 'checkpoints'))
  if path is None:
    raise UsageError(f'no checkpoint under {os.path.join(workdir, "checkpoints")} yet')
  return path


def check_output_dir(path):
  """Creates the output folder, or raises UsageError if it cannot be created or written."""
  try:
    os.makedirs(path, exist_ok=True)
  except OSError as e:
    raise UsageError(f'cannot create output folder {path}: {e.strerror or e}') from None
  if not os.access(path, os.W_OK | os.X_OK):
    raise UsageError(f'output folder {path} is not writable')


def log_progress(done, total, what, every=None):
  """One progress line for folder-sized batch commands: `what 12/40 (30%)`."""
  if total and (every is None or done == total or done % every == 0):
    logging.info('%s %d/%d (%d%%)', what, done, total, 100 * done // total)


def restore(workdir, build_model):
  """Builds the model a training run's workdir describes and loads its newest weights.

  Args:
    workdir: a training run's --workdir (config.json + checkpoints/).
    build_model: function of the config's `model` field returning a built Keras model.
  Returns:
    (model, config, step of the checkpoint).
  """
  import tensorflow as tf
  config = read_config(workdir)
  path = latest_checkpoint(workdir)
  from pixel_recursive import checkpoints
  model = build_model(config.model)
  step = tf.Variable(0, dtype=tf.int64, trainable=False, name='step')
  try:
    checkpoints.restore_weights(path, model, step=step)
  except AssertionError as e:
    raise UsageError(f'{path} does not match the model in {workdir}/config.json: '
                     f'{str(e).splitlines()[0]}') from None
  logging.info('restored %s (step %d)', path, int(step.numpy()))
  return model, config, int(step.numpy())


def resolve_workdir(workdir, demo):
  """--workdir, or the demo checkpoint's folder when none is given (UsageError if it is missing)."""
  if workdir:
    return workdir
  if not os.path.isdir(demo):
    raise UsageError(f'no --workdir given and no demo checkpoint is installed at {demo}')
  return demo


def check_temperature(value, flag='--temperature'):
  if not value > 0:
    raise UsageError(f'{flag} must be positive, got {value}')
  return value


def read_inputs(path):
  """The image files under `path` (a file or a folder), or UsageError if there are none."""
  from data import image_files
  try:
    files = image_files.list_images(path)
  except FileNotFoundError:
    raise UsageError(f'--input {path} does not exist') from None
  if not files:
    raise UsageError(f'--input {path} holds no image files (jpg, png, bmp, gif, webp, tif)')
  return files


def output_name(path, root, output_dir, suffix):
  """Output path of `path` (under input `root`) with `suffix`, keeping sub-folders of a folder input."""
  if os.path.isdir(root):
    rel = os.path.relpath(path, root)
  else:
    rel = os.path.basename(path)
  stem = os.path.splitext(rel)[0]
  return os.path.join(output_dir, f'{stem}{suffix}.png')
