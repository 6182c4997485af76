"""A run's working directory: its config.json, its checkpoints, and restoring a model from them.

  WORKDIR/config.json     the resolved config (`write_config`, `read_config`)
  WORKDIR/checkpoints/    `tf.train.Checkpoint`s: the step, every weight, the optimizer's state,
                          and with `ema_decay` > 0 the weights' averages (`training/averaging.py`)

Checkpoints of Keras 3 models, keyed by each weight's Keras path. Keras 3 keeps sublayers held in
Python lists (our PixelCNN's gated blocks, the ResNet stages) in its own tracked lists, which
`tf.train.Checkpoint(model=model)` does not see: such a checkpoint silently misses most weights, and
restoring it "succeeds" with random ones. So every checkpoint of this project tracks the weights
explicitly, `{variable.path: variable}`, which also makes restores match by name.
"""
import json
import os
import re

from absl import logging
import ml_collections

from pixel_recursive import checkpoint_files
from pixel_recursive import commands

CONFIG_FILE = 'config.json'
# The demo checkpoints shipped with the packages (workdirs: config.json + checkpoints/), used when
# no --workdir is given (`resolve`; --model picks one of the super-resolution models, faces by
# default). Named here, not only in the model modules (`pixel_recursive.model.DEMO_WORKDIRS` and
# `pixcolor.model.DEMO_WORKDIR` are these), so that a command checks its --workdir or --model
# before it imports TensorFlow: a mistake is reported in a fraction of a second, not in five.
_PACKAGES = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SR_DEMO_WORKDIRS = {name: os.path.join(_PACKAGES, 'pixel_recursive', 'demo', name)
                    for name in ('faces', 'bedrooms')}
PIXCOLOR_DEMO_WORKDIR = os.path.join(_PACKAGES, 'pixcolor', 'demo', 'photos')
PIXCOLOR_DEMO_WORKDIRS = {'photos': PIXCOLOR_DEMO_WORKDIR}  # For --model=photos.
# Per config.json model.name, the shipped models --model picks from.
DEMO_WORKDIRS = {'super_resolution': SR_DEMO_WORKDIRS, 'pixcolor': PIXCOLOR_DEMO_WORKDIRS}
CHECKPOINTS = 'checkpoints'


# ----------------------------------------------------------------------------------------------
# config.json
# ----------------------------------------------------------------------------------------------
def write_config(config, workdir, config_file=None):
  """Writes the resolved config to workdir/config.json (what `--config.*` overrides made of it),
  with the config file it came from as the extra key `config_file` when given."""
  path = os.path.join(workdir, CONFIG_FILE)
  tmp = path + '.tmp'
  resolved = json.loads(config.to_json_best_effort())
  if config_file:
    resolved['config_file'] = config_file
  # A folder the user cannot have (a file in its path, no permission) is their mistake, named as
  # the other commands name an output folder they cannot write; a full disk is not (below).
  commands.check_output_dir(workdir, what='--workdir')
  changes = config_changes(path, resolved)
  if changes:  # A resume with other values (a lower learning rate, more steps): said, then kept.
    logging.info('%s changes: %s', path, ', '.join(changes))
  try:
    with open(tmp, 'w') as f:
      json.dump(resolved, f, indent=2, sort_keys=True)
      f.write('\n')
    os.replace(tmp, path)
  except OSError as e:  # A full disk, a read-only folder: the run cannot record its config.
    raise commands.Failure(f'cannot write {path}: {e.strerror or e}') from None


def flat_config(config, prefix=''):
  """{'a.b': value} of a nested dict (a config as JSON), its dotted keys as --config.a.b names."""
  out = {}
  for key, value in config.items():
    if isinstance(value, dict):
      out.update(flat_config(value, f'{prefix}{key}.'))
    else:
      out[f'{prefix}{key}'] = value
  return out


def config_changes(path, resolved):
  """['key old -> new', ...] of the flattened keys whose value `resolved` (a config as JSON)
  changes from the config.json at `path`; [] when there is none (or it cannot be read)."""
  try:
    with open(path) as f:
      old = json.load(f)
  except (OSError, ValueError):
    return []
  old, new = flat_config(old), flat_config(resolved)
  missing = '(none)'
  return [f'{key} {json.dumps(old.get(key, missing))} -> {json.dumps(new.get(key, missing))}'
          for key in sorted(set(old) | set(new)) if old.get(key, missing) != new.get(key, missing)]


