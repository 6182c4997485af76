r"""Evaluates a PixColor run on its eval split with the measures of Guadarrama et al. 2017, Sec. 5.

  python -m pixcolor.evaluate --workdir=DIR|--model=photos --output=metrics.json \
      [--num_examples=N] [--temperatures=1.0,0.8] [--candidates=N] \
      [--config.data.source=tfrecord:GLOB]

Two colourings are sampled per eval photo at every temperature of --temperatures (default: the
model's shipped `sampling.temperature`), each the most typical of --candidates draws (default: the
model's `sampling.candidates`, else 1: one plain draw), and measured by
  * colour histogram intersection (Fig. 7): the histograms of the Lab a and b channels
    (skimage.color.rgb2lab, --histogram_bins bins over [-128, 128)) of all sampled pixels against
    those of the eval photos themselves; sum_i min(p_i, q_i) of the normalised histograms, 1 = equal;
  * diversity (Fig. 8): MS-SSIM between the two colourings of the same input (1 = identical);
  * pSNR of the colourings to the truth (dB, RGB 0..255);
  * colourfulness (Hasler and Suesstrunk 2003, `metrics.colourfulness`): the mean over the
    colourings against the mean over the eval photos, as a ratio (1 = as colourful as the photos;
    washed-out sepia is well below, garish blotches above);
beside three reference points: the gray input itself (a colouring is worth showing only above it),
the refinement network given the true low-resolution chroma (what perfect PixelCNN samples would
give), and that chroma merely upsampled bilinearly; plus the bits/dim of the chroma PixelCNN and the
refinement L2 on the true chroma beside that of bilinear upsampling. Exactly --num_examples photos
are scored (fewer, with a warning, if the eval split is smaller). Writes metrics.json, metrics.md
(the table, one row per method and temperature), metrics.png (the a and b histograms of the truth
and of the samples at each temperature, and the MS-SSIM histogram) and TensorBoard scalars and the
plot under the workdir's `evaluate` run (a shipped model's: beside metrics.json). The paper reports
histogram intersections of .93 (a) and .93 (b) and most MS-SSIM values between two samples in
[.95, .99] for its ImageNet model.
"""
from absl import flags
import numpy as np

from pixel_recursive import commands
from pixel_recursive import evaluation

FLAGS = flags.FLAGS
MS_SSIM_EDGES = np.round(np.linspace(0.0, 1.0, 101), 2)  # Bins of 0.01, as Fig. 8's histogram.
PAPER = {'histogram_intersection': {'a': 0.93, 'b': 0.93},
         'ms_ssim_between_samples': 'most values between .95 and .99 (Fig. 8)'}
REFERENCES = ('gray_input', 'bilinear_true_chroma', 'refined_true_chroma')


def define_flags():
  evaluation.define_flags('pixcolor')
  flags.DEFINE_list('temperatures', None, "Sampling temperatures (default: the model's).")
  flags.DEFINE_integer('histogram_bins', 256, 'Bins of the Lab a and b histograms over '
                       '[-128, 128).', lower_bound=2)


def true_chroma_seeds(seed, count, size):
  """The seeds with which the true bins of photos count .. count + size - 1 are dequantized for
  the refined-true-chroma reference: each photo's own (the colourings' first), so that the number
  does not depend on the batch the photo came in (an int seed keys each photo by its place in
  its batch)."""
  from pixel_recursive import sampling
  return [sampling.derive_seed(seed, count + b, 0) for b in range(size)]


