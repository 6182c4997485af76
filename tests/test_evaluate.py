"""`pixel_recursive.evaluate`'s own pieces on values whose answers are known: E[A] is the expected
value of softmax(A), every method is scored against the truth (pSNR, SSIM, HF ratio) and against the
input (consistency), the table holds means (pSNR capped at 100 dB) and the HF ratio's median, each
in its column, and without flags the sweep is the model's defaults beside the paper's guidance.
Both evaluate commands seed each sample by its photo's place in the eval set and score only real
photos, never the padding of the last batch; with fake models whose outputs are known, every number
of `pixcolor.evaluate` is checked against its own values. The whole commands run end to end in
tests/test_train.py and tests/test_pixcolor_e2e.py."""
import os
import re

import numpy as np
import pytest

from data import transforms
from pixel_recursive import evaluate


class FakeModel:
  """What `conditioning_mean` uses of a model: its conditioning network, here fixed logits A."""

  def __init__(self, logits):
    self.logits = logits

  def conditioning_function(self):
    return lambda lowres: self.logits


def test_conditioning_mean_is_the_expected_value_of_softmax_a():
  a = np.full([2, 3, 5, 3, 256], -1e9, np.float32)  # [B, H, W, C, K], asymmetric.
  a[..., 0] = 0.0  # Everywhere else: certain of 0.
  a[0, 0, 0, 0] = -1e9
  a[0, 0, 0, 0, 200] = 0.0  # Certain of 200.
  a[0, 0, 0, 1, 0] = -1e9
  a[0, 0, 0, 1, [10, 20]] = 0.0  # 10 or 20 equally: 15.
  a[1, 2, 4, 2, 0] = np.log(0.75)
  a[1, 2, 4, 2, 100] = np.log(0.25)  # 0 with 3/4, 100 with 1/4: 25.
  # Uniform over 0..254: 127. Not over 0..255: its 127.5 is a tie that the softmax kernel's last
  # bit decides (128 with oneDNN, 127 with TensorFlow's own kernels).
  a[1, 1, 3, 0, :255] = 0.0
  # Means of 0.75 and 0.25, rounded to the nearest (not down, not up) and never a tie.
  a[0, 2, 1, 2, [0, 1]] = np.log([0.25, 0.75])
  a[1, 0, 0, 1, [0, 1]] = np.log([0.75, 0.25])
  got = evaluate.conditioning_mean(FakeModel(a), np.zeros([2, 1, 1, 3], np.uint8))
  assert got.dtype == np.uint8 and got.shape == (2, 3, 5, 3)
  want = np.zeros([2, 3, 5, 3], np.uint8)
  want[0, 0, 0, 0], want[0, 0, 0, 1], want[1, 2, 4, 2], want[1, 1, 3, 0] = 200, 15, 25, 127
  want[0, 2, 1, 2], want[1, 0, 0, 1] = 1, 0
  np.testing.assert_array_equal(got, want)


def test_each_method_is_scored_against_the_truth_and_the_input():
  rng = np.random.default_rng(0)
  truth = rng.integers(0, 256, [2, 32, 32, 3]).astype(np.uint8)
  lowres = transforms.to_uint8(transforms.resize(truth, (8, 8), 'area')).numpy()
  batch = {'highres': truth, 'lowres': lowres}
  exact = evaluate.image_metrics(truth, batch)
  assert np.all(np.isinf(exact['psnr'])) and np.allclose(exact['ssim'], 1)
  np.testing.assert_allclose(exact['hf_ratio'], 1, rtol=1e-6)
  assert np.all(exact['consistency'] > 60) and np.all(exact['consistency_mse'] < 1e-6)
  # Another image with the same 8x8 means: consistent with the input, far from the truth.
  shuffled = truth.reshape(2, 8, 4, 8, 4, 3)[:, :, ::-1, :, ::-1].reshape(2, 32, 32, 3)
  other = evaluate.image_metrics(shuffled, batch)
  assert np.all(other['consistency'] > 60) and np.all(other['psnr'] < 15)
  # Blocks of the input's pixels: exactly consistent, but far less fine detail than the truth.
  blocks = evaluate.image_metrics(lowres.repeat(4, axis=1).repeat(4, axis=2), batch)
  assert np.all(np.isinf(blocks['consistency'])) and np.all(blocks['hf_ratio'] < 0.2)
  # The truth one gray level brighter: 48.13 dB from it (MSE 1).
  brighter = evaluate.image_metrics(truth.clip(0, 254) + 1, {'highres': truth.clip(0, 254),
                                                             'lowres': lowres})
  np.testing.assert_allclose(brighter['psnr'], 10 * np.log10(255 ** 2), rtol=1e-4)