def read_config(workdir):
  """The resolved config a training run left in `workdir`, as a ConfigDict."""
  path = os.path.join(workdir, CONFIG_FILE)
  commands.check_local(workdir, 'workdir')
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise commands.UsageError(f'workdir {workdir} is a file, not a folder')
  if not os.path.isdir(workdir):
    raise commands.UsageError(f'workdir {workdir} does not exist')
  if not os.path.isfile(path):
    raise commands.UsageError(f'{workdir} has no {CONFIG_FILE}: is it the --workdir of a training '
                              'run?')
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def check_model_name(workdir, expected, hint=None):
  """Raises a UsageError unless the workdir's config.json (read_config) names model `expected`:
  the line names what it holds, and `hint` (a function of that name) after it. Cheap: commands call
  it before any slow work and before they make their output, so a wrong workdir leaves nothing."""
  config = read_config(workdir)
  name = config.get('model', {}).get('name', 'super_resolution')
  if name != expected:
    raise commands.UsageError(f'{workdir} holds a {name} model, not a {expected} one'
                              + (f': {hint(name)}' if hint else ''))


def trained_on(workdir):
  """The datasets a workdir's TERMS.md names in bold (a shipped demo's: ['CelebA']), [] without one.

  A shipped demo's config.json records `samples` as its data source (make_demo_checkpoint.py
  --data_source: what runs from a fresh clone), not the staged copies it was trained on."""
  path = os.path.join(workdir, 'TERMS.md')
  if not os.path.isfile(path):
    return []
  with open(path) as f:
    return re.findall(r'\*\*(.+?)\*\*', f.read())


def resolve(workdir, demo, model=None):
  """--workdir, or the demo checkpoint's folder when none is given (UsageError if it is missing).

  `demo` is a folder, or {name: folder} of several shipped models, the first the default, of which
  `model` (the --model flag) picks one.
  """
  if workdir and model:
    raise commands.UsageError('give --workdir (a run of yours) or --model (a shipped one), not both')
  if workdir:
    return workdir
  if isinstance(demo, dict):
    name = model or next(iter(demo))
    if name not in demo:
      raise commands.UsageError(f'--model must be one of {", ".join(demo)}, got {name!r}')
    demo = demo[name]
  elif model:
    raise commands.UsageError(f'--model: only one model ships for this command ({demo})')
  if not os.path.isdir(demo):
    raise commands.UsageError(f'no --workdir given and no demo checkpoint is installed at {demo}')
  return demo


# ----------------------------------------------------------------------------------------------
# Checkpoints.
# ----------------------------------------------------------------------------------------------
def weights_by_path(model):
  """{path below the model: weight}; the model's own name (e.g. `super_resolution_1`, which Keras
  numbers per process) is left out so that any instance restores any other's checkpoint."""
  weights = {}
  prefix = model.name + '/'
  for v in model.weights:
    key = v.path[len(prefix):] if v.path.startswith(prefix) else v.path
    if key in weights and weights[key] is not v:
      raise ValueError(f'two weights share the path {key}')
    weights[key] = v
  return weights


def make_checkpoint(model, **others):
  """A `tf.train.Checkpoint` of `model`'s weights plus other trackables (step, optimizer, ...)."""
  import tensorflow as tf
  return tf.train.Checkpoint(weights=weights_by_path(model), **others)


AVERAGES = 'average'  # The checkpoint key of the weights' moving averages (training/averaging.py).


def _holds(path, key):
  """Whether the checkpoint at `path` holds variables under the top-level `key`."""
  import tensorflow as tf
  return any(name.startswith(key + '/') for name, _ in tf.train.list_variables(path))


def has_averages(path):
  """Whether the checkpoint at `path` holds moving averages of the weights."""
  return _holds(path, AVERAGES)


def has_optimizer_state(path):
  """Whether the checkpoint at `path` is a training run's (it holds the optimizer's state), not
  weights only (a shipped demo, make_demo_checkpoint.py's)."""
  return _holds(path, 'optimizer')


