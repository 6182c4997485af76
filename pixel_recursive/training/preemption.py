"""SIGTERM, what schedulers send before preempting, turned into "save a checkpoint and stop"."""
import shutil
import signal
import tempfile

from absl import logging
import tensorflow as tf


class Preempted(Exception):
  """Every worker saved the step they agreed on after a SIGTERM: the loop ends cleanly."""


class Preemption:
  """SIGTERM (what schedulers send before preempting) turned into "save a checkpoint and stop".

  One process (default, mirrored): `stop` turns true; the loop saves and ends at the next boundary.
  Several workers (multi_worker): one stopping alone would leave the others blocked in their next
  all-reduce, so TensorFlow's PreemptionCheckpointHandler watches the flag, agrees on a step through
  the coordination service and, at its boundary, calls `save` on every worker, then `_exit` (which
  raises `Preempted`). It only coordinates: its own checkpoint is an empty one, ours are written by `save`.
  """

  def __init__(self, strategy, save):
    self.received, self._save, self._previous, self._handler, self._scratch = (
        False, save, None, None, None)
    resolver = getattr(strategy, 'cluster_resolver', None)
    self._resolver = resolver if resolver is not None and resolver.cluster_spec().jobs else None

  def __enter__(self):
    try:
      self._previous = signal.signal(signal.SIGTERM, self._handle)
    except ValueError:  # Not the main thread (e.g. a notebook thread): no handler, no harm.
      self._previous = None
    if self._resolver is not None:
      self._scratch = tempfile.mkdtemp(prefix='pixel_recursive_preemption_')
      termination = tf.distribute.experimental.TerminationConfig(
          termination_watcher_fn=lambda: self.received, exit_fn=self._exit, grace_period=0,
          save_fn=self._save)
      self._handler = tf.distribute.experimental.PreemptionCheckpointHandler(
          self._resolver, tf.train.CheckpointManager(tf.train.Checkpoint(), self._scratch, 1),
          termination_config=termination)
      platform = getattr(getattr(self._handler, '_platform_device', None), 'name', '')
      if platform in ('GCE_CPU', 'GCE_TPU'):  # There the handler does nothing at all.
        logging.warning('PreemptionCheckpointHandler is inactive on %s: a SIGTERM stops only the '
                        'worker that receives it', platform)
        self._stop_handler()
    return self

  @property
  def stop(self):
    """Whether to save and stop at this boundary (a SIGTERM, and no handler to coordinate it)."""
    return self.received and self._handler is None

  def run(self, train_steps, *args):
    """`train_steps(*args)`; the handler may first save and raise `Preempted` (time to stop)."""
    return self._handler.run(train_steps, *args) if self._handler else train_steps(*args)

  def _handle(self, signum, frame):
    del signum, frame
    self.received = True
    logging.warning('SIGTERM received: saving a checkpoint at the next step boundary and exiting%s',
                    ' (every worker, at a step they agree on)' if self._handler else '')

  def _exit(self):
    raise Preempted()

  def _stop_handler(self):  # Its watcher threads (it stops them itself only after a preemption).
    handler, self._handler = self._handler, None
    handler._stop_poll_termination_signal_thread()  # pylint: disable=protected-access
    handler._stop_cluster_wise_termination_watcher_thread()  # pylint: disable=protected-access

  def __exit__(self, *exc):
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)
    if self._handler is not None:
      self._stop_handler()
    if self._scratch:
      shutil.rmtree(self._scratch, ignore_errors=True)
