r"""Evaluates a super-resolution run on its eval split, to set beside Dahl et al. 2017's Table 2.

  python -m pixel_recursive.evaluate --workdir=DIR|--model=faces|bedrooms --output=metrics.json \
      [--num_examples=1000] [--temperatures=1.0,0.9,0.8] [--guidances=1,2,3] [--candidates=N] \
      [--l2_workdir=L2_DIR] [--config.data.source=npz:PATH]

Methods: nearest-neighbour and bicubic upsampling, the L2-regression baseline (with --l2_workdir),
the expected value of the conditioning logits A alone (E[A], a regression the model gives for free),
and the model's samples at every temperature x guidance of the sweep (drawn from
softmax((w A + B) / T); w = 1 is the paper's model; each the most typical of --candidates draws,
default the model's `sampling.candidates`, else 1; a gray input's samples are scored as `upsample`
returns them, turned to their luminance). Per method, the mean over images of
  psnr             pSNR to the truth (dB; identical images capped at 100 dB)
  ssim, ms_ssim    SSIM and MS-SSIM to the truth (MS-SSIM on 3 scales for 32 x 32)
  consistency      pSNR between the 8x8 input and the output area-downsampled to 8x8 (dB)
  consistency_mse  the same in the paper's convention: MSE on [0, 1], lower is better
and the median of
  hf_ratio         high-frequency (Laplacian) energy of the output over the truth's: 1 is as much fine
                   detail as a real face, bicubic ~0.02 and regressions ~0.2 (blur), above ~1.3
                   speckle (../shared/notes/fidelity_metrics.md)
plus the model's bits/dim of A+B, A alone and B alone. Exactly --num_examples eval examples are
scored, the last batch included (fewer, with a warning, if the eval split is smaller). Without
--temperatures / --guidances: the model's shipped defaults (its config's `sampling`), and guidance
1 (the paper) beside them. Writes metrics.json, metrics.md (the table), metrics.png (pSNR
and consistency against the HF ratio, one point per setting, the baselines marked) and TensorBoard
scalars under the workdir's `evaluate` run (a shipped model's: beside metrics.json).
"""
from absl import flags
import numpy as np

from pixel_recursive import commands
from pixel_recursive import evaluation

FLAGS = flags.FLAGS
COLUMNS = (('psnr', 'pSNR (dB)', '{:.2f}'), ('ssim', 'SSIM', '{:.3f}'),
           ('ms_ssim', 'MS-SSIM', '{:.3f}'), ('consistency', 'Consistency (dB)', '{:.2f}'),
           ('consistency_mse', 'Consistency (MSE, [0,1])', '{:.5f}'),
           ('hf_ratio', 'HF energy ratio (median)', '{:.2f}'))
BASELINES = ('nearest', 'bicubic', 'l2_regression', 'conditioning_mean')


def define_flags():
  evaluation.define_flags('super_resolution')
  flags.DEFINE_string('l2_workdir', None, 'Workdir of an l2_regression run to compare with.')
  flags.DEFINE_list('temperatures', None, "Sampling temperatures (default: the model's).")
  flags.DEFINE_list('guidances', None, "Guidance weights w of A (default: 1 and the model's).")


def method_name(temperature, guidance):
  return f'samples_T{temperature:g}_w{guidance:g}'


def sweep(config, temperatures=None, guidances=None):
  """(the settings [(T, w)] to score, the model's defaults {'temperature', 'guidance'}): every
  temperature x guidance of the flags, each flag not given being the model's `sampling` value
  (config.json), with the paper's guidance 1 beside the model's."""
  defaults = {key: commands.sampling_setting(config, key, None)
              for key in ('temperature', 'guidance')}
  temperatures = temperatures or [defaults['temperature']]
  guidances = guidances or sorted({1.0, defaults['guidance']})
  return [(t, w) for w in guidances for t in temperatures], defaults


def image_metrics(outputs, batch):
  """Per-image metrics of uint8 outputs [B, 32, 32, 3] against a batch's truth and input."""
  from pixel_recursive import metrics
  truth, lowres = batch['highres'], batch['lowres']
  return {
      'psnr': metrics.psnr(outputs, truth).numpy(),
      'ssim': metrics.ssim(outputs, truth).numpy(),
      'ms_ssim': metrics.ms_ssim(outputs, truth).numpy(),
      'consistency': metrics.consistency(outputs, lowres).numpy(),
      'consistency_mse': metrics.consistency_mse(outputs, lowres).numpy(),
      'hf_ratio': metrics.hf_energy_ratio(outputs, truth).numpy(),
  }


