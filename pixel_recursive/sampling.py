"""XLA-compiled ancestral sampling from a `layers.PixelCNN`, shared by super-resolution and PixColor.

Two samplers draw the same images for the same seed and temperature:

  naive   the whole PixelCNN on the whole canvas for every sub-pixel (H * W * C forward passes) inside
          one `tf.while_loop`; the reference.
  cached  the fast generation of Ramachandran et al. 2017 ("Fast Generation for Convolutional
          Autoregressive Models") for the gated PixelCNN; see ../shared/notes/cached_sampling.md:
            * once per row, every layer's vertical stack advances one row from a queue of its last
              k//2 + 1 input rows, and its contribution to the next row's horizontal stack is stored;
            * once per sub-pixel, only the current pixel's column of the horizontal stacks is
              recomputed, from a window of each layer's previous k//2 inputs on this row;
          all caches are loop variables of nested `tf.while_loop`s compiled by XLA, which updates them
          in place. Conditioning (and the super-resolution logits A) is computed once per call.

Both draw sub-pixel p of example b by the Gumbel-max trick, argmax(logits / T + G) (over the top-p
nucleus only when asked: `nucleus`), with the Gumbel
noise G a counter-based hash of (seed, example, p, value). Unlike `tf.random.stateless_*`, whose one key
covers the whole batch, this gives every example its own stream, so the images of a batch equal the same
images sampled one at a time, and eager, `tf.function` and XLA runs draw identical numbers.
"""

import numpy as np
import tensorflow as tf

from pixel_recursive import grouped_column
from pixel_recursive import layers

METHODS = ('cached', 'naive')


# ----------------------------------------------------------------------------------------------
# Random numbers: a counter-based hash (lowbias32, C. Wellons) of (seed, example, position, value).
# ----------------------------------------------------------------------------------------------
def _mix32(x):
  x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))
  x = x * tf.constant(0x7feb352d, tf.uint32)
  x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(15, tf.uint32)))
  x = x * tf.constant(0x846ca68b, tf.uint32)
  return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))


def _combine(h, x, salt):
  return _mix32(tf.bitwise.bitwise_xor(h, tf.cast(x, tf.uint32) + tf.constant(salt, tf.uint32)))


def uniform_noise(keys, position, num_values):
  """Uniform numbers in (0, 1), float32 [B, num_values], from per-example keys [B, 2] int32."""
  keys = tf.cast(keys, tf.uint32)
  h = _mix32(keys[:, 0] + tf.constant(0x9E3779B9, tf.uint32))
  h = _combine(h, keys[:, 1], 0x85EBCA6B)
  h = _combine(h, position, 0xC2B2AE35)
  values = tf.cast(tf.range(num_values), tf.uint32)
  return unit_interval(_combine(h[:, None], values[None, :], 0x27D4EB2F))


# The largest float32 below 1, 1 - 2^-24.
_BELOW_ONE = float(np.nextafter(np.float32(1), np.float32(0)))


def unit_interval(bits):
  """uint32 hashes -> float32 in (0, 1): the 24 high bits k as (k + 1/2) / 2^24, so that no hash
  gives exactly 0 or 1 and the Gumbel transform -log(-log(u)) stays finite. float32 cannot hold
  (2^24 - 1/2) / 2^24 and rounded it to 1, a Gumbel number of +inf: once in 2^24 numbers (one
  super-resolution draw in about 20 holds one), that value was drawn however unlikely it was. The
  top hash is now held at the largest float32 below 1 (a Gumbel number of 16.6, still drawn unless
  its value is very unlikely) and every other number is unchanged: of 64 draws of the bedrooms demo
  at its defaults, one changed (77 sub-pixels, from the speckle on)."""
  k = tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32)), tf.float32)
  return tf.minimum((k + 0.5) * (1.0 / (1 << 24)), _BELOW_ONE)


