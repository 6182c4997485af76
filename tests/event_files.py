"""Reads TensorBoard event files the way the tests need them (scalars and images, in file order)."""
import glob
import os

import tensorflow as tf


def read(logdir, every_image=False):
  """[(step, tag, kind, value)] of every summary under `logdir`, files in the order TB reads them.

  kind is 'scalars' (value: float), 'images' (value: PNG bytes, of the first image; with
  `every_image`, [PNG bytes] of each image the summary holds) or 'histograms' (value: array).
  """
  out = []
  for path in sorted(glob.glob(os.path.join(logdir, 'events.out.tfevents.*'))):
    for event in tf.compat.v1.train.summary_iterator(path):
      for v in event.summary.value:
        kind = v.metadata.plugin_data.plugin_name
        tensor = tf.make_ndarray(v.tensor)
        if kind == 'scalars':
          value = float(tensor)
        elif kind == 'images':  # Width, height, then one PNG per image.
          value = list(tensor[2:]) if every_image else tensor[2]
        else:
          value = tensor
        out.append((event.step, v.tag, kind, value))
  return out


def scalars(logdir, tag):
  """[(step, value)] of one scalar tag, in file order."""
  return [(s, v) for s, t, k, v in read(logdir) if t == tag and k == 'scalars']
