"""SuperResolution: shapes, the two-term loss, sampling, checkpoints."""
import keras
import ml_collections
import numpy as np
import pytest
import tensorflow as tf

from data import transforms
from pixel_recursive import workdir as workdir_lib
from pixel_recursive import model as model_lib
from pixel_recursive import upsample


def tiny_config(name='super_resolution'):
  return ml_collections.ConfigDict(dict(
      name=name, num_values=256,
      conditioning=dict(filters=8, blocks=(1, 1, 1)),
      prior=dict(num_layers=2, filters=8, kernel_size=3, first_kernel_size=5, head_filters=16)))


def batch(n=2, seed=0):
  rng = np.random.default_rng(seed)
  highres = rng.integers(0, 256, [n, 32, 32, 3]).astype(np.uint8)
  lowres = tf.cast(tf.round(tf.image.resize(highres.astype(np.float32), [8, 8], 'area')),
                   tf.uint8).numpy()
  return {'lowres': lowres, 'highres': highres}


@pytest.fixture(scope='module')
def model():
  keras.utils.set_random_seed(0)
  return model_lib.build_model(tiny_config())


def test_shapes(model):
  logits, aux = model(batch())
  assert logits.shape == (2, 32, 32, 3, 256)
  assert aux['conditioning_logits'].shape == (2, 32, 32, 3, 256)
  assert aux['prior_logits'].shape == (2, 32, 32, 3, 256)
  for key in ('loss', 'nats', 'nats_conditioning', 'nats_prior'):
    assert aux[key].shape == (2,)


def log_softmax(x):
  x = x - x.max(-1, keepdims=True)
  return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_two_term_loss_matches_a_hand_computation(model):
  b = batch(seed=1)
  logits, aux = model(b)
  a = aux['conditioning_logits'].numpy().astype(np.float64)
  prior = aux['prior_logits'].numpy().astype(np.float64)
  np.testing.assert_allclose(logits.numpy(), a + prior, rtol=1e-6, atol=1e-6)
  y = b['highres'].astype(np.int64)[..., None]
  ce_ab = -np.take_along_axis(log_softmax(a + prior), y, -1).mean(axis=(1, 2, 3, 4))
  ce_a = -np.take_along_axis(log_softmax(a), y, -1).mean(axis=(1, 2, 3, 4))
  ce_b = -np.take_along_axis(log_softmax(prior), y, -1).mean(axis=(1, 2, 3, 4))
  np.testing.assert_allclose(aux['nats'].numpy(), ce_ab, rtol=1e-5)
  np.testing.assert_allclose(aux['nats_conditioning'].numpy(), ce_a, rtol=1e-5)
  np.testing.assert_allclose(aux['nats_prior'].numpy(), ce_b, rtol=1e-5)
  np.testing.assert_allclose(aux['loss'].numpy(), ce_ab + ce_a, rtol=1e-5)


def test_sample_is_uint8_and_cached_equals_naive(model):
  lowres = batch()['lowres']
  cached = model.sample(lowres, temperature=0.9, seed=4)
  assert cached.dtype == tf.uint8 and cached.shape == (2, 32, 32, 3)
  naive = model.sample(lowres, temperature=0.9, seed=4, method='naive')
  np.testing.assert_array_equal(cached.numpy(), naive.numpy())


@pytest.mark.parametrize('lowres, message', [
    (np.full([1, 8, 8, 3], 0.5, np.float32), 'must be uint8 .* got float32'),  # Not 0-255.
    (np.zeros([8, 8, 3], np.uint8), r'got shape \(8, 8, 3\)'),
    (np.zeros([1, 8, 8, 1], np.uint8), r'got shape \(1, 8, 8, 1\)'),
    (np.zeros([1, 0, 8, 3], np.uint8), r'at least one pixel, got shape \(1, 0, 8, 3\)'),
])
def test_sample_refuses_what_is_not_a_batch_of_uint8_rgb_images(model, lowres, message):
  with pytest.raises(ValueError, match=message):
    model.sample(lowres)
  l2 = model_lib.build_model(tiny_config('l2_regression'))  # Its images too, not a TypeError.
  with pytest.raises(ValueError, match=message):
    l2.predict_images(lowres)


