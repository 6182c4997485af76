"""TensorBoard summaries that wait for the next checkpoint.

Scalars, histograms and images of the steps since the last checkpoint are buffered in host memory and
written when the next checkpoint is, so after a crash and resume the event files never hold a step
twice and their steps stay monotonic.
"""
import numpy as np
import tensorflow as tf


class PendingSummaries:
  """Buffers summaries in host memory and writes them when `commit` is called."""

  def __init__(self, logdir, enabled=True):
    self.logdir = logdir
    self.enabled = enabled
    self._writer = None
    self._pending = []

  def __len__(self):
    """The number of summaries waiting for the next `commit` (none after it, chief or not)."""
    return len(self._pending)

  def scalar(self, name, value, step):
    self._pending.append(('scalar', name, float(value), int(step)))

  def image(self, name, image, step):
    self._pending.append(('image', name, np.asarray(image), int(step)))

  def histogram(self, name, values, step):
    self._pending.append(('histogram', name, np.asarray(values), int(step)))

  def commit(self):
    if self.enabled and self._pending:
      if self._writer is None:
        self._writer = tf.summary.create_file_writer(self.logdir)
      with self._writer.as_default():
        for kind, name, value, step in self._pending:
          if kind == 'scalar':
            tf.summary.scalar(name, value, step=step)
          elif kind == 'image':
            tf.summary.image(name, value[None] if value.ndim == 3 else value, step=step)
          else:
            tf.summary.histogram(name, value, step=step)
      self._writer.flush()
    self._pending = []
