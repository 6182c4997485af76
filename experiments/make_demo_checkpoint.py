r"""Copies a training run's newest weights into a small, inference-only demo checkpoint folder.

  python experiments/make_demo_checkpoint.py --workdir=runs/faces_demo \
      --output=pixel_recursive/demo/faces --task=super_resolution --data_source=samples \
      --trained_on="the first 8,500 faces of CelebA celeba_32.npz (see WORKSPACE.md)" \
      --sampling=temperature=1.4,guidance=4 \
      --set='{"learning_rate": 0.001, "learning_rate_drop_steps": [9100], "learning_rate_drop_factor": 0.3}'
  python experiments/make_demo_checkpoint.py --workdir=runs/photos_demo \
      --output=pixcolor/demo/photos --task=pixcolor --data_source=samples:photos

The output folder is a workdir that `upsample` / `colorize` (and `workdir.restore`) can load:
config.json plus checkpoints/ holding the step and the model weights only (no optimizer state, a
third of the size). The commands use these folders when no --workdir is given. --data_source
replaces the run's data source in config.json (a demo must not record a path of the machine it was
trained on; `samples` is what a fresh clone can evaluate on), --trained_on says in words what it was,
and --sampling sets the sampling defaults the model ships with. Only config.json and checkpoints/ of
the output folder are rewritten: its TERMS.md (the terms of the training data) stays.

--average_last=N ships the uniform average of the weights of the run's N newest checkpoints instead
of the newest alone (checkpoint averaging, a cheap cousin of an exponential moving average of the
weights: it smooths the checkpoint-to-checkpoint swings of a run trained at a constant learning
rate). config.json records the steps averaged as `averaged_steps`; the checkpoint carries the
newest step. Weights that are not floating point (random-generator states) are the newest's.
"""
import json
import os
import shutil
import sys

from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

flags.DEFINE_string('workdir', None, 'Training workdir to take the newest checkpoint from.')
flags.DEFINE_string('output', None, 'Demo folder to (re)write.')
flags.DEFINE_enum('task', None, ['super_resolution', 'pixcolor'], 'Which model the run holds '
                  '(default: the one its config.json names).')
flags.DEFINE_string('config_file', None, 'Config file to record in config.json, for runs that '
                    'predate its recording there.')
flags.DEFINE_string('data_source', None, 'data.source to record instead of the run\'s.')
flags.DEFINE_string('trained_on', None, 'What the model was trained on, in words (recorded as '
                    'data.trained_on).')
flags.DEFINE_string('set', None, 'JSON object of top-level config keys to record instead of the '
                    'run\'s, e.g. the recipe of a run resumed with overrides: '
                    '\'{"learning_rate": 0.001, "learning_rate_drop_steps": [9100]}\'.')
flags.DEFINE_list('sampling', [], 'KEY=VALUE sampling defaults to record (temperature, guidance, '
                  'top_p, candidates).')
flags.DEFINE_integer('average_last', 1, 'Ship the average of the weights of the run\'s N newest '
                     'checkpoints (1: the newest alone).')
flags.mark_flags_as_required(['workdir', 'output'])
FLAGS = flags.FLAGS


