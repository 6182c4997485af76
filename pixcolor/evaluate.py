r"""Evaluates a PixColor run on its eval split with the measures of Guadarrama et al. 2017, Sec. 5.

  python -m pixcolor.evaluate --workdir=/tmp/pixcolor_tiny --output=metrics.json [--num_examples=N]

Two colourings are sampled per eval photo (at --temperature) and measured by
  * colour histogram intersection (Fig. 7): the histograms of the Lab a and b channels
    (skimage.color.rgb2lab, --histogram_bins bins over [-128, 128)) of all sampled pixels against
    those of the eval photos themselves; sum_i min(p_i, q_i) of the normalised histograms, 1 = equal;
  * diversity (Fig. 8): MS-SSIM between the two colourings of the same input (1 = identical);
  * pSNR of the colourings to the truth (dB, RGB 0..255), beside three reference points: the gray
    input itself, the refinement network given the true low-resolution chroma (what perfect
    PixelCNN samples would give), and that chroma merely upsampled bilinearly;
  * bits/dim of the chroma PixelCNN, and the refinement L2 on the true chroma beside the L2 of
    bilinear upsampling (the refinement's starting point).
Written as JSON (--output), a plot of the a/b histograms and the MS-SSIM histogram as PNG beside it
(same name, _histograms.png), and to TensorBoard under the workdir's `evaluate` run.
The paper reports histogram intersections of .93 (a) and .93 (b) and most MS-SSIM values between two
samples in [.95, .99] for its ImageNet model.
"""
import json
import os

from absl import flags
from absl import logging
import numpy as np

from pixel_recursive import cli

def define_flags():
  """The command's flags; defined on demand so that colorize and evaluate import side by side."""
  flags.DEFINE_string('workdir', None, 'Training workdir of a pixcolor run.')
  flags.DEFINE_string('output', None, 'Path of the metrics JSON file (a _histograms.png is written '
                      'beside).')
  flags.DEFINE_integer('num_examples', None, 'Examples of the eval split to use (default: the '
                       "config's eval_examples).", lower_bound=1)
  flags.DEFINE_float('temperature', 1.0, 'Sampling temperature of the colourings.')
  flags.DEFINE_integer('seed', 0, 'Sampling seed.')
  flags.DEFINE_integer('batch_size', 32, 'Examples per batch.', lower_bound=1)
  flags.DEFINE_integer('histogram_bins', 256, 'Bins of the Lab a and b histograms over [-128, 128).',
                       lower_bound=2)


FLAGS = flags.FLAGS

LAB_RANGE = (-128.0, 128.0)
MS_SSIM_EDGES = np.round(np.linspace(0.0, 1.0, 101), 2)  # Bins of 0.01, as Fig. 8's histogram.
PAPER = {'histogram_intersection': {'a': 0.93, 'b': 0.93},
         'ms_ssim_between_samples': 'most values between .95 and .99 (Fig. 8)'}


def lab_ab(rgb):
  """uint8 RGB [..., 3] -> float64 Lab a and b [..., 2]."""
  from skimage import color
  return color.rgb2lab(np.asarray(rgb, np.float64) / 255.0)[..., 1:]


def ab_histograms(rgb, bins):
  """Counts of the a and b values of every pixel: int64 [2, bins]."""
  ab = lab_ab(rgb).reshape(-1, 2)
  return np.stack([np.histogram(ab[:, k], bins, LAB_RANGE)[0] for k in range(2)])


def intersection(p, q):
  """Histogram intersection of two count vectors after normalising each to sum 1."""
  p = np.asarray(p, np.float64) / max(np.sum(p), 1)
  q = np.asarray(q, np.float64) / max(np.sum(q), 1)
  return float(np.minimum(p, q).sum())


