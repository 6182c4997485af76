"""The training loop both papers share: one custom loop under `tf.distribute`, read top to bottom.

`run(task, config, workdir)` trains the task's model (see `training.task.Task`): re-running it with
the same workdir resumes from the newest readable checkpoint in workdir/checkpoints (a damaged
newer one is moved to checkpoints/damaged/); SIGTERM saves a checkpoint and exits cleanly (every
worker of a multi-worker run at the same step); a failing save (a full disk) raises
`commands.Failure`, the last good checkpoint still the latest; a NaN or Inf stops it without saving.
Its pieces can be used alone:
`build` (model, optimizer, step, checkpoint), `make_train_step` (the compiled step), `Evaluator`
(mean metrics over the eval split).

TensorBoard summaries are committed together with checkpoints (`summaries.PendingSummaries`).
Progress lines go to the log as soon as they happen.
"""
import collections
import os
import shutil
import signal
import tempfile
import time

from absl import logging
import numpy as np
import tensorflow as tf

from pixel_recursive import commands
from pixel_recursive import distribute
from pixel_recursive import workdir as workdir_lib
from pixel_recursive.training import optim
from pixel_recursive.training import summaries as summaries_lib

MODES = ('train', 'eval', 'train_and_eval')


class NonFiniteError(Exception):
  """Training met a NaN or Inf loss or gradient."""


# ----------------------------------------------------------------------------------------------
# Pieces of the loop.
# ----------------------------------------------------------------------------------------------
Training = collections.namedtuple(
    'Training', ['model', 'inference', 'optimizer', 'step', 'checkpoint'])


def build(task, config, strategy):
  """The model (under the config's dtype policy), its float32 inference view, the optimizer, the step
  counter and the checkpoint holding them all, created under `strategy`'s scope."""
  with strategy.scope():
    with optim.dtype_policy(config.get('dtype_policy', 'float32')):
      model = task.build_model(config.model)
    inference = optim.InferenceModel(task, model, config)
    optimizer = optim.make_optimizer(config)
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name='step')
    checkpoint = workdir_lib.make_checkpoint(model, step=step, optimizer=optimizer)
  return Training(model, inference, optimizer, step, checkpoint)


def restore(training, config, ckpt_dir, repair=True):
  """Restores the newest readable checkpoint of `ckpt_dir` into `training`; returns it (or None).

  Newer unreadable ones are skipped with a warning; with `repair` (the chief) also moved to
  ckpt_dir/damaged/ (`workdir.newest_readable`). commands.Failure if none can be read.

  The learning rate is the config's, not the checkpoint's: a user who resumes with a lower rate (to
  finish a run) gets it.
  """
  latest = workdir_lib.newest_readable(ckpt_dir, repair=repair)
  if not latest:
    return None
  try:
    training.checkpoint.restore(latest).assert_existing_objects_matched()
  except (AssertionError, ValueError) as e:
    raise commands.UsageError(
        f'{latest} does not fit this config: the model or the set of trained weights changed '
        f'since it was written ({str(e).splitlines()[0][:200]}). Use a new --workdir, or the '
        'config it was trained with.') from None
  logging.info('resumed from %s at step %d', latest, int(training.step.numpy()))
  restored_lr = float(np.asarray(training.optimizer.learning_rate))
  wanted_lr = float(optim.learning_rate_at(config, training.step))
  if not np.isclose(restored_lr, wanted_lr):
    logging.info('learning rate %g from the config replaces %g from the checkpoint',
                 wanted_lr, restored_lr)
    training.optimizer.learning_rate.assign(wanted_lr)
  return latest