def evaluate(model, config, num_examples, temperatures=(1.0,), seed=0, batch_size=32, bins=256,
             top_p=1.0, candidates=1):
  """Samples two colourings of each of `num_examples` eval photos per temperature, each drawn from
  the top-`top_p` nucleus (1: the whole distribution), the most typical of `candidates` draws.

  Returns:
    (results dict, plot data: the a/b histograms and MS-SSIM values per temperature).
  """
  from data import transforms
  from pixcolor import color
  from pixel_recursive import losses
  from pixel_recursive import metrics
  from pixel_recursive import sampling
  hist_truth = np.zeros([2, bins], np.int64)
  hist = {t: np.zeros([2, bins], np.int64) for t in temperatures}
  values = {k: [] for k in REFERENCES + ('nats', 'refinement_mse', 'bilinear_mse')}
  values.update({('psnr', t): [] for t in temperatures})
  values.update({('ms_ssim', t): [] for t in temperatures})
  values.update({('colourfulness', t): [] for t in temperatures})
  values['colourfulness_truth'] = []
  count = 0
  for batch, n in evaluation.batches(config, 'colorization', num_examples, batch_size):
    gray, truth = batch['gray'], batch['image']
    hist_truth += metrics.ab_histograms(truth[:n], bins)
    values['colourfulness_truth'].extend(metrics.colourfulness(truth[:n]).tolist())
    for t in temperatures:
      colourings = []
      for k in range(2):
        seeds = [sampling.derive_seed(seed, count + b, k) for b in range(len(gray))]
        bins_k = model.sample_chroma(gray, seeds, t, top_p=top_p, candidates=candidates)
        colourings.append(model.combine(gray, model.refine(gray, bins_k, seeds)).numpy()[:n])
        hist[t] += metrics.ab_histograms(colourings[-1], bins)
        values[('psnr', t)].extend(metrics.psnr(colourings[-1], truth[:n]).numpy().tolist())
        values[('colourfulness', t)].extend(metrics.colourfulness(colourings[-1]).tolist())
      values[('ms_ssim', t)].extend(metrics.ms_ssim(*colourings).numpy().tolist())
    gray_rgb = np.repeat(gray, 3, axis=-1)
    low = transforms.dequantize_chroma(batch['chroma'], model.num_bins)
    upsampled = transforms.resize(low, truth.shape[1:3], 'bilinear')
    outputs = {'gray_input': gray_rgb,
               'refined_true_chroma': model.combine(gray, model.refine(
                   gray, batch['chroma'], true_chroma_seeds(seed, count, len(gray)))),
               'bilinear_true_chroma': model.combine(gray, upsampled)}
    for name, out in outputs.items():
      values[name].extend(metrics.psnr(out, truth).numpy()[:n].tolist())
    target = color.scale_chroma(transforms.rgb_to_ycbcr(truth)[..., 1:])
    values['bilinear_mse'].extend(losses.mean_squared_error(
        color.scale_chroma(upsampled), target).numpy()[:n].tolist())
    _, aux = model(batch, training=False)
    values['nats'].extend(aux['nats'].numpy()[:n].tolist())
    values['refinement_mse'].extend(aux['refinement_mse'].numpy()[:n].tolist())
    count += n
  if not count:
    raise commands.UsageError('the eval split is empty')
  per_temperature = {}
  truth_colourfulness = float(np.mean(values['colourfulness_truth']))
  for t in temperatures:
    ms_ssim = np.asarray(values[('ms_ssim', t)])
    colourful = float(np.mean(values[('colourfulness', t)]))
    per_temperature[f'{t:g}'] = {
        'psnr': metrics.finite_mean(values[('psnr', t)]),
        'colourfulness': {'samples': colourful, 'truth': truth_colourfulness,
                          'ratio': metrics.colourfulness_ratio(colourful, truth_colourfulness)},
        'histogram_intersection': {'a': metrics.intersection(hist_truth[0], hist[t][0]),
                                   'b': metrics.intersection(hist_truth[1], hist[t][1])},
        'ms_ssim_between_samples': {
            'mean': float(ms_ssim.mean()),
            'median': float(np.median(ms_ssim)),
            'fraction_between_0.95_and_0.99': float(np.mean((ms_ssim >= 0.95) & (ms_ssim <= 0.99))),
            'fraction_above_0.99': float(np.mean(ms_ssim > 0.99)),
            'histogram': {'bins': 'width 0.01 from 0 to 1',
                          'counts': np.histogram(np.clip(ms_ssim, 0, 1), MS_SSIM_EDGES)[0].tolist()},
        },
    }
  results = {
      'num_examples': count,
      'samples_per_example': 2,
      'temperatures': per_temperature,
      'top_p': top_p,
      'candidates': candidates,
      'psnr': {name: metrics.finite_mean(values[name]) for name in REFERENCES},
      'bits_per_dim': float(losses.bits_per_dim(np.mean(values['nats']))),
      'refinement_l2': float(np.mean(values['refinement_mse'])),
      'refinement_l2_bilinear_baseline': float(np.mean(values['bilinear_mse'])),
      'histogram_bins': bins,
      'paper': PAPER,
  }
  plot_data = {'hist_truth': hist_truth, 'hist': hist,
               'ms_ssim': {t: np.asarray(values[('ms_ssim', t)]) for t in temperatures}}
  return results, plot_data


