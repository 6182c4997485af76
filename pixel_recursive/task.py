"""The super-resolution task: what the training loop (`training.loop.run`) needs to know about it.

Binds `pixel_recursive.model` to the super-resolution examples of `data.pipeline`, its per-example
metrics (nats of A+B, of A alone, of B alone), their scalars in bits/dim, and TensorBoard's sample
grids. The protocol is `training.task.Task`'s.
"""

import numpy as np

from pixel_recursive import commands
from pixel_recursive import losses
from pixel_recursive import model as model_lib
from pixel_recursive import visualize
from pixel_recursive import workdir
from pixel_recursive.training import task as task_lib

SAMPLE_TEMPERATURES = (1.0, 0.9, 0.8)
# What TensorBoard scores the image grid's columns by (`evaluate.image_metrics`' names): pSNR to the
# truth, consistency with the input (dB) and the median high-frequency energy ratio to the truth.
GRID_METRICS = ('psnr', 'consistency', 'hf_ratio')


class SuperResolutionTask(task_lib.Task):
  """Pixel Recursive Super Resolution (model.name 'super_resolution') or its L2 baseline.

  Args:
    config: the full training config.
  """

  name = 'super_resolution'
  data_task = 'super_resolution'

  def __init__(self, config):
    super().__init__(config)
    self.l2 = config.model.get('name', 'super_resolution') == 'l2_regression'
    self.config_init_from = config.get('init_from', '')

  def check_config(self, config):
    super().check_config(config)
    name = config.model.get('name', 'super_resolution')
    if name not in model_lib.MODELS:
      hint = ': a PixColor config trains with python -m pixcolor.train' if name == 'pixcolor' else ''
      raise commands.UsageError(f'model.name must be one of {sorted(model_lib.MODELS)}, got '
                                f'{name!r}{hint}')

  def build_model(self, model_config, initial_weights=True):
    try:
      model = model_lib.build_model(model_config)
    except ValueError as e:  # A model config that cannot be built: one line.
      raise commands.UsageError(str(e)) from None
    init_from = self.config_init_from
    if init_from and initial_weights:
      path = workdir.init_from_checkpoint(init_from)
      missing = workdir.restore_matching_weights(path, model)  # UsageError if it holds none.
      workdir.log_initialised_from(path, missing)
    return model

  def metric_names(self):
    return ['loss', 'mse'] if self.l2 else ['loss', 'nats', 'nats_conditioning', 'nats_prior']

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

  def image_summaries(self, model, batch, config):
    """One grid per summary: rows are examples; columns, titled, are the 8x8 input (nearest),
    bicubic, samples at temperatures 1.0 / 0.9 / 0.8 and the config's `sampling.guidance` (or the
    regression's mean) and the truth. With it, as scalars `samples/{metric}_{column}`
    (`GRID_METRICS`), how bicubic and each sample column score against the truth and the input: a
    reading at every image step on the grid's few examples (`num_image_examples`), noisier than
    `evaluate`'s over the eval split."""
    from pixel_recursive import evaluate  # pylint: disable=g-import-not-at-top
    lowres, highres = batch['lowres'], batch['highres']
    size = highres.shape[1]
    bicubic = visualize.bicubic_upsample(lowres, size)
    columns = [visualize.nearest_upsample(lowres, size // lowres.shape[1]), bicubic]
    titles = [f'input {lowres.shape[1]}x{lowres.shape[2]}', 'bicubic']
    scored = {'bicubic': bicubic}
    if isinstance(model, model_lib.L2Regression):
      columns.append(model.predict_images(lowres).numpy())
      titles.append('L2 mean')
      scored['l2_mean'] = columns[-1]
    else:
      guidance = config.get('sampling', {}).get('guidance', 1.0)
      for t in config.get('sample_temperatures', SAMPLE_TEMPERATURES):
        columns.append(model.sample(lowres, temperature=t, seed=config.seed,
                                    guidance=guidance).numpy())
        titles.append(visualize.setting_title(t, guidance))
        scored[f'T{t:g}'] = columns[-1]
    columns.append(highres)
    rows = [[col[i] for col in columns] for i in range(len(lowres))]
    scalars = {}
    for column, outputs in scored.items():
      scores = evaluate.summarise(evaluate.image_metrics(outputs, batch))
      scalars.update({f'samples/{metric}_{column}': scores[metric] for metric in GRID_METRICS})
    return {'samples': visualize.grid(rows, titles=titles + ['truth'], scale=2)}, scalars

  def image_progress(self, scalars):
    """'pSNR 20.49 dB (bicubic 22.05), consistency 28.9 dB, HF ratio 0.91 at T 1': the grid's
    first sample column (or the L2 mean) beside bicubic."""
    column = next((k.removeprefix('samples/psnr_') for k in scalars
                   if k.startswith('samples/psnr_') and not k.endswith('_bicubic')), None)
    get = lambda metric, of=column: scalars[f'samples/{metric}_{of}']
    if column is None:  # No sample_temperatures: bicubic alone.
      return f"bicubic's pSNR {get('psnr', 'bicubic'):.2f} dB, no sample drawn"
    at = 'the L2 mean' if column == 'l2_mean' else f'T {column[1:]}'
    return (f"pSNR {get('psnr'):.2f} dB (bicubic {get('psnr', 'bicubic'):.2f}), consistency "
            f"{get('consistency'):.1f} dB, HF ratio {get('hf_ratio'):.2f} at {at}")