def main(argv):
  del argv
  import ml_collections
  import tensorflow as tf
  from pixel_recursive import checkpoint_files
  from pixel_recursive import commands
  from pixel_recursive import workdir as workdir_lib
  # Every flag is checked before the model is loaded, so that a mistake ends with one line.
  config = workdir_lib.read_config(FLAGS.workdir)
  task = 'pixcolor' if config.model.get('name') == 'pixcolor' else 'super_resolution'
  if FLAGS.task and FLAGS.task != task:
    workdir_lib.check_model_name(FLAGS.workdir, FLAGS.task,
                                 lambda name: f'leave --task out, or give --task={task}')
  if task == 'super_resolution':
    from pixel_recursive.model import build_model
  else:
    from pixcolor.model import build_model
  check_output(FLAGS.output, FLAGS.workdir)
  # A demo holds every network and records no path of the machine it was trained on.
  if 'init_from' in config:
    config.init_from = ''
  weights_file = config.model.get('conditioning_weights') or ''
  if weights_file not in ('', 'imagenet'):  # PixColor's pretrained backbone: by the file's name only.
    config.model.conditioning_weights = os.path.basename(weights_file)
  if 'train_pixelcnn' in config:
    config.train_pixelcnn = config.train_refinement = True
  if FLAGS.data_source:
    config.data.source = commands.check_source(FLAGS.data_source, '--data_source')
  if FLAGS.trained_on:
    config.data.trained_on = FLAGS.trained_on
  if FLAGS.set:
    try:
      overrides = json.loads(FLAGS.set)
    except json.JSONDecodeError as e:
      raise commands.UsageError(f'--set is not a JSON object: {e}') from None
    if not isinstance(overrides, dict):
      raise commands.UsageError(f'--set must be a JSON object, got {FLAGS.set!r}')
    for key, value in overrides.items():
      if key not in config:  # As with --sampling: a typo must not ship unnoticed.
        raise commands.UsageError(f'--set {key}: the run\'s config has no such key')
      config[key] = tuple(value) if isinstance(value, list) else value
  if FLAGS.sampling:
    config.sampling = config.get('sampling', ml_collections.ConfigDict())
    checks = {'temperature': commands.check_temperature, 'guidance': commands.check_guidance,
              'top_p': commands.check_top_p, 'candidates': commands.check_candidates}
    for item in FLAGS.sampling:
      key, _, value = item.partition('=')
      if key not in checks:  # A typo would otherwise ship in the demo's config.json unnoticed.
        raise commands.UsageError('--sampling takes temperature=T, guidance=W, top_p=P and '
                                  f'candidates=N, got {item!r}')
      config.sampling[key] = checks[key](value, f'--sampling {key}')
  if FLAGS.average_last < 1:
    raise commands.UsageError(f'--average_last must be >= 1, got {FLAGS.average_last}')
  ckpt_dir = os.path.join(FLAGS.workdir, workdir_lib.CHECKPOINTS)
  available = len(checkpoint_files.checkpoints_newest_first(ckpt_dir))
  if FLAGS.average_last > available:
    raise commands.UsageError(f'--average_last={FLAGS.average_last}: {ckpt_dir} holds {available} '
                              'checkpoint(s)')
  model, _, step = workdir_lib.restore(FLAGS.workdir, build_model)
  if FLAGS.average_last > 1:
    config.averaged_steps = average_newest(model, FLAGS.workdir, FLAGS.average_last)
  # Only what this script writes is replaced (config.json, checkpoints/): the folder's TERMS.md,
  # the terms of the data the model was trained on, stays.
  shutil.rmtree(os.path.join(FLAGS.output, 'checkpoints'), ignore_errors=True)
  workdir_lib.write_config(config, FLAGS.output, FLAGS.config_file or config.get('config_file'))
  step_var = tf.Variable(step, dtype=tf.int64, trainable=False, name='step')
  manager = tf.train.CheckpointManager(workdir_lib.make_checkpoint(model, step=step_var),
                                       os.path.join(FLAGS.output, 'checkpoints'), max_to_keep=1)
  path = manager.save(checkpoint_number=step)
  size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(FLAGS.output) for f in fs)
  print(f'wrote {path} (step {step}, {size / 1e6:.2f} MB in {FLAGS.output})')


def check_output(output, workdir):
  """Refuses an --output whose checkpoints/ this script would replace but that holds a training
  run's (the run itself, or another): they carry the optimizer state a demo drops."""
  import tensorflow as tf
  from pixel_recursive import commands
  from pixel_recursive import workdir as workdir_lib
  if os.path.realpath(output) == os.path.realpath(workdir):
    raise commands.UsageError(f'--output {output} is the --workdir: the run\'s checkpoints would '
                              'be replaced by the demo\'s; give another folder')
  newest = tf.train.latest_checkpoint(os.path.join(output, workdir_lib.CHECKPOINTS))
  if newest and workdir_lib.has_optimizer_state(newest):
    raise commands.UsageError(f'--output {output} holds a training run (its checkpoints have '
                              'optimizer state), which the demo would replace; give another '
                              'folder')


def average_newest(model, workdir, count):
  """Sets `model`'s floating-point weights to the mean of the `count` newest checkpoints of
  `workdir` (the model holds the newest's on entry) and returns their steps, oldest first."""
  import numpy as np
  import tensorflow as tf
  from pixel_recursive import checkpoint_files
  from pixel_recursive import commands
  from pixel_recursive import workdir as workdir_lib
  ckpt_dir = os.path.join(workdir, workdir_lib.CHECKPOINTS)
  paths = checkpoint_files.checkpoints_newest_first(ckpt_dir)[:count]
  for path in paths:  # Before any weight changes: a damaged one ends the script, nothing written.
    reason = checkpoint_files.unreadable_reason(path)
    if reason:
      raise commands.Failure(f'cannot average {path}: {reason}')
  weights = workdir_lib.weights_by_path(model)
  floats = {k: v for k, v in weights.items() if tf.as_dtype(v.dtype).is_floating}
  sums = {k: v.numpy().astype(np.float64) for k, v in floats.items()}  # The newest, restored.
  newest = {k: v.numpy() for k, v in weights.items()}
  for path in paths[1:]:
    workdir_lib.restore_weights(path, model)
    for key, variable in floats.items():
      sums[key] += variable.numpy()
  for key, variable in weights.items():
    variable.assign(sums[key] / count if key in floats else newest[key])
  steps = sorted(checkpoint_files.step_of(p) for p in paths)
  print(f'averaged the weights of steps {", ".join(map(str, steps))}')
  return steps


if __name__ == '__main__':
  from pixel_recursive import commands as _commands
  _commands.run(main)