def restore_weights(path, model, **others):
  """Restores `model` (and `others`) from the checkpoint at `path`, for inference; every weight
  must be found. A checkpoint with moving averages of the weights (`ema_decay` > 0) gives its
  averages to the trainable weights, its weights to the others (batch-norm statistics).

  Raises:
    AssertionError: a weight of `model` is absent from the checkpoint, or stored with another
      shape (a different architecture).
  """
  import tensorflow as tf
  if has_averages(path):
    weights = weights_by_path(model)
    checkpoint = tf.train.Checkpoint(
        weights={k: v for k, v in weights.items() if not v.trainable},
        **{AVERAGES: {k: v for k, v in weights.items() if v.trainable}}, **others)
  else:
    checkpoint = make_checkpoint(model, **others)
  check_shapes(path, model)
  status = checkpoint.restore(path)
  status.expect_partial()  # The optimizer's slots may be in the file; inference does not need them.
  status.assert_existing_objects_matched()
  return status


def check_shapes(path, model):
  """Raises AssertionError naming the first weight of `model` that the checkpoint at `path` holds
  with another shape (a run of another architecture). Checked on the file's index before
  restoring: a restore that fails there leaves TensorFlow's hundreds of 'unrestored values'
  warnings at exit."""
  import tensorflow as tf
  stored = dict(tf.train.list_variables(path))
  for name, weight in weights_by_path(model).items():
    shape = stored.get(checkpoint_key(name))
    if shape is not None and tuple(shape) != tuple(weight.shape):
      raise AssertionError(f'its {name} is {tuple(shape)}, the model\'s {tuple(weight.shape)}')


def checkpoint_key(path):
  """The name under which a weight of `weights_by_path` is stored in a checkpoint file (what
  `tf.train.list_variables` shows): TensorFlow escapes '.' as '..' and '/' as '.S'."""
  return 'weights/' + path.replace('.', '..').replace('/', '.S') + '/.ATTRIBUTES/VARIABLE_VALUE'


def restore_matching_weights(path, model):
  """Restores every weight of `model` that the checkpoint at `path` holds with the same shape, and
  returns the paths of those it does not hold (or holds with another shape). UsageError if it holds
  none (`init_from` naming a run of another model: nothing would start from it)."""
  import tensorflow as tf
  stored = dict(tf.train.list_variables(path))
  weights = weights_by_path(model)
  matching = {k: v for k, v in weights.items()
              if tuple(stored.get(checkpoint_key(k), ())) == tuple(v.shape)}
  if not matching:
    raise commands.UsageError(f'init_from {path} holds none of this model\'s weights')
  tf.train.Checkpoint(weights=matching).restore(path).expect_partial()
  return sorted(set(weights) - set(matching))


def log_initialised_from(path, missing):
  """The one line a run started from checkpoint `path` logs (`missing`: what
  `restore_matching_weights` returned)."""
  logging.info('weights initialised from %s%s', path,
               f' ({commands.counted(len(missing), "weight")} not in it, started afresh)'
               if missing else '')


def latest_checkpoint(workdir):
  """Path of the newest readable checkpoint under workdir/checkpoints (a damaged newer one is named
  in a warning and skipped); UsageError if there is none, Failure if none can be read."""
  ckpt_dir = os.path.join(workdir, CHECKPOINTS)
  path = checkpoint_files.newest_readable(ckpt_dir)
  if path is None:
    raise commands.UsageError(f'no checkpoint under {ckpt_dir} yet')
  return path


def init_from_checkpoint(init_from):
  """The newest checkpoint of the run a config's `init_from` names; UsageError naming init_from and
  what to do when it has none (e.g. bedrooms_demo.py's stage 1 not trained yet)."""
  commands.check_local(init_from, 'init_from')
  try:
    return latest_checkpoint(os.path.expanduser(init_from))
  except commands.UsageError as e:
    raise commands.UsageError(
        f'init_from {init_from}: {e}: train that run first, or set --config.init_from to a run '
        'or a shipped demo folder that has one') from None


def restore(workdir, build_model):
  """Builds the model a training run's workdir describes and loads its newest readable weights.

  Args:
    workdir: a training run's --workdir (config.json + checkpoints/).
    build_model: function of the config's `model` field returning a built Keras model.
  Returns:
    (model, config, step of the checkpoint).
  """
  import tensorflow as tf
  config = read_config(workdir)
  path = latest_checkpoint(workdir)
  model = build_model(config.model)
  step = tf.Variable(0, dtype=tf.int64, trainable=False, name='step')
  try:
    restore_weights(path, model, step=step)
  except AssertionError as e:
    raise commands.UsageError(f'{path} does not match the model in {workdir}/config.json: '
                              f'{str(e).splitlines()[0]}') from None
  logging.info('restored %s (step %d)', path, int(step.numpy()))
  return model, config, int(step.numpy())