def nucleus(logits, top_p):
  """`logits` [B, K] with every value outside the top-p nucleus of softmax(logits) set to -inf.

  The nucleus (Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration") is the smallest
  set of values, most probable first, whose probability reaches `top_p`; values tied with its least
  probable member stay in it. `top_p` = 1 keeps every value.
  """
  probs = tf.nn.softmax(logits, axis=-1)
  descending = tf.sort(probs, axis=-1, direction='DESCENDING')
  before = tf.math.cumsum(descending, axis=-1, exclusive=True)
  kept = tf.reduce_sum(tf.cast(before < top_p, tf.int32), axis=-1)  # >= 1: before[0] = 0 < top_p.
  threshold = tf.gather(descending, kept - 1, axis=-1, batch_dims=1)
  return tf.where(probs >= threshold[:, None], logits, tf.cast(-np.inf, logits.dtype))


def draw(logits, temperature, keys, position, top_p):
  """One categorical draw per example from softmax(logits / temperature), [B, K] -> int32 [B],
  restricted to its top-p nucleus when `top_p` (a scalar tensor in (0, 1]) is below 1."""
  logits = logits / temperature
  logits = tf.cond(top_p < 1.0, lambda: nucleus(logits, top_p), lambda: logits)
  gumbel = -tf.math.log(-tf.math.log(uniform_noise(keys, position, logits.shape[-1])))
  return tf.argmax(logits + gumbel, axis=-1, output_type=tf.int32)


def _window(x, begin, size):
  """`tf.slice` that keeps static sizes for dynamic begins (`x[:, i:i + 1]` would lose them)."""
  return tf.slice(x, begin, size)


def example_keys(seed, batch_size):
  """Per-example keys [B, 2] int32 from an int seed (example b gets (seed, b)) or B seeds ((s_b, 0)).

  So the first image of a batch sampled with seed s equals the image sampled alone with seed s, and a
  batch sampled with seeds [s0, s1] equals the images sampled alone with seeds s0 and s1.
  """
  seed = np.asarray(seed)
  if (not np.issubdtype(seed.dtype, np.number) or np.any(seed != np.round(seed))
      or np.any(seed < -2 ** 31) or np.any(seed >= 2 ** 31)):  # Not cast to int32 in silence.
    raise ValueError(f'seed must be whole numbers in [-2**31, 2**31), got {seed.tolist()!r}')
  if seed.ndim == 0:
    return np.stack([np.full([batch_size], int(seed)), np.arange(batch_size)], -1).astype(np.int32)
  if seed.shape != (batch_size,):
    raise ValueError(f'seed must be an int or have one entry per example ({batch_size}), '
                     f'got shape {seed.shape}')
  return np.stack([seed, np.zeros_like(seed)], -1).astype(np.int32)


_SEED_FACTOR, _INDEX_FACTOR, _SEED_MODULUS = 1_000_003, 7919, 2 ** 31 - 1


def derive_seed(seed, index, sample=0):
  """The seed of input `index`, sample `sample` of a command-line run seeded with `seed`.

  Commands sample with one seed per example, derived this way, so that an image's samples do not
  depend on how the inputs were batched.
  """
  return (int(seed) * _SEED_FACTOR + int(index) * _INDEX_FACTOR + int(sample)) % _SEED_MODULUS


def derive_seed_tensor(seed, index, sample=0):
  """`derive_seed` as graph ops on int32 tensors (int64 inside, so seed * 1000003 cannot overflow)."""
  value = (tf.cast(seed, tf.int64) * _SEED_FACTOR + tf.cast(index, tf.int64) * _INDEX_FACTOR
           + sample)
  return tf.cast(tf.math.floormod(value, _SEED_MODULUS), tf.int32)


def check_temperature(temperature):
  temperature = float(temperature)
  if not temperature > 0 or not np.isfinite(temperature):
    raise ValueError(f'temperature must be a positive number, got {temperature}')
  return temperature


