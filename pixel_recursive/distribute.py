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


def check_tf_config(text):
  """UsageError unless `text` is a TF_CONFIG naming this machine's place in its cluster: {"cluster":
  {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": N}}. TensorFlow takes a
  malformed one with a traceback, or (no cluster, not an object) trains alone as if on one machine.
  """
  try:
    tf_config = json.loads(text)
  except ValueError as e:
    raise commands.UsageError(f'TF_CONFIG is not valid JSON: {e}') from None
  form = '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": N}}'
  if not isinstance(tf_config, dict):
    raise commands.UsageError(f'TF_CONFIG must be a JSON object, {form}; got {text}')
  cluster, task = tf_config.get('cluster'), tf_config.get('task')
  if not isinstance(cluster, dict) or not cluster:
    raise commands.UsageError(f'TF_CONFIG has no "cluster" (the machines of the run): {form}')
  for job, addresses in cluster.items():  # A list, or TensorFlow's sparse form {index: address}.
    if not (isinstance(addresses, list) and addresses and all(isinstance(a, str) for a in addresses)
            or isinstance(addresses, dict) and all(str(k).isdigit() for k in addresses)):
      raise commands.UsageError(f'TF_CONFIG: the cluster\'s {job!r} must be a list of "host:port" '
                                f'addresses, got {json.dumps(addresses)}')
  if not isinstance(task, dict) or 'type' not in task or 'index' not in task:
    raise commands.UsageError(f'TF_CONFIG has no "task" (which of the cluster\'s machines this one '
                              f'is): {form}')
  kind, index = task['type'], task['index']
  if kind not in cluster:
    raise commands.UsageError(f'TF_CONFIG: the task type {kind!r} is not in the cluster (it has '
                              f'{", ".join(map(repr, cluster))})')
  addresses = cluster[kind]
  places = range(len(addresses)) if isinstance(addresses, list) else [int(k) for k in addresses]
  if not isinstance(index, int) or isinstance(index, bool) or index not in places:
    raise commands.UsageError(f'TF_CONFIG: the task index {json.dumps(index)} is not one of the '
                              f'cluster\'s {len(addresses)} {kind!r} addresses')


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
    check_tf_config(os.environ['TF_CONFIG'])
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