def test_a_call_refuses_what_is_not_a_pair_of_uint8_batches_4x_apart(model):
  """Both models' calls (training, evaluation, a user's likelihoods): a lowres batch of one beside
  two highres images was broadcast to both, and other sizes failed in an addition."""
  lowres, highres = batch()['lowres'], batch()['highres']
  l2 = model_lib.build_model(tiny_config('l2_regression'))
  for pair, message in [
      ({'lowres': lowres[:1], 'highres': highres},
       r'got shapes \(1, 8, 8, 3\) and \(2, 32, 32, 3\)'),
      ({'lowres': lowres, 'highres': highres[:, :16]}, r'and \(2, 16, 32, 3\)'),
      ({'lowres': lowres[..., :1], 'highres': highres}, r'got shapes \(2, 8, 8, 1\)'),
      ({'lowres': lowres, 'highres': highres / 255}, 'highres must be uint8.*got float32'),
      ({'lowres': lowres}, r"got the keys \['lowres'\]"),
      ((lowres, highres), 'got a tuple')]:
    for network in (model, l2):
      with pytest.raises(ValueError, match=message):
        network(pair)
  small = {'lowres': lowres[:, :4, :4], 'highres': highres[:, :16, :16]}  # Any size, 4x apart.
  assert model(small)[0].shape == (2, 16, 16, 3, 256) and l2(small)[0].shape == (2, 16, 16, 3)


def test_an_empty_batch_gives_no_images(model):
  empty = np.zeros([0, 8, 8, 3], np.uint8)
  images = model.sample(empty, candidates=3)
  assert images.shape == (0, 32, 32, 3) and images.dtype == tf.uint8
  for bad, message in (({'temperature': 0}, 'temperature'), ({'candidates': 2}, 'candidates=2')):
    with pytest.raises(ValueError, match=message):  # The arguments are checked all the same.
      model.sample(empty, **bad)


def test_an_input_is_gray_only_when_all_three_channels_agree_everywhere():
  lowres = np.full([4, 8, 8, 3], 90, np.uint8)
  lowres[1, ..., 2] = 91  # R = G everywhere, B apart.
  lowres[2, ..., 0] = 91  # G = B everywhere, R apart.
  lowres[3, 5, 6] = [90, 90, 92]  # One pixel of colour.
  np.testing.assert_array_equal(model_lib.gray_examples(lowres).numpy(), [True, False, False, False])


def test_keep_gray_turns_a_gray_inputs_samples_to_their_luminance_and_no_others(model):
  lowres = batch()['lowres']
  lowres[0] = lowres[0, ..., :1]  # A black-and-white photo: R = G = B.
  np.testing.assert_array_equal(model_lib.gray_examples(lowres).numpy(), [True, False])
  kept = model.sample(lowres, temperature=0.9, seed=4, keep_gray=True).numpy()
  free = model.sample(lowres, temperature=0.9, seed=4).numpy()  # The paper's draw, by default.
  assert (free[0] != free[0, ..., :1]).mean() > 0.5  # As drawn, a gray face gets colours.
  np.testing.assert_array_equal(kept[0], transforms.to_gray(free[0]).numpy())
  np.testing.assert_array_equal(kept[1], free[1])
  # What upsample returns to a user: gray for the gray input, unless asked for the draw.
  for keep, gray in ((True, True), (False, False)):
    out = upsample.upsample_all(model, lowres, 1, 0.9, 4, 2, keep_gray=keep)[0, 0]
    assert (out == out[..., :1]).all() == gray


def test_candidates_keep_per_input_the_draw_nearest_to_the_mean_of_the_draws(model):
  from pixel_recursive import candidates
  lowres = batch(n=3, seed=3)['lowres']
  seeds = [4, 9, 2 ** 31 - 1]
  draws = np.stack([model.sample(lowres, 1.0, candidates.seeds_of(seeds, j), guidance=2).numpy()
                    for j in range(3)])
  values = draws.astype(np.float64)
  want = ((values - values.mean(0)) ** 2).sum(axis=(2, 3, 4)).argmin(0)
  assert len(set(want.tolist())) > 1  # These seeds make the test pick different candidates.
  got = model.sample(lowres, 1.0, seeds, guidance=2, candidates=3).numpy()
  np.testing.assert_array_equal(got, draws[want, np.arange(3)])
  # upsample passes them on (its seeds: derive_seed(seed, i, k)).
  out = upsample.upsample_all(model, lowres, 1, 1.0, 6, 3, guidance=2, candidates=3)[:, 0]
  own = [model_lib.sampling.derive_seed(6, i, 0) for i in range(3)]
  np.testing.assert_array_equal(out, model.sample(lowres, 1.0, own, guidance=2, candidates=3))


def test_low_temperature_varies_less():
  keras.utils.set_random_seed(2)
  model = model_lib.build_model(tiny_config())
  # Unimodal logits over intensities, as a trained model has (at init they are nearly uniform at
  # any temperature): a Gaussian bump of width 20 around 128 for every sub-pixel.
  values = np.arange(256)
  bump = -0.5 * ((values - 128) / 20.0) ** 2
  model.conditioning.out.bias.assign(np.tile(bump, 3).astype(np.float32))
  lowres = batch()['lowres']

  def spread(t):
    samples = np.stack([model.sample(lowres, temperature=t, seed=s).numpy() for s in range(3)])
    return samples.astype(np.float32).std(axis=0).mean()

  assert spread(0.3) < 0.8 * spread(1.0)