def conditioning_mean(model, lowres):
  """E[A]: each sub-pixel's expected value under softmax(A) alone, uint8 [B, 32, 32, 3]."""
  import tensorflow as tf
  a = model.conditioning_function()(tf.constant(lowres))
  values = tf.range(a.shape[-1], dtype=tf.float32)
  mean = tf.reduce_sum(tf.nn.softmax(a) * values, axis=-1)
  return tf.cast(tf.clip_by_value(tf.round(mean), 0, 255), tf.uint8).numpy()


def summarise(values):
  """Per-image values -> the table's numbers (means; the median of the HF ratio)."""
  from pixel_recursive import metrics
  return {'psnr': metrics.finite_mean(values['psnr']),
          'ssim': float(np.mean(values['ssim'])),
          'ms_ssim': float(np.mean(values['ms_ssim'])),
          'consistency': metrics.finite_mean(values['consistency']),
          'consistency_mse': float(np.mean(values['consistency_mse'])),
          'hf_ratio': float(np.median(values['hf_ratio']))}


def evaluate(model, config, num_examples, settings, seed=0, batch_size=32, l2_model=None,
             top_p=1.0, candidates=1):
  """Scores every method on the first `num_examples` eval examples; returns the results dict.

  Args:
    settings: [(temperature, guidance)] of the samples.
    top_p: the nucleus of every setting's samples (1: the whole distribution).
    candidates: each sample is the most typical of this many draws (1: one plain draw).
  """
  from pixel_recursive import losses
  from pixel_recursive import sampling
  from pixel_recursive import visualize
  methods = ['nearest', 'bicubic'] + (['l2_regression'] if l2_model else []) + [
      'conditioning_mean'] + [method_name(t, w) for t, w in settings]
  values = {m: {k: [] for k, _, _ in COLUMNS} for m in methods}
  nats = {'nats': [], 'nats_conditioning': [], 'nats_prior': []}
  count = 0
  for batch, n in evaluation.batches(config, 'super_resolution', num_examples, batch_size):
    lowres = batch['lowres']
    outputs = {'nearest': visualize.nearest_upsample(lowres, 4),
               'bicubic': visualize.bicubic_upsample(lowres, 32),
               'conditioning_mean': conditioning_mean(model, lowres)}
    if l2_model:
      outputs['l2_regression'] = l2_model.predict_images(lowres).numpy()
    seeds = np.array([sampling.derive_seed(seed, count + i) for i in range(len(lowres))])
    for t, w in settings:
      outputs[method_name(t, w)] = model.sample(lowres, temperature=t, seed=seeds, guidance=w,
                                                top_p=top_p, keep_gray=True,
                                                candidates=candidates).numpy()
    for name, out in outputs.items():
      for key, v in image_metrics(out, batch).items():
        values[name][key].extend(v[:n].tolist())
    _, aux = model(batch)
    for key in nats:
      nats[key].extend(aux[key].numpy()[:n].tolist())
    count += n
  if not count:
    raise commands.UsageError('the eval split is empty')
  return {
      'num_examples': count,
      'methods': {m: summarise(values[m]) for m in methods},
      'settings': [{'temperature': t, 'guidance': w, 'method': method_name(t, w)}
                   for t, w in settings],
      'top_p': top_p,
      'candidates': candidates,
      'bits_per_dim': float(losses.bits_per_dim(np.mean(nats['nats']))),
      'bits_per_dim_conditioning': float(losses.bits_per_dim(np.mean(nats['nats_conditioning']))),
      'bits_per_dim_prior': float(losses.bits_per_dim(np.mean(nats['nats_prior']))),
  }


def markdown(results):
  from pixel_recursive import candidates as candidates_lib
  lines = ['| Method | ' + ' | '.join(title for _, title, _ in COLUMNS) + ' |',
           '|---' * (len(COLUMNS) + 1) + '|']
  for name, m in results['methods'].items():
    lines.append(f'| {name} | ' + ' | '.join(fmt.format(m[k]) for k, _, fmt in COLUMNS) + ' |')
  lines.append('')
  lines.append(f"{commands.counted(results['num_examples'], 'eval example')} "
               f"({results.get('data', '?')}); bits/dim "
               f"A+B {results['bits_per_dim']:.3f}, A alone "
               f"{results['bits_per_dim_conditioning']:.3f}, B alone "
               f"{results['bits_per_dim_prior']:.3f}; "
               f"{evaluation.sampled_from(results.get('top_p', 1.0))}"
               f"{candidates_lib.note(results.get('candidates', 1))}")
  return '\n'.join(lines) + '\n'


