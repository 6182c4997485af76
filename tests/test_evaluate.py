"""`pixel_recursive.evaluate`'s own pieces on values whose answers are known: E[A] is the expected
value of softmax(A), every method is scored against the truth (pSNR, SSIM, HF ratio) and against the
input (consistency), and the table holds means (pSNR capped at 100 dB) and the HF ratio's median.
Both evaluate commands seed each sample by its photo's place in the eval set and score only real
photos, never the padding of the last batch. The whole commands run end to end in
tests/test_train.py and tests/test_pixcolor_e2e.py."""
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
  a[1, 1, 3, 0, :] = 0.0  # Uniform over 0..255: 127.5, rounded to even: 128.
  got = evaluate.conditioning_mean(FakeModel(a), np.zeros([2, 1, 1, 3], np.uint8))
  assert got.dtype == np.uint8 and got.shape == (2, 3, 5, 3)
  want = np.zeros([2, 3, 5, 3], np.uint8)
  want[0, 0, 0, 0], want[0, 0, 0, 1], want[1, 2, 4, 2], want[1, 1, 3, 0] = 200, 15, 25, 128
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


def test_samples_are_seeded_by_their_place_in_the_eval_set_across_batches():
  """Example i of the eval set is sampled with derive_seed(seed, i), whichever batch holds it (a
  batch seeded from 0 again would give every batch the same noise); the real eval batches of the
  tests' faces, 3 in batches of 2, so the last one is padded."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from pixel_recursive import sampling  # pylint: disable=g-import-not-at-top
  import test_train  # pylint: disable=g-import-not-at-top

  class SamplingModel(FakeModel):
    def __init__(self):
      super().__init__(None)
      self.seeds = []

    def conditioning_function(self):
      return lambda lowres: tf.zeros([len(lowres), 32, 32, 3, 256])

    def sample(self, lowres, seed, **unused):
      self.seeds.append(np.asarray(seed).tolist())
      return tf.zeros([len(lowres), 32, 32, 3], tf.uint8)

    def __call__(self, batch):
      nats = tf.constant(np.arange(len(batch['lowres']), dtype=np.float32))
      return None, {'nats': nats, 'nats_conditioning': nats, 'nats_prior': nats}

  model = SamplingModel()
  results = evaluate.evaluate(model, test_train.tiny_config(), 3, [(1.0, 1.0)], seed=5,
                              batch_size=2)
  assert results['num_examples'] == 3
  assert model.seeds == [[sampling.derive_seed(5, 0), sampling.derive_seed(5, 1)],
                         [sampling.derive_seed(5, 2), sampling.derive_seed(5, 3)]]  # 3: padding.


def test_pixcolor_scores_two_differently_seeded_colourings_and_only_real_photos():
  """`pixcolor.evaluate`: colouring k of photo i is seeded derive_seed(seed, i, k), so the two
  colourings whose MS-SSIM measures diversity are two draws, not one twice; the padding that fills
  the last batch (3 photos of the tests' crops in batches of 2) is never scored."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from pixcolor import color  # pylint: disable=g-import-not-at-top
  from pixcolor import evaluate as pixcolor_evaluate  # pylint: disable=g-import-not-at-top
  from pixel_recursive import evaluation  # pylint: disable=g-import-not-at-top
  from pixel_recursive import metrics  # pylint: disable=g-import-not-at-top
  from pixel_recursive import sampling  # pylint: disable=g-import-not-at-top
  import test_pixcolor_e2e  # pylint: disable=g-import-not-at-top

  class ColouringModel:
    num_bins = 32

    def __init__(self):
      self.seeds = []

    def sample_chroma(self, gray, seeds, temperature, **unused):
      self.seeds.append(list(seeds))
      return tf.fill([len(gray), 4, 4, 2], 16)

    def refine(self, gray, bins, seeds=None):
      return tf.fill([len(gray), 8, 8, 2], 150.0)

    def combine(self, gray, chroma):
      return color.combine(gray, chroma)

    def __call__(self, batch, training=False):
      zeros = tf.zeros([len(batch['gray'])])
      return None, {'nats': zeros, 'refinement_mse': zeros}

  config = test_pixcolor_e2e.tiny_config()
  model = ColouringModel()
  results, _ = pixcolor_evaluate.evaluate(model, config, 3, (1.0,), seed=9, batch_size=2)
  assert results['num_examples'] == 3
  assert model.seeds[:2] == [[sampling.derive_seed(9, b, k) for b in (0, 1)] for k in (0, 1)]
  assert model.seeds[2:] == [[sampling.derive_seed(9, b, k) for b in (2, 3)] for k in (0, 1)]
  real = [(b['gray'][:n], b['image'][:n]) for b, n in evaluation.batches(config, 'colorization', 3, 2)]
  gray, photos = (np.concatenate(x) for x in zip(*real))
  gray_psnr = metrics.psnr(np.repeat(gray, 3, -1), photos).numpy()
  assert np.ptp(gray_psnr) > 0.1  # The padding, a copy of the last photo, would move the mean.
  assert results['psnr']['gray_input'] == pytest.approx(gray_psnr.mean(), rel=1e-6)
