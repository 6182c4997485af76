"""Mixed precision: which dtype policy a run computes in, chosen by what the hardware does natively.

  dtype_policy   'auto'            bfloat16 maths where the device computes bfloat16 natively, float32
                                   elsewhere (the default of the tiny and demo configs)
                 'float32'         everything in float32
                 'mixed_bfloat16'  float32 weights, bfloat16 convolutions and matmuls; the models keep
                                   their logits, softmax and losses in float32

Native bfloat16 means: a GPU of compute capability >= 8.0 (Ampere on), a TPU, or a CPU with
AVX512_BF16 or AMX_BF16 (`avx512_bf16`, `amx_bf16` in /proc/cpuinfo). Elsewhere bfloat16 is emulated:
on a 2-core AMD EPYC with AVX2 only, a faces_tiny step took 5,010 ms in mixed bfloat16 against 1,060
in float32, while on an AMD EPYC with AVX512_BF16 mixed bfloat16 was the fastest variant
(experiments/benchmarks/training.py, README "Training speed on CPU"). The training loop resolves
'auto' at start, logs the choice and records the resolved value in config.json.
"""
import contextlib
import os
import platform

from absl import logging
import keras

from pixel_recursive import commands
from pixel_recursive import workdir

DTYPE_POLICIES = ('auto', 'float32', 'mixed_bfloat16')
BFLOAT16_CPU_FLAGS = ('avx512_bf16', 'amx_bf16')
# Flags shown beside the resolved policy (the benchmark's JSON, the start-up log).
REPORTED_CPU_FLAGS = ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16')


def _cpuinfo(field, path):
  """The value of the first line of /proc/cpuinfo (at `path`) starting with `field`, or None."""
  try:
    with open(path) as f:
      for line in f:
        if line.startswith(field):
          return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return None


def cpu_flags(path='/proc/cpuinfo'):
  """The CPU's feature flags (the first `flags` line of /proc/cpuinfo); empty where there is none."""
  return frozenset((_cpuinfo('flags', path) or '').split())


def _gpus():
  """[(name, compute capability or None)] of the GPUs TensorFlow sees."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  gpus = []
  for gpu in tf.config.list_physical_devices('GPU'):
    details = tf.config.experimental.get_device_details(gpu)
    gpus.append((details.get('device_name', gpu.name), details.get('compute_capability')))
  return gpus


def _accelerators():
  """([(name, compute capability or None)] of the GPUs, number of TPUs) TensorFlow sees."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return _gpus(), len(tf.config.list_logical_devices('TPU'))


def device_name(cpuinfo='/proc/cpuinfo'):
  """'N x GPU name' when TensorFlow sees GPUs, else 'CPU: N cores, model name' (from `cpuinfo`):
  what a timing was measured on (the benchmarks' JSON lines, the quick-start demo's page)."""
  gpus = _gpus()
  if gpus:
    return f'{len(gpus)} x {gpus[0][0]}'
  model = _cpuinfo('model name', cpuinfo) or platform.processor() or 'CPU'
  return f'CPU: {os.cpu_count()} cores, {model}'


def native_bfloat16(flags=None, gpus=None, tpus=None):
  """(whether the device training runs on computes bfloat16 natively, why), as a short sentence.

  Args (all looked up when None; tests pass them):
    flags: the CPU's feature flags.
    gpus: [(name, (major, minor) compute capability or None)] of the GPUs.
    tpus: the number of TPU devices.
  """
  if gpus is None or tpus is None:
    found_gpus, found_tpus = _accelerators()
    gpus = found_gpus if gpus is None else gpus
    tpus = found_tpus if tpus is None else tpus
  if tpus:
    return True, 'a TPU computes bfloat16 natively'
  if gpus:  # Training runs on the GPUs: all of them must have bfloat16 units.
    slow = [f'{name} (compute capability {cc})' for name, cc in gpus if not cc or tuple(cc) < (8, 0)]
    if slow:
      return False, f'{slow[0]} has no native bfloat16 (needs compute capability >= 8.0)'
    return True, f'{gpus[0][0]} computes bfloat16 natively (compute capability {gpus[0][1]})'
  flags = cpu_flags() if flags is None else flags
  have = [f for f in BFLOAT16_CPU_FLAGS if f in flags]
  if have:
    return True, f'the CPU computes bfloat16 natively ({", ".join(have)})'
  return False, (f'the CPU has neither {" nor ".join(BFLOAT16_CPU_FLAGS)}: bfloat16 would be '
                 'emulated, several times slower than float32')


def check(name):
  """Raises UsageError unless `name` is a dtype policy."""
  if name not in DTYPE_POLICIES:
    raise commands.UsageError(
        f'dtype_policy must be one of {", ".join(DTYPE_POLICIES)}, got {name!r}')


def resolve(name, log=False, **device):
  """The policy `name` stands for on this machine: 'auto' -> 'mixed_bfloat16' or 'float32' by
  `native_bfloat16(**device)`; an explicit policy is returned as it is. UsageError for others."""
  check(name)
  if name != 'auto':
    return name
  native, why = native_bfloat16(**device)
  resolved = 'mixed_bfloat16' if native else 'float32'
  if log:
    logging.info('dtype_policy auto -> %s: %s', resolved, why)
  return resolved


@contextlib.contextmanager
def dtype_policy(name):
  """Builds Keras layers under the dtype policy `name` (the config's `dtype_policy`; 'auto' is
  resolved first).

  'mixed_bfloat16' keeps every weight in float32 and computes convolutions and matmuls in bfloat16
  (float16 would need loss scaling; bfloat16 has float32's range and does not). Sampling always runs
  a float32 copy (`InferenceModel`).
  """
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(resolve(name))
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


class InferenceModel:
  """The model that samples and evaluates: the trained model itself in float32, or, under a mixed
  policy or with a moving average of the weights (`average`, training/averaging.py), a float32 copy
  of it whose weights `get()` refreshes: the trained weights (sampling draws from 256-way softmaxes
  of logits that bfloat16 would round to a few significant digits), or their averages."""

  def __init__(self, task, model, config, average=None):
    self._model = model
    self._copy = None
    if average is not None or resolve(config.get('dtype_policy', 'float32')) != 'float32':
      with dtype_policy('float32'):
        self._copy = task.build_model(config.model, initial_weights=False)
      self._pairs = _matching_weights(self._copy, model, average.averages if average else {})

  def get(self):
    if self._copy is None:
      return self._model
    for target, source in self._pairs:
      target.assign(source)
    return self._copy


def _matching_weights(target, source, averages):
  """[(target weight, its source)] of two instances of one architecture, matched by path; the
  source is the weight's moving average where `averages` ({path: variable}) has one."""
  targets, sources = workdir.weights_by_path(target), workdir.weights_by_path(source)
  if set(targets) != set(sources):
    raise ValueError('the float32 copy of the model has other weights than the model')
  return [(targets[k], averages.get(k, sources[k])) for k in sorted(targets)]
