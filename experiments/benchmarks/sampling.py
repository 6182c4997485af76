r"""Times the samplers on one model in one run and prints one JSON line (the last line of output).

  python experiments/benchmarks/sampling.py --config=experiments/configs/celeba_8x32.py --batch_size=16

Methods, all drawing the same 32x32x3 (or PixColor 28x28x2) images sub-pixel by sub-pixel:
  cached        pixel_recursive.sampling's cached sampler (XLA), timed over whole images;
  cached_top_p  the same drawing from the top-p nucleus (--top_p), which sorts every sub-pixel's
                distribution; reported beside `cached` as `nucleus_cost_vs_cached`;
  naive         the whole network per sub-pixel (XLA), timed over --naive_steps sub-pixels and
                extrapolated linearly to the whole image (every step costs the same full pass);
  predict_loop  the keras.io PixelCNN way: `model.predict` on the canvas per sub-pixel and a numpy
                draw, timed over --predict_steps sub-pixels and extrapolated likewise.
The model has random weights: sampling time does not depend on them. Speedups are ratios of
seconds per image measured in this run, on this device. Compile times are first call minus a
warm call. Peak memory is the GPU allocator's peak where there is a GPU, else the process's peak RSS.
"""
import json
import os
import resource
import sys
import time

from absl import flags
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)
from experiments.benchmarks import common  # pylint: disable=g-import-not-at-top,wrong-import-position

from ml_collections import config_flags  # pylint: disable=g-import-not-at-top


def define_flags():
  """The command's flags (defined here, not on import, so that tests can import the module)."""
  config_flags.DEFINE_config_file('config', os.path.join(ROOT, 'experiments', 'configs',
                                                         'celeba_8x32.py'), 'Model config.')
  flags.DEFINE_integer('batch_size', 16, 'Images sampled at once.', lower_bound=1)
  flags.DEFINE_list('methods', ['cached', 'naive', 'predict_loop'],
                    f'Methods to time: {", ".join(METHODS)}.')
  flags.DEFINE_float('top_p', 0.9, 'The nucleus of cached_top_p.')
  flags.DEFINE_integer('naive_steps', 32, 'Sub-pixels the naive sampler is timed over.',
                       lower_bound=1)
  flags.DEFINE_integer('predict_steps', 12, 'Sub-pixels the predict loop is timed over.',
                       lower_bound=1)
  flags.DEFINE_integer('repeats', 2, 'Timed calls of the cached sampler (the fastest is kept).',
                       lower_bound=1)
  flags.DEFINE_float('temperature', 1.0, 'Sampling temperature.')


METHODS = ('cached', 'cached_top_p', 'naive', 'predict_loop')


def check_flags():
  """UsageError for what would time nothing or fail after the model is built (an unknown method
  was skipped, and the JSON line had no times)."""
  from pixel_recursive import commands  # pylint: disable=g-import-not-at-top
  commands.check_choices('--methods', FLAGS.methods, METHODS, 'method')
  commands.check_temperature(FLAGS.temperature)
  commands.check_top_p(FLAGS.top_p)


FLAGS = flags.FLAGS


def peak_memory():
  import tensorflow as tf
  if tf.config.list_physical_devices('GPU'):
    return tf.config.experimental.get_memory_info('GPU:0')['peak'], 'gpu_allocator_peak_bytes'
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, 'host_peak_rss_bytes'


class SuperResolutionTarget:
  """What the benchmark samples: super-resolution's prior with conditioning logits A."""

  def __init__(self, config, batch_size):
    import tensorflow as tf
    from pixel_recursive import model as model_lib
    self.model = model_lib.build_model(config.model)
    rng = np.random.default_rng(0)
    self.lowres = rng.integers(0, 256, [batch_size, 8, 8, 3], dtype=np.uint8)
    self.extra = self.model.conditioning(self.lowres)
    self.prior = self.model.prior
    self.shape = (batch_size, 32, 32)
    self.conditioning = None
    del tf

  def sample(self, method, num_steps=None, top_p=1.0):
    return self.model.sample(self.lowres, FLAGS.temperature, seed=0, method=method,
                             num_steps=num_steps, top_p=top_p)

  def predict_logits(self, canvas_scaled):
    return self.prior.predict(canvas_scaled, verbose=0, batch_size=len(canvas_scaled))


def make_target(config, batch_size):
  name = config.model.get('name', 'super_resolution')
  if name == 'super_resolution':
    return SuperResolutionTarget(config, batch_size)
  try:
    from pixcolor import benchmark_target  # PixColor registers its own target.
  except ImportError:
    from pixel_recursive import commands  # pylint: disable=g-import-not-at-top
    raise commands.UsageError(f'no benchmark target for model.name={name!r}') from None
  return benchmark_target.make(config, batch_size, FLAGS.temperature)


