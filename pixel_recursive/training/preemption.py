"""SIGTERM, what schedulers send before preempting, and Ctrl-C turned into "save a checkpoint and
stop"."""
import shutil
import signal
import tempfile

from absl import logging
import tensorflow as tf


class Preempted(Exception):
  """Every worker saved the step they agreed on after a SIGTERM: the loop ends cleanly."""


class Interrupted(KeyboardInterrupt):
  """Ctrl-C stopped training after it saved a checkpoint (the message says which)."""


class Preemption:
  """SIGTERM (what schedulers send before preempting) turned into "save a checkpoint and stop".

  Ctrl-C (SIGINT, where Python's own handler has it) is taken the same way, and `interrupted` turns
  true: the loop then raises `Interrupted` once it has saved; a second Ctrl-C stops at once
  (KeyboardInterrupt, nothing saved).

  One process (default, mirrored): `stop` turns true; the loop saves and ends at the next boundary.
  Several workers (multi_worker): one stopping alone would leave the others blocked in their next
  all-reduce, so TensorFlow's PreemptionCheckpointHandler watches the flag, agrees on a step through
  the coordination service and, at its boundary, calls `save` on every worker, then `_exit` (which
  raises `Preempted`). It only coordinates: its own checkpoint is an empty one, ours are written by `save`.
  """

  def __init__(self, strategy, save):
    self.received, self._save, self._previous, self._handler, self._scratch = (
        False, save, None, None, None)
    self.interrupted, self._previous_int = False, None
    resolver = getattr(strategy, 'cluster_resolver', None)
    self._resolver = resolver if resolver is not None and resolver.cluster_spec().jobs else None

  def __enter__(self):
    try:
      self._previous = signal.signal(signal.SIGTERM, self._handle)
    except ValueError:  # Not the main thread (e.g. a notebook thread): no handler, no harm.
      self._previous = None
    # Ctrl-C only where Python's default handler has it: not where it is ignored (a job started in
    # the background by a script) or handled by the caller.
    if self._previous is not None and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
      self._previous_int = signal.signal(signal.SIGINT, self._handle)
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
    del frame
    if signum == signal.SIGINT:
      if self.interrupted:  # The second Ctrl-C: stop now, as Python would have at the first.
        raise KeyboardInterrupt('again: stopped at once, without saving; re-run the same command '
                                'to resume from the last checkpoint')
      self.interrupted = True
    self.received = True
    logging.warning('%s received: saving a checkpoint at the next step boundary and exiting%s%s',
                    'Ctrl-C' if signum == signal.SIGINT else 'SIGTERM',
                    ' (every worker, at a step they agree on)' if self._handler else '',
                    ' (Ctrl-C again stops at once, without saving)' if signum == signal.SIGINT
                    else '')

  def _exit(self):
    raise Preempted()

  def _stop_handler(self):  # Its watcher threads (it stops them itself only after a preemption).
    handler, self._handler = self._handler, None
    handler._stop_poll_termination_signal_thread()  # pylint: disable=protected-access
    handler._stop_cluster_wise_termination_watcher_thread()  # pylint: disable=protected-access

  def __exit__(self, *exc):
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)
    if self._previous_int is not None:
      signal.signal(signal.SIGINT, self._previous_int)
    if self._handler is not None:
      self._stop_handler()
    if self._scratch:
      shutil.rmtree(self._scratch, ignore_errors=True)
