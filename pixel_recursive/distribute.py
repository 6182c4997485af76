"""Devices and `tf.distribute` strategies: one device, MirroredStrategy, MultiWorkerMirroredStrategy.

Shared plumbing of both papers' training commands (the `--strategy` and `--cpu_replicas` flags).
"""
import json
import os

from pixel_recursive import commands

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


# One MirroredStrategy per device set and process (see `make_strategy`).
_MIRRORED = {}


def make_strategy(name, cpu_replicas=0):
  """The `tf.distribute` strategy `name` names.

  default:      one device (the first GPU if there is one).
  mirrored:     synchronous data parallelism over all local GPUs, or over `cpu_replicas` logical CPUs.
  multi_worker: MultiWorkerMirroredStrategy across the machines listed in the TF_CONFIG variable.
  """
  import tensorflow as tf
  if name not in STRATEGIES:
    raise commands.UsageError(f'--strategy must be one of {", ".join(STRATEGIES)}, got {name!r}')
  if name == 'multi_worker':
    if 'TF_CONFIG' not in os.environ:
      raise commands.UsageError('--strategy=multi_worker needs the TF_CONFIG environment variable '
                                '(see WORKSPACE.md, "Training on several machines")')
    try:
      json.loads(os.environ['TF_CONFIG'])
    except ValueError as e:
      raise commands.UsageError(f'TF_CONFIG is not valid JSON: {e}') from None
    split_cpu(cpu_replicas)
    return tf.distribute.MultiWorkerMirroredStrategy()
  split_cpu(cpu_replicas)
  if name == 'default':
    return tf.distribute.get_strategy()
  gpus = tf.config.list_logical_devices('GPU')
  devices = tuple(d.name for d in gpus) or tuple(d.name for d in tf.config.list_logical_devices('CPU'))
  # Every new MirroredStrategy numbers its collective ops from the same keys (group 1, instance
  # 100, ...), so a second one in the same process (a notebook training two models, a test suite)
  # can meet the first one's records and fail with "Shape mismatch in the collective instance 100".
  # Reusing the strategy keeps the keys unique.
  if devices not in _MIRRORED:
    _MIRRORED[devices] = tf.distribute.MirroredStrategy(list(devices))
  return _MIRRORED[devices]


def is_chief(strategy):
  """Whether this process writes checkpoints and summaries (always, outside multi-worker runs)."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  if resolver is None or not resolver.cluster_spec().as_dict():
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  return task_type == 'chief' or (task_type == 'worker' and task_id == 0 and
                                  'chief' not in resolver.cluster_spec().as_dict())


def uses_logical_cpus(strategy):
  """Whether the strategy's replicas are logical CPU devices (where XLA training cannot compile)."""
  if strategy.num_replicas_in_sync == 1:
    return False
  return all('CPU' in d.upper() for d in strategy.extended.worker_devices)
