"""The train command both papers share: `python -m pixel_recursive.train` and `pixcolor.train`.

  --config=FILE [--config.KEY=VALUE ...] --workdir=DIR [--mode=train|eval|train_and_eval]
  [--strategy=default|mirrored|multi_worker] [--cpu_replicas=N]

Exit status: 0 when training reached train_steps (or SIGTERM saved a checkpoint), 1 when it stopped
on a NaN or Inf, when a checkpoint could not be saved or none in the workdir can be read (one line
naming what failed and the last good checkpoint), 2 on a usage error, 130 after Ctrl-C (which
saves a checkpoint at the next step boundary first; a second Ctrl-C stops at once). A usage error
before the first checkpoint leaves --workdir as it was (`WorkdirBefore`).
"""
import importlib
import os
import shutil

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


class WorkdirBefore:
  """What a training run's --workdir held before the run, so that a run ended by a mistake (a data
  source that does not exist, a weights file that does not load) before it saved a checkpoint
  leaves it so: a folder it made is removed, a config.json it wrote into a folder without one is."""

  def __init__(self, workdir):
    from pixel_recursive import workdir as workdir_lib
    self.workdir = workdir
    self.existed = os.path.isdir(workdir)
    self.config = os.path.join(workdir, workdir_lib.CONFIG_FILE)
    self.had_config = os.path.exists(self.config)

  def restore(self):
    from pixel_recursive import workdir as workdir_lib
    if os.path.exists(os.path.join(self.workdir, workdir_lib.CHECKPOINTS)):
      return  # It trained (or was a run before): everything stays.
    if not self.existed:
      shutil.rmtree(self.workdir, ignore_errors=True)
    elif not self.had_config and os.path.exists(self.config):
      os.remove(self.config)


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
    before = WorkdirBefore(FLAGS.workdir) if distribute.is_chief(strategy) else None
    try:
      loop.run(task, config, FLAGS.workdir, FLAGS.mode, strategy,
               config_file=getattr(FLAGS['config'], 'config_filename', None))
    except loop.NonFiniteError as e:
      commands.fail(e, status=1)
    except (commands.UsageError, errors.DataSourceError):
      if before:
        before.restore()
      raise

  commands.run(train, user_errors=(errors.DataSourceError,))
