"""`pixel_recursive.evaluate`'s own pieces on values whose answers are known: E[A] is the expected
value of softmax(A), every method is scored against the truth (pSNR, SSIM, HF ratio) and against the
input (consistency), and the table holds means (pSNR capped at 100 dB) and the HF ratio's median.
The whole command runs end to end in tests/test_train.py."""
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