def check_top_p(top_p):
  top_p = float(top_p)
  if not 0 < top_p <= 1:
    raise ValueError(f'top_p must be in (0, 1], got {top_p}')
  return top_p


def check_guidance(guidance):
  guidance = float(guidance)
  if not guidance >= 0 or not np.isfinite(guidance):
    raise ValueError(f'guidance must be a finite number >= 0, got {guidance}')
  return guidance


# ----------------------------------------------------------------------------------------------
# The samplers.
# ----------------------------------------------------------------------------------------------
class Sampler:
  """Compiled samplers of one PixelCNN; reuse one instance so shapes compile once.

  Args:
    pixelcnn: a built `layers.PixelCNN`.
    jit_compile: compile with XLA (the default; False runs the same loops as plain TF graphs, used to
      debug and to check that compilation changes nothing).
  """

  def __init__(self, pixelcnn, jit_compile=True):
    self.pixelcnn = pixelcnn
    self.jit_compile = jit_compile
    # One trace per image shape: the loops need static shapes, which XLA compiles once. No
    # AutoGraph: the loops are explicit `tf.while_loop`s and every Python `if`/`for` here and in the
    # layers is on static values, so converting the ~130 functions a trace calls only cost time
    # (the sampling benchmark's compile_seconds 0.67x: WORKSPACE.md, "Tests without native
    # bfloat16"); a tensor used as a Python bool now fails the trace loudly instead of becoming a
    # graph conditional.
    self._fns = {m: tf.function(getattr(self, f'_{m}'), jit_compile=jit_compile, autograph=False)
                 for m in METHODS}

  def sample(self, shape, conditioning=None, extra_logits=None, temperature=1.0, seed=0,
             method='cached', num_steps=None, guidance=1.0, top_p=1.0):
    """Draws images of `shape` = (B, H, W) sub-pixel by sub-pixel.

    Args:
      shape: (B, H, W).
      conditioning: [B, H, W, D] for a conditional PixelCNN, else None.
      extra_logits: [B, H, W, C, K] added to the PixelCNN's logits before the temperature (the
        super-resolution conditioning logits A), or None.
      temperature: T > 0; sub-pixels are drawn from softmax((logits + guidance * extra) / T).
      seed: int, or one int per example (see `example_keys`).
      method: 'cached' (fast) or 'naive' (reference).
      num_steps: naive only: stop after this many sub-pixels in raster order, the rest left 0
        (benchmarks time a few steps of the slow sampler and extrapolate).
      guidance: w >= 0, the weight of `extra_logits` (1 adds them as they are).
      top_p: p in (0, 1]: each sub-pixel is drawn from the top-p nucleus of that distribution only
        (`nucleus`), which cuts the unlikely values whose draws start blotches and speckle; 1 (the
        default) draws from the whole distribution.
    Returns:
      int32 [B, H, W, C] values in [0, K).
    """
    if method not in METHODS:
      raise ValueError(f'method must be one of {METHODS}, got {method!r}')
    if len(shape) != 3:
      raise ValueError(f'shape must be (B, H, W), got {tuple(shape)}')
    batch, height, width = (int(s) for s in shape)
    keys = tf.constant(example_keys(seed, batch))
    temperature = tf.constant(check_temperature(temperature), tf.float32)
    guidance = tf.constant(check_guidance(guidance), tf.float32)
    top_p = tf.constant(check_top_p(top_p), tf.float32)
    if conditioning is not None:
      conditioning = tf.convert_to_tensor(conditioning, tf.float32)
    # The network's own check of what a call takes (conditioning without a conditional network was
    # ignored here, and one of another size failed inside the trace).
    self.pixelcnn.check_shapes((batch, height, width, self.pixelcnn.num_channels),
                               None if conditioning is None else conditioning.shape)
    if conditioning is None:
      conditioning = tf.zeros([batch, height, width, 0])
    extra_logits = (tf.zeros([0]) if extra_logits is None
                    else tf.convert_to_tensor(extra_logits, tf.float32))
    if num_steps is not None and method != 'naive':
      raise ValueError('num_steps is only supported by the naive sampler')
    if batch == 0:  # An empty batch (a filtered list of inputs): nothing to draw.
      return tf.zeros([0, height, width, self.pixelcnn.num_channels], tf.int32)
    if method == 'naive':
      total = height * width * self.pixelcnn.num_channels
      steps = tf.constant(total if num_steps is None else min(int(num_steps), total))
      return self._fns[method](conditioning, extra_logits, temperature, guidance, keys, top_p,
                               steps)
    return self._fns[method](conditioning, extra_logits, temperature, guidance, keys, top_p)

  def compiled(self, method):
    """The compiled `tf.function` of `method`, taking (conditioning, extra_logits, temperature,
    guidance, keys, top_p[, num_steps]) as tensors: for callers that trace sampling into their own
    graphs (export)."""
    return self._fns[method]

  def tracing_count(self, method):
    """How often `method` has been traced (tests use it to check that nothing retraces)."""
    return self._fns[method].experimental_get_tracing_count()

  # -- shared pieces ----------------------------------------------------------------------------
  def _logits_at(self, logits, extra_logits, guidance, i, j, c):
    """[B, K] logits of sub-pixel (i, j, c) plus guidance * A where there is an A."""
    if extra_logits.shape.rank == 5:
      logits = logits + guidance * extra_logits[:, i, j, c]
    return logits

  def _cond(self, conditioning):
    return conditioning if self.pixelcnn.conditional else None

  # -- naive ------------------------------------------------------------------------------------
  def _naive(self, conditioning, extra_logits, temperature, guidance, keys, top_p, num_steps):
    net = self.pixelcnn
    batch, height, width = conditioning.shape[:3]
    channels, values = net.num_channels, net.num_values
    cond = self._cond(conditioning)
    canvas = tf.zeros([batch, height, width, channels], tf.int32)
    examples = tf.range(batch)

    def body(p, canvas):
      i, j, c = p // (width * channels), (p // channels) % width, p % channels
      logits = net(layers.scale_values(canvas, values), cond)[:, i, j, c]
      value = draw(self._logits_at(logits, extra_logits, guidance, i, j, c), temperature, keys, p,
                   top_p)
      index = tf.stack([examples, tf.fill([batch], i), tf.fill([batch], j), tf.fill([batch], c)], 1)
      return p + 1, tf.tensor_scatter_nd_update(canvas, index, value)

    _, canvas = tf.while_loop(lambda p, _: p < num_steps, body, (tf.constant(0), canvas))
    return canvas

  # -- cached -----------------------------------------------------------------------------------
  def _cached(self, conditioning, extra_logits, temperature, guidance, keys, top_p):
    net = self.pixelcnn
    blocks = net.blocks
    batch, height, width = conditioning.shape[:3]
    channels, values = net.num_channels, net.num_values
    cond = self._cond(conditioning)

    # Conditioning terms of every layer, once per call: [B, H, W, 2F] each (or None).
    cond_terms = [block.conditioning_terms(cond) for block in blocks]
    in_channels = [channels] + [net.filters] * (len(blocks) - 1)

    # Vertical caches: per layer, the padded input rows i - r .. i as [B, r + 1, W + 2r, F_in]
    # (zeros = the top padding), and V2H of the previous row's vertical pre-activation [B, 1, W, 2F]
    # (zeros = the shift_down padding of row 0).
    v_queues = [tf.zeros([batch, b.radius + 1, width + 2 * b.radius, f])
                for b, f in zip(blocks, in_channels)]
    v_above = [tf.zeros([batch, 1, width, b.above_channels]) for b in blocks]
    # Horizontal windows: per layer, the inputs of the r columns left of the current pixel
    # [B, 1, r, F_in] (zeros = the left padding at j = 0).
    empty_windows = [tf.zeros([batch, 1, b.radius, f]) for b, f in zip(blocks, in_channels)]
    # The canvas is position-major [H, W, B, C] so that writing a pixel is one in-place slab update.
    canvas = tf.zeros([height, width, batch, channels], tf.int32)

    column = grouped_column.GroupedColumn(net)

    def row_body(i, canvas, v_queues, v_above):

      def pixel_body(j, canvas, windows):
        # Per layer, what the columns left of (i, j) and the rows above contribute to its
        # horizontal gate: the same for all channels of this pixel, so computed once.
        bases = column.bases(windows, [_window(a, [0, 0, j, 0], [-1, -1, 1, -1])[:, 0, 0]
                                       for a in v_above],
                             [None if h is None else _window(h, [0, i, j, 0], [-1, 1, 1, -1])[:, 0, 0]
                              for _, h in cond_terms])
        state = column.start()
        pixel = tf.zeros([batch, channels], tf.int32)
        for c in range(channels):
          # Channels >= c of this pixel are still zero; the channel masks make them irrelevant.
          logits = column.channel_logits(state, bases, layers.scale_values(pixel, values), c)
          value = draw(self._logits_at(logits, extra_logits, guidance, i, j, c), temperature, keys,
                       (i * width + j) * channels + c, top_p)
          pixel = pixel + value[:, None] * tf.one_hot(c, channels, dtype=tf.int32)
        # Slide this pixel's layer inputs, now complete, into the windows.
        inputs = column.layer_inputs(state, layers.scale_values(pixel, values))
        windows = [tf.concat([w[:, :, 1:], x[:, None, None]], axis=2) if b.radius else w
                   for b, w, x in zip(blocks, windows, inputs)]
        canvas = tf.tensor_scatter_nd_update(canvas, [[i, j]], pixel[None])
        return j + 1, canvas, windows

      _, canvas, _ = tf.while_loop(lambda j, *_: j < width, pixel_body,
                                   (tf.constant(0), canvas, empty_windows))

      # Row i is complete: advance every layer's vertical stack by one row.
      x = layers.scale_values(tf.transpose(canvas[i], [1, 0, 2]), values)  # [B, W, C]
      new_queues, new_above = [], []
      for block, queue, above, (cond_v, _) in zip(blocks, v_queues, v_above, cond_terms):
        r = block.radius
        row = tf.pad(x, [[0, 0], [r, r], [0, 0]])[:, None]
        queue = tf.concat([queue[:, 1:], row], axis=1)
        new_queues.append(queue)
        if isinstance(block, layers.MaskedStem):
          # Its rows i - r + 1 .. i feed row i + 1; its output on row i (the next layer's input)
          # is the masked row convolution plus what the rows above contributed to row i.
          new_above.append(block.above(queue[:, 1:]))
          x = (block.h_conv(queue[:, -1:, :width + r]) + above)[:, 0]
          continue
        v_pre, v_out = block.vertical(
            queue, None if cond_v is None else _window(cond_v, [0, i, 0, 0], [-1, 1, -1, -1]))
        new_above.append(block.v_to_h(v_pre))
        x = None if v_out is None else v_out[:, 0]
      return i + 1, canvas, new_queues, new_above

    _, canvas, _, _ = tf.while_loop(lambda i, *_: i < height, row_body,
                                    (tf.constant(0), canvas, v_queues, v_above))
    return tf.transpose(canvas, [2, 0, 1, 3])


def sampler_of(pixelcnn):
  """The `Sampler` of a PixelCNN, made on first use and kept on the network (`sampler_cache`), so
  that every model holding the network (and every command) reuses one set of compiled samplers,
  and they are freed with the network. (A module-level weak dictionary could not free them: its
  value, the Sampler, holds its key.)"""
  if pixelcnn.sampler_cache is None:
    pixelcnn.sampler_cache = Sampler(pixelcnn)
  return pixelcnn.sampler_cache
