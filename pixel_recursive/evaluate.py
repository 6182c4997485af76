r"""Evaluates a super-resolution run on its eval split, shaped like Dahl et al. 2017's Table 2.

  python -m pixel_recursive.evaluate --workdir=/tmp/faces_tiny --output=metrics.json \
      [--l2_workdir=/tmp/faces_l2] [--num_examples=256] [--temperatures=1.0,0.9,0.8]

For nearest-neighbour and bicubic upsampling, the L2-regression baseline (when --l2_workdir is given)
and the model's samples at each temperature: pSNR, SSIM, MS-SSIM (3 scales for 32x32) against the
truth, and consistency (pSNR between the 8x8 input and the output area-downsampled back to 8x8);
plus the model's bits/dim of A+B, A alone and B alone. Written as JSON (--output), as a Markdown table
beside it (same name, .md), and to TensorBoard under the workdir's `evaluate` run.
pSNR of identical images would be infinite; it is capped at 100 dB.
"""
import json
import os

from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf

from pixel_recursive import cli

FLAGS = flags.FLAGS

METRICS = ('psnr', 'ssim', 'ms_ssim', 'consistency')


def define_flags():
  flags.DEFINE_string('workdir', None, 'Training workdir of a super_resolution run.')
  flags.DEFINE_string('output', None, 'Path of the metrics JSON file (a .md table is written beside).')
  flags.DEFINE_integer('num_examples', None, 'Examples of the eval split to use (default: the '
                       "config's eval_examples).", lower_bound=1)
  flags.DEFINE_string('l2_workdir', None, 'Workdir of an l2_regression run to compare with.')
  flags.DEFINE_list('temperatures', ['1.0', '0.9', '0.8'], 'Sampling temperatures to evaluate.')
  flags.DEFINE_integer('seed', 0, 'Sampling seed.')
  flags.DEFINE_integer('batch_size', 32, 'Examples per batch.', lower_bound=1)


def image_metrics(outputs, batch):
  """Per-image metrics of uint8 outputs [B, 32, 32, 3] against a batch's truth and input."""
  from pixel_recursive import metrics
  return {
      'psnr': metrics.psnr(outputs, batch['highres']).numpy(),
      'ssim': metrics.ssim(outputs, batch['highres']).numpy(),
      'ms_ssim': metrics.ms_ssim(outputs, batch['highres']).numpy(),
      'consistency': metrics.consistency(outputs, batch['lowres']).numpy(),
  }


def evaluate(model, config, num_examples, temperatures, seed=0, batch_size=32, l2_model=None):
  """Runs every method on `num_examples` eval examples; returns the results dict."""
  from data import pipeline
  from pixel_recursive import losses
  from pixel_recursive import metrics
  from pixel_recursive import sampling
  from pixel_recursive import visualize
  batch_size = min(batch_size, num_examples)
  dataset = pipeline.make_dataset(config.data, 'super_resolution', 'eval', batch_size,
                                  training=False, num_examples=num_examples)
  methods = ['nearest', 'bicubic'] + (['l2_regression'] if l2_model else []) + [
      f'pixel_recursive_T{t:g}' for t in temperatures]
  values = {m: {k: [] for k in METRICS} for m in methods}
  nats = {'nats': [], 'nats_conditioning': [], 'nats_prior': []}
  count = 0
  for batch in dataset:
    batch = {k: v.numpy() for k, v in batch.items()}
    lowres = batch['lowres']
    outputs = {'nearest': visualize.nearest_upsample(lowres, 4),
               'bicubic': visualize.bicubic_upsample(lowres, 32)}
    if l2_model:
      outputs['l2_regression'] = l2_model.predict_images(lowres).numpy()
    for t in temperatures:
      seeds = np.array([sampling.derive_seed(seed, count + i) for i in range(len(lowres))])
      outputs[f'pixel_recursive_T{t:g}'] = model.sample(lowres, temperature=t, seed=seeds).numpy()
    for name, out in outputs.items():
      for key, v in image_metrics(out, batch).items():
        values[name][key].extend(v.tolist())
    _, aux = model(batch)
    for key in nats:
      nats[key].extend(aux[key].numpy().tolist())
    count += len(lowres)
    cli.log_progress(count, num_examples, 'evaluated')
  if not count:
    raise cli.UsageError('the eval split is empty')
  table = {m: {k: metrics.finite_mean(v) for k, v in values[m].items()} for m in methods}
  return {
      'num_examples': count,
      'methods': table,
      'bits_per_dim': float(losses.bits_per_dim(np.mean(nats['nats']))),
      'bits_per_dim_conditioning': float(losses.bits_per_dim(np.mean(nats['nats_conditioning']))),
      'bits_per_dim_prior': float(losses.bits_per_dim(np.mean(nats['nats_prior']))),
  }


