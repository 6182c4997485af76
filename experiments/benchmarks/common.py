"""What every benchmark script shares: the name of the device it ran on, for its JSON line."""


def device_name(cpuinfo='/proc/cpuinfo'):
  """`precision.device_name` (which the quick-start demo's page also shows), imported when called:
  it imports Keras and TensorFlow, which a script's --help need not wait for."""
  from pixel_recursive.training import precision  # pylint: disable=g-import-not-at-top
  return precision.device_name(cpuinfo)
