"""The super-resolution "model function": what `pixel_recursive.train.run` needs to know about it.

A task binds a model (`pixel_recursive.model`) to its input function (`data.pipeline`), its
per-example metrics, the scalars and progress line shown for them, and its TensorBoard images.
`pixcolor.task.PixColorTask` has the same methods.
"""
import numpy as np

from data import pipeline
from pixel_recursive import cli
from pixel_recursive import losses
from pixel_recursive import model as model_lib
from pixel_recursive import visualize

SAMPLE_TEMPERATURES = (1.0, 0.9, 0.8)


class SuperResolutionTask:
  """Pixel Recursive Super Resolution (model.name 'super_resolution') or its L2 baseline.

  Args:
    config: the full training config.
  """

  name = 'super_resolution'
  data_task = 'super_resolution'

  def __init__(self, config):
    self.check_config(config)
    self.l2 = config.model.get('name', 'super_resolution') == 'l2_regression'

  @staticmethod
  def check_config(config):
    for key in ('train_steps', 'batch_size', 'learning_rate', 'checkpoint_every_steps', 'seed'):
      if config.get(key) is None:
        raise cli.UsageError(f'the config has no {key}')
    if config.train_steps < 1 or config.batch_size < 1 or config.checkpoint_every_steps < 1:
      raise cli.UsageError('train_steps, batch_size and checkpoint_every_steps must be positive')
    if not config.learning_rate > 0:
      raise cli.UsageError(f'learning_rate must be positive, got {config.learning_rate}')
    if config.model.get('name', 'super_resolution') not in model_lib.MODELS:
      raise cli.UsageError(f'model.name must be one of {sorted(model_lib.MODELS)}')

  def build_model(self, model_config):
    return model_lib.build_model(model_config)

  def input_fn(self, config, split, global_batch_size, training, seed=None, num_examples=None):
    return pipeline.input_fn(config.data, self.data_task, split, global_batch_size,
                             training=training, seed=config.seed if seed is None else seed,
                             num_examples=num_examples)

  def metric_names(self):
    return ['loss', 'mse'] if self.l2 else ['loss', 'nats', 'nats_conditioning', 'nats_prior']

  def metrics(self, model, batch, training):
    """Per-example metrics [B] of a batch; 'loss' is what training minimises."""
    _, aux = model(batch, training=training)
    return {k: aux[k] for k in self.metric_names()}

  def scalars(self, means):
    """Mean metrics -> the named scalars of TensorBoard (bits/dim for the PixelCNN)."""
    if 'mse' in means:
      # The regression predicts values scaled to [-1, 1]; report pSNR on the 0..255 scale too.
      mse_255 = means['mse'] * (255.0 / 2.0) ** 2
      return {'loss': means['loss'], 'mse': means['mse'],
              'psnr': 10 * np.log10(255.0 ** 2 / max(mse_255, 1e-10))}
    return {'loss': means['loss'],
            'bits_per_dim': float(losses.bits_per_dim(means['nats'])),
            'bits_per_dim_conditioning': float(losses.bits_per_dim(means['nats_conditioning'])),
            'bits_per_dim_prior': float(losses.bits_per_dim(means['nats_prior']))}

  def progress(self, means):
    s = self.scalars(means)
    if 'psnr' in s:
      return f"mse {s['mse']:.4f}  pSNR {s['psnr']:.2f} dB"
    return (f"bits/dim {s['bits_per_dim']:.3f} (A {s['bits_per_dim_conditioning']:.3f}, "
            f"B {s['bits_per_dim_prior']:.3f})")

  def image_batch(self, config):
    """A fixed batch of eval examples for image summaries (numpy dict)."""
    return pipeline.first_batch(config.data, self.data_task, 'eval',
                                config.get('num_image_examples', 8))

  def images(self, model, batch, config):
    """One grid per summary: rows are examples; columns are the 8x8 input (nearest), bicubic,
    samples at temperatures 1.0 / 0.9 / 0.8 (or the regression's mean) and the truth."""
    lowres, highres = batch['lowres'], batch['highres']
    size = highres.shape[1]
    columns = [visualize.nearest_upsample(lowres, size // lowres.shape[1]),
               visualize.bicubic_upsample(lowres, size)]
    if isinstance(model, model_lib.L2Regression):
      columns.append(model.predict_images(lowres).numpy())
    else:
      for t in config.get('sample_temperatures', SAMPLE_TEMPERATURES):
        columns.append(model.sample(lowres, temperature=t, seed=config.seed).numpy())
    columns.append(highres)
    rows = [[col[i] for col in columns] for i in range(len(lowres))]
    return {'samples': visualize.nearest_upsample(visualize.grid(rows), 2)}

