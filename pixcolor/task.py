"""The PixColor task: what the shared training loop (`pixel_recursive.training.loop.run`) needs to
know about it (the protocol of `pixel_recursive.training.task.Task`).

Scalars: bits/dim of the chroma PixelCNN (bits per chroma sub-pixel of the c x c x 2 bins), the
refinement network's L2 loss (mean squared error of Cb, Cr in [-1, 1] units, from the true
low-resolution chroma) and the same as a chroma pSNR in dB on the 0..255 scale.
Images: rows are eval examples; columns are the gray input, then per sample the low-resolution chroma
sample shown over the downsampled gray and its refined full-size colouring, then the truth.
"""
import math

from absl import logging
import numpy as np
import tensorflow as tf

from pixcolor import model as model_lib
from pixel_recursive import commands
from pixel_recursive import losses
from pixel_recursive import metrics
from pixel_recursive import sampling
from pixel_recursive import visualize
from pixel_recursive import workdir
from pixel_recursive.training import task as task_lib


def chroma_psnr(mse):
  """pSNR in dB on the 0..255 scale of a chroma MSE in [-1, 1] units (1 unit = 128 levels)."""
  return 10 * math.log10(255.0 ** 2 / max(mse * 128.0 ** 2, 1e-10))


def weight_paths(model, net):
  """The `workdir.weights_by_path(model)` keys of the weights of `net`, a part of `model` (a keras
  application backbone's are its layers' own names, without the backbone's)."""
  mine = {id(v) for v in net.weights}
  return {k for k, v in workdir.weights_by_path(model).items() if id(v) in mine}


