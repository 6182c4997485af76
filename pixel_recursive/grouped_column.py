"""The cached sampler's per-pixel work on the horizontal stacks (`sampling.Sampler`'s cached method;
../shared/notes/cached_sampling.md): one pixel's column, one channel group at a time."""
import numpy as np
import tensorflow as tf

from pixel_recursive import layers


class GroupedColumn:
  """The cached sampler's per-pixel work: the horizontal stacks and the head at one pixel, one
  channel group at a time.

  Feature channels are split into one contiguous group per image channel (`layers.channel_groups`).
  When channel c of a pixel is drawn, the features of groups < c at that pixel were already final in
  the passes for earlier channels (they read only channels < their group), and groups > c do not
  reach channel c's logits. So the pass for channel c computes group c only, from the inputs of
  groups <= c, with row/column slices of the same masked kernels the full network uses: one
  pixel's channels together cost about one pass over all features instead of C. The contribution of
  the columns left of the pixel, and of the rows above, is shared by its C passes (`bases`).
  """

  def __init__(self, net):
    self.net = net
    self.channels = net.num_channels
    c_range = range(self.channels)
    groups = lambda n: group_ranges(n, self.channels)
    self.layers = []
    for index, block in enumerate(net.blocks):
      f, r = block.filters, block.radius
      fin = self.channels if index == 0 else net.filters
      if isinstance(block, layers.MaskedStem):
        ins, outs = groups(fin), groups(f)
        kernel = block.h_conv.masked_kernel()[0]  # [r + 1, F_in, F]
        self.layers.append({
            'stem': True,
            'radius': r,
            'outs': outs,
            'gate_cols': lambda t, c, outs=outs: t[..., outs[c][0]:outs[c][1]],
            'window': tf.reshape(kernel[:r], [r * fin, f]),
            'bias': block.h_conv.bias,
            'center': [kernel[r][:ins[c][1], outs[c][0]:outs[c][1]] for c in c_range],
            'in_end': [ins[c][1] for c in c_range],
        })
        continue
      ins, outs, skips = groups(fin), groups(f), groups(block.skip_filters)
      gate_cols = lambda t, c, outs=outs, f=f: tf.concat(
          [t[..., outs[c][0]:outs[c][1]], t[..., f + outs[c][0]:f + outs[c][1]]], axis=-1)
      kernel = block.h_conv.masked_kernel()[0]  # [r + 1, F_in, 2F]
      plan = {
          'stem': False,
          'radius': r,
          'outs': outs,
          'gate_cols': gate_cols,
          'window': tf.reshape(kernel[:r], [r * fin, 2 * f]) if r else None,
          'bias': block.h_conv.bias,
          'center': [gate_cols(kernel[r][:ins[c][1]], c) for c in c_range],
          'skip': [(block.skip.masked_kernel()[0, 0, :outs[c][1], skips[c][0]:skips[c][1]],
                    block.skip.bias[skips[c][0]:skips[c][1]]) for c in c_range],
          'out': None if block.last else [
              (block.h_out.masked_kernel()[0, 0, :outs[c][1], outs[c][0]:outs[c][1]],
               block.h_out.bias[outs[c][0]:outs[c][1]]) for c in c_range],
          'residual': not block.first,
          'in_end': [ins[c][1] for c in c_range],
      }
      self.layers.append(plan)
    head = net.head
    skips, hidden = groups(net.blocks[-1].skip_filters), groups(head.hidden_filters)
    k = head.num_values
    self.hidden = [(head.hidden.masked_kernel()[0, 0, :skips[c][1], hidden[c][0]:hidden[c][1]],
                    head.hidden.bias[hidden[c][0]:hidden[c][1]]) for c in c_range]
    self.logits = [(head.logits.masked_kernel()[0, 0, :hidden[c][1], c * k:(c + 1) * k],
                    head.logits.bias[c * k:(c + 1) * k]) for c in c_range]

  def bases(self, windows, v_above, cond_h):
    """Per layer [B, 2F]: left columns (windows [B, 1, r, F_in]) + bias + rows above + cond."""
    out = []
    for plan, window, above, cond in zip(self.layers, windows, v_above, cond_h):
      base = plan['bias'] + above
      if plan['window'] is not None:
        base = base + tf.matmul(tf.reshape(window, [tf.shape(window)[0], -1]), plan['window'])
      out.append(base if cond is None else base + cond)
    return out

  def start(self):
    """Per-pixel state: each layer's input and gate groups, the skip and hidden groups so far."""
    return {'inputs': [[] for _ in self.layers], 'gates': [[] for _ in self.layers],
            'skip': [], 'hidden': []}

  def channel_logits(self, state, bases, pixel, c):
    """Computes group c everywhere and returns channel c's logits [B, K]."""
    skip = 0.0
    for index, (plan, base) in enumerate(zip(self.layers, bases)):
      x = pixel[:, :plan['in_end'][c]] if index == 0 else tf.concat(state['inputs'][index], -1)
      pre = plan['gate_cols'](base, c) + tf.matmul(x, plan['center'][c])
      if plan['stem']:  # A plain masked convolution: its output is the next layer's input.
        state['inputs'][index + 1].append(pre)
        continue
      state['gates'][index].append(layers.gate(pre))
      gates = tf.concat(state['gates'][index], -1)  # Groups <= c.
      if plan['out'] is not None:
        kernel, bias = plan['out'][c]
        h = tf.matmul(gates, kernel) + bias
        if plan['residual']:
          h = h + state['inputs'][index][c]
        state['inputs'][index + 1].append(h)
      kernel, bias = plan['skip'][c]
      skip = skip + tf.matmul(gates, kernel) + bias
    state['skip'].append(skip)
    kernel, bias = self.hidden[c]
    hidden = tf.nn.relu(tf.matmul(tf.nn.relu(tf.concat(state['skip'], -1)), kernel) + bias)
    state['hidden'].append(hidden)
    kernel, bias = self.logits[c]
    return tf.matmul(tf.concat(state['hidden'], -1), kernel) + bias

  def layer_inputs(self, state, pixel):
    """Every layer's input at this pixel once all its channels are drawn: [B, F_in] each."""
    return [pixel] + [tf.concat(groups, -1) for groups in state['inputs'][1:len(self.layers)]]


def group_ranges(num_features, num_groups):
  """[start, end) of each group's contiguous features (`layers.channel_groups`)."""
  groups = layers.channel_groups(num_features, num_groups)
  return [(int(np.searchsorted(groups, g, 'left')), int(np.searchsorted(groups, g, 'right')))
          for g in range(num_groups)]
