r"""Trains and evaluates Pixel Recursive Super Resolution: one custom loop under `tf.distribute`.

  python -m pixel_recursive.train --config=experiments/configs/faces_tiny.py --workdir=/tmp/faces
  python -m pixel_recursive.train --config=experiments/configs/celeba_8x32.py --workdir=DIR \
      --strategy=mirrored
  python -m pixel_recursive.train --config=... --workdir=DIR --mode=eval   # continuous evaluator

Estimator-style pieces: the input function is `data.pipeline.input_fn`, the model function is a task
(`pixel_recursive.task.SuperResolutionTask`, `pixcolor.task.PixColorTask`) and `run` below is the loop,
which `pixcolor.train` reuses. Re-running the same command resumes from the newest checkpoint in
`workdir/checkpoints`. SIGTERM saves a checkpoint and exits cleanly.

TensorBoard summaries are committed together with checkpoints: scalars, histograms and images of the
steps since the last checkpoint are written when the next checkpoint is, so after a crash and resume
the event files never hold a step twice and their steps stay monotonic. Progress lines go to the log
as soon as they happen.
"""
import math
import os
import shutil
import signal
import sys
import tempfile
import time

from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf

from pixel_recursive import checkpoints
from pixel_recursive import cli

MODES = ('train', 'eval', 'train_and_eval')


class NonFiniteError(Exception):
  """Training met a NaN or Inf loss or gradient."""


# ----------------------------------------------------------------------------------------------
# Summaries that wait for the next checkpoint (see module docstring).
# ----------------------------------------------------------------------------------------------
class PendingSummaries:
  """Buffers summaries in host memory and writes them when `commit` is called."""

  def __init__(self, logdir, enabled=True):
    self.logdir = logdir
    self.enabled = enabled
    self._writer = None
    self._pending = []

  def scalar(self, name, value, step):
    self._pending.append(('scalar', name, float(value), int(step)))

  def image(self, name, image, step):
    self._pending.append(('image', name, np.asarray(image), int(step)))

  def histogram(self, name, values, step):
    self._pending.append(('histogram', name, np.asarray(values), int(step)))

  def commit(self):
    if self.enabled and self._pending:
      if self._writer is None:
        self._writer = tf.summary.create_file_writer(self.logdir)
      with self._writer.as_default():
        for kind, name, value, step in self._pending:
          if kind == 'scalar':
            tf.summary.scalar(name, value, step=step)
          elif kind == 'image':
            tf.summary.image(name, value[None] if value.ndim == 3 else value, step=step)
          else:
            tf.summary.histogram(name, value, step=step)
      self._writer.flush()
    self._pending = []

  def discard(self):
    self._pending = []


# ----------------------------------------------------------------------------------------------
# Small helpers of the loop.
# ----------------------------------------------------------------------------------------------
def is_chief(strategy):
  resolver = getattr(strategy, 'cluster_resolver', None)
  if resolver is None or not resolver.cluster_spec().as_dict():
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  return task_type == 'chief' or (task_type == 'worker' and task_id == 0 and
                                  'chief' not in resolver.cluster_spec().as_dict())


def _uses_logical_cpus(strategy):
  if strategy.num_replicas_in_sync == 1:
    return False
  return all('CPU' in d.upper() for d in strategy.extended.worker_devices)


def _format_duration(seconds):
  seconds = int(seconds)
  if seconds >= 3600:
    return f'{seconds // 3600}h{seconds % 3600 // 60:02d}m'
  return f'{seconds // 60}m{seconds % 60:02d}s'


class _SignalFlag:
  """Remembers SIGTERM (a preemption) so the loop can checkpoint and exit at the next boundary."""

  def __init__(self):
    self.received = False
    self._previous = None

  def __enter__(self):
    try:
      self._previous = signal.signal(signal.SIGTERM, self._handle)
    except ValueError:  # Not the main thread (e.g. a notebook thread): no handler, no harm.
      self._previous = None
    return self

  def _handle(self, signum, frame):
    del signum, frame
    self.received = True
    logging.warning('SIGTERM received: saving a checkpoint at the next step boundary and exiting')

  def __exit__(self, *exc):
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)