def evaluate(model, config, num_examples, temperature=1.0, seed=0, batch_size=32, bins=256):
  """Samples two colourings of each of `num_examples` eval photos; returns (results, plot data)."""
  from data import pipeline
  from data import transforms
  from pixcolor import model as model_lib
  from pixel_recursive import losses
  from pixel_recursive import metrics
  from pixel_recursive import sampling
  # Read one by one and re-batch without dropping the remainder: every requested example counts.
  dataset = pipeline.make_dataset(config.data, 'colorization', 'eval', 1, training=False,
                                  num_examples=num_examples).unbatch().batch(batch_size)
  hist_truth = np.zeros([2, bins], np.int64)
  hist_samples = np.zeros([2, bins], np.int64)
  values = {k: [] for k in ('ms_ssim', 'psnr', 'psnr_gray', 'psnr_true_chroma',
                            'psnr_bilinear_true_chroma', 'nats', 'refinement_mse',
                            'bilinear_mse')}
  count = 0
  for batch in dataset:
    gray, truth = batch['gray'], batch['image'].numpy()
    n = len(truth)
    colourings = []
    for k in range(2):
      seeds = [sampling.derive_seed(seed, count + b, k) for b in range(n)]
      bins_k = model.sample_chroma(gray, seeds, temperature)
      colourings.append(model.combine(gray, model.refine(gray, bins_k)).numpy())
    hist_truth += ab_histograms(truth, bins)
    for rgb in colourings:
      hist_samples += ab_histograms(rgb, bins)
      values['psnr'].extend(metrics.psnr(rgb, truth).numpy().tolist())
    values['ms_ssim'].extend(metrics.ms_ssim(colourings[0], colourings[1]).numpy().tolist())
    gray_rgb = np.repeat(gray.numpy(), 3, axis=-1)
    values['psnr_gray'].extend(metrics.psnr(gray_rgb, truth).numpy().tolist())
    oracle = model.combine(gray, model.refine(gray, batch['chroma'])).numpy()
    values['psnr_true_chroma'].extend(metrics.psnr(oracle, truth).numpy().tolist())
    # The refinement's baseline: the true low-resolution chroma bilinearly upsampled.
    low = transforms.dequantize_chroma(batch['chroma'], model.num_bins)
    upsampled = transforms.resize(low, truth.shape[1:3], 'bilinear')
    values['psnr_bilinear_true_chroma'].extend(
        metrics.psnr(model.combine(gray, upsampled), truth).numpy().tolist())
    target = model_lib.scale_chroma(transforms.rgb_to_ycbcr(truth)[..., 1:])
    values['bilinear_mse'].extend(losses.mean_squared_error(
        model_lib.scale_chroma(upsampled), target).numpy().tolist())
    _, aux = model(batch, training=False)
    values['nats'].extend(aux['nats'].numpy().tolist())
    values['refinement_mse'].extend(aux['refinement_mse'].numpy().tolist())
    count += n
    cli.log_progress(count, num_examples, 'evaluated')
  if not count:
    raise cli.UsageError('the eval split is empty')
  ms_ssim = np.asarray(values['ms_ssim'])
  counts = np.histogram(np.clip(ms_ssim, 0.0, 1.0), MS_SSIM_EDGES)[0]
  mean_mse = float(np.mean(values['refinement_mse']))
  results = {
      'num_examples': count,
      'samples_per_example': 2,
      'histogram_intersection': {'a': intersection(hist_truth[0], hist_samples[0]),
                                 'b': intersection(hist_truth[1], hist_samples[1])},
      'ms_ssim_between_samples': {
          'mean': float(ms_ssim.mean()),
          'median': float(np.median(ms_ssim)),
          'fraction_between_0.95_and_0.99': float(np.mean((ms_ssim >= 0.95) & (ms_ssim <= 0.99))),
          'fraction_above_0.99': float(np.mean(ms_ssim > 0.99)),
          'histogram': {'bins': 'width 0.01 from 0 to 1', 'counts': counts.tolist()},
      },
      'psnr': {'samples': metrics.finite_mean(values['psnr']),
               'gray_input': metrics.finite_mean(values['psnr_gray']),
               'refined_true_chroma': metrics.finite_mean(values['psnr_true_chroma']),
               'bilinear_true_chroma': metrics.finite_mean(values['psnr_bilinear_true_chroma'])},
      'bits_per_dim': float(losses.bits_per_dim(np.mean(values['nats']))),
      'refinement_l2': mean_mse,
      'refinement_l2_bilinear_baseline': float(np.mean(values['bilinear_mse'])),
      'histogram_bins': bins,
      'paper': PAPER,
  }
  plot = {'hist_truth': hist_truth, 'hist_samples': hist_samples, 'ms_ssim': ms_ssim}
  return results, plot


