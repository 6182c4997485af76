"""The training loop both papers share: one custom loop under `tf.distribute`, read top to bottom.

`run(task, config, workdir)` trains the task's model (see `training.task.Task`): re-running it with
the same workdir resumes from the newest readable checkpoint in workdir/checkpoints (a damaged
newer one is moved to checkpoints/damaged/); SIGTERM saves a checkpoint and exits cleanly (every
worker of a multi-worker run at the same step); a failing save (a full disk) raises
`commands.Failure`, the last good checkpoint still the latest; a NaN or Inf stops it without saving.
Its pieces can be used alone: `build` (model, optimizer, step, checkpoint), `restore`, and in
their own modules `steps.make_train_step` (the compiled step), `steps.Evaluator` (mean metrics over
the eval split), `preemption.Preemption` (SIGTERM) and `precision` (the dtype policy).

TensorBoard summaries are committed together with checkpoints (`summaries.PendingSummaries`).
Images, histograms and (`train_and_eval`) evaluations are made every `image_every_steps`,
`histogram_every_steps` and `eval_every_steps`, and at the last step (`train_steps`).
Progress lines go to the log as soon as they happen.
"""
import collections
import os
import shutil
import tempfile
import time

from absl import logging
import numpy as np
import tensorflow as tf

from data import pipeline
from pixel_recursive import checkpoint_files
from pixel_recursive import commands
from pixel_recursive import distribute
from pixel_recursive import workdir as workdir_lib
from pixel_recursive.training import MODES
from pixel_recursive.training import averaging
from pixel_recursive.training import optim
from pixel_recursive.training import precision
from pixel_recursive.training import preemption as preemption_lib
from pixel_recursive.training import steps as steps_lib
from pixel_recursive.training import summaries as summaries_lib


class NonFiniteError(Exception):
  """Training met a NaN or Inf loss or gradient."""


# ----------------------------------------------------------------------------------------------
# Pieces of the loop.
# ----------------------------------------------------------------------------------------------
Training = collections.namedtuple(
    'Training', ['model', 'inference', 'optimizer', 'step', 'checkpoint', 'average'])


def build(task, config, strategy):
  """The model (under the config's dtype policy), its float32 inference view, the optimizer, the
  step counter, the weights' moving average (None unless `ema_decay` > 0) and the checkpoint holding
  them all, created under `strategy`'s scope."""
  with strategy.scope():
    with precision.dtype_policy(config.get('dtype_policy', 'float32')):
      model = task.build_model(config.model)
    decay = config.get('ema_decay', 0.0)
    average = averaging.WeightAverage(model, decay) if decay else None
    inference = precision.InferenceModel(task, model, config, average)
    optimizer = optim.make_optimizer(config)
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name='step')
    others = {workdir_lib.AVERAGES: average.averages} if average else {}
    checkpoint = workdir_lib.make_checkpoint(model, step=step, optimizer=optimizer, **others)
  return Training(model, inference, optimizer, step, checkpoint, average)


