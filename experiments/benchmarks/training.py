r"""Times the train step of each config on this machine and prints one JSON line per config.

  python experiments/benchmarks/training.py --configs=faces_tiny,pixcolor_tiny
  python experiments/benchmarks/training.py --configs=celeba_8x32,pixcolor_imagenet --batch_size=8

For every config, in one process and on the same batch:
  variants   the training loop's own compiled train step (`steps.make_train_step`: forward,
             backward, the task's gradient scaling, clipping as the config says, the optimizer)
             with XLA on and off, in float32 and in mixed_bfloat16: ms per step, steps/s and
             examples/s.
             `recipe` is the variant the config itself asks for (its `xla` and its `dtype_policy`,
             'auto' resolved on this machine: `dtype_policy` says to what and why, beside the
             CPU's relevant `cpu_flags`), `recipe_fraction_of_best` its examples/s over those of
             the fastest variant (`best_variant`), and `speedup_recipe_vs_xla_float32` its
             examples/s over those of XLA + float32 (every config's setting before the CPU recipe
             existed);
  breakdown  where a step's time goes, under the recipe: each part's forward and backward timed on
             its own (super-resolution: the conditioning network with its loss, the prior's gated
             layers, its output head with the loss; PixColor: the ResNet and adaptation networks,
             the PixelCNN's layers, its head with the loss, the refinement network with its loss),
             and the optimizer's update alone; and the update of the weights' moving average
             that `ema_decay` > 0 adds to each step (not part of `variants`). The parts overlap a
             little (a part's backward needs its own forward), so they need not add up to the step;
  input      the input pipeline's examples/s (`data.source`, or --data_source where the config's
             data cannot be read here, e.g. TFDS offline), against the examples/s the step consumes.
A variant that fails (e.g. mixed precision on code that predates it) is reported with its error.
Timings are the median of --repeats runs of --steps steps after two warm-up steps. The weights are
random: a step costs the same whatever they are (a pretrained backbone, e.g. pixcolor_imagenet's
ResNet-101, is built and trained as the config says, but its weights file is neither read nor
downloaded, so every config runs offline).
"""
import functools
import json
import os
import sys
import time

from absl import flags
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)
from experiments import configs  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments.benchmarks import common  # pylint: disable=g-import-not-at-top,wrong-import-position
from pixel_recursive import commands as _commands  # pylint: disable=g-import-not-at-top,wrong-import-position


def define_flags():
  """The command's flags (defined here, not on import, so that tests can import the module)."""
  flags.DEFINE_list('configs', ['faces_tiny', 'celeba_8x32', 'pixcolor_tiny', 'pixcolor_imagenet'],
                    'Config names under experiments/configs.')
  flags.DEFINE_list('variants', ['xla_float32', 'noxla_float32', 'xla_mixed_bfloat16',
                                 'noxla_mixed_bfloat16'],
                    "Variants to time; 'recipe' is the config's own (its xla and its dtype_policy, "
                    "'auto' resolved on this machine).")
  flags.DEFINE_integer('batch_size', 0, 'Batch size (0: the config\'s own).', lower_bound=0)
  flags.DEFINE_integer('steps', 10, 'Timed steps per repeat.', lower_bound=1)
  flags.DEFINE_integer('repeats', 3, 'Repeats; the median is reported.', lower_bound=1)
  flags.DEFINE_string('data_source', 'samples', 'Source of the input-pipeline timing and the batch '
                      'when the config\'s own source cannot be read here.')
  flags.DEFINE_integer('pipeline_batches', 30, 'Batches the input pipeline is timed over.',
                       lower_bound=1)
  flags.DEFINE_bool('breakdown', True, 'Time the parts of the step.')


FLAGS = flags.FLAGS


def make_task(config):
  if config.model.get('name') == 'pixcolor':
    from pixcolor import task
    return task.PixColorTask(config)
  from pixel_recursive import task
  return task.SuperResolutionTask(config)


def first_batch(task, config, batch_size):
  """One training batch of the config's data, or of --data_source when that cannot be read."""
  from data import pipeline
  from data import sources
  data = config.data
  try:
    ds = pipeline.make_dataset(data, task.data_task, 'train', batch_size, training=True)
    return {k: v.numpy() for k, v in next(iter(ds)).items()}, data.source
  except sources.DataSourceError:
    data = config.data.copy_and_resolve_references()
    data.source = FLAGS.data_source
    data.crop = 'center'
    ds = pipeline.make_dataset(data, task.data_task, 'train', batch_size, training=True)
    return {k: v.numpy() for k, v in next(iter(ds)).items()}, data.source


def median_ms(fn, steps, repeats):
  """Median over `repeats` of the mean ms of `steps` calls of fn(), after two warm-up calls."""
  import tensorflow as tf

  def block(result):
    for t in tf.nest.flatten(result):
      if hasattr(t, 'numpy'):
        t.numpy()

  block(fn())
  block(fn())
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    for _ in range(steps):
      result = fn()
    block(result)
    times.append((time.perf_counter() - start) / steps * 1000)
  return float(np.median(times))