def plot_histograms(results, plot, path):
  """Draws Fig. 7 (a and b histograms, truth vs samples) and Fig. 8 (MS-SSIM) to a PNG; returns
  the image as uint8 [H, W, 3]."""
  import matplotlib
  matplotlib.use('Agg')  # No display; also keeps a user's interactive backend untouched.
  from matplotlib import pyplot as plt
  bins = results['histogram_bins']
  centres = np.linspace(*LAB_RANGE, bins + 1)
  centres = (centres[:-1] + centres[1:]) / 2
  fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
  for k, channel in enumerate('ab'):
    ax = axes[k]
    for counts, label in ((plot['hist_truth'][k], 'eval photos'),
                          (plot['hist_samples'][k], 'PixColor samples')):
      ax.plot(centres, counts / max(counts.sum(), 1), label=label)
    ax.set_yscale('log')
    ax.set_xlim(-100, 100)
    ax.set_xlabel(f'Lab {channel}')
    ax.set_title(f'{channel}: intersection {results["histogram_intersection"][channel]:.3f}')
    ax.legend(fontsize=8)
  ax = axes[2]
  ax.hist(plot['ms_ssim'], bins=MS_SSIM_EDGES, color='tab:green')
  ax.axvspan(0.95, 0.99, color='0.85', zorder=0, label='paper: most in [.95, .99]')
  ax.set_xlabel('MS-SSIM between two samples of one input')
  ax.set_ylabel('inputs')
  ax.set_title(f'diversity: median {results["ms_ssim_between_samples"]["median"]:.3f}')
  ax.legend(fontsize=8)
  fig.suptitle(f'PixColor, {results["num_examples"]} eval photos, step {results.get("step", "?")}',
               fontsize=10)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
  from PIL import Image
  with Image.open(path) as im:
    return np.asarray(im.convert('RGB'))


def write_tensorboard(results, image, logdir, step):
  import tensorflow as tf
  writer = tf.summary.create_file_writer(logdir)
  with writer.as_default():
    for channel, value in results['histogram_intersection'].items():
      tf.summary.scalar(f'histogram_intersection/{channel}', value, step=step)
    for key in ('mean', 'median', 'fraction_between_0.95_and_0.99'):
      tf.summary.scalar(f'ms_ssim_between_samples/{key}', results['ms_ssim_between_samples'][key],
                        step=step)
    for key, value in results['psnr'].items():
      tf.summary.scalar(f'psnr/{key}', value, step=step)
    tf.summary.scalar('bits_per_dim', results['bits_per_dim'], step=step)
    tf.summary.scalar('refinement_l2', results['refinement_l2'], step=step)
    tf.summary.scalar('refinement_l2_bilinear_baseline', results['refinement_l2_bilinear_baseline'],
                      step=step)
    tf.summary.image('histograms', image[None], step=step)
  writer.flush()


def summary(results):
  h, m, p = (results['histogram_intersection'], results['ms_ssim_between_samples'],
             results['psnr'])
  return (f"{results['num_examples']} eval photos: histogram intersection a {h['a']:.3f}, "
          f"b {h['b']:.3f} (paper .93/.93); MS-SSIM between samples median {m['median']:.3f}, "
          f"{100 * m['fraction_between_0.95_and_0.99']:.0f}% in [.95, .99]; pSNR samples "
          f"{p['samples']:.2f} dB (gray input {p['gray_input']:.2f}, refined true chroma "
          f"{p['refined_true_chroma']:.2f}, bilinear true chroma {p['bilinear_true_chroma']:.2f}); "
          f"bits/dim {results['bits_per_dim']:.3f}")


def main(argv):
  if len(argv) > 1:
    raise cli.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  from pixcolor import model as model_lib
  if not FLAGS.workdir or not FLAGS.output:
    raise cli.UsageError('--workdir and --output are required')
  cli.check_temperature(FLAGS.temperature)
  out_dir = os.path.dirname(os.path.abspath(FLAGS.output))
  cli.check_output_dir(out_dir)
  config = cli.read_config(FLAGS.workdir)
  if config.get('model', {}).get('name') != 'pixcolor':
    raise cli.UsageError(f'{FLAGS.workdir} is not a pixcolor run (use pixel_recursive.evaluate '
                         'for super-resolution)')
  model, config, step = cli.restore(FLAGS.workdir, model_lib.build_model)
  num_examples = FLAGS.num_examples or config.get('eval_examples', 1000)
  results, plot = evaluate(model, config, num_examples, FLAGS.temperature, FLAGS.seed,
                           FLAGS.batch_size, FLAGS.histogram_bins)
  results.update(workdir=os.path.abspath(FLAGS.workdir), step=step, data=config.data.source,
                 temperature=FLAGS.temperature, seed=FLAGS.seed)
  plot_path = os.path.splitext(FLAGS.output)[0] + '_histograms.png'
  image = plot_histograms(results, plot, plot_path)
  with open(FLAGS.output, 'w') as f:
    json.dump(results, f, indent=2)
  write_tensorboard(results, image, os.path.join(FLAGS.workdir, 'evaluate'), step)
  print(summary(results), flush=True)
  logging.info('wrote %s and %s', FLAGS.output, plot_path)


if __name__ == '__main__':
  from data import sources
  define_flags()
  cli.run(main, user_errors=(sources.DataSourceError,))
