"""The image metrics both evaluations report, against values worked out by hand."""
import numpy as np
import pytest
import tensorflow as tf

from data import transforms
import helpers
from pixel_recursive import metrics

# Asymmetric so that a swapped H and W cannot pass.
H, W = 12, 20


def random_images(n=3, h=H, w=W, seed=0):
  return np.random.default_rng(seed).integers(0, 256, [n, h, w, 3]).astype(np.uint8)


def test_psnr_of_a_constant_error_and_of_identical_images():
  images = np.full([2, H, W, 3], 100, np.uint8)
  shifted = images + np.array([5, 10], np.uint8)[:, None, None, None]
  np.testing.assert_allclose(metrics.psnr(shifted, images).numpy(),
                             10 * np.log10(255.0 ** 2 / np.array([25.0, 100.0])), rtol=1e-5)
  assert np.all(np.isinf(metrics.psnr(images, images).numpy()))
  assert metrics.finite_mean([np.inf, 20.0]) == 60.0  # +inf capped at 100 dB.


def test_ssim_and_ms_ssim_are_one_for_identical_images_and_lower_otherwise():
  a, b = random_images(seed=0), random_images(seed=1)
  np.testing.assert_allclose(metrics.ssim(a, a).numpy(), 1.0, atol=1e-6)
  assert np.all(metrics.ssim(a, b).numpy() < 0.2)
  faces = random_images(2, 32, 32)
  np.testing.assert_allclose(metrics.ms_ssim(faces, faces).numpy(), 1.0, atol=1e-5)
  assert np.all(metrics.ms_ssim(faces, random_images(2, 32, 32, seed=5)).numpy() < 0.5)


def noisy(images, amount, seed=7):
  noise = np.random.default_rng(seed).integers(-amount, amount + 1, images.shape)
  return np.clip(images.astype(int) + noise, 0, 255).astype(np.uint8)


def test_ms_ssim_renormalises_the_weights_of_the_scales_it_uses():
  # Where one scale fits (16 < 2 x 11), MS-SSIM is that scale's SSIM to the power 1, not 0.0448.
  small = random_images(2, 16, 16)
  other = noisy(small, 30)
  np.testing.assert_allclose(metrics.ms_ssim(small, other, filter_size=11).numpy(),
                             metrics.ssim(small, other, filter_size=11).numpy(), rtol=1e-5)
  # 32 x 32 faces are compared with the 7-pixel filter the module's docstring states.
  faces = random_images(2, 32, 32)
  other = noisy(faces, 40)
  default = metrics.ms_ssim(faces, other).numpy()
  np.testing.assert_array_equal(default, metrics.ms_ssim(faces, other, filter_size=7).numpy())
  assert not np.allclose(metrics.ms_ssim(faces, other, filter_size=5).numpy(), default, rtol=1e-4)


def test_ms_ssim_uses_the_scales_that_fit():
  assert metrics.ms_ssim_scales(32, 32, 7) == 3  # 32, 16, 8 (4 < 7).
  assert metrics.ms_ssim_scales(176, 176, 11) == 5
  assert metrics.ms_ssim_scales(28, 28, 7) == 3
  assert metrics.ms_ssim_scales(10, 10, 11) == 1


def test_consistency_in_db_and_in_the_papers_mse_convention():
  highres = random_images(2, 32, 32)
  lowres = transforms.to_uint8(transforms.resize(highres, 8, 'area')).numpy()
  # The truth explains its own input exactly.
  assert np.all(np.isinf(metrics.consistency(highres, lowres).numpy()))
  np.testing.assert_array_equal(metrics.consistency_mse(highres, lowres).numpy(), 0.0)
  # An output 10 levels brighter everywhere: its 8x8 is 10 levels off, MSE (10/255)^2 on [0, 1].
  brighter = np.clip(highres.astype(int) + 10, 0, 255).astype(np.uint8)
  mse = metrics.consistency_mse(brighter, lowres).numpy()
  db = metrics.consistency(brighter, lowres).numpy()
  np.testing.assert_allclose(10 * np.log10(1 / mse), db, rtol=1e-4)
  assert np.all(mse <= (10 / 255) ** 2 + 1e-9) and np.all(mse > 0.5 * (10 / 255) ** 2)


def test_laplacian_energy_of_flat_and_checkerboard_images():
  flat = np.full([1, H, W, 3], 77, np.uint8)
  assert float(metrics.laplacian_energy(flat)[0]) == 0.0
  # Checkerboard 100 +- 20: every interior Laplacian is +-8 * 20, so the energy is 64 * 400.
  board = (100 + 20 * (-1) ** np.add.outer(np.arange(H), np.arange(W))).astype(np.uint8)
  board = np.repeat(board[None, :, :, None], 3, axis=-1)
  assert float(metrics.laplacian_energy(board)[0]) == pytest.approx(64 * 400)
  # Only interior pixels count: a corner pixel is no interior pixel's 4-neighbour.
  edged = flat.copy()
  edged[0, 0, 0] = 255
  np.testing.assert_allclose(metrics.laplacian_energy(edged).numpy(),
                             metrics.laplacian_energy(flat).numpy())