def plot(results):
  """pSNR and consistency against the HF energy ratio: one point per sampling setting (labelled
  T, w), the baselines marked in black, the truth's HF ratio of 1 and the band [0.8, 1.25] shaded.
  Nearest-neighbour upsampling is left out of the consistency panel: it is exactly consistent."""
  fig, axes = evaluation.figure(2, 12, 5)
  markers = {'nearest': 's', 'bicubic': 'D', 'l2_regression': '^', 'conditioning_mean': 'v'}
  for ax, key, title in ((axes[0], 'psnr', 'pSNR to the truth (dB)'),
                         (axes[1], 'consistency', 'consistency with the input (dB)')):
    ax.axvspan(0.8, 1.25, color='0.9', zorder=0, label='HF ratio 0.8-1.25')
    ax.axvline(1.0, color='0.6', lw=0.8)
    for name, marker in markers.items():
      if name in results['methods'] and not (name == 'nearest' and key == 'consistency'):
        m = results['methods'][name]
        ax.scatter(max(m['hf_ratio'], 1e-3), m[key], marker=marker, s=50, color='k',
                   facecolors='none' if name in ('nearest', 'l2_regression') else 'k',
                   label=name.replace('_', ' '), zorder=3)
    points = [(s, results['methods'][s['method']]) for s in results['settings']]
    for guidance in sorted({s['guidance'] for s, _ in points}):
      xs = [(m['hf_ratio'], m[key], s['temperature']) for s, m in points if s['guidance'] == guidance]
      ax.plot([x for x, _, _ in xs], [y for _, y, _ in xs], 'o-', label=f'samples, w = {guidance:g}',
              zorder=4)
      for x, y, t in xs:
        ax.annotate(f'T={t:g}', (x, y), fontsize=7, xytext=(3, 3), textcoords='offset points')
    ax.set_xscale('log')
    ax.set_xlabel('HF energy ratio to the truth (median; 1 = as detailed as real faces)')
    ax.set_title(title)
    ax.grid(alpha=0.3)
  handles, labels = axes[0].get_legend_handles_labels()
  fig.legend(handles, labels, fontsize=8, loc='lower center', ncol=min(len(labels), 7))
  fig = evaluation.titled(fig, 'eval face', results)
  fig.subplots_adjust(bottom=0.22)
  return fig


def main(argv):
  del argv
  # Flag values are checked before the slow work; unset ones become the model's defaults after.
  guidances = evaluation.parse_floats(FLAGS.guidances, '--guidances', commands.check_guidance)
  temperatures = evaluation.parse_floats(FLAGS.temperatures, '--temperatures',
                                         commands.check_temperature)
  evaluation.check_top_p_flag()
  from pixel_recursive import workdir as workdir_lib
  if FLAGS.l2_workdir:
    try:
      workdir_lib.check_model_name(FLAGS.l2_workdir, 'l2_regression', lambda name: (
          'give a run of experiments/configs/celeba_8x32_l2.py or bedrooms_l2.py'))
    except commands.UsageError as e:
      raise commands.UsageError(f'--l2_workdir: {e}') from None
  evaluation.check_run('super_resolution')  # Creates --output's folder.
  from pixel_recursive import model as model_lib  # TensorFlow from here on.
  model, config, step = evaluation.load_run(model_lib.build_model)
  settings, defaults = sweep(config, temperatures, guidances)
  l2_model = None
  if FLAGS.l2_workdir:
    l2_model, _, _ = workdir_lib.restore(FLAGS.l2_workdir, model_lib.build_model)
  num_examples = FLAGS.num_examples or config.get('eval_examples', 1000)
  results = evaluate(model, config, num_examples, settings, FLAGS.seed, FLAGS.batch_size, l2_model,
                     evaluation.top_p(config), evaluation.candidates(config))
  evaluation.finish(results, config, step, markdown, plot, scalars, 'sweep',
                    defaults=defaults,
                    l2_workdir=FLAGS.l2_workdir)


def scalars(results):
  """TensorBoard scalars: every method's metrics, and the bits/dim."""
  out = {f'{key}/{method}': value for method, m in results['methods'].items()
         for key, value in m.items()}
  out.update({k: results[k] for k in ('bits_per_dim', 'bits_per_dim_conditioning',
                                      'bits_per_dim_prior')})
  return out


if __name__ == '__main__':
  evaluation.run(define_flags, main)
