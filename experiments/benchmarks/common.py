"""What every benchmark script shares: the name of the device it ran on, for its JSON line."""
import os
import platform


def device_name(cpuinfo='/proc/cpuinfo'):
  """'N x GPU name' when TensorFlow sees GPUs, else 'CPU: N cores, model name' (from `cpuinfo`)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  gpus = tf.config.list_physical_devices('GPU')
  if gpus:
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"{len(gpus)} x {details.get('device_name', 'GPU')}"
  model = platform.processor() or 'CPU'
  try:
    with open(cpuinfo) as f:
      model = next(l.split(':', 1)[1].strip() for l in f if l.startswith('model name'))
  except (OSError, StopIteration):
    pass
  return f'CPU: {os.cpu_count()} cores, {model}'