def build(task, config, policy):
  """The model under `policy` (as the loop builds it) and its built optimizer."""
  import keras
  from pixel_recursive.training import optim
  from pixel_recursive.training import precision
  with precision.dtype_policy(policy):
    keras.utils.set_random_seed(0)
    model = task.build_model(config.model, initial_weights=False)
  optimizer = optim.make_optimizer(config)
  optimizer.build(model.trainable_variables)
  return model, optimizer


def time_step(task, config, batch, xla, policy):
  """ms per train step: the training loop's own compiled step (`steps.make_train_step`: forward,
  backward, the task's gradient scaling, clipping, the update and the learning-rate schedule, with
  XLA where the loop puts it), one step per call on `batch` repeated, without the loop's
  bookkeeping and without a moving average of the weights (timed apart in the breakdown)."""
  import tensorflow as tf
  from pixel_recursive.training import loop
  from pixel_recursive.training import steps
  model, optimizer = build(task, config, policy)
  config = config.copy_and_resolve_references()
  config.batch_size = len(next(iter(batch.values())))  # The loss is divided by the global batch.
  training = loop.Training(model, inference=None, optimizer=optimizer,
                           step=tf.Variable(0, dtype=tf.int64, trainable=False), checkpoint=None,
                           average=None)
  train_steps = steps.make_train_step(task, training, config, tf.distribute.get_strategy(), xla)
  iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
  return median_ms(lambda: train_steps(iterator, 1), FLAGS.steps, FLAGS.repeats), model, optimizer


def breakdown(model, optimizer, batch, xla):
  """{part: ms} of forward + backward of each part alone, and of the optimizer's update."""
  import tensorflow as tf
  from pixel_recursive import layers
  from pixel_recursive import losses
  batch = {k: tf.constant(v) for k, v in batch.items()}
  parts = {}

  def forward_backward(net_vars, loss_fn):
    with tf.GradientTape() as tape:
      loss = loss_fn()
    return tape.gradient(loss, net_vars)

  def fb(net_vars, loss_fn):
    # A partial, not a closure: TensorFlow counts traces per code object, and five closures of one
    # function would draw its 'excessive retracing' warning although each traces once.
    return tf.function(functools.partial(forward_backward, net_vars, loss_fn), jit_compile=xla)

  def square(x):
    return tf.reduce_mean(tf.square(tf.cast(x, tf.float32)))

  if hasattr(model, 'prior'):  # Super-resolution.
    target = tf.cast(batch['highres'], tf.int32)
    images = layers.scale_values(target, model.num_values)
    net = model.prior
    feats = tf.cast(net.features(images), tf.float32)
    parts['conditioning_network_and_loss'] = fb(model.conditioning.trainable_variables, lambda: (
        tf.reduce_mean(losses.cross_entropy(
            tf.cast(model.conditioning(batch['lowres']), tf.float32), target))))
    parts['prior_gated_layers'] = fb(
        [v for b in net.blocks for v in b.trainable_variables],
        lambda: square(net.features(images)))
    parts['prior_head_and_loss'] = fb(net.head.trainable_variables, lambda: tf.reduce_mean(
        losses.cross_entropy(tf.cast(net.head(feats), tf.float32), target)))
  else:  # PixColor.
    bins = tf.cast(batch['chroma'], tf.int32)
    images = layers.scale_values(bins, model.num_bins)
    cond = model.conditioning(batch['gray'])
    net = model.pixelcnn
    feats = tf.cast(net.features(images, cond), tf.float32)
    parts['conditioning_networks'] = fb(
        model.backbone.trainable_variables + model.adaptation.trainable_variables,
        lambda: square(model.conditioning(batch['gray'], training=True)))
    parts['pixelcnn_gated_layers'] = fb(
        [v for b in net.blocks for v in b.trainable_variables],
        lambda: square(net.features(images, cond)))
    parts['pixelcnn_head_and_loss'] = fb(net.head.trainable_variables, lambda: tf.reduce_mean(
        losses.cross_entropy(tf.cast(net.head(feats), tf.float32), bins)))
    from data import transforms
    from pixcolor import color
    target = color.scale_chroma(transforms.rgb_to_ycbcr(batch['image'])[..., 1:])
    parts['refinement_and_loss'] = fb(model.refinement.trainable_variables, lambda: tf.reduce_mean(
        losses.mean_squared_error(model.refinement(
            batch['gray'], model.dequantize(bins, training=True)), target)))
  grads = [tf.zeros_like(v) for v in model.trainable_variables]

  @tf.function(jit_compile=xla)
  def update():
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return tf.constant(0)

  parts['optimizer_update'] = update
  # What `ema_decay` > 0 adds to every step: the loop updates the average in a tf.function, no XLA.
  from pixel_recursive.training import averaging
  average = averaging.WeightAverage(model, 0.999)
  step = tf.Variable(1000, dtype=tf.int64)
  parts['weight_average_update'] = tf.function(lambda: average.update(step) or tf.constant(0))
  return {name: round(median_ms(fn, FLAGS.steps, FLAGS.repeats), 2) for name, fn in parts.items()}