def make_train_step(task, training, config, strategy, use_xla):
  """The compiled `train_steps(iterator, num_steps) -> (metric sums, first bad step)`.

  Each step: the task's per-example loss summed and divided by the global batch on every replica
  (so the replicas' sum is the mean), the task's gradient scaling, clipping at `grad_clip_norm`, the
  optimizer's update (which sums the replicas' gradients), and the learning-rate schedule. The sums
  of the metrics and of the gradient norm over the steps are returned, with the first step whose
  loss or gradient norm was not finite (-1 if none).
  """
  model, optimizer, step = training.model, training.optimizer, training.step
  replicas = strategy.num_replicas_in_sync
  clip = config.get('grad_clip_norm', 0.0)
  schedule = optim.has_schedule(config)
  metric_names = task.metric_names()

  @tf.function(jit_compile=use_xla)
  def compute_gradients(batch):
    with tf.GradientTape() as tape:
      metrics = task.metrics(model, batch, training=True)
      loss = tf.reduce_sum(metrics['loss']) / config.batch_size
    grads = tape.gradient(loss, model.trainable_variables)
    unused = [v.path for v, g in zip(model.trainable_variables, grads) if g is None]
    if unused:  # Found while tracing: a trainable weight the loss never reaches is a model bug.
      raise ValueError(f'the loss does not depend on these trainable weights: {unused}')
    grads = task.scale_gradients(model, grads, step)
    return grads, {k: tf.reduce_sum(v) for k, v in metrics.items()}

  def replica_step(batch):
    grads, metrics = compute_gradients(batch)
    if clip and replicas > 1:
      # Clipping needs the norm of the global gradient, so the replicas' gradients are summed here.
      # Keras' optimizer sums over replicas again; handing it 1/replicas of the sum keeps that sum
      # the global gradient. (This second all-reduce happens only with clipping.)
      grads = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, grads)
      grad_norm = tf.linalg.global_norm(grads)
      grads, _ = tf.clip_by_global_norm(grads, clip, use_norm=grad_norm)
      grads = [g / replicas for g in grads]
    else:
      # One replica, or no clipping: the optimizer's own all-reduce is the only one. The norm is
      # this replica's, scaled to what its share of the batch alone would give; with one replica
      # that is the global gradient's norm.
      grad_norm = tf.linalg.global_norm(grads) * replicas
      if clip:
        grads, _ = tf.clip_by_global_norm(grads, clip, use_norm=grad_norm)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    metrics['grad_norm'] = grad_norm / replicas  # Summed over replicas by the caller.
    return metrics

  @tf.function
  def train_steps(iterator, num_steps):
    totals = {k: tf.constant(0.0) for k in metric_names + ['grad_norm']}
    first_bad = tf.constant(-1, tf.int64)
    for _ in tf.range(num_steps):
      if schedule:
        # Warm-up: RMSProp's and Adam's first steps divide by a second-moment estimate built
        # from a handful of gradients, and a wide network's logits can blow up there.
        optimizer.learning_rate.assign(optim.learning_rate_at(config, step))
      sums = strategy.run(replica_step, (next(iterator),))
      sums = {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in sums.items()}
      finite = tf.math.is_finite(sums['loss']) & tf.math.is_finite(sums['grad_norm'])
      first_bad = tf.where((first_bad < 0) & ~finite, step + 1, first_bad)
      step.assign_add(1)
      totals = {k: totals[k] + sums[k] for k in totals}
    return totals, first_bad

  return train_steps


class Evaluator:
  """Mean of a task's per-example metrics over the config's `eval_examples` of the eval split, with
  one compiled eval step reused for every evaluation."""

  def __init__(self, task, config, strategy):
    self.strategy = strategy
    self.num_examples = config.get('eval_examples')
    batch = min(config.get('eval_batch_size', config.batch_size), self.num_examples or 10**9)
    replicas = strategy.num_replicas_in_sync
    self.batch = max(replicas, batch - batch % replicas)
    self.input_fn = task.input_fn(config, 'eval', self.batch, training=False,
                                  num_examples=self.num_examples)
    self.task = task
    self._steps = {}

  def _step(self, model):
    if id(model) not in self._steps:
      strategy, task = self.strategy, self.task

      @tf.function
      def eval_step(batch):
        metrics = strategy.run(lambda b: task.metrics(model, b, training=False), (batch,))
        return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=0)
                for k, v in metrics.items()}

      self._steps[id(model)] = eval_step
    return self._steps[id(model)]

  def __call__(self, model):
    """(mean metrics, number of examples) of `model` on the eval examples."""
    step = self._step(model)
    totals, count = {}, 0
    for batch in self.strategy.distribute_datasets_from_function(self.input_fn):
      for k, v in step(batch).items():
        totals[k] = totals.get(k, 0.0) + float(v)
      count += self.batch
    if not count:
      raise commands.UsageError('the eval split has fewer examples than one eval batch')
    return {k: v / count for k, v in totals.items()}, count


class _Preempted(Exception):
  """Every worker saved the step they agreed on after a SIGTERM: the loop ends cleanly."""


