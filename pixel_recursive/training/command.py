"""The train command both papers share: `python -m pixel_recursive.train` and `pixcolor.train`.

  --config=FILE [--config.KEY=VALUE ...] --workdir=DIR [--mode=train|eval|train_and_eval]
  [--strategy=default|mirrored|multi_worker] [--cpu_replicas=N]

Exit status: 0 when training reached train_steps (or SIGTERM saved a checkpoint), 1 when it stopped
on a NaN or Inf, when a checkpoint could not be saved or none in the workdir can be read (one line
naming what failed and the last good checkpoint), 2 on a usage error, 130 after Ctrl-C (which
saves a checkpoint at the next step boundary first; a second Ctrl-C stops at once).
"""
import importlib
import os

from absl import flags

from pixel_recursive import commands
from pixel_recursive import distribute
from pixel_recursive import training


CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       'experiments', 'configs')


@commands.command_flags()
def define_flags(default_config):
  """The flags of a train command whose --config defaults to `default_config` (a path)."""
  from ml_collections import config_flags
  config_flags.DEFINE_config_file(
      'config', default_config, 'Training config file (experiments/configs/*.py); override any key '
      'with --config.KEY=VALUE.', lock_config=True)
  flags.DEFINE_string('workdir', None, 'Folder for config.json, checkpoints/ and TensorBoard logs. '
                      'Re-running with the same workdir resumes.')
  flags.DEFINE_enum('mode', 'train', training.MODES, 'train: train only; eval: a continuous '
                    'evaluator that waits for each new checkpoint in the workdir; train_and_eval: '
                    'both in one process.')
  flags.DEFINE_enum('strategy', 'default', distribute.STRATEGIES, 'default: one device; mirrored: '
                    'all local GPUs (or --cpu_replicas logical CPUs); multi_worker: machines in '
                    'TF_CONFIG.')
  flags.DEFINE_integer('cpu_replicas', 0, 'Split the CPU into this many logical devices (to try '
                       '--strategy=mirrored or multi_worker without GPUs).', lower_bound=0)
  flags.mark_flags_as_required(['workdir'])


def main(task_class, default_config):
  """The train command for `task_class` (a `training.task.Task`, or its 'module.Class' name, imported
  after the flags parse: a mistyped flag is then reported before TensorFlow is imported), whose
  --config defaults to experiments/configs/`default_config`."""
  from data import errors
  define_flags(os.path.join(CONFIGS, default_config))

  def train(argv):
    del argv
    from pixel_recursive.training import loop
    FLAGS = flags.FLAGS
    config = FLAGS.config
    task_type = task_class
    if isinstance(task_type, str):
      module, name = task_type.rsplit('.', 1)
      task_type = getattr(importlib.import_module(module), name)
    task = task_type(config)
    strategy = distribute.make_strategy(FLAGS.strategy, FLAGS.cpu_replicas)
    try:
      loop.run(task, config, FLAGS.workdir, FLAGS.mode, strategy,
               config_file=getattr(FLAGS['config'], 'config_filename', None))
    except loop.NonFiniteError as e:
      commands.fail(e, status=1)

  commands.run(train, user_errors=(errors.DataSourceError,))
