"""The cached sampler equals the naive one, batches equal single samples, and draws follow softmax."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers
from pixel_recursive import layers
from pixel_recursive import sampling

B, H, W = 2, 5, 7
CASES = {
    # Super-resolution: RGB over 256 values, plus per-sub-pixel logits A added to the prior's.
    'rgb_256_with_logits': dict(num_channels=3, num_values=256, conditional=False),
    # PixColor: chroma over 32 bins, the PixelCNN conditioned on a feature map.
    'chroma_32_conditional': dict(num_channels=2, num_values=32, conditional=True),
    # PixColor's layout: a plain masked 5x5 convolution, then the gated layers.
    'chroma_32_masked_conv_first': dict(num_channels=2, num_values=32, conditional=True,
                                        first_layer='masked_conv'),
    'rgb_256_masked_conv_first': dict(num_channels=3, num_values=256, conditional=False,
                                      first_layer='masked_conv'),
}


def make(num_channels, num_values, conditional, first_layer='gated', seed=0):
  keras.utils.set_random_seed(seed)
  net = layers.PixelCNN(num_channels, num_values, num_layers=3, filters=8, kernel_size=3,
                        first_kernel_size=5, head_filters=16, conditional=conditional,
                        first_layer=first_layer)
  cond = tf.random.normal([B, H, W, 4], seed=seed) if conditional else None
  extra = None if conditional else 2.0 * tf.random.normal([B, H, W, num_channels, num_values],
                                                          seed=seed)
  net(tf.zeros([B, H, W, num_channels]), cond)
  helpers.randomize_biases(net, seed)
  return net, cond, extra


@pytest.mark.parametrize('case', sorted(CASES))
def test_cached_equals_naive_under_xla(case):
  net, cond, extra = make(**CASES[case])
  sampler = sampling.Sampler(net, jit_compile=True)
  for temperature, seed, guidance, top_p in ((1.0, 3, 1.0, 1.0), (0.7, 11, 2.5, 1.0),
                                             (1.0, 5, 0.0, 1.0), (1.2, 8, 1.0, 0.6)):
    naive = sampler.sample((B, H, W), cond, extra, temperature, seed, 'naive',
                           guidance=guidance, top_p=top_p).numpy()
    cached = sampler.sample((B, H, W), cond, extra, temperature, seed, 'cached',
                            guidance=guidance, top_p=top_p).numpy()
    np.testing.assert_array_equal(cached, naive)
    assert 0 <= naive.min() and naive.max() < CASES[case]['num_values']
  # Different seeds give different images (the equality above is not between constants).
  other = sampler.sample((B, H, W), cond, extra, 1.0, 4, 'cached').numpy()
  assert (other != cached).mean() > 0.5
  # Guidance weighs A alone: without A (PixColor) it changes nothing; with A it changes the draws.
  weighed = sampler.sample((B, H, W), cond, extra, 1.0, 4, 'cached', guidance=3.0).numpy()
  assert np.array_equal(weighed, other) == (extra is None)


@pytest.mark.parametrize('method', sampling.METHODS)
@pytest.mark.parametrize('case', sorted(CASES))
def test_drawn_logits_equal_full_forward_b_plus_guided_a(case, method, monkeypatch):
  """Teacher-force a random image through the sampler and compare the logits of every sub-pixel it
  draws with the full forward pass's B + w * A (`draw` then divides by T: tested below). Pins the
  guidance formula itself, which cached == naive cannot: both share it."""
  spec = CASES[case]
  net, cond, extra = make(**spec)
  guidance = 2.5
  channels, values = spec['num_channels'], spec['num_values']
  image = np.random.default_rng(0).integers(0, values, [B, H, W, channels])
  seen = {}

  def forced_draw(logits, temperature, keys, position, top_p):
    del temperature, keys, top_p
    p = int(position)
    seen[p] = logits.numpy()
    i, j, c = p // (W * channels), (p // channels) % W, p % channels
    return tf.constant(image[:, i, j, c], tf.int32)

  monkeypatch.setattr(sampling, 'draw', forced_draw)
  tf.config.run_functions_eagerly(True)
  try:
    out = sampling.Sampler(net, jit_compile=False).sample((B, H, W), cond, extra, method=method,
                                                          guidance=guidance)
  finally:
    tf.config.run_functions_eagerly(False)
  np.testing.assert_array_equal(out.numpy(), image)
  full = net(layers.scale_values(image, values), cond).numpy()
  if extra is not None:
    full = full + guidance * extra.numpy()
  assert len(seen) == H * W * channels
  for p, logits in seen.items():
    i, j, c = p // (W * channels), (p // channels) % W, p % channels
    np.testing.assert_allclose(logits, full[:, i, j, c], atol=1e-4, err_msg=f'sub-pixel {p}')


@pytest.mark.parametrize('method', sampling.METHODS)
def test_batch_equals_single_samples_with_per_example_seeds(method):
  net, cond, extra = make(**CASES['rgb_256_with_logits'])
  sampler = sampling.Sampler(net)
  both = sampler.sample((B, H, W), None, extra, 1.0, [5, 9], method).numpy()
  for b, seed in enumerate([5, 9]):
    single = sampler.sample((1, H, W), None, extra[b:b + 1], 1.0, [seed], method).numpy()
    np.testing.assert_array_equal(both[b], single[0])
  # An int seed s gives example b the key (s, b): the first image equals the single one with s.
  first = sampler.sample((B, H, W), None, extra, 1.0, 5, method).numpy()[0]
  np.testing.assert_array_equal(first, sampler.sample((1, H, W), None, extra[:1], 1.0, 5,
                                                      method).numpy()[0])


def test_seeds_are_whole_int32_numbers_one_or_one_per_example():
  np.testing.assert_array_equal(sampling.example_keys(7, 2), [[7, 0], [7, 1]])
  np.testing.assert_array_equal(sampling.example_keys(np.int64(-3), 1), [[-3, 0]])
  np.testing.assert_array_equal(sampling.example_keys([5.0, 2 ** 31 - 1], 2),
                                [[5, 0], [2 ** 31 - 1, 0]])
  for seed, message in [([1, 2, 3], r'one entry per example \(2\), got shape \(3,\)'),
                        (1.5, 'whole numbers.*got 1.5'),  # Was truncated to 1.
                        ([4, 2 ** 32 + 4], 'got \\[4, 4294967300\\]'),  # Was 4 twice.
                        ('7', "got '7'")]:
    with pytest.raises(ValueError, match=message):
      sampling.example_keys(seed, 2)


@pytest.mark.parametrize('case', sorted(CASES))
def test_temperature_towards_zero_follows_the_argmax_path(case):
  """At T -> 0 every drawn sub-pixel is the argmax of its logits given the image drawn so far."""
  net, cond, extra = make(**CASES[case])
  sampler = sampling.Sampler(net)  # Compiled once: the temperature is an argument.
  sample = sampler.sample((B, H, W), cond, extra, 1e-6, 0, 'cached').numpy()
  logits = net(layers.scale_values(sample, net.num_values), cond).numpy()
  if extra is not None:
    logits = logits + extra.numpy()
  chosen = np.take_along_axis(logits, sample[..., None], axis=-1)[..., 0]
  # Up to the float rounding by which cached and full-forward logits may differ.
  np.testing.assert_array_less(logits.max(-1) - chosen, 1e-4)
  # Not vacuous: at T = 1 many sub-pixels are not the argmax.
  warm = sampler.sample((B, H, W), cond, extra, 1.0, 0, 'cached').numpy()
  warm_logits = net(layers.scale_values(warm, net.num_values), cond).numpy()
  if extra is not None:
    warm_logits = warm_logits + extra.numpy()
  assert (warm != warm_logits.argmax(-1)).mean() > 0.2


A = np.array([0.0, 1.0, 2.0, -1.0], np.float32)  # The logits of the zero-prior sampler's draws.


def zero_prior_draws(batch=64):
  """A function (temperature, top_p) -> the value frequencies of batch x H x W x 3 draws from a
  PixelCNN with zero weights plus the logits A at every sub-pixel: independent draws from
  softmax(A / T), restricted to the top-p nucleus; and the draws themselves."""
  keras.utils.set_random_seed(0)
  values = len(A)
  net = layers.PixelCNN(3, values, num_layers=1, filters=4, head_filters=4)
  net(tf.zeros([1, H, W, 3]))
  for v in net.trainable_variables:
    v.assign(tf.zeros_like(v))
  extra = tf.broadcast_to(A, [batch, H, W, 3, values])
  sampler = sampling.Sampler(net)

  def draws(temperature, top_p=1.0):
    out = sampler.sample((batch, H, W), None, extra, temperature, 1, 'cached', top_p=top_p)
    out = out.numpy().reshape(-1)
    return np.bincount(out, minlength=values) / out.size, out

  return draws


def assert_frequencies(freq, expected, n):
  sigma = np.sqrt(expected * (1 - expected) / n)
  np.testing.assert_array_less(np.abs(freq - expected), 4 * sigma + 1e-9)


def test_draws_follow_softmax_at_the_temperature():
  """With a zero prior, every sub-pixel is an independent draw from softmax(A / T)."""
  draws = zero_prior_draws()
  for temperature in (1.0, 0.5):
    freq, out = draws(temperature)
    expected = np.exp(A / temperature) / np.exp(A / temperature).sum()
    assert_frequencies(freq, expected, out.size)


def test_top_p_draws_from_the_nucleus_renormalised():
  """softmax([0, 1, 2, -1]) = [.087, .237, .644, .032]: its top-0.8 nucleus is {2, 1} (mass .881),
  drawn with probabilities [.269, .731]; values 0 and 3 never. p = 1 changes no draw."""
  draws = zero_prior_draws()
  freq, out = draws(1.0, 0.8)
  expected = np.array([0.0, np.exp(1.0), np.exp(2.0), 0.0]) / (np.exp(1.0) + np.exp(2.0))
  assert_frequencies(freq, expected, out.size)
  assert freq[0] == 0 and freq[3] == 0
  whole_freq, whole = draws(1.0)
  np.testing.assert_array_equal(draws(1.0, 1.0)[1], whole)
  assert whole_freq[0] > 0 and whole_freq[3] > 0
  # The nucleus is taken after the temperature: at T = 2, softmax is [.17, .28, .46, .10], and
  # reaching 0.8 needs three values.
  hot, _ = draws(2.0, 0.8)
  assert hot[0] > 0 and hot[3] == 0


def test_nucleus_keeps_the_smallest_set_reaching_p_and_ties():
  logits = tf.math.log(tf.constant([[0.5, 0.3, 0.15, 0.05], [0.25, 0.25, 0.25, 0.25]]))
  kept = lambda p: np.isfinite(sampling.nucleus(logits, tf.constant(p)).numpy())
  np.testing.assert_array_equal(kept(0.5), [[1, 0, 0, 0], [1, 1, 1, 1]])
  np.testing.assert_array_equal(kept(0.79), [[1, 1, 0, 0], [1, 1, 1, 1]])
  np.testing.assert_array_equal(kept(0.9), [[1, 1, 1, 0], [1, 1, 1, 1]])
  np.testing.assert_array_equal(kept(1.0), [[1, 1, 1, 1], [1, 1, 1, 1]])
  # Probabilities exact in binary, so the running sums hit p exactly: a set that reaches p is
  # complete (the next value is not let in by an equality).
  exact = tf.math.log(tf.constant([[0.125, 0.5, 0.125, 0.25]]))
  for p, expected in ((0.5, [0, 1, 0, 0]), (0.75, [0, 1, 0, 1]), (0.875, [1, 1, 1, 1])):
    np.testing.assert_array_equal(np.isfinite(sampling.nucleus(exact, tf.constant(p)).numpy()),
                                  [expected])


def test_uniform_noise_is_uniform_and_per_example():
  keys = tf.constant(sampling.example_keys(7, 1000))
  u = sampling.uniform_noise(keys, 3, 64).numpy()
  assert 0 < u.min() and u.max() < 1
  hist = np.histogram(u, bins=10, range=(0, 1))[0] / u.size
  np.testing.assert_allclose(hist, 0.1, atol=0.005)
  # Eager, graph and XLA compute the same integers, hence the same numbers.
  xla = tf.function(sampling.uniform_noise, jit_compile=True)(keys, tf.constant(3), 64).numpy()
  np.testing.assert_array_equal(u, xla)
  # Neighbouring examples and positions are uncorrelated.
  other = sampling.uniform_noise(keys, 4, 64).numpy()
  assert abs(np.corrcoef(u.reshape(-1), other.reshape(-1))[0, 1]) < 0.02
  assert abs(np.corrcoef(u[:-1].reshape(-1), u[1:].reshape(-1))[0, 1]) < 0.02
  # The extreme hashes stay inside (0, 1), half a step from either end, so every Gumbel number
  # is finite (a hash of 0 mapped to exactly 0 would draw -inf once in 2^24 numbers).
  # (float32 cannot hold (2^24 - 1/2) / 2^24: the top hash is the largest float32 below 1.)
  ends = sampling.unit_interval(tf.constant([0, 255, 256, 2 ** 32 - 1], tf.uint32)).numpy()
  np.testing.assert_array_equal(ends, [0.5 / 2 ** 24, 0.5 / 2 ** 24, 1.5 / 2 ** 24,
                                       np.nextafter(np.float32(1), np.float32(0))])
  assert np.isfinite(-np.log(-np.log(ends))).all()


def test_a_value_of_negligible_probability_is_not_drawn_where_the_hash_is_at_its_top():
  """Example 414 of seed 0 hashes value 255 at position 17 to the top 24-bit number: its Gumbel
  number must stay finite (it once was +inf, which drew value 255 whatever its logit)."""
  keys = tf.constant(sampling.example_keys(0, 1000))
  u = sampling.uniform_noise(keys, 17, 256).numpy()
  assert u[414, 255] == u.max() > 1 - 2 ** -23  # The case this test is about.
  logits = tf.constant(np.where(np.arange(256) == 255, -1e3, 0.0), tf.float32)[None]
  drawn = sampling.draw(tf.tile(logits, [1000, 1]), 1.0, keys, 17, tf.constant(1.0)).numpy()
  assert not (drawn == 255).any()
  # Outside the nucleus too: a value set to -inf is never drawn (-inf + inf would be nan).
  top = sampling.draw(tf.tile(logits, [1000, 1]), 1.0, keys, 17, tf.constant(0.5)).numpy()
  assert not (top == 255).any()


def test_no_retracing_between_calls_of_the_same_shape():
  net, cond, extra = make(**CASES['chroma_32_conditional'])
  sampler = sampling.Sampler(net)
  for seed, temperature, top_p in ((0, 1.0, 1.0), (1, 0.8, 0.9), ([3, 4], 0.5, 0.5)):
    sampler.sample((B, H, W), cond, extra, temperature, seed, 'cached', top_p=top_p)
  assert sampler.tracing_count('cached') == 1


def test_rejects_bad_arguments():
  net, cond, extra = make(**CASES['chroma_32_conditional'])
  sampler = sampling.Sampler(net)
  for bad in (0.0, -1.0, float('nan')):
    with pytest.raises(ValueError, match='temperature'):
      sampler.sample((B, H, W), cond, extra, bad)
  for bad in (0.0, 1.5, float('nan')):
    with pytest.raises(ValueError, match='top_p'):
      sampler.sample((B, H, W), cond, extra, top_p=bad)
  with pytest.raises(ValueError, match='conditional'):
    sampler.sample((B, H, W), None, None)
  with pytest.raises(ValueError, match='seed'):
    sampler.sample((B, H, W), cond, None, 1.0, [1, 2, 3])
  with pytest.raises(ValueError, match='method'):
    sampler.sample((B, H, W), cond, None, method='mean')
  for bad in (-1.0, float('inf'), float('nan')):
    with pytest.raises(ValueError, match='guidance'):
      sampler.sample((B, H, W), cond, None, guidance=bad)
  with pytest.raises(ValueError, match='num_steps'):
    sampler.sample((B, H, W), cond, None, method='cached', num_steps=3)
  # The shapes: they ended in an unpacking error, a trace's error, or conditioning ignored.
  with pytest.raises(ValueError, match=r'shape must be \(B, H, W\), got \(2, 5\)'):
    sampler.sample((B, H), cond)
  for bad in (cond[:1], cond[..., :2, :], cond[..., 0]):
    got = ', '.join(map(str, bad.shape))
    with pytest.raises(ValueError, match=rf'^conditioning must be \[{B}, {H}, {W}, D\] like the '
                       rf'images, got shape \({got}\)$'):
      sampler.sample((B, H, W), bad)
  unconditional, _, extra = make(**CASES['rgb_256_with_logits'])
  with pytest.raises(ValueError, match='built with conditional=False but got conditioning'):
    sampling.Sampler(unconditional).sample((B, H, W), cond, extra)


def test_naive_num_steps_draws_the_first_sub_pixels_and_leaves_the_rest_zero():
  """The benchmarks time a few naive steps and extrapolate: those steps draw what a whole naive run
  draws there, the rest stays 0, and more steps than sub-pixels draw the whole image."""
  net, cond, extra = make(**CASES['chroma_32_conditional'])
  sampler = sampling.Sampler(net)
  full = sampler.sample((B, H, W), cond, extra, 1.0, 3, 'naive').numpy()
  assert (full != 0).mean() > 0.5
  steps = 4 * W + 3  # Two rows (2 W sub-pixels each), a pixel and a half of the third.
  part = sampler.sample((B, H, W), cond, extra, 1.0, 3, 'naive', num_steps=steps).numpy()
  drawn = np.arange(H * W * 2).reshape(H, W, 2) < steps
  np.testing.assert_array_equal(part[:, drawn], full[:, drawn])
  assert not part[:, ~drawn].any()
  # Without XLA too, whose scatter and gather would fail past the canvas (XLA's drop and clamp).
  plain = sampling.Sampler(net, jit_compile=False)
  more = plain.sample((B, H, W), cond, extra, 1.0, 3, 'naive', num_steps=H * W * 2 + 5).numpy()
  np.testing.assert_array_equal(more, full)


def test_candidates_select_the_draw_nearest_to_their_mean():
  from pixel_recursive import candidates
  # Example 0: draws 0, 1, 10 (mean 3.7): draw 1. Example 1: draws 9, 0, 7 (mean 5.3): draw 2.
  # Example 2: three equal draws: the first.
  values = np.array([[0, 9, 4], [1, 0, 4], [10, 7, 4]], np.float32)[..., None, None]
  values = np.tile(values, [1, 1, 2, 3])
  index = candidates.nearest_to_mean(values).numpy()
  np.testing.assert_array_equal(index, [1, 2, 0])
  np.testing.assert_array_equal(candidates.pick(values, index), values[[1, 2, 0], [0, 1, 2]])
  draws = {}

  def draw(seeds):
    draws[len(draws)] = seeds
    return tf.constant(values[len(draws) - 1])

  np.testing.assert_array_equal(candidates.select(draw, [4, 5, 6], 3), values[[1, 2, 0], [0, 1, 2]])
  # Candidate 0 is the plain draw's seeds; the others are derived per example.
  assert draws[0] == [4, 5, 6]
  assert draws[2] == [sampling.derive_seed(s, candidates.STREAM, 2) for s in (4, 5, 6)]
  assert candidates.seeds_of(4, 1) == sampling.derive_seed(4, candidates.STREAM, 1)
  # What the tables and the logs append: nothing for one plain draw.
  assert candidates.note(1) == '' and candidates.note(8) == ', each the most typical of 8 draws'
  draws.clear()
  candidates.select(draw, 4, 3)  # One seed for the batch: candidate 0 is still the plain draw.
  assert draws[0] == 4 and draws[1] == candidates.seeds_of(4, 1) != 4
  # The exports' graph version, on sampler keys: per-example seeds, and one seed for a batch.
  np.testing.assert_array_equal(candidates.keys_of(sampling.example_keys([4, 5], 2), 2),
                                sampling.example_keys(candidates.seeds_of([4, 5], 2), 2))
  np.testing.assert_array_equal(candidates.keys_of(sampling.example_keys(4, 3), 2),
                                sampling.example_keys(candidates.seeds_of(4, 2), 3))
  for bad in (0, 1.5, True, -2):
    with pytest.raises(ValueError, match='candidates must be an integer >= 1'):
      candidates.check_candidates(bad)
  # Two draws are equally far from their mean: the first would always be kept, so 2 is refused.
  pair = tf.constant([[[3.0, 10.0]], [[7.0, 0.0]]])  # [N = 2, B = 1, 2]
  assert candidates.nearest_to_mean(pair).numpy().tolist() == [0]
  assert candidates.nearest_to_mean(pair[::-1]).numpy().tolist() == [0]
  with pytest.raises(ValueError, match='candidates=2 cannot choose'):
    candidates.check_candidates(2)
  assert candidates.check_candidates(3) == 3


def test_a_network_and_its_compiled_samplers_are_freed_together():
  """sampler_of keeps one Sampler per network for every model and command that holds it, and must
  not keep the network (with its compiled programs) alive after the last of them lets go."""
  import gc
  import weakref
  net, _, extra = make(3, 16, conditional=False)
  sampler = sampling.sampler_of(net)
  assert sampling.sampler_of(net) is sampler  # One set of compiled samplers per network.
  sampler.sample((B, H, W), None, extra, method='cached')
  del extra
  gone = weakref.ref(net)
  del net, sampler
  gc.collect()
  assert gone() is None