def restore(training, config, ckpt_dir, repair=True):
  """Restores the newest readable checkpoint of `ckpt_dir` into `training`; returns it (or None).

  Newer unreadable ones are skipped with a warning; with `repair` (the chief) also moved to
  ckpt_dir/damaged/ (`checkpoint_files.newest_readable`). commands.Failure if none can be read.

  The learning rate is the config's, not the checkpoint's: a user who resumes with a lower rate (to
  finish a run) gets it.
  """
  latest = checkpoint_files.newest_readable(ckpt_dir, repair=repair)
  if not latest:
    return None
  checkpoint = training.checkpoint
  stored_averages = workdir_lib.has_averages(latest)
  fresh_average = training.average is not None and not stored_averages
  if fresh_average:  # A run trained without an average resumes with one: it starts from here.
    checkpoint = workdir_lib.make_checkpoint(training.model, step=training.step,
                                             optimizer=training.optimizer)
  weights_fit = False
  try:
    workdir_lib.check_shapes(latest, training.model)
    weights_fit = True
    status = checkpoint.restore(latest)
    status.assert_existing_objects_matched()
  except (AssertionError, ValueError) as e:
    if weights_fit and not workdir_lib.has_optimizer_state(latest):
      workdir = os.path.dirname(ckpt_dir)
      raise commands.UsageError(
          f'{latest} holds weights only (a shipped demo, or make_demo_checkpoint.py\'s), not a '
          f'training run\'s checkpoint: to train from it, use a new --workdir with '
          f'--config.init_from={workdir}') from None
    raise commands.UsageError(
        f'{latest} does not fit this config: the model or the set of trained weights changed '
        f'since it was written ({str(e).splitlines()[0][:200]}). Use a new --workdir, or the '
        'config it was trained with.') from None
  logging.info('resumed from %s at step %d', latest, int(training.step.numpy()))
  if training.average is None and stored_averages:
    status.expect_partial()  # Its averages are left unused: this run keeps none (ema_decay 0).
    logging.info('%s holds averages of the weights; this run (ema_decay 0) neither uses nor keeps '
                 'them', latest)
  if fresh_average:
    training.average.reset()
    logging.info('%s holds no average of the weights: the average (ema_decay %g) starts from its '
                 'weights', latest, training.average.decay)
  restored_lr = float(np.asarray(training.optimizer.learning_rate))
  wanted_lr = float(optim.learning_rate_at(config, training.step))
  if not np.isclose(restored_lr, wanted_lr):
    logging.info('learning rate %g from the config replaces %g from the checkpoint',
                 wanted_lr, restored_lr)
    training.optimizer.learning_rate.assign(wanted_lr)
  return latest


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
  averaging.check(config.get('ema_decay', 0.0))
  # 'auto' becomes what this machine computes fastest; config.json records the resolved value.
  asked_policy = config.get('dtype_policy', 'float32')
  config.dtype_policy = precision.resolve(asked_policy)
  if mode == 'eval':
    return continuous_eval(task, config, workdir, strategy)
  if chief:  # Before the slow build: a --workdir that cannot be made is named at once.
    commands.check_output_dir(workdir, what='--workdir')

  # --- model, optimizer, checkpoint; restore ------------------------------------------------------
  training = build(task, config, strategy)
  ckpt_dir = os.path.join(workdir, workdir_lib.CHECKPOINTS)
  last_saved = restore(training, config, ckpt_dir, repair=chief)
  if chief:  # Only once its checkpoints fit this config: config.json describes them.
    workdir_lib.write_config(config, workdir, config_file)
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
  if chief:
    pipeline.warn_if_enlarged(config.data, task.data_task)

  # --- the train step -----------------------------------------------------------------------------
  use_xla = bool(config.get('xla', True)) and not distribute.uses_logical_cpus(strategy)
  if config.get('xla', True) and not use_xla:
    logging.info('XLA is off for training: it does not compile on logical CPU devices')
  train_steps = steps_lib.make_train_step(task, training, config, strategy, use_xla)
  every = {
      'log': config.get('log_every_steps', 100),
      'checkpoint': config.checkpoint_every_steps,
      'images': config.get('image_every_steps', 0),
      'histograms': config.get('histogram_every_steps', 0),
      'eval': config.get('eval_every_steps', 0) if mode == 'train_and_eval' else 0,
  }
  evaluator = steps_lib.Evaluator(task, config, strategy) if every['eval'] else None

  # --- the loop -----------------------------------------------------------------------------------
  summaries = summaries_lib.PendingSummaries(os.path.join(workdir, 'train'), enabled=chief)
  eval_summaries = summaries_lib.PendingSummaries(os.path.join(workdir, 'eval'), enabled=chief)
  logging.info('training %s for %d steps from step %d on %d replica(s), global batch %d, XLA %s, '
               '%s', task.name, config.train_steps, start_step, replicas, config.batch_size,
               'on' if use_xla else 'off', config.get('dtype_policy', 'float32'))
  if asked_policy == 'auto':  # Logged here, not earlier: a usage error stays the only line.
    precision.resolve('auto', log=True)
  if mode == 'train' and config.get('eval_every_steps', 0) and chief:
    logging.info('this run does not evaluate (--mode=train): --mode=train_and_eval also scores '
                 'the eval split every %s (eval_every_steps), --mode=eval beside it scores each '
                 'checkpoint', commands.counted(config.eval_every_steps, 'step'))
  current = start_step
  tic, steps_since = time.time(), 0

  def due(kind):  # On its every-steps grid, and at the last step whatever the grid (big_vision's).
    return every[kind] and (current % every[kind] == 0 or current == config.train_steps)

  def save(step):  # A failing save raises commands.Failure; the last good checkpoint stays latest.
    nonlocal last_saved
    last_saved = checkpoint_files.save_checkpoint(manager, step, last_saved)
    logging.info('saved checkpoint %s', last_saved)
    summaries.commit()
    eval_summaries.commit()  # Evaluations of earlier boundaries, now checkpointed.

  def save_on_preemption():  # The handler calls this on every worker at the step they agreed on.
    step = int(training.step.numpy())
    if not (last_saved or '').endswith(f'-{step}'):
      save(step)
    logging.info('preemption: every worker saved step %d; exiting', step)

  with preemption_lib.Preemption(strategy, save_on_preemption) as preemption:
    while current < config.train_steps and not preemption.stop:
      boundary = min([config.train_steps] + [
          (current // n + 1) * n for n in every.values() if n])
      try:
        totals, first_bad = preemption.run(train_steps, iterator, tf.constant(boundary - current))
      except preemption_lib.Preempted:  # Every worker saved step `current` (and committed its summaries).
        break
      num = boundary - current
      current = boundary
      steps_since += num
      if int(first_bad) >= 0:
        raise NonFiniteError(
            f'non-finite loss or gradient at step {int(first_bad)}; training stopped without '
            f'saving. Last good checkpoint: {last_saved or "none (no checkpoint was saved yet)"}. '
            'Lower the learning rate or set grad_clip_norm, then re-run '
            f'{"to resume from it" if last_saved else "(it starts from the beginning)"}.')
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
      if chief and due('images'):
        write_image_summaries(task, training.inference.get(), image_batch, config, summaries,
                              current)
      if chief and due('histograms'):
        for var in training.model.trainable_variables:
          summaries.histogram('weights/' + var.path, var.numpy(), current)
      if due('eval'):
        metrics, count = evaluator(training.inference.get())
        for name, value in task.scalars(metrics).items():
          eval_summaries.scalar(name, value, current)
        logging.info('eval at step %d on %s: %s', current, commands.counted(count, 'example'),
                     task.progress(metrics))
      if saved_now:
        # This step is checkpointed, so its images, histograms and eval can be written now.
        summaries.commit()
        eval_summaries.commit()
  if not chief:
    shutil.rmtree(save_dir, ignore_errors=True)
  if preemption.interrupted and current < config.train_steps:
    raise preemption_lib.Interrupted(f'at step {current}, checkpoint saved: {last_saved}; re-run '
                                     'the same command to resume')
  return current


def write_image_summaries(task, model, batch, config, summaries, step):
  """The task's grids of the fixed image batch and the scores of the draws they show, which the
  log also gives in a line (for a run watched without TensorBoard)."""
  images, scalars = task.image_summaries(model, batch, config)
  for name, image in images.items():
    summaries.image(name, image, step)
  for name, value in scalars.items():
    summaries.scalar(name, value, step)
  if scalars:
    logging.info('image grid at step %d, %s: %s', step,
                 commands.counted(len(next(iter(batch.values()))), 'example'),
                 task.image_progress(scalars))


def continuous_eval(task, config, workdir, strategy):
  """Evaluates every new checkpoint in workdir/checkpoints until the one at train_steps."""
  ckpt_dir = os.path.join(workdir, workdir_lib.CHECKPOINTS)
  with strategy.scope():
    model = task.build_model(config.model, initial_weights=False)  # Each checkpoint's are restored.
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name='step')
  summaries = summaries_lib.PendingSummaries(os.path.join(workdir, 'eval'))
  evaluator = steps_lib.Evaluator(task, config, strategy)
  image_batch = task.image_batch(config) if distribute.is_chief(strategy) else None
  done_file = os.path.join(workdir, 'eval', 'last_evaluated_step')
  last_done = int(open(done_file).read()) if os.path.exists(done_file) else -1
  timeout = config.get('eval_timeout_seconds', 3600)
  logging.info('waiting for checkpoints in %s (gives up after %ds without a new one)', ckpt_dir,
               timeout)
  current = last_done
  for _ in tf.train.checkpoints_iterator(ckpt_dir, min_interval_secs=1, timeout=timeout):
    # The newest readable one: a damaged newest one is named and skipped (the trainer moves it).
    newest = checkpoint_files.newest_readable(ckpt_dir)
    try:
      workdir_lib.restore_weights(newest, model, step=step)
    except AssertionError as e:
      raise commands.UsageError(f'{newest} does not fit this config: {e}') from None
    current = int(step.numpy())
    if current > last_done:
      metrics, count = evaluator(model)
      for name, value in task.scalars(metrics).items():
        summaries.scalar(name, value, current)
      if image_batch is not None:
        write_image_summaries(task, model, image_batch, config, summaries, current)
      summaries.commit()
      os.makedirs(os.path.dirname(done_file), exist_ok=True)
      with open(done_file, 'w') as f:
        f.write(str(current))
      last_done = current
      logging.info('eval of step %d on %s: %s', current, commands.counted(count, 'example'),
                   task.progress(metrics))
    if current >= config.train_steps:
      break
  else:  # The iterator gave up: the trainer stopped, or is slower than the timeout.
    if current < 0:
      logging.warning('no checkpoint appeared in %s within %ds: nothing evaluated', ckpt_dir,
                      timeout)
    else:
      logging.warning('no new checkpoint in %s within %ds: evaluated up to step %d of %d; run '
                      '--mode=eval again to go on', ckpt_dir, timeout, current,
                      config.train_steps)
  return current