def test_the_table_holds_capped_means_and_the_median_hf_ratio():
  values = {'psnr': [np.inf, 20.0], 'ssim': [0.5, 0.7], 'ms_ssim': [0.8, 1.0],
            'consistency': [np.inf, 40.0], 'consistency_mse': [0.0, 0.002],
            'hf_ratio': [0.1, 0.2, 100.0]}
  got = evaluate.summarise(values)
  assert got == pytest.approx({'psnr': 60.0, 'ssim': 0.6, 'ms_ssim': 0.9, 'consistency': 70.0,
                               'consistency_mse': 0.001, 'hf_ratio': 0.2})


class SamplingModel(FakeModel):
  """What `evaluate` uses of a model, with known outputs: E[A] 128 everywhere, samples the input's
  pixels repeated, and per-example nats made from the input (so that the padding of a last batch,
  a copy of its last example, would move their means), each term its own multiple."""

  def __init__(self):
    super().__init__(None)
    self.seeds = []
    self.settings = []

  def conditioning_function(self):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return lambda lowres: tf.zeros([len(lowres), 32, 32, 3, 256])

  def sample(self, lowres, seed, **settings):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    from pixel_recursive import visualize  # pylint: disable=g-import-not-at-top
    self.seeds.append(np.asarray(seed).tolist())
    self.settings.append(settings)
    return tf.constant(visualize.nearest_upsample(lowres, 4))

  def __call__(self, batch):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    nats = tf.constant(np.asarray(batch['lowres'], np.float32).mean(axis=(1, 2, 3)) / 100)
    return None, {'nats': nats, 'nats_conditioning': 2 * nats, 'nats_prior': 3 * nats}


def real_examples(config, task, keys, num_examples, batch_size):
  """The fields `keys` of the first `num_examples` eval examples, without the padding."""
  from pixel_recursive import evaluation  # pylint: disable=g-import-not-at-top
  real = [[b[k][:n] for k in keys]
          for b, n in evaluation.batches(config, task, num_examples, batch_size)]
  return [np.concatenate(x) for x in zip(*real)]


def test_the_markdown_table_puts_each_metric_in_its_column():
  results = {'methods': {'bicubic': {'psnr': 19.4, 'ssim': 0.543, 'ms_ssim': 0.845,
                                     'consistency': 32.06, 'consistency_mse': 0.00072,
                                     'hf_ratio': 0.02}},
             'num_examples': 5, 'data': 'samples:faces', 'bits_per_dim': 3.6154,
             'bits_per_dim_conditioning': 5.94, 'bits_per_dim_prior': 3.73}
  lines = evaluate.markdown(results).splitlines()
  assert lines[0] == ('| Method | pSNR (dB) | SSIM | MS-SSIM | Consistency (dB) | '
                      'Consistency (MSE, [0,1]) | HF energy ratio (median) |')
  assert lines[2] == '| bicubic | 19.40 | 0.543 | 0.845 | 32.06 | 0.00072 | 0.02 |'
  assert lines[4].startswith('5 eval examples (samples:faces); bits/dim A+B 3.615, A alone 5.940, '
                             'B alone 3.730; samples drawn from the whole distribution')
  results['num_examples'] = 1
  assert evaluate.markdown(results).splitlines()[4].startswith('1 eval example (samples:faces);')


def test_without_flags_the_sweep_is_the_models_defaults_beside_the_papers_guidance():
  import ml_collections  # pylint: disable=g-import-not-at-top
  config = ml_collections.ConfigDict({'sampling': {'temperature': 1.5, 'guidance': 4.0}})
  defaults = {'temperature': 1.5, 'guidance': 4.0}
  assert evaluate.sweep(config) == ([(1.5, 1.0), (1.5, 4.0)], defaults)
  assert evaluate.sweep(config, [1.0, 0.8], [2.0]) == ([(1.0, 2.0), (0.8, 2.0)], defaults)
  assert evaluate.sweep(config, None, [2.0, 3.0]) == ([(1.5, 2.0), (1.5, 3.0)], defaults)
  # A config without `sampling` (a run of the paper's configs): the paper's T = 1, w = 1, once.
  assert evaluate.sweep(ml_collections.ConfigDict({'model': {}}))[0] == [(1.0, 1.0)]


