"""The PixColor "model function" for `pixel_recursive.train.run` (same methods as
`pixel_recursive.task.SuperResolutionTask`).

Scalars: bits/dim of the chroma PixelCNN (bits per chroma sub-pixel of the c x c x 2 bins), the
refinement network's L2 loss (mean squared error of Cb, Cr in [-1, 1] units, from the true
low-resolution chroma) and the same as a chroma pSNR in dB on the 0..255 scale.
Images: rows are eval examples; columns are the gray input, then per sample the low-resolution chroma
sample shown over the downsampled gray and its refined full-size colouring, then the truth.
"""
import math
import os

from absl import logging
import numpy as np

from data import pipeline
from pixcolor import model as model_lib
from pixel_recursive import checkpoints
from pixel_recursive import cli
from pixel_recursive import losses
from pixel_recursive import sampling
from pixel_recursive import visualize


def chroma_psnr(mse):
  """pSNR in dB on the 0..255 scale of a chroma MSE in [-1, 1] units (1 unit = 128 levels)."""
  return 10 * math.log10(255.0 ** 2 / max(mse * 128.0 ** 2, 1e-10))


class PixColorTask:
  """PixColor (model.name 'pixcolor') on colorization examples.

  Args:
    config: the full training config; `train_pixelcnn` / `train_refinement` say which networks the
      loop trains (both by default), `init_from` names a workdir whose newest weights start the
      model (e.g. to train the refinement network in a new workdir after the PixelCNN).

  The trained networks must stay the same for the life of a workdir: the optimizer's slots are
  checkpointed per trainable weight, so a resume that trains another set cannot restore them. Train
  the other network in a new workdir with `init_from` instead.
  """

  name = 'pixcolor'
  data_task = 'colorization'

  def __init__(self, config):
    self.check_config(config)
    self.train_pixelcnn = bool(config.get('train_pixelcnn', True))
    self.train_refinement = bool(config.get('train_refinement', True))
    self.init_from = config.get('init_from', '')

  @staticmethod
  def check_config(config):
    for key in ('train_steps', 'batch_size', 'learning_rate', 'checkpoint_every_steps', 'seed'):
      if config.get(key) is None:
        raise cli.UsageError(f'the config has no {key}')
    if config.train_steps < 1 or config.batch_size < 1 or config.checkpoint_every_steps < 1:
      raise cli.UsageError('train_steps, batch_size and checkpoint_every_steps must be positive')
    if not config.learning_rate > 0:
      raise cli.UsageError(f'learning_rate must be positive, got {config.learning_rate}')
    if config.model.get('name') != 'pixcolor':
      raise cli.UsageError(f"model.name must be 'pixcolor', got {config.model.get('name')!r}")
    if not (config.get('train_pixelcnn', True) or config.get('train_refinement', True)):
      raise cli.UsageError('train_pixelcnn and train_refinement are both False: nothing to train')
    for key in ('image_size', 'chroma_size', 'num_bins'):
      if config.data.get(key) != config.model.get(key):
        raise cli.UsageError(f'data.{key} ({config.data.get(key)}) differs from model.{key} '
                             f'({config.model.get(key)})')
    m = config.model
    if m.image_size % m.chroma_size:
      raise cli.UsageError(f'model.image_size {m.image_size} is not a multiple of '
                           f'model.chroma_size {m.chroma_size}')

  def build_model(self, model_config):
    try:
      model = model_lib.build_model(model_config, load_pretrained=True)
    except ValueError as e:
      raise cli.UsageError(str(e)) from None
    if self.init_from:
      # Before the loop restores this workdir's own checkpoint, which (on resume) overrides it.
      path = cli.latest_checkpoint(os.path.expanduser(self.init_from))
      try:
        checkpoints.restore_weights(path, model)
      except AssertionError as e:
        raise cli.UsageError(f'init_from {path} does not match this model: '
                             f'{str(e).splitlines()[0]}') from None
      logging.info('weights initialised from %s', path)
    model.set_trained(pixelcnn=self.train_pixelcnn, refinement=self.train_refinement)
    return model

  def input_fn(self, config, split, global_batch_size, training, seed=None, num_examples=None):
    return pipeline.input_fn(config.data, self.data_task, split, global_batch_size,
                             training=training, seed=config.seed if seed is None else seed,
                             num_examples=num_examples)

  def metric_names(self):
    return ['loss', 'nats', 'refinement_mse']

  def metrics(self, model, batch, training):
    """Per-example metrics [B] of a batch; 'loss' is what training minimises."""
    _, aux = model(batch, training=training)
    return {k: aux[k] for k in self.metric_names()}

  def scalars(self, means):
    return {'loss': means['loss'],
            'bits_per_dim': float(losses.bits_per_dim(means['nats'])),
            'refinement_l2': means['refinement_mse'],
            'refinement_psnr': chroma_psnr(means['refinement_mse'])}

  def progress(self, means):
    s = self.scalars(means)
    return (f"bits/dim {s['bits_per_dim']:.3f}  refinement L2 {s['refinement_l2']:.5f} "
            f"(chroma pSNR {s['refinement_psnr']:.2f} dB)")

  def image_batch(self, config):
    """A fixed batch of eval examples for image summaries (numpy dict)."""
    return pipeline.first_batch(config.data, self.data_task, 'eval',
                                config.get('num_image_examples', 8))

  def images(self, model, batch, config):
    """{'colorizations': grid}: gray | (low-res sample over gray, refined) per sample | truth."""
    gray, truth = batch['gray'], batch['image']
    size, n = gray.shape[1], len(gray)
    factor = size // model.chroma_size
    columns = [gray]
    for k in range(config.get('num_image_samples', 2)):
      seeds = [sampling.derive_seed(config.seed, b, k) for b in range(n)]
      bins = model.sample_chroma(gray, seeds, config.get('sample_temperature', 1.0))
      columns.append(visualize.nearest_upsample(model.lowres_preview(gray, bins).numpy(), factor))
      columns.append(model.combine(gray, model.refine(gray, bins)).numpy())
    columns.append(truth)
    rows = [[np.asarray(col[i]) for col in columns] for i in range(n)]
    grid = visualize.grid(rows)
    return {'colorizations': grid if size >= 128 else visualize.nearest_upsample(grid, 2)}