def timed(fn):
  start = time.perf_counter()
  out = fn()
  np.asarray(out)  # Waits for the device.
  return time.perf_counter() - start


def time_predict_loop(target, steps):
  """keras.io-style: model.predict per sub-pixel, numpy softmax draw, numpy canvas."""
  from pixel_recursive import layers
  net = target.prior
  batch, height, width = target.shape
  channels, values = net.num_channels, net.num_values
  canvas = np.zeros([batch, height, width, channels], np.int32)
  extra = None if target.extra is None else np.asarray(target.extra)
  rng = np.random.default_rng(0)
  target.predict_logits(np.asarray(layers.scale_values(canvas, values)))  # Warm-up.
  start = time.perf_counter()
  for p in range(steps):
    i, j, c = p // (width * channels), (p // channels) % width, p % channels
    inputs = np.asarray(layers.scale_values(canvas, values))
    logits = target.predict_logits(inputs)[:, i, j, c]
    if extra is not None:
      logits = logits + extra[:, i, j, c]
    z = logits / FLAGS.temperature
    probs = np.exp(z - z.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    canvas[:, i, j, c] = [rng.choice(values, p=pr) for pr in probs]
  return time.perf_counter() - start


def per_image(seconds, batch, steps=None, subpixels=None):
  """Seconds per image of a call that took `seconds` for a batch of `batch` images; a call timed
  over `steps` of an image's `subpixels` sub-pixel steps is extrapolated linearly to all of them."""
  if steps:
    seconds = seconds / steps * subpixels
  return seconds / batch


def ratios(per_image_seconds):
  """nucleus_cost_vs_cached and speedup_cached_vs_{naive, predict_loop}: ratios of seconds per
  image of the methods timed (a speedup > 1: the cached sampler is faster)."""
  t = per_image_seconds
  result = {}
  if 'cached' in t:
    if 'cached_top_p' in t:
      result['nucleus_cost_vs_cached'] = t['cached_top_p'] / t['cached']
    for other in ('naive', 'predict_loop'):
      if other in t:
        result[f'speedup_cached_vs_{other}'] = t[other] / t['cached']
  return result


def main(argv):
  del argv
  check_flags()
  config = FLAGS.config
  target = make_target(config, FLAGS.batch_size)
  batch, height, width = target.shape
  channels = target.prior.num_channels
  subpixels = height * width * channels
  result = {'benchmark': 'sampling', 'device': common.device_name(),
            'config': os.path.basename(flags.FLAGS['config'].value if isinstance(
                flags.FLAGS['config'].value, str) else sys.argv[0]),
            'batch_size': batch, 'image_shape': [height, width, channels],
            'seconds_per_image': {}, 'compile_seconds': {}}
  for arg in sys.argv:
    if arg.startswith('--config='):
      result['config'] = os.path.basename(arg.split('=', 1)[1])
  seconds = result['seconds_per_image']
  for name, top_p in (('cached', 1.0), ('cached_top_p', FLAGS.top_p)):
    if name not in FLAGS.methods:
      continue
    # Both share one compiled program (top-p is an input); the first call of either compiles it.
    first = timed(lambda: target.sample('cached', top_p=top_p))
    runs = [timed(lambda: target.sample('cached', top_p=top_p)) for _ in range(FLAGS.repeats)]
    seconds[name] = per_image(min(runs), batch)
    result['compile_seconds'].setdefault('cached', max(first - min(runs), 0.0))
    print(f'{name}: {min(runs):.3f} s per batch of {batch}', file=sys.stderr, flush=True)
  if 'cached_top_p' in seconds:
    result['top_p'] = FLAGS.top_p
  if 'naive' in FLAGS.methods:
    steps = min(FLAGS.naive_steps, subpixels)
    first = timed(lambda: target.sample('naive', num_steps=1))
    run = timed(lambda: target.sample('naive', num_steps=steps))
    per_step = run / steps
    seconds['naive'] = per_image(run, batch, steps, subpixels)
    result['compile_seconds']['naive'] = max(first - per_step, 0.0)
    result['naive_extrapolated_from_steps'] = steps
    print(f'naive: {per_step * 1e3:.1f} ms per sub-pixel step', file=sys.stderr, flush=True)
  if 'predict_loop' in FLAGS.methods:
    steps = min(FLAGS.predict_steps, subpixels)
    run = time_predict_loop(target, steps)
    per_step = run / steps
    seconds['predict_loop'] = per_image(run, batch, steps, subpixels)
    result['predict_loop_extrapolated_from_steps'] = steps
    print(f'predict loop: {per_step * 1e3:.1f} ms per sub-pixel step', file=sys.stderr,
          flush=True)
  result.update(ratios(seconds))
  result['peak_memory_bytes'], result['peak_memory_kind'] = peak_memory()
  print(json.dumps(result), flush=True)


if __name__ == '__main__':
  from pixel_recursive import commands as _commands
  define_flags()
  _commands.run(main)