def test_samples_are_seeded_by_their_place_in_the_eval_set_across_batches():
  """Example i of the eval set is sampled with derive_seed(seed, i), whichever batch holds it (a
  batch seeded from 0 again would give every batch the same noise); the real eval batches of the
  tests' faces, 3 in batches of 2, so the last one is padded. Each setting reaches the sampler
  with the nucleus and the candidates asked for, and black-and-white inputs kept so."""
  from pixel_recursive import sampling  # pylint: disable=g-import-not-at-top
  import test_train  # pylint: disable=g-import-not-at-top
  model = SamplingModel()
  results = evaluate.evaluate(model, test_train.tiny_config(), 3, [(0.8, 2.0)], seed=5,
                              batch_size=2, top_p=0.9, candidates=3)
  assert results['num_examples'] == 3
  assert model.seeds == [[sampling.derive_seed(5, 0), sampling.derive_seed(5, 1)],
                         [sampling.derive_seed(5, 2), sampling.derive_seed(5, 3)]]  # 3: padding.
  assert model.settings == 2 * [{'temperature': 0.8, 'guidance': 2.0, 'top_p': 0.9,
                                 'keep_gray': True, 'candidates': 3}]


def test_scores_and_bits_per_dim_count_the_real_examples_each_from_its_own_term():
  """Every method's means and the three bits/dim are over the 3 real faces (not the padding of the
  last batch of 2), the bits/dim of A and of B each from its own nats."""
  from pixel_recursive import losses  # pylint: disable=g-import-not-at-top
  from pixel_recursive import metrics  # pylint: disable=g-import-not-at-top
  from pixel_recursive import visualize  # pylint: disable=g-import-not-at-top
  import test_train  # pylint: disable=g-import-not-at-top
  config = test_train.tiny_config()
  results = evaluate.evaluate(SamplingModel(), config, 3, [(1.0, 1.0)], batch_size=2)
  truth, lowres = real_examples(config, 'super_resolution', ('highres', 'lowres'), 3, 2)
  psnr = metrics.psnr(visualize.nearest_upsample(lowres, 4), truth).numpy()
  assert np.ptp(psnr) > 0.1  # The padding, a copy of the last face, would move the mean.
  for method in ('nearest', 'samples_T1_w1'):
    assert results['methods'][method]['psnr'] == pytest.approx(psnr.mean(), rel=1e-6)
  nats = lowres.astype(np.float32).mean(axis=(1, 2, 3)) / 100
  assert np.ptp(nats) > 0.01
  for key, scale in (('bits_per_dim', 1), ('bits_per_dim_conditioning', 2),
                     ('bits_per_dim_prior', 3)):
    assert results[key] == pytest.approx(losses.bits_per_dim(scale * nats.mean()), rel=1e-5), key


