"""Minimum-Bayes-risk selection among several draws: `candidates=N` in the samplers' callers.

With N candidates, an output is the one of N independent draws nearest to the draws' per-pixel mean
in squared error, which is the draw with the least summed squared distance to the others (the
minimum-Bayes-risk choice under squared error; Kumar and Byrne 2004 made it a decoder for
translation). It stays one real draw, of the model's own detail, but the most typical of the N: the
rare draws far from the others (a colouring's blotch) are passed over. It is a choice of ours, not
the papers' (they draw once: N = 1); it is not the mean, and with N = 1 it is exactly the plain
sampler. N draws cost N times the sampling. N = 2 is refused: the mean of two draws lies halfway
between them, so neither is nearer and the first would always be kept.

Candidate 0 of an output seeded s is the plain draw seeded s; candidate j > 0 is seeded
`derive_seed(s, STREAM, j)` (per example, so a selection does not depend on the batch either).
"""
import numpy as np
import tensorflow as tf

from pixel_recursive import commands
from pixel_recursive import sampling

STREAM = 7  # The `index` argument of `sampling.derive_seed` for candidates j > 0.


def check_candidates(candidates):
  """The number of candidates, an int >= 1 other than 2 (raises ValueError otherwise)."""
  candidates = commands.check_count('candidates', candidates, 1)
  if candidates == 2:
    raise ValueError(f'candidates=2 cannot choose: {commands.TWO_CANDIDATES}')
  return candidates


def seeds_of(seeds, j):
  """The seeds of candidate j of a draw seeded `seeds` (an int, or one int per example)."""
  if j == 0:
    return seeds
  if np.ndim(seeds) == 0:
    return sampling.derive_seed(seeds, STREAM, j)
  return [sampling.derive_seed(s, STREAM, j) for s in np.asarray(seeds).tolist()]


def keys_of(keys, j):
  """`seeds_of` on sampler keys int32 [B, 2] (`sampling.example_keys`), as graph ops (the exports):
  a key (s, b) of candidate 0 becomes (derive_seed(s, STREAM, j), b)."""
  if j == 0:
    return keys
  return tf.stack([sampling.derive_seed_tensor(keys[:, 0], STREAM, j), keys[:, 1]], -1)


def nearest_to_mean(values):
  """float [N, B, ...] (candidate, example, ...) -> int32 [B]: per example, the candidate with the
  least squared distance to the mean of the N (ties: the lowest index)."""
  values = tf.cast(values, tf.float32)
  axes = list(range(2, values.shape.rank))
  distance = tf.reduce_sum(tf.square(values - tf.reduce_mean(values, 0, keepdims=True)), axes)
  return tf.argmin(distance, 0, output_type=tf.int32)


def pick(candidates, index):
  """candidates [N, B, ...] and index int32 [B] -> [B, ...]: candidate index[b] of example b."""
  candidates = tf.convert_to_tensor(candidates)
  batch = tf.range(tf.shape(candidates)[1], dtype=tf.int32)
  return tf.gather_nd(candidates, tf.stack([index, batch], -1))


def select(draw, seeds, candidates, values=lambda x: x, derive=seeds_of):
  """Draws `candidates` times (`draw(derive(seeds, j))` -> [B, ...]) and keeps, per example, the
  draw whose `values(draw)` lies nearest to their mean. `candidates=1` is `draw(seeds)` itself.
  `derive`: `seeds_of` for ints, `keys_of` for the sampler keys of a traced graph (the exports)."""
  candidates = check_candidates(candidates)
  if candidates == 1:
    return draw(seeds)
  draws = tf.stack([draw(derive(seeds, j)) for j in range(candidates)])
  return pick(draws, nearest_to_mean(values(draws)))


def note(candidates):
  """The tables' and the demo page's note of the draws per sample ('' for one plain draw)."""
  return '' if candidates == 1 else f', each the most typical of {candidates} draws'