def markdown(results):
  lines = ['| Method | pSNR (dB) | SSIM | MS-SSIM | Consistency (dB) |',
           '|---|---|---|---|---|']
  for name, m in results['methods'].items():
    lines.append(f"| {name} | {m['psnr']:.2f} | {m['ssim']:.3f} | {m['ms_ssim']:.3f} | "
                 f"{m['consistency']:.2f} |")
  lines.append('')
  lines.append(f"bits/dim on {results['num_examples']} examples: A+B "
               f"{results['bits_per_dim']:.3f}, A alone {results['bits_per_dim_conditioning']:.3f}, "
               f"B alone {results['bits_per_dim_prior']:.3f}")
  return '\n'.join(lines) + '\n'


def write_tensorboard(results, logdir, step):
  writer = tf.summary.create_file_writer(logdir)
  with writer.as_default():
    for method, m in results['methods'].items():
      for key, value in m.items():
        tf.summary.scalar(f'{key}/{method}', value, step=step)
    for key in ('bits_per_dim', 'bits_per_dim_conditioning', 'bits_per_dim_prior'):
      tf.summary.scalar(key, results[key], step=step)
  writer.flush()


def main(argv):
  if len(argv) > 1:
    raise cli.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  from pixel_recursive import model as model_lib
  if not FLAGS.workdir or not FLAGS.output:
    raise cli.UsageError('--workdir and --output are required')
  try:
    temperatures = [cli.check_temperature(float(t)) for t in FLAGS.temperatures]
  except ValueError:
    raise cli.UsageError(f'--temperatures must be numbers, got {FLAGS.temperatures}') from None
  out_dir = os.path.dirname(os.path.abspath(FLAGS.output))
  cli.check_output_dir(out_dir)
  model, config, step = cli.restore(FLAGS.workdir, model_lib.build_model)
  if not isinstance(model, model_lib.SuperResolution):
    raise cli.UsageError(f'{FLAGS.workdir} is not a super_resolution run (use --l2_workdir '
                         'for the regression baseline)')
  l2_model = None
  if FLAGS.l2_workdir:
    l2_model, _, _ = cli.restore(FLAGS.l2_workdir, model_lib.build_model)
    if not isinstance(l2_model, model_lib.L2Regression):
      raise cli.UsageError(f'--l2_workdir {FLAGS.l2_workdir} is not an l2_regression run')
  num_examples = FLAGS.num_examples or config.get('eval_examples', 1000)
  results = evaluate(model, config, num_examples, temperatures, FLAGS.seed, FLAGS.batch_size,
                     l2_model)
  results.update(workdir=os.path.abspath(FLAGS.workdir), step=step, data=config.data.source,
                 temperatures=temperatures, seed=FLAGS.seed,
                 l2_workdir=os.path.abspath(FLAGS.l2_workdir) if FLAGS.l2_workdir else None)
  with open(FLAGS.output, 'w') as f:
    json.dump(results, f, indent=2)
  table = markdown(results)
  with open(os.path.splitext(FLAGS.output)[0] + '.md', 'w') as f:
    f.write(table)
  write_tensorboard(results, os.path.join(FLAGS.workdir, 'evaluate'), step)
  print(table, flush=True)
  logging.info('wrote %s', FLAGS.output)


if __name__ == '__main__':
  from data import sources
  define_flags()
  cli.run(main, user_errors=(sources.DataSourceError,))