class _Preemption:
  """SIGTERM (what schedulers send before preempting) turned into "save a checkpoint and stop".

  One process (default, mirrored): `stop` turns true; the loop saves and ends at the next boundary.
  Several workers (multi_worker): one stopping alone would leave the others blocked in their next
  all-reduce, so TensorFlow's PreemptionCheckpointHandler watches the flag, agrees on a step through
  the coordination service and, at its boundary, calls `save` on every worker, then `_exit`. It only
  coordinates: its own checkpoint is an empty one, ours are written by `save`.
  """

  def __init__(self, strategy, save):
    self.received, self._save, self._previous, self._handler, self._scratch = (
        False, save, None, None, None)
    resolver = getattr(strategy, 'cluster_resolver', None)
    self._resolver = resolver if resolver is not None and resolver.cluster_spec().jobs else None

  def __enter__(self):
    try:
      self._previous = signal.signal(signal.SIGTERM, self._handle)
    except ValueError:  # Not the main thread (e.g. a notebook thread): no handler, no harm.
      self._previous = None
    if self._resolver is not None:
      self._scratch = tempfile.mkdtemp(prefix='pixel_recursive_preemption_')
      termination = tf.distribute.experimental.TerminationConfig(
          termination_watcher_fn=lambda: self.received, exit_fn=self._exit, grace_period=0,
          save_fn=self._save)
      self._handler = tf.distribute.experimental.PreemptionCheckpointHandler(
          self._resolver, tf.train.CheckpointManager(tf.train.Checkpoint(), self._scratch, 1),
          termination_config=termination)
      platform = getattr(getattr(self._handler, '_platform_device', None), 'name', '')
      if platform in ('GCE_CPU', 'GCE_TPU'):  # There the handler does nothing at all.
        logging.warning('PreemptionCheckpointHandler is inactive on %s: a SIGTERM stops only the '
                        'worker that receives it', platform)
        self._stop_handler()
    return self

  @property
  def stop(self):
    """Whether to save and stop at this boundary (a SIGTERM, and no handler to coordinate it)."""
    return self.received and self._handler is None

  def run(self, train_steps, *args):
    """`train_steps(*args)`; the handler may first save and raise `_Preempted` (time to stop)."""
    return self._handler.run(train_steps, *args) if self._handler else train_steps(*args)

  def _handle(self, signum, frame):
    del signum, frame
    self.received = True
    logging.warning('SIGTERM received: saving a checkpoint at the next step boundary and exiting%s',
                    ' (every worker, at a step they agree on)' if self._handler else '')

  def _exit(self):
    raise _Preempted()

  def _stop_handler(self):  # Its watcher threads (it stops them itself only after a preemption).
    handler, self._handler = self._handler, None
    handler._stop_poll_termination_signal_thread()  # pylint: disable=protected-access
    handler._stop_cluster_wise_termination_watcher_thread()  # pylint: disable=protected-access

  def __exit__(self, *exc):
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)
    if self._handler is not None:
      self._stop_handler()
    if self._scratch:
      shutil.rmtree(self._scratch, ignore_errors=True)


def _format_duration(seconds):
  seconds = int(seconds)
  if seconds >= 3600:
    return f'{seconds // 3600}h{seconds % 3600 // 60:02d}m'
  return f'{seconds // 60}m{seconds % 60:02d}s'