def markdown(results):
  """The table: the reference points, then the samples at each temperature."""
  from pixel_recursive import candidates as candidates_lib
  lines = ['| Method | pSNR (dB) | Hist. intersection a | Hist. intersection b | '
           "Colourfulness / the photos' | MS-SSIM between 2 samples (median) | in [.95, .99] |",
           '|---' * 7 + '|']
  for name in REFERENCES:
    ratio = '0' if name == 'gray_input' else '-'
    lines.append(f"| {name.replace('_', ' ')} | {results['psnr'][name]:.2f} | - | - | {ratio} | - "
                 '| - |')
  for t, r in results['temperatures'].items():
    h, m = r['histogram_intersection'], r['ms_ssim_between_samples']
    lines.append(f"| samples, T = {t} | {r['psnr']:.2f} | {h['a']:.3f} | {h['b']:.3f} | "
                 f"{r['colourfulness']['ratio']:.2f} | {m['median']:.3f} | "
                 f"{100 * m['fraction_between_0.95_and_0.99']:.0f}% |")
  lines.append('| paper (ImageNet) | - | 0.93 | 0.93 | - | - | most |')
  lines.append('')
  first = next(iter(results['temperatures'].values()))
  lines.append(f"{commands.counted(results['num_examples'], 'eval photo')} "
               f"({results.get('data', '?')}), 2 colourings "
               f"each; the photos' colourfulness {first['colourfulness']['truth']:.1f}; "
               f"bits/dim {results['bits_per_dim']:.3f}; refinement L2 "
               f"{results['refinement_l2']:.5f} (bilinear "
               f"{results['refinement_l2_bilinear_baseline']:.5f}); "
               f"{evaluation.sampled_from(results.get('top_p', 1.0))}"
               f"{candidates_lib.note(results.get('candidates', 1))}")
  return '\n'.join(lines) + '\n'


def plot(results, plot_data):
  """Fig. 7 (a and b histograms: truth and the samples at each temperature) and Fig. 8 (MS-SSIM
  between two samples, at the first temperature)."""
  fig, axes = evaluation.figure(3, 14, 3.8)
  bins = results['histogram_bins']
  edges = np.linspace(-128, 128, bins + 1)
  centres = (edges[:-1] + edges[1:]) / 2
  for k, channel in enumerate('ab'):
    ax = axes[k]
    truth = plot_data['hist_truth'][k]
    ax.plot(centres, truth / max(truth.sum(), 1), color='k', lw=1.5, label='eval photos')
    for t, counts in plot_data['hist'].items():
      inter = results['temperatures'][f'{t:g}']['histogram_intersection'][channel]
      ax.plot(centres, counts[k] / max(counts[k].sum(), 1), label=f'samples T={t:g} ({inter:.3f})')
    ax.set_yscale('log')
    ax.set_xlim(-100, 100)
    ax.set_xlabel(f'Lab {channel}')
    ax.set_title(f'{channel}: histogram intersection (paper .93)', fontsize=9)
    ax.legend(fontsize=7)
  first = next(iter(plot_data['ms_ssim']))
  ax = axes[2]
  ax.hist(plot_data['ms_ssim'][first], bins=MS_SSIM_EDGES, color='tab:green')
  ax.axvspan(0.95, 0.99, color='0.85', zorder=0, label='paper: most in [.95, .99]')
  ax.set_xlabel(f'MS-SSIM between two samples of one input (T={first:g})')
  ax.set_ylabel('inputs')
  ax.legend(fontsize=7)
  return evaluation.titled(fig, 'eval photo', results, ' (PixColor)')


def main(argv):
  del argv
  temperatures = evaluation.parse_floats(FLAGS.temperatures, '--temperatures',
                                         commands.check_temperature)
  evaluation.check_top_p_flag()
  evaluation.check_run('pixcolor')
  from pixcolor import model as model_lib  # TensorFlow from here on.
  model, config, step = evaluation.load_run(model_lib.build_model)
  default_t = commands.sampling_setting(config, 'temperature', None)
  temperatures = temperatures or [default_t]
  num_examples = FLAGS.num_examples or config.get('eval_examples', 1000)
  results, plot_data = evaluate(model, config, num_examples, temperatures, FLAGS.seed,
                                FLAGS.batch_size, FLAGS.histogram_bins, evaluation.top_p(config),
                                evaluation.candidates(config))
  evaluation.finish(results, config, step, markdown, lambda r: plot(r, plot_data), scalars,
                    'histograms', default_temperature=default_t)


def scalars(results):
  """TensorBoard scalars: pSNR of every method, and per temperature the histogram intersections
  and the median MS-SSIM between samples; the bits/dim and the refinement's L2."""
  out = {f'psnr/{name}': value for name, value in results['psnr'].items()}
  for t, r in results['temperatures'].items():
    out[f'psnr/samples_T{t}'] = r['psnr']
    for channel, value in r['histogram_intersection'].items():
      out[f'histogram_intersection_{channel}/T{t}'] = value
    out[f'ms_ssim_between_samples/T{t}'] = r['ms_ssim_between_samples']['median']
    out[f'colourfulness_ratio/T{t}'] = r['colourfulness']['ratio']
  out.update({k: results[k] for k in ('bits_per_dim', 'refinement_l2',
                                      'refinement_l2_bilinear_baseline')})
  return out


if __name__ == '__main__':
  evaluation.run(define_flags, main)