def test_residual_blocks_start_as_the_identity_and_unknown_models_are_refused():
  """The blocks' last convolution starts at zero, so a deep conditioning network starts as its
  stem, upsamplings and output (trainable without normalisation layers)."""
  keras.utils.set_random_seed(0)
  block = model_lib.ResidualBlock(6)
  x = tf.random.normal([2, 8, 8, 6])
  block.build(x.shape)
  np.testing.assert_array_equal(block(x).numpy(), x.numpy())
  assert np.abs(block.conv1.kernel.numpy()).max() > 0  # Only the last convolution is zero.
  with pytest.raises(ValueError, match='model.name must be one of'):
    model_lib.build_model(ml_collections.ConfigDict({**tiny_config().to_dict(), 'name': 'srgan'}))


def test_l2_baseline():
  l2 = model_lib.build_model(tiny_config('l2_regression'))
  prediction, aux = l2(batch())
  assert prediction.shape == (2, 32, 32, 3)
  images = l2.predict_images(batch()['lowres'])
  assert images.dtype == tf.uint8 and images.shape == (2, 32, 32, 3)
  target = batch()['highres'].astype(np.float32) / 127.5 - 1
  np.testing.assert_allclose(aux['mse'].numpy(),
                             ((prediction.numpy() - target) ** 2).mean(axis=(1, 2, 3)), rtol=1e-5)


def test_the_l2_baselines_images_are_its_predictions_rounded_onto_0_255():
  """predict_images: a prediction p in [-1, 1] is the value round((p + 1) * 127.5), clipped."""
  l2 = model_lib.build_model(tiny_config('l2_regression'))
  out = l2.conditioning.out
  out.kernel.assign(tf.zeros_like(out.kernel))  # Every pixel predicts the output layer's bias.
  for bias, want in (([-0.5, 0.3, 0.5], [64, 166, 191]), ([-1.2, 0.0, 1.2], [0, 128, 255])):
    out.bias.assign(bias)
    images = l2.predict_images(batch()['lowres']).numpy()
    np.testing.assert_array_equal(images, np.broadcast_to(want, images.shape))


def test_the_conditioning_network_is_its_layers_applied_as_the_paper_draws_them():
  """Dahl et al.'s Fig. 2, computed by hand from the network's own layers: the stem, pre-activation
  residual blocks (x + conv(relu(conv(relu(x))))), ReLU after each stride-2 transposed
  convolution, ReLU before the 1x1 output, one value per sub-pixel and intensity. The blocks' last
  convolutions start at zero (each block the identity), so random weights are put in first: with
  them at zero a block without its skip or its inner ReLU would compute the same."""
  keras.utils.set_random_seed(3)
  net = model_lib.ConditioningNetwork(filters=4, blocks=(1, 1, 1), out_channels=3, out_values=5)
  lowres = np.random.default_rng(0).integers(0, 256, [2, 8, 8, 3]).astype(np.uint8)
  net(lowres)
  for v in net.weights:
    v.assign(tf.random.normal(v.shape, stddev=0.4))
  x = net.stem(model_lib.layers.scale_values(lowres, 256))
  for stage in net.stages:
    block, *up = stage
    x = x + block.conv2(tf.nn.relu(block.conv1(tf.nn.relu(x))))
    if up:
      x = tf.nn.relu(up[0](x))
  want = tf.reshape(net.out(tf.nn.relu(x)), [2, 32, 32, 3, 5]).numpy()
  np.testing.assert_allclose(net(lowres).numpy(), want, atol=1e-4)


def test_checkpoint_holds_every_weight_and_restores_them(model, tmp_path):
  path = workdir_lib.make_checkpoint(model).save(str(tmp_path / 'ckpt'))
  saved = [k for k in tf.train.load_checkpoint(path).get_variable_to_shape_map()
           if k.startswith('weights/')]
  assert len(saved) == len(model.weights)
  keras.utils.set_random_seed(1)
  fresh = model_lib.build_model(tiny_config())
  b = batch()
  assert not np.allclose(fresh(b)[1]['nats'].numpy(), model(b)[1]['nats'].numpy())
  workdir_lib.restore_weights(path, fresh)
  np.testing.assert_allclose(fresh(b)[1]['nats'].numpy(), model(b)[1]['nats'].numpy(), rtol=1e-6)


def test_restoring_into_a_different_architecture_fails(model, tmp_path):
  path = workdir_lib.make_checkpoint(model).save(str(tmp_path / 'ckpt'))
  bigger = tiny_config()
  bigger.prior.num_layers = 3
  with pytest.raises(AssertionError):
    workdir_lib.restore_weights(path, model_lib.build_model(bigger))