def make_optimizer(config):
  """The optimizer a config's `optimizer` field names, at `config.learning_rate`."""
  import keras
  opt = config.optimizer
  if opt.name == 'rmsprop':
    # Dahl et al. 2017: RMSProp, decay 0.95, momentum 0.9, epsilon 1e-8.
    return keras.optimizers.RMSprop(config.learning_rate, rho=opt.get('decay', 0.95),
                                    momentum=opt.get('momentum', 0.9),
                                    epsilon=opt.get('epsilon', 1e-8))
  if opt.name == 'adam':
    return keras.optimizers.Adam(config.learning_rate, beta_1=opt.get('beta1', 0.9),
                                 beta_2=opt.get('beta2', 0.999), epsilon=opt.get('epsilon', 1e-7))
  raise cli.UsageError(f"optimizer.name must be 'rmsprop' or 'adam', got {opt.name!r}")


# ----------------------------------------------------------------------------------------------
# Evaluation: mean metrics over the eval split.
# ----------------------------------------------------------------------------------------------
def evaluate_metrics(task, model, config, strategy, num_examples=None):
  """Mean of the task's per-example metrics over `num_examples` of the eval split (all if None)."""
  num_examples = num_examples or config.get('eval_examples')
  batch = min(config.get('eval_batch_size', config.batch_size), num_examples or 10**9)
  batch = max(strategy.num_replicas_in_sync, batch - batch % strategy.num_replicas_in_sync)
  dataset = strategy.distribute_datasets_from_function(
      task.input_fn(config, 'eval', batch, training=False, num_examples=num_examples))

  @tf.function
  def eval_step(batch):
    metrics = strategy.run(lambda b: task.metrics(model, b, training=False), (batch,))
    return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=0) for k, v in metrics.items()}

  totals, count = {}, 0
  for batch_data in dataset:
    sums = eval_step(batch_data)
    for k, v in sums.items():
      totals[k] = totals.get(k, 0.0) + float(v)
    count += batch
  if not count:
    raise cli.UsageError('the eval split has fewer examples than one eval batch')
  return {k: v / count for k, v in totals.items()}, count