class ColouringModel:
  """What `pixcolor.evaluate` uses of a model, with known outputs: colouring k of a photo is its
  gray with a chroma of the colouring's seed on the left half, gray on the right (so the two
  colourings differ, by a different amount for each photo), the true chroma refines to a flat
  chroma of its dequantization seed, and the nats and refinement errors are made from the photo
  (so that padding would move their means)."""
  num_bins = 32

  def __init__(self):
    self.seeds = []
    self.settings = []
    self.true_chroma_seeds = []

  @staticmethod
  def chroma_of(seeds):
    """The refined chroma [B, 8, 8, 2] of the colourings seeded `seeds` [B]."""
    chroma = np.full([len(seeds), 8, 8, 2], 128.0, np.float32)
    chroma[:, :, :4] = (60.0 + 13.0 * (np.asarray(seeds, np.int64) % 11))[:, None, None, None]
    return chroma

  def sample_chroma(self, gray, seeds, temperature, **settings):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    self.seeds.append(list(seeds))
    self.settings.append(dict(settings, temperature=temperature))
    return tf.fill([len(gray), 4, 4, 2], 16)

  @staticmethod
  def true_chroma_of(seeds):
    """The refined chroma [B, 8, 8, 2] of the true bins dequantized with `seeds` [B]."""
    values = 140.0 + 5.0 * (np.asarray(seeds, np.int64) % 5)
    return np.broadcast_to(values[:, None, None, None], [len(seeds), 8, 8, 2]).astype(np.float32)

  def refine(self, gray, bins, seeds=0):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    if not np.all(np.asarray(bins) == 16):  # The true chroma (sample_chroma's bins are 16).
      seeds = np.broadcast_to(seeds, [len(gray)])  # An int: every photo keyed alike.
      self.true_chroma_seeds.append(list(seeds))
      return tf.constant(self.true_chroma_of(seeds))
    return tf.constant(self.chroma_of(seeds))

  def combine(self, gray, chroma):
    from pixcolor import color  # pylint: disable=g-import-not-at-top
    return color.combine(gray, chroma)

  def __call__(self, batch, training=False):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    nats = tf.constant(np.asarray(batch['gray'], np.float32).mean(axis=(1, 2, 3)) / 100)
    return None, {'nats': nats, 'refinement_mse': nats / 7}


