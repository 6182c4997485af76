"""The compiled steps of the training loop: the train step under `tf.distribute`, and evaluation.

`make_train_step` returns the function that runs N train steps in one `tf.function` (ColTran's
`train_multiple_steps`); `Evaluator` averages a task's per-example metrics over the eval split.
"""
from absl import logging
import tensorflow as tf

from pixel_recursive import commands
from pixel_recursive.training import optim


def make_train_step(task, training, config, strategy, use_xla):
  """The compiled `train_steps(iterator, num_steps) -> (metric sums, first bad step)`.

  Each step: the task's per-example loss summed and divided by the global batch on every replica
  (so the replicas' sum is the mean), the task's gradient scaling, clipping at `grad_clip_norm`, the
  optimizer's update (which sums the replicas' gradients), the learning-rate schedule, and the
  weights' moving average (`training.average`, if any). The sums
  of the metrics and of the gradient norm over the steps are returned, with the first step whose
  loss or gradient norm was not finite (-1 if none).
  """
  model, optimizer, step = training.model, training.optimizer, training.step
  average = training.average
  replicas = strategy.num_replicas_in_sync
  clip = config.get('grad_clip_norm', 0.0)
  schedule = optim.has_schedule(config)
  metric_names = task.metric_names()

  @tf.function(jit_compile=use_xla, autograph=False)  # No data-dependent Python control flow.
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
      if average is not None:  # Cross-replica context: every copy of an average gets one value.
        average.update(step)
      totals = {k: totals[k] + sums[k] for k in totals}
    return totals, first_bad

  return train_steps


class Evaluator:
  """Mean of a task's per-example metrics over the config's `eval_examples` of the eval split (every
  one of them, however many a batch holds), with one compiled eval step reused for every evaluation.

  Every batch is full, so the step is traced once: each input pipeline's examples are padded to a
  whole number of its replicas' batches with copies of its first example, weighted 0. With several
  input pipelines (workers), which must take the same number of steps, each is padded to the
  batches of the largest share of `eval_examples`, with copies of the split's first example.
  """

  def __init__(self, task, config, strategy):
    self.strategy = strategy
    self.num_examples = config.get('eval_examples')
    batch = min(config.get('eval_batch_size', config.batch_size), self.num_examples or 10**9)
    replicas = strategy.num_replicas_in_sync
    self.batch = max(replicas, batch - batch % replicas)
    # One example per replica and batch, so that no example is dropped with a partial batch.
    examples = task.input_fn(config, 'eval', replicas, training=False,
                             num_examples=self.num_examples)
    first_of_split = task.input_fn(config, 'eval', 1, training=False, num_examples=1)

    def input_fn(input_context=None):
      per_replica, per_pipeline, pipelines = self.batch, self.batch, 1
      if input_context is not None:
        pipelines = input_context.num_input_pipelines
        per_replica = input_context.get_per_replica_batch_size(self.batch)
        per_pipeline = per_replica * (input_context.num_replicas_in_sync // pipelines)
      ds = examples(input_context).unbatch().map(lambda ex: dict(ex, eval_weight=1.0))
      # The padding is the first example of the pipeline's share, or of the whole split: a share
      # is empty where there are fewer eval examples than pipelines.
      first = ds if pipelines == 1 else first_of_split().unbatch()
      padding = first.take(1).map(lambda ex: dict(ex, eval_weight=0.0))
      if pipelines > 1 and self.num_examples:
        share = -(-self.num_examples // pipelines)  # A pipeline's share is at most this.
        ds = ds.concatenate(padding.repeat()).take(-(-share // per_pipeline) * per_pipeline)
      else:
        ds = ds.concatenate(padding.repeat(per_pipeline - 1))
        if pipelines > 1:
          logging.log_first_n(
              logging.WARNING, 'eval_examples is not set: each of the %d workers evaluates its '
              'whole share of the eval split, and if their numbers of batches differ the '
              'collective ops abort; set --config.eval_examples', 1, pipelines)
      return (ds.batch(per_pipeline, drop_remainder=True).unbatch()
              .batch(per_replica, drop_remainder=True).prefetch(tf.data.AUTOTUNE))

    self.input_fn = input_fn
    self.task = task
    self.source = config.data.source
    self._steps = {}

  def _step(self, model):
    if id(model) not in self._steps:
      strategy, task = self.strategy, self.task

      def replica_sums(batch):
        batch = dict(batch)
        weight = batch.pop('eval_weight')
        metrics = task.metrics(model, batch, training=False)
        return {k: tf.reduce_sum(v * weight) for k, v in metrics.items()}, tf.reduce_sum(weight)

      @tf.function(autograph=False)
      def eval_step(batch):
        sums, count = strategy.run(replica_sums, (batch,))
        return ({k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                 for k, v in sums.items()},
                strategy.reduce(tf.distribute.ReduceOp.SUM, count, axis=None))

      self._steps[id(model)] = eval_step
    return self._steps[id(model)]

  def __call__(self, model):
    """(mean metrics, number of examples) of `model` on the eval examples."""
    step = self._step(model)
    totals, count = {}, 0
    for batch in self.strategy.distribute_datasets_from_function(self.input_fn):
      sums, n = step(batch)
      for k, v in sums.items():
        totals[k] = totals.get(k, 0.0) + float(v)
      count += int(n)
    if not count:
      raise commands.UsageError(f'the eval split of {self.source} has no examples')
    return {k: v / count for k, v in totals.items()}, count
