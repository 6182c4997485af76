"""The task protocol: what the training loop (`training.loop.run`) needs to know about a paper's model.

A task binds a model to its input function (`data.pipeline`), its per-example metrics, the scalars
and progress line shown for them, and its TensorBoard images (with the scores of what they show),
like an Estimator's model function.
`pixel_recursive.task.SuperResolutionTask` and `pixcolor.task.PixColorTask` subclass `Task`.
"""
from data import errors
from data import pipeline
from pixel_recursive import commands
from pixel_recursive.training import optim
from pixel_recursive.training import precision

REQUIRED_KEYS = ('train_steps', 'batch_size', 'learning_rate', 'checkpoint_every_steps', 'seed')


class Task:
  """Base of both papers' tasks. Subclasses set `name` and `data_task` and implement the methods
  that raise NotImplementedError.

  Args:
    config: the full training config.
  """

  name = None  # Shown in the log.
  data_task = None  # 'super_resolution' or 'colorization': which examples data.pipeline makes.

  def __init__(self, config):
    self.check_config(config)

  def check_config(self, config):
    """Raises UsageError for a config the loop cannot run; subclasses add their own checks."""
    for key in REQUIRED_KEYS:
      if config.get(key) is None:
        raise commands.UsageError(f'the config has no {key}')
    if config.train_steps < 1 or config.batch_size < 1 or config.checkpoint_every_steps < 1:
      raise commands.UsageError(
          'train_steps, batch_size and checkpoint_every_steps must be positive')
    if not config.learning_rate > 0:
      raise commands.UsageError(f'learning_rate must be positive, got {config.learning_rate}')
    # Negative values ran as if positive (step % -5 == 0) or, for eval_examples, as the whole split.
    for key, minimum, meaning in (
        ('log_every_steps', 0, ' (0: never)'), ('image_every_steps', 0, ' (0: never)'),
        ('histogram_every_steps', 0, ' (0: never)'), ('eval_every_steps', 0, ' (0: never)'),
        ('eval_examples', 0, ' (0: the whole eval split)'), ('eval_batch_size', 1, ''),
        # Tracebacks from tf.train.CheckpointManager and tf.data's batch (0 as well).
        ('keep_checkpoints', 1, ' (how many of the newest checkpoints are kept)'),
        ('num_image_examples', 1, ' (the eval examples of TensorBoard\'s images)'),
        ('seed', 0, '')):
      if config.get(key) is not None and config[key] < minimum:
        raise commands.UsageError(f'{key} must be >= {minimum}{meaning}, got {config[key]}')
    try:
      pipeline.check_data_config(config.data, self.data_task)
    except ValueError as e:
      raise commands.UsageError(str(e)) from None
    optim.check_schedule(config)
    precision.check(config.get('dtype_policy', 'float32'))

  def build_model(self, model_config, initial_weights=True):
    """A built Keras model from the config's `model` field.

    Args:
      initial_weights: read the weights a run starts from (`init_from`'s checkpoint, a pretrained
        backbone's file); False where they would be overwritten at once (the float32 inference
        copy, continuous evaluation restoring each checkpoint) or do not matter (the training
        benchmark): the model is then built as configured with random weights, and nothing is read.
    """
    raise NotImplementedError

  def input_fn(self, config, split, global_batch_size, training, seed=None, num_examples=None):
    """The function of `tf.distribute.InputContext` that `distribute_datasets_from_function` calls."""
    return pipeline.input_fn(config.data, self.data_task, split, global_batch_size,
                             training=training, seed=config.seed if seed is None else seed,
                             num_examples=num_examples)

  def metric_names(self):
    """Names of the per-example metrics `metrics` returns; 'loss' is what training minimises."""
    raise NotImplementedError

  def metrics(self, model, batch, training):
    """Per-example metrics [B] of a batch (the model's `aux` entries named by `metric_names`)."""
    _, aux = model(batch, training=training)
    return {k: aux[k] for k in self.metric_names()}

  def scale_gradients(self, model, grads, step):
    """Gradients as the optimizer should see them at `step` (here: unchanged)."""
    del model, step
    return grads

  def scalars(self, means):
    """Mean metrics -> the named scalars of TensorBoard."""
    raise NotImplementedError

  def progress(self, means):
    """Mean metrics -> the text of a progress line."""
    raise NotImplementedError

  def image_batch(self, config):
    """A fixed batch of eval examples for image summaries (numpy dict)."""
    count = config.get('num_image_examples', 8)
    try:
      return pipeline.first_batch(config.data, self.data_task, 'eval', count)
    except errors.DataSourceError as e:
      raise errors.DataSourceError(f'{e}: TensorBoard\'s images show the first '
                                   f'--config.num_image_examples={count} of them') from None

  def image_summaries(self, model, batch, config):
    """What TensorBoard shows of `batch` (`image_batch`) at an image step: ({name: uint8 grid} of
    what the model draws for it, {name: scalar} of how those draws score against its truth)."""
    raise NotImplementedError

  def images(self, model, batch, config):
    """{name: uint8 image} of TensorBoard grids made from `batch`."""
    return self.image_summaries(model, batch, config)[0]

  def image_progress(self, scalars):
    """The scalars of `image_summaries` -> the text of a log line."""
    return ', '.join(f'{name} {value:.3g}' for name, value in scalars.items())