def test_pixcolor_scores_two_differently_seeded_colourings_and_only_real_photos():
  """`pixcolor.evaluate`: colouring k of photo i is seeded derive_seed(seed, i, k), so the two
  colourings whose MS-SSIM measures diversity are two draws, not one twice; every number is over
  the real photos (3 of the tests' crops in batches of 2: the last batch is padded), each from its
  own values, and goes to its own place in the table and in TensorBoard."""
  from pixcolor import color  # pylint: disable=g-import-not-at-top
  from pixcolor import evaluate as pixcolor_evaluate  # pylint: disable=g-import-not-at-top
  from pixel_recursive import losses  # pylint: disable=g-import-not-at-top
  from pixel_recursive import metrics  # pylint: disable=g-import-not-at-top
  from pixel_recursive import sampling  # pylint: disable=g-import-not-at-top
  import test_pixcolor_e2e  # pylint: disable=g-import-not-at-top

  config = test_pixcolor_e2e.tiny_config()
  model = ColouringModel()
  results, plot = pixcolor_evaluate.evaluate(model, config, 3, (1.0,), seed=9, batch_size=2,
                                             top_p=0.9, candidates=3)
  assert results['num_examples'] == 3
  assert model.settings == 4 * [{'temperature': 1.0, 'top_p': 0.9, 'candidates': 3}]
  assert model.seeds[:2] == [[sampling.derive_seed(9, b, k) for b in (0, 1)] for k in (0, 1)]
  assert model.seeds[2:] == [[sampling.derive_seed(9, b, k) for b in (2, 3)] for k in (0, 1)]
  gray, photos = real_examples(config, 'colorization', ('gray', 'image'), 3, 2)

  colourings = [color.combine(gray, model.chroma_of([sampling.derive_seed(9, i, k)
                                                     for i in range(3)])).numpy() for k in (0, 1)]
  gray_psnr = metrics.psnr(np.repeat(gray, 3, -1), photos).numpy()
  assert np.ptp(gray_psnr) > 0.1  # The padding, a copy of the last photo, would move the means.
  assert results['psnr']['gray_input'] == pytest.approx(gray_psnr.mean(), rel=1e-6)
  # The true chroma of each photo is dequantized with its own seed, whatever its batch.
  assert model.true_chroma_seeds == [[sampling.derive_seed(9, b, 0) for b in batch]
                                     for batch in ((0, 1), (2, 3))]
  true_chroma = model.true_chroma_of([sampling.derive_seed(9, i, 0) for i in range(3)])
  assert results['psnr']['refined_true_chroma'] == pytest.approx(
      metrics.psnr(color.combine(gray, true_chroma), photos).numpy().mean(), rel=1e-6)
  at_1 = results['temperatures']['1']
  assert at_1['psnr'] == pytest.approx(
      np.mean([metrics.psnr(c, photos).numpy() for c in colourings]), rel=1e-6)
  truth_colour = metrics.colourfulness(photos).mean()
  assert at_1['colourfulness']['truth'] == pytest.approx(truth_colour)
  assert at_1['colourfulness']['samples'] == pytest.approx(
      np.mean([metrics.colourfulness(c) for c in colourings]))
  assert at_1['colourfulness']['ratio'] == pytest.approx(
      at_1['colourfulness']['samples'] / truth_colour)
  assert at_1['colourfulness']['ratio'] != pytest.approx(1.0, abs=0.05)
  # Histograms: the photos' own, the colourings' own, a with a and b with b.
  np.testing.assert_array_equal(plot['hist_truth'], metrics.ab_histograms(photos))
  np.testing.assert_array_equal(plot['hist'][1.0],
                                sum(metrics.ab_histograms(c) for c in colourings))
  for k, channel in enumerate('ab'):
    assert at_1['histogram_intersection'][channel] == pytest.approx(
        metrics.intersection(plot['hist_truth'][k], plot['hist'][1.0][k]))
  assert at_1['histogram_intersection']['a'] != pytest.approx(at_1['histogram_intersection']['b'])
  # Diversity: MS-SSIM between the two colourings of each photo, its median, its fractions.
  ms_ssim = metrics.ms_ssim(*colourings).numpy()
  np.testing.assert_allclose(plot['ms_ssim'][1.0], ms_ssim, rtol=1e-6)
  diversity = at_1['ms_ssim_between_samples']
  assert diversity['median'] == pytest.approx(np.median(ms_ssim))
  assert diversity['median'] != pytest.approx(diversity['mean'])
  assert diversity['fraction_between_0.95_and_0.99'] == pytest.approx(
      np.mean((ms_ssim >= 0.95) & (ms_ssim <= 0.99)))
  assert diversity['fraction_above_0.99'] == pytest.approx(np.mean(ms_ssim > 0.99))
  assert 0 < diversity['fraction_between_0.95_and_0.99'] + diversity['fraction_above_0.99'] < 1
  # The model's own numbers: bits/dim and refinement L2 over the real photos; the bilinear baseline
  # refines the photos' Cb and Cr far better than gray chroma (0) would.
  nats = gray.astype(np.float32).mean(axis=(1, 2, 3)) / 100
  assert results['bits_per_dim'] == pytest.approx(losses.bits_per_dim(nats.mean()), rel=1e-5)
  assert results['refinement_l2'] == pytest.approx(nats.mean() / 7, rel=1e-5)
  gray_l2 = np.mean(np.square(color.scale_chroma(transforms.rgb_to_ycbcr(photos)[..., 1:])))
  assert 0 < results['refinement_l2_bilinear_baseline'] < gray_l2 / 4
  # The table's row and TensorBoard.
  table = pixcolor_evaluate.markdown(results)
  row = (f"| samples, T = 1 | {at_1['psnr']:.2f} | {at_1['histogram_intersection']['a']:.3f} | "
         f"{at_1['histogram_intersection']['b']:.3f} | {at_1['colourfulness']['ratio']:.2f} | "
         f"{diversity['median']:.3f} | {100 * diversity['fraction_between_0.95_and_0.99']:.0f}% |")
  assert row in table.splitlines()
  scalars = pixcolor_evaluate.scalars(results)
  assert scalars['ms_ssim_between_samples/T1'] == diversity['median']
  assert scalars['psnr/samples_T1'] == at_1['psnr']
  assert scalars['histogram_intersection_b/T1'] == at_1['histogram_intersection']['b']


def test_every_plot_names_how_many_examples_and_which_step_it_scores():
  from pixel_recursive import evaluation  # pylint: disable=g-import-not-at-top
  fig, axes = evaluation.figure(2)
  assert len(axes) == 2
  evaluation.titled(fig, 'eval face', {'num_examples': 12, 'step': 3000})
  assert fig._suptitle.get_text() == '12 eval faces, step 3000'  # pylint: disable=protected-access
  evaluation.titled(fig, 'eval photo', {'num_examples': 1}, ' (PixColor)')  # Without a step.
  title = fig._suptitle.get_text()  # pylint: disable=protected-access
  assert title == '1 eval photo (PixColor), step ?'