class PixColorTask(task_lib.Task):
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
    super().__init__(config)
    self.train_pixelcnn = bool(config.get('train_pixelcnn', True))
    self.train_refinement = bool(config.get('train_refinement', True))
    self.init_from = config.get('init_from', '')

  def check_config(self, config):
    super().check_config(config)
    name = config.model.get('name')
    if name != 'pixcolor':
      hint = (': a super-resolution config trains with python -m pixel_recursive.train'
              if name in (None, 'super_resolution', 'l2_regression') else '')
      raise commands.UsageError(f"model.name must be 'pixcolor', got {name!r}{hint}")
    if not (config.get('train_pixelcnn', True) or config.get('train_refinement', True)):
      raise commands.UsageError(
          'train_pixelcnn and train_refinement are both False: nothing to train')
    for key, least in (('image_size', 1), ('chroma_size', 1), ('num_bins', 2)):
      if not config.model.get(key, least) >= least:
        raise commands.UsageError(f'model.{key} must be >= {least}, got {config.model.get(key)}')
      if config.data.get(key) != config.model.get(key):
        raise commands.UsageError(f'data.{key} ({config.data.get(key)}) differs from '
                                  f'model.{key} ({config.model.get(key)})')
    m = config.model
    if (m.conditioning.get('gradient_start_step', 0) > 0 and not m.get('conditioning_weights')
        and config.get('train_pixelcnn', True)):
      logging.warning(
          'model.conditioning.gradient_start_step=%d without model.conditioning_weights: the '
          'randomly initialised conditioning network is frozen until that step (set it to 0 to '
          'train from scratch)', m.conditioning.gradient_start_step)
    if m.image_size % m.chroma_size:
      raise commands.UsageError(f'model.image_size {m.image_size} is not a multiple of '
                                f'model.chroma_size {m.chroma_size}')

  def build_model(self, model_config, initial_weights=True):
    def build(pretrained):
      try:
        # Without `pretrained` a pretrained backbone starts random, still built and trained as
        # the pretrained one (batch norm in inference mode).
        return model_lib.build_model(model_config, load_pretrained=pretrained)
      except ValueError as e:  # backbones.WeightsError included: one line naming the file.
        raise commands.UsageError(str(e)) from None

    if not (self.init_from and initial_weights):
      model = build(initial_weights)
    else:
      # The backbone's conditioning_weights are read only where init_from lacks its weights: they
      # would be overwritten (and 'imagenet' cannot be fetched offline, e.g. to fine-tune the
      # shipped model).
      path = workdir.init_from_checkpoint(self.init_from)
      model = build(False)
      missing = self._init_from(model, path)
      backbone = weight_paths(model, model.backbone)
      if model_config.get('conditioning_weights') and set(missing) & backbone:
        model = build(True)
        missing = self._init_from(model, path)
      workdir.log_initialised_from(path, missing)
    model.set_trained(pixelcnn=self.train_pixelcnn, refinement=self.train_refinement)
    return model

  def _init_from(self, model, path):
    """Starts `model` from the weights of checkpoint `path`, the newest of the `init_from` workdir
    (before the loop restores this workdir's own checkpoint, which on a resume overrides them).
    Every weight stored there with the same shape is taken; the networks this run does not train
    must all be there (they would otherwise stay random), those it trains may differ (e.g. another
    refinement network). Returns the paths of the weights it does not hold
    (`workdir.restore_matching_weights`)."""
    missing = workdir.restore_matching_weights(path, model)
    frozen = ([] if self.train_pixelcnn else [model.backbone, model.adaptation, model.pixelcnn]) + (
        [] if self.train_refinement else [model.refinement])
    frozen = set().union(*(weight_paths(model, net) for net in frozen))
    lacking = [k for k in missing if k in frozen]
    if lacking:
      raise commands.UsageError(
          f'init_from {path} does not hold the weights of the networks this run does not train '
          f'({len(lacking)} missing or of another shape, e.g. {lacking[0]})')
    return missing

  def scale_gradients(self, model, grads, step):
    """The paper's gradient multiplier: the conditioning backbone's gradients are zero before
    `model.conditioning.gradient_start_step` and scaled by `gradient_multiplier` from then on (a
    `conditioning.frozen` backbone has no gradients at all).

    Args:
      model: the PixColor being trained.
      grads: gradients of `model.trainable_variables`, in order.
      step: int64 tensor or variable, the number of steps trained so far.
    """
    cond = model.config.conditioning
    start = int(cond.get('gradient_start_step', 0))
    multiplier = float(cond.get('gradient_multiplier', 1.0))
    if start <= 0 and multiplier == 1.0:
      return grads
    scale = tf.where(tf.cast(step, tf.int64) >= start, multiplier, 0.0)
    backbone = {id(v) for v in model.backbone.trainable_variables}
    return [g * tf.cast(scale, g.dtype) if id(v) in backbone else g
            for g, v in zip(grads, model.trainable_variables)]

  def metric_names(self):
    return ['loss', 'nats', 'refinement_mse']

  def scalars(self, means):
    return {'loss': means['loss'],
            'bits_per_dim': float(losses.bits_per_dim(means['nats'])),
            'refinement_l2': means['refinement_mse'],
            'refinement_psnr': chroma_psnr(means['refinement_mse'])}

  def progress(self, means):
    s = self.scalars(means)
    return (f"bits/dim {s['bits_per_dim']:.3f}  refinement L2 {s['refinement_l2']:.5f} "
            f"(chroma pSNR {s['refinement_psnr']:.2f} dB)")

  def image_summaries(self, model, batch, config):
    """({'colorizations': grid}, scalars). The grid: gray | (low-res sample over gray, refined) per
    sample | truth, titled, enlarged x2 below 128 x 128 and x4 below 32 x 32 (so that the titles
    fit). The scalars: how the colourings score against the truth (`pixcolor.evaluate`'s
    measures, on the grid's few photos): `colorizations/psnr` (mean over the colourings) beside
    `colorizations/psnr_gray` (the gray input's), and `colorizations/colourfulness_ratio` (the
    colourings' mean colourfulness over the photos')."""
    gray, truth = batch['gray'], batch['image']
    size, n = gray.shape[1], len(gray)
    factor = size // model.chroma_size
    columns, titles, colourings = [gray], ['gray'], []
    for k in range(config.get('num_image_samples', 2)):
      titles += [f'chroma {k + 1}', f'sample {k + 1}']
      seeds = [sampling.derive_seed(config.seed, b, k) for b in range(n)]
      bins = model.sample_chroma(gray, seeds, config.get('sample_temperature', 1.0))
      columns.append(visualize.nearest_upsample(model.lowres_preview(gray, bins).numpy(), factor))
      colourings.append(model.combine(gray, model.refine(gray, bins, seeds)).numpy())
      columns.append(colourings[-1])
    columns.append(truth)
    rows = [[np.asarray(col[i]) for col in columns] for i in range(n)]
    scale = 1 if size >= 128 else 2 if size >= 32 else 4
    scalars = {'colorizations/psnr_gray': metrics.finite_mean(
        metrics.psnr(np.repeat(gray, 3, axis=-1), truth))}
    if colourings:
      scalars.update({
          'colorizations/psnr': metrics.finite_mean(
              [metrics.psnr(c, truth).numpy() for c in colourings]),
          'colorizations/colourfulness_ratio': metrics.colourfulness_ratio(
              [metrics.colourfulness(c) for c in colourings], metrics.colourfulness(truth))})
    return ({'colorizations': visualize.grid(rows, titles=titles + ['truth'], scale=scale)},
            scalars)

  def image_progress(self, scalars):
    """'colourings' pSNR 21.50 dB (gray input 23.04), colourfulness ratio 0.88'."""
    gray = f"(gray input {scalars['colorizations/psnr_gray']:.2f})"
    if 'colorizations/psnr' not in scalars:  # num_image_samples 0: no colouring drawn.
      return f'no colouring drawn {gray}'
    return (f"colourings' pSNR {scalars['colorizations/psnr']:.2f} dB {gray}, colourfulness "
            f"ratio {scalars['colorizations/colourfulness_ratio']:.2f}")