def pipeline_rate(task, config, batch_size, source, batches):
  """Examples per second the input pipeline delivers over `batches` batches after its first."""
  from data import pipeline
  data = config.data.copy_and_resolve_references()
  data.source = source
  if source != config.data.source:
    data.crop = 'center'
  ds = iter(pipeline.make_dataset(data, task.data_task, 'train', batch_size, training=True))
  next(ds)
  start = time.perf_counter()
  for _ in range(batches):
    next(ds)
  return batches * batch_size / (time.perf_counter() - start)


def recipe_name(config, policy):
  """The variant a config asks for: its `xla` (default True), and `policy`, its resolved
  dtype_policy."""
  return f"{'xla' if config.get('xla', True) else 'noxla'}_{policy}"


def speeds(ms, batch_size):
  """A variant's entry: ms per step, steps/s and examples/s."""
  return {'ms_per_step': round(ms, 2), 'steps_per_second': round(1000 / ms, 3),
          'examples_per_second': round(1000 * batch_size / ms, 2)}


def compare(variants, recipe):
  """best_variant (the most examples/s), recipe_fraction_of_best and speedup_recipe_vs_xla_float32,
  from the entries of `variants` that ran (a failed variant's entry holds only its error)."""
  rates = {v: r['examples_per_second'] for v, r in variants.items() if 'examples_per_second' in r}
  if recipe not in rates:
    return {}
  best = max(rates, key=rates.get)
  result = {'best_variant': best, 'recipe_fraction_of_best': round(rates[recipe] / rates[best], 3)}
  if 'xla_float32' in rates:
    result['speedup_recipe_vs_xla_float32'] = round(rates[recipe] / rates['xla_float32'], 3)
  return result


def benchmark(name):
  # Here, not at the top: it imports Keras (and TensorFlow), which --help need not wait for.
  from pixel_recursive.training import precision  # pylint: disable=g-import-not-at-top
  config = configs.load(name)
  task = make_task(config)
  batch_size = FLAGS.batch_size or config.batch_size
  batch, source = first_batch(task, config, batch_size)
  asked = config.get('dtype_policy', 'float32')
  policy = precision.resolve(asked)
  recipe = recipe_name(config, policy)
  result = {'benchmark': 'training', 'device': common.device_name(),
            'cpu_flags': {f: f in precision.cpu_flags() for f in precision.REPORTED_CPU_FLAGS},
            'config': f'{name}.py', 'batch_size': batch_size, 'recipe': recipe,
            'dtype_policy': {'config': asked, 'resolved': policy,
                             'why': precision.native_bfloat16()[1]},
            'variants': {}}
  kept = None
  for variant in dict.fromkeys(recipe if v == 'recipe' else v for v in FLAGS.variants):
    xla, policy = variant.split('_', 1)
    try:
      ms, model, optimizer = time_step(task, config, batch, xla == 'xla', policy)
    except Exception as e:  # pylint: disable=broad-except
      first = str(e).strip().splitlines()
      result['variants'][variant] = {'error': f'{type(e).__name__}: {first[0][:200] if first else ""}'}
      continue
    result['variants'][variant] = speeds(ms, batch_size)
    if variant == recipe:
      kept = (model, optimizer, xla == 'xla')
  result.update(compare(result['variants'], recipe))
  if FLAGS.breakdown and kept:
    result['breakdown_ms'] = breakdown(kept[0], kept[1], batch, kept[2])
  rate = pipeline_rate(task, config, batch_size, source, FLAGS.pipeline_batches)
  result['input'] = {'source': source, 'examples_per_second': round(rate, 1),
                     'step_consumes_examples_per_second':
                         result['variants'].get(recipe, {}).get('examples_per_second')}
  return result


VARIANTS = ('recipe', 'xla_float32', 'noxla_float32', 'xla_mixed_bfloat16', 'noxla_mixed_bfloat16')


def main(argv):
  del argv
  if not FLAGS.configs:  # It printed no JSON line and exited 0.
    raise _commands.UsageError('--configs is empty: name one or more, e.g. faces_tiny')
  # An unknown one was a traceback after the first config was built.
  _commands.check_choices('--variants', FLAGS.variants, VARIANTS, 'variant')
  unknown = [name for name in FLAGS.configs if name not in configs.names()]
  if unknown:
    raise _commands.UsageError(f'--configs: no config named {", ".join(unknown)} in '
                               f'experiments/configs (there: {", ".join(configs.names())})')
  # Read only where a config's own source cannot be: its form is checked now.
  _commands.check_source(FLAGS.data_source, '--data_source')
  import pixel_recursive  # pylint: disable=unused-import  (quiet TensorFlow start-up)
  for name in FLAGS.configs:
    print(json.dumps(benchmark(name)), flush=True)


if __name__ == '__main__':
  define_flags()
  _commands.run(main)