def test_tensorboard_gets_the_numbers_and_a_run_that_cannot_be_written_a_warning(
    tmp_path, caplog):
  """The scalars and the plot go to the workdir's `evaluate` run; where that cannot be written (a
  read-only run, a shipped model installed read-only; here a file in the way, which stops root
  too) the command warns instead of ending in a traceback after its outputs were written."""
  from pixel_recursive import evaluation  # pylint: disable=g-import-not-at-top
  import event_files  # pylint: disable=g-import-not-at-top
  image = np.zeros([4, 6, 3], np.uint8)
  evaluation.write_tensorboard(str(tmp_path / 'evaluate'), {'psnr': 21.5}, {'plot': image}, 7)
  assert event_files.scalars(str(tmp_path / 'evaluate'), 'psnr') == [(7, 21.5)]
  assert [(s, t) for s, t, k, _ in event_files.read(str(tmp_path / 'evaluate'))
          if k == 'images'] == [(7, 'plot')]
  (tmp_path / 'file').write_text('')
  blocked = str(tmp_path / 'file' / 'evaluate')
  caplog.clear()  # Reading the events above warns of a deprecation.
  with caplog.at_level('WARNING'):
    evaluation.write_tensorboard(blocked, {'psnr': 21.5}, {'plot': image}, 7)
  (warning,) = [r.getMessage() for r in caplog.records if r.levelname == 'WARNING']
  # TensorFlow's reason, without its op names: '<tmp>/file is not a directory'.
  assert re.fullmatch(rf'wrote no TensorBoard summaries: cannot write to {re.escape(blocked)} '
                      r'\([^\n{}\[\]]*not a directory\)', warning, re.I), warning


def test_a_shipped_models_tensorboard_run_goes_beside_the_metrics_not_into_the_package(tmp_path):
  from pixel_recursive import evaluation  # pylint: disable=g-import-not-at-top
  from pixel_recursive import workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  output = str(tmp_path / 'out' / 'metrics.json')
  for shipped in (*workdir_lib.SR_DEMO_WORKDIRS.values(), workdir_lib.PIXCOLOR_DEMO_WORKDIR):
    relative = os.path.relpath(shipped)  # As README's commands name it, from the checkout.
    for workdir in (shipped, relative, shipped + '/'):
      assert evaluation.tensorboard_dir(workdir, output) == str(tmp_path / 'out' / 'evaluate')
  assert evaluation.tensorboard_dir(str(tmp_path / 'run'), output) == str(
      tmp_path / 'run' / 'evaluate')


@pytest.mark.parametrize('num_examples,size,totals', [
    (0, 5, [5] * 3),     # All of a split whose size is known: counted to its size.
    (3, None, [3] * 2),  # A source that does not say its size (`tfrecord:`): to the ask.
    (3, 5, [3] * 2),
    (10, 5, [5] * 3),    # More asked for than there are: counted to what there is (and a warning).
    (0, None, []),       # Neither known: no progress lines, nothing fails.
])
def test_evaluation_batches_count_progress_to_what_the_split_can_give(monkeypatch, num_examples,
                                                                      size, totals):
  """`evaluation.batches` pads the last batch to the batch size and logs 'evaluated k/N' against N,
  the examples it will give: the total was 0 (no progress line at all) for a whole split of known
  size, and min(3, None) failed for a source that does not know its size, and no test said so."""
  import ml_collections  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from data import pipeline  # pylint: disable=g-import-not-at-top
  from pixel_recursive import commands  # pylint: disable=g-import-not-at-top
  from pixel_recursive import evaluation  # pylint: disable=g-import-not-at-top

  def fake(data_config, task, split, batch_size, *, training, num_examples=None, **unused):
    assert (split, batch_size, training) == ('eval', 1, False)
    images = np.arange(5, dtype=np.uint8).reshape(5, 1, 1, 1)
    return (tf.data.Dataset.from_tensor_slices({'image': images}).take(num_examples or 5)
            .batch(1), size)
  logged = []
  monkeypatch.setattr(pipeline, 'make_dataset_and_size', fake)
  monkeypatch.setattr(commands, 'log_progress',
                      lambda done, total, what, every=None: logged.append(total) if total else None)
  config = ml_collections.ConfigDict(dict(data=dict(source='fake')))
  got = list(evaluation.batches(config, 'super_resolution', num_examples, 2))
  n = min(num_examples or 5, 5)
  assert [k for _, k in got] == [2] * (n // 2) + [1] * (n % 2)
  assert all(len(batch['image']) == 2 for batch, _ in got)  # The last one padded.
  assert logged == totals