def test_hf_energy_ratio_is_one_for_the_truth_and_low_for_blur():
  truth = random_images(4, 32, 32)
  np.testing.assert_allclose(metrics.hf_energy_ratio(truth, truth).numpy(), 1.0, rtol=1e-6)
  blurred = transforms.to_uint8(
      transforms.resize(transforms.resize(truth, 8, 'area'), 32, 'bicubic')).numpy()
  assert np.all(metrics.hf_energy_ratio(blurred, truth).numpy() < 0.2)
  noisier = noisy(truth, 60, seed=3)
  assert np.all(metrics.hf_energy_ratio(noisier, truth).numpy() > 1.0)
  # Per image: the ratio of each image to its own reference.
  ratios = metrics.hf_energy_ratio(np.concatenate([truth[:1], blurred[1:2]]), truth[:2]).numpy()
  assert ratios[0] == pytest.approx(1.0) and ratios[1] < 0.2
  # A nearly flat reference (a smooth wall: one interior pixel 1 level off) is still matched by
  # itself: the guard against a zero energy is far below any real image's.
  wall = np.full([1, H, W, 3], 120, np.uint8)
  wall[0, 5, 7, 1] = 121
  assert float(metrics.hf_energy_ratio(wall, wall)[0]) == pytest.approx(1.0)


def test_metrics_work_in_a_tf_function():
  a, b = random_images(seed=0), random_images(seed=1)
  traced = tf.function(lambda x, y: metrics.hf_energy_ratio(x, y))
  np.testing.assert_allclose(traced(a, b).numpy(), metrics.hf_energy_ratio(a, b).numpy(), rtol=1e-6)


def test_lab_histograms_and_their_intersection():
  gray = np.repeat(random_images(2, 8, 10)[..., :1], 3, axis=-1)
  hist = metrics.ab_histograms(gray, 256)
  assert hist.shape == (2, 256) and hist.sum(axis=1).tolist() == [160, 160]
  assert hist[0, 127:129].sum() == 160 and hist[1, 127:129].sum() == 160  # a = b = 0: neutral.
  red = np.zeros([1, 4, 4, 3], np.uint8)
  red[..., 0] = 255
  a_red, b_red = metrics.lab_ab(red)[0, 0, 0]
  assert a_red > 70 and b_red > 60  # Red is high a and high b in Lab.
  assert metrics.intersection(hist[0], hist[0]) == pytest.approx(1.0)
  assert metrics.intersection(hist[0], metrics.ab_histograms(red)[0]) == 0.0
  assert metrics.intersection([1, 1, 0, 0], [0, 1, 1, 0]) == pytest.approx(0.5)
  # Each histogram is normalised by its own count: 4 pixels against 2 compare as distributions.
  assert metrics.intersection([2, 2, 0, 0], [0, 1, 1, 0]) == pytest.approx(0.5)
  assert metrics.intersection([3, 1], [1, 3]) == pytest.approx(0.5)
  assert metrics.intersection([30, 10], [1, 3]) == pytest.approx(0.5)
  # Row 0 counts a, row 1 counts b: pure blue is a = +79.2, b = -107.9 (256 bins of width 1).
  blue = np.roll(red, 2, axis=-1)
  np.testing.assert_allclose(metrics.lab_ab(blue)[0, 0, 0], [79.19, -107.86], atol=0.01)
  hist_blue = metrics.ab_histograms(blue)
  assert hist_blue[0, 128 + 79] == 16 and hist_blue[1, 128 - 108] == 16


def test_colourfulness_is_zero_for_gray_and_follows_hasler_and_suesstrunk():
  gray = np.full((2, 8, 10, 3), 90, np.uint8)
  np.testing.assert_allclose(metrics.colourfulness(gray), [0.0, 0.0])
  red = np.zeros((1, 8, 10, 3), np.uint8)
  red[..., 0] = 200  # rg = 200, yb = 100 everywhere: no spread, M = 0.3 * sqrt(200^2 + 100^2).
  np.testing.assert_allclose(metrics.colourfulness(red), [0.3 * np.hypot(200, 100)])
  # Green and blue play different parts: green: rg = -200, yb = 100; blue: rg = 0, yb = -200.
  green, blue = np.roll(red, 1, axis=-1), np.roll(red, 2, axis=-1)
  np.testing.assert_allclose(metrics.colourfulness(green), [0.3 * np.hypot(200, 100)])
  np.testing.assert_allclose(metrics.colourfulness(blue), [0.3 * 200])
  half = red.copy()
  half[:, :, :5] = 0  # rg and yb each 0 or their value, half and half: sd = value / 2.
  np.testing.assert_allclose(metrics.colourfulness(half),
                             [np.hypot(100, 50) + 0.3 * np.hypot(100, 50)])
  # Washing a photo out towards its gray lowers it in proportion.
  photo = np.random.default_rng(0).integers(0, 256, (1, 16, 16, 3)).astype(np.float64)
  luma = helpers.bt601_luma(photo)
  washed = (luma[..., None] + 0.3 * (photo - luma[..., None])).round().astype(np.uint8)
  ratio = metrics.colourfulness(washed) / metrics.colourfulness(photo.astype(np.uint8))
  assert 0.25 < ratio[0] < 0.35


@pytest.mark.parametrize('metric', [
    lambda x: metrics.psnr(x, x), lambda x: metrics.ms_ssim(x, x),
    lambda x: metrics.hf_energy_ratio(x, x), metrics.ab_histograms, metrics.colourfulness])
def test_float_images_off_the_0_to_255_scale_are_refused_in_words(metric):
  images = random_images(2, 32, 32)
  metric(images)
  metric(images.astype(np.float32))  # Floats of the 0..255 range are fine...
  metric(np.zeros_like(images, np.float32))  # ...and so is black.
  with pytest.raises(ValueError, match=r'0\.\.255.*multiply them by 255'):
    metric(images.astype(np.float32) / 255.0)
  with pytest.raises(ValueError, match=r'0\.\.255.*floats in \[-1'):
    metric(images.astype(np.float32) / 127.5 - 1.0)