# ----------------------------------------------------------------------------------------------
# The loop.
# ----------------------------------------------------------------------------------------------
def run(task, config, workdir, mode='train', strategy=None, config_file=None):
  """Trains (and/or evaluates) `task` as `config` says, in `workdir`. Returns the final step.

  Args:
    task: a `training.task.Task`.
    config: the full training config.
    workdir: where config.json, checkpoints/ and the TensorBoard runs train/ and eval/ go.
    mode: 'train', 'eval' (continuous evaluator) or 'train_and_eval'.
    strategy: a `tf.distribute.Strategy`; the default strategy if None.
    config_file: the config file `config` came from, recorded in config.json.
  """
  if mode not in MODES:
    raise commands.UsageError(f'--mode must be one of {", ".join(MODES)}, got {mode!r}')
  # --- setup ------------------------------------------------------------------------------------
  strategy = strategy or tf.distribute.get_strategy()
  chief = distribute.is_chief(strategy)
  replicas = strategy.num_replicas_in_sync
  if config.batch_size % replicas:
    raise commands.UsageError(f'batch_size {config.batch_size} is not divisible by the {replicas} '
                              'replicas of the strategy')
  tf.keras.utils.set_random_seed(config.seed)
  if mode == 'eval':
    return continuous_eval(task, config, workdir, strategy)
  if chief:
    workdir_lib.write_config(config, workdir, config_file)

  # --- model, optimizer, checkpoint; restore ------------------------------------------------------
  training = build(task, config, strategy)
  ckpt_dir = os.path.join(workdir, workdir_lib.CHECKPOINTS)
  last_saved = restore(training, config, ckpt_dir, repair=chief)
  start_step = int(training.step.numpy())
  if start_step >= config.train_steps:
    logging.info('already trained for %d >= train_steps=%d steps', start_step, config.train_steps)
    return start_step
  # Under MultiWorkerMirroredStrategy every worker takes part in saving; only the chief's copy is
  # kept, the others write to a temporary folder that is removed at the end.
  save_dir = ckpt_dir if chief else tempfile.mkdtemp(prefix='pixel_recursive_worker_')
  manager = tf.train.CheckpointManager(training.checkpoint, save_dir,
                                       max_to_keep=config.get('keep_checkpoints', 3),
                                       step_counter=training.step)

  # --- data ---------------------------------------------------------------------------------------
  # A resumed run shuffles with a seed that includes its start step, so it does not replay the
  # batches the run before it already trained on.
  data_seed = config.seed + 1_000_003 * start_step
  iterator = iter(strategy.distribute_datasets_from_function(
      task.input_fn(config, 'train', config.batch_size, training=True, seed=data_seed)))
  image_batch = task.image_batch(config) if chief else None

  # --- the train step -----------------------------------------------------------------------------
  use_xla = bool(config.get('xla', True)) and not distribute.uses_logical_cpus(strategy)
  if config.get('xla', True) and not use_xla:
    logging.info('XLA is off for training: it does not compile on logical CPU devices')
  train_steps = make_train_step(task, training, config, strategy, use_xla)
  every = {
      'log': config.get('log_every_steps', 100),
      'checkpoint': config.checkpoint_every_steps,
      'images': config.get('image_every_steps', 0),
      'histograms': config.get('histogram_every_steps', 0),
      'eval': config.get('eval_every_steps', 0) if mode == 'train_and_eval' else 0,
  }
  evaluator = Evaluator(task, config, strategy) if every['eval'] else None

  # --- the loop -----------------------------------------------------------------------------------
  summaries = summaries_lib.PendingSummaries(os.path.join(workdir, 'train'), enabled=chief)
  eval_summaries = summaries_lib.PendingSummaries(os.path.join(workdir, 'eval'), enabled=chief)
  logging.info('training %s for %d steps from step %d on %d replica(s), global batch %d, XLA %s, '
               '%s', task.name, config.train_steps, start_step, replicas, config.batch_size,
               'on' if use_xla else 'off', config.get('dtype_policy', 'float32'))
  current = start_step
  tic, steps_since = time.time(), 0

  def save(step):  # A failing save raises commands.Failure; the last good checkpoint stays latest.
    nonlocal last_saved
    last_saved = workdir_lib.save_checkpoint(manager, step, last_saved)
    logging.info('saved checkpoint %s', last_saved)
    summaries.commit()
    eval_summaries.commit()  # Evaluations of earlier boundaries, now checkpointed.

  def save_on_preemption():  # The handler calls this on every worker at the step they agreed on.
    step = int(training.step.numpy())
    if not (last_saved or '').endswith(f'-{step}'):
      save(step)
    logging.info('preemption: every worker saved step %d; exiting', step)

  with _Preemption(strategy, save_on_preemption) as preemption:
    while current < config.train_steps and not preemption.stop:
      boundary = min([config.train_steps] + [
          (current // n + 1) * n for n in every.values() if n])
      try:
        totals, first_bad = preemption.run(train_steps, iterator, tf.constant(boundary - current))
      except _Preempted:  # Every worker saved step `current` (and committed its summaries).
        break
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
      summaries.scalar('learning_rate', float(np.asarray(training.optimizer.learning_rate)),
                       current)
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
                   or preemption.stop)
      if saved_now:
        save(current)
      if chief and every['images'] and current % every['images'] == 0:
        for name, image in task.images(training.inference.get(), image_batch, config).items():
          summaries.image(name, image, current)
      if chief and every['histograms'] and current % every['histograms'] == 0:
        for var in training.model.trainable_variables:
          summaries.histogram('weights/' + var.path, var.numpy(), current)
      if every['eval'] and current % every['eval'] == 0:
        metrics, count = evaluator(training.inference.get())
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


def continuous_eval(task, config, workdir, strategy):
  """Evaluates every new checkpoint in workdir/checkpoints until the one at train_steps."""
  ckpt_dir = os.path.join(workdir, workdir_lib.CHECKPOINTS)
  with strategy.scope():
    model = task.build_model(config.model)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name='step')
  summaries = summaries_lib.PendingSummaries(os.path.join(workdir, 'eval'))
  evaluator = Evaluator(task, config, strategy)
  image_batch = task.image_batch(config) if distribute.is_chief(strategy) else None
  done_file = os.path.join(workdir, 'eval', 'last_evaluated_step')
  last_done = int(open(done_file).read()) if os.path.exists(done_file) else -1
  timeout = config.get('eval_timeout_seconds', 3600)
  logging.info('waiting for checkpoints in %s (gives up after %ds without a new one)', ckpt_dir,
               timeout)
  current = last_done
  for _ in tf.train.checkpoints_iterator(ckpt_dir, min_interval_secs=1, timeout=timeout):
    # The newest readable one: a damaged newest one is named and skipped (the trainer moves it).
    workdir_lib.restore_weights(workdir_lib.newest_readable(ckpt_dir), model, step=step)
    current = int(step.numpy())
    if current > last_done:
      metrics, count = evaluator(model)
      for name, value in task.scalars(metrics).items():
        summaries.scalar(name, value, current)
      if image_batch is not None:
        for name, image in task.images(model, image_batch, config).items():
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