# ----------------------------------------------------------------------------------------------
# The loop.
# ----------------------------------------------------------------------------------------------
def run(task, config, workdir, mode='train', strategy=None, config_file=None):
  """Trains (and/or evaluates) `task` as `config` says, in `workdir`. Returns the final step.

  Args:
    task: a task object (see `pixel_recursive.task.SuperResolutionTask` for its methods).
    config: the full training config.
    workdir: where config.json, checkpoints/ and the TensorBoard runs train/ and eval/ go.
    mode: 'train', 'eval' (continuous evaluator) or 'train_and_eval'.
    strategy: a `tf.distribute.Strategy`; the default strategy if None.
    config_file: the config file `config` came from, recorded in config.json.
  """
  if mode not in MODES:
    raise cli.UsageError(f'--mode must be one of {", ".join(MODES)}, got {mode!r}')
  # --- setup ------------------------------------------------------------------------------------
  strategy = strategy or tf.distribute.get_strategy()
  chief = is_chief(strategy)
  replicas = strategy.num_replicas_in_sync
  if config.batch_size % replicas:
    raise cli.UsageError(f'batch_size {config.batch_size} is not divisible by the {replicas} '
                         'replicas of the strategy')
  tf.keras.utils.set_random_seed(config.seed)
  ckpt_dir = os.path.join(workdir, 'checkpoints')
  if mode == 'eval':
    return _continuous_eval(task, config, workdir, strategy)
  if chief:
    cli.write_config(config, workdir, config_file)

  # --- model, optimizer and checkpoint -----------------------------------------------------------
  with strategy.scope():
    model = task.build_model(config.model)
    optimizer = make_optimizer(config)
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name='step')
    checkpoint = checkpoints.make(model, step=step, optimizer=optimizer)
  # Under MultiWorkerMirroredStrategy every worker takes part in saving; only the chief's copy is
  # kept, the others write to a temporary folder that is removed at the end.
  save_dir = ckpt_dir if chief else tempfile.mkdtemp(prefix='pixel_recursive_worker_')
  manager = tf.train.CheckpointManager(checkpoint, save_dir,
                                       max_to_keep=config.get('keep_checkpoints', 3),
                                       step_counter=step)

  # --- restore ------------------------------------------------------------------------------------
  latest = tf.train.latest_checkpoint(ckpt_dir)
  if latest:
    try:
      checkpoint.restore(latest).assert_existing_objects_matched()
    except (AssertionError, ValueError) as e:
      raise cli.UsageError(
          f'{latest} does not fit this config: the model or the set of trained weights changed '
          f'since it was written ({str(e).splitlines()[0][:200]}). Use a new --workdir, or the '
          'config it was trained with.') from None
    logging.info('resumed from %s at step %d', latest, int(step.numpy()))
    # The checkpoint restored the optimizer's learning rate too; the config is what the user asked
    # for now (e.g. a lower rate to finish a run).
    restored_lr = float(np.asarray(optimizer.learning_rate))
    if not np.isclose(restored_lr, config.learning_rate):
      logging.info('learning rate %g from the config replaces %g from the checkpoint',
                   config.learning_rate, restored_lr)
      optimizer.learning_rate.assign(config.learning_rate)
  start_step = int(step.numpy())
  if start_step >= config.train_steps:
    logging.info('already trained for %d >= train_steps=%d steps', start_step, config.train_steps)
    return start_step

  # --- data ---------------------------------------------------------------------------------------
  # A resumed run shuffles with a seed that includes its start step, so it does not replay the
  # batches the run before it already trained on.
  data_seed = config.seed + 1_000_003 * start_step
  train_data = strategy.distribute_datasets_from_function(
      task.input_fn(config, 'train', config.batch_size, training=True, seed=data_seed))
  iterator = iter(train_data)
  image_batch = task.image_batch(config) if chief else None

  # --- the train step -----------------------------------------------------------------------------
  use_xla = bool(config.get('xla', True)) and not _uses_logical_cpus(strategy)
  if config.get('xla', True) and not use_xla:
    logging.info('XLA is off for training: it does not compile on logical CPU devices')
  clip = config.get('grad_clip_norm', 0.0)
  metric_names = task.metric_names()

  @tf.function(jit_compile=use_xla)
  def compute_gradients(batch):
    with tf.GradientTape() as tape:
      metrics = task.metrics(model, batch, training=True)
      # Per-replica share of the global-batch mean, so that the replicas' sum is the mean.
      loss = tf.reduce_sum(metrics['loss']) / config.batch_size
    grads = tape.gradient(loss, model.trainable_variables)
    unused = [v.path for v, g in zip(model.trainable_variables, grads) if g is None]
    if unused:  # Found while tracing: a trainable weight the loss never reaches is a model bug.
      raise ValueError(f'the loss does not depend on these trainable weights: {unused}')
    return grads, {k: tf.reduce_sum(v) for k, v in metrics.items()}

  def replica_step(batch):
    grads, metrics = compute_gradients(batch)
    context = tf.distribute.get_replica_context()
    if replicas > 1:
      grads = context.all_reduce(tf.distribute.ReduceOp.SUM, grads)
    grad_norm = tf.linalg.global_norm(grads)
    if clip:
      grads, _ = tf.clip_by_global_norm(grads, clip, use_norm=grad_norm)
    # Keras' optimizer sums gradients over replicas itself; handing it 1/replicas of the summed
    # gradient makes that sum the global gradient again (we reduce first for the true norm).
    optimizer.apply_gradients(zip([g / replicas for g in grads], model.trainable_variables))
    metrics['grad_norm'] = grad_norm / replicas  # Summed over replicas by the caller.
    return metrics

  @tf.function
  def train_steps(iterator, num_steps):
    totals = {k: tf.constant(0.0) for k in metric_names + ['grad_norm']}
    first_bad = tf.constant(-1, tf.int64)
    for _ in tf.range(num_steps):
      sums = strategy.run(replica_step, (next(iterator),))
      sums = {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in sums.items()}
      finite = tf.math.is_finite(sums['loss']) & tf.math.is_finite(sums['grad_norm'])
      first_bad = tf.where((first_bad < 0) & ~finite, step + 1, first_bad)
      step.assign_add(1)
      totals = {k: totals[k] + sums[k] for k in totals}
    return totals, first_bad

  # --- the loop -----------------------------------------------------------------------------------
  summaries = PendingSummaries(os.path.join(workdir, 'train'), enabled=chief)
  eval_summaries = PendingSummaries(os.path.join(workdir, 'eval'), enabled=chief)
  every = {
      'log': config.get('log_every_steps', 100),
      'checkpoint': config.checkpoint_every_steps,
      'images': config.get('image_every_steps', 0),
      'histograms': config.get('histogram_every_steps', 0),
      'eval': config.get('eval_every_steps', 0) if mode == 'train_and_eval' else 0,
  }
  logging.info('training %s for %d steps from step %d on %d replica(s), global batch %d, XLA %s',
               task.name, config.train_steps, start_step, replicas, config.batch_size,
               'on' if use_xla else 'off')
  last_saved = latest
  current = start_step
  tic, steps_since = time.time(), 0
  with _SignalFlag() as sigterm:
    while current < config.train_steps and not sigterm.received:
      boundary = min([config.train_steps] + [
          (current // n + 1) * n for n in every.values() if n])
      totals, first_bad = train_steps(iterator, tf.constant(boundary - current))
      num = boundary - current
      current = boundary
      steps_since += num
      if int(first_bad) >= 0:
        raise NonFiniteError(
            f'non-finite loss or gradient at step {int(first_bad)}; training stopped without '
            f'saving. Last good checkpoint: {last_saved or "none (no checkpoint was saved yet)"}. '
            'Lower the learning rate or set grad_clip_norm, then re-run to resume from it.')
      means = {k: float(v) / (num * (config.batch_size if k != 'grad_norm' else 1))
               for k, v in totals.items()}
      for name, value in task.scalars(means).items():
        summaries.scalar(name, value, current)
      summaries.scalar('grad_norm', means['grad_norm'], current)
      summaries.scalar('learning_rate', float(np.asarray(optimizer.learning_rate)), current)
      if every['log'] and current % every['log'] == 0 or current == config.train_steps:
        elapsed = time.time() - tic
        rate = steps_since / max(elapsed, 1e-9)
        summaries.scalar('steps_per_second', rate, current)
        summaries.scalar('examples_per_second', rate * config.batch_size, current)
        logging.info('step %d/%d (%d%%)  %s  %.2f steps/s  ETA %s', current, config.train_steps,
                     100 * current // config.train_steps, task.progress(means), rate,
                     _format_duration((config.train_steps - current) / max(rate, 1e-9)))
        tic, steps_since = time.time(), 0
      # Checkpoint first: a preemption or a failing summary must not cost the steps just trained.
      saved_now = (current % every['checkpoint'] == 0 or current == config.train_steps
                   or sigterm.received)
      if saved_now:
        last_saved = manager.save(checkpoint_number=current)
        logging.info('saved checkpoint %s', last_saved)
        summaries.commit()
      if chief and every['images'] and current % every['images'] == 0:
        for name, image in task.images(model, image_batch, config).items():
          summaries.image(name, image, current)
      if chief and every['histograms'] and current % every['histograms'] == 0:
        for var in model.trainable_variables:
          summaries.histogram('weights/' + var.path, var.numpy(), current)
      if every['eval'] and current % every['eval'] == 0:
        metrics, count = evaluate_metrics(task, model, config, strategy)
        for name, value in task.scalars(metrics).items():
          eval_summaries.scalar(name, value, current)
        logging.info('eval at step %d on %d examples: %s', current, count, task.progress(metrics))
      if saved_now:
        # This step is checkpointed, so its images, histograms and eval can be written now.
        summaries.commit()
        eval_summaries.commit()
  if not chief:
    shutil.rmtree(save_dir, ignore_errors=True)
  return current


def _continuous_eval(task, config, workdir, strategy):
  """Evaluates every new checkpoint in workdir/checkpoints until the one at train_steps."""
  ckpt_dir = os.path.join(workdir, 'checkpoints')
  with strategy.scope():
    model = task.build_model(config.model)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name='step')
  summaries = PendingSummaries(os.path.join(workdir, 'eval'))
  done_file = os.path.join(workdir, 'eval', 'last_evaluated_step')
  last_done = int(open(done_file).read()) if os.path.exists(done_file) else -1
  timeout = config.get('eval_timeout_seconds', 3600)
  logging.info('waiting for checkpoints in %s (gives up after %ds without a new one)', ckpt_dir,
               timeout)
  current = last_done
  for path in tf.train.checkpoints_iterator(ckpt_dir, min_interval_secs=1, timeout=timeout):
    checkpoints.restore_weights(path, model, step=step)
    current = int(step.numpy())
    if current > last_done:
      metrics, count = evaluate_metrics(task, model, config, strategy)
      for name, value in task.scalars(metrics).items():
        summaries.scalar(name, value, current)
      if is_chief(strategy):
        for name, image in task.images(model, task.image_batch(config), config).items():
          summaries.image(name, image, current)
      summaries.commit()
      os.makedirs(os.path.dirname(done_file), exist_ok=True)
      with open(done_file, 'w') as f:
        f.write(str(current))
      last_done = current
      logging.info('eval of step %d on %d examples: %s', current, count, task.progress(metrics))
    if current >= config.train_steps:
      break
  return current


# ----------------------------------------------------------------------------------------------
# Command line.
# ----------------------------------------------------------------------------------------------
def define_flags(default_config):
  """Flags shared by pixel_recursive.train and pixcolor.train."""
  from ml_collections import config_flags
  config_flags.DEFINE_config_file(
      'config', default_config, 'Training config file (experiments/configs/*.py); override any key '
      'with --config.KEY=VALUE.', lock_config=True)
  flags.DEFINE_string('workdir', None, 'Folder for config.json, checkpoints/ and TensorBoard logs. '
                      'Re-running with the same workdir resumes.')
  flags.DEFINE_enum('mode', 'train', MODES, 'train; eval: a continuous evaluator that waits for '
                    "each new checkpoint in the workdir; train_and_eval: both in one process.")
  flags.DEFINE_enum('strategy', 'default', cli.STRATEGIES, 'default: one device; mirrored: all '
                    'local GPUs (or --cpu_replicas logical CPUs); multi_worker: machines in TF_CONFIG.')
  flags.DEFINE_integer('cpu_replicas', 0, 'Split the CPU into this many logical devices (to try '
                       '--strategy=mirrored or multi_worker without GPUs).', lower_bound=0)


def main_for(task_factory):
  """The main() of a train command for the task `task_factory()` builds."""

  def main(argv):
    if len(argv) > 1:
      raise cli.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
    FLAGS = flags.FLAGS
    if not FLAGS.workdir:
      raise cli.UsageError('--workdir is required')
    config = FLAGS.config
    task = task_factory(config)
    strategy = cli.make_strategy(FLAGS.strategy, FLAGS.cpu_replicas)
    try:
      run(task, config, FLAGS.workdir, FLAGS.mode, strategy,
          config_file=getattr(FLAGS['config'], 'config_filename', None))
    except NonFiniteError as e:
      print(f'error: {e}', file=sys.stderr, flush=True)
      raise SystemExit(1)

  return main


def main():
  from data import sources
  from pixel_recursive import task as task_lib
  define_flags(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            'experiments', 'configs', 'faces_tiny.py'))
  flags.mark_flags_as_required(['workdir'])
  cli.run(main_for(task_lib.SuperResolutionTask), user_errors=(sources.DataSourceError,))


if __name__ == '__main__':
  main()
