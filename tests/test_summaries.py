"""TensorBoard summaries that wait for the next checkpoint (pixel_recursive/training/summaries.py):
nothing reaches the event files before `commit`, everything once after it, an image or a batch of
images, and nothing at all from a process that is not the chief."""
import os

import numpy as np
import tensorflow as tf

import event_files
from pixel_recursive.training import summaries as summaries_lib


def test_summaries_are_written_at_commit_once_with_their_steps(tmp_path):
  logdir = str(tmp_path / 'train')
  summaries = summaries_lib.PendingSummaries(logdir)
  summaries.scalar('loss', 2.5, 3)
  summaries.image('grid', np.zeros([6, 10, 3], np.uint8), 3)
  summaries.image('batch', np.zeros([2, 6, 10, 3], np.uint8), 3)
  summaries.histogram('weights', np.arange(5.0), 3)
  assert not os.path.exists(logdir)  # Pending: nothing written before the checkpoint.
  assert len(summaries) == 4
  summaries.commit()
  assert len(summaries) == 0
  summaries.scalar('loss', 1.5, 6)
  summaries.commit()
  summaries.commit()  # Nothing pending: nothing written twice.
  events = event_files.read(logdir)
  assert [(s, v) for s, t, _, v in events if t == 'loss'] == [(3, 2.5), (6, 1.5)]
  assert {t: (s, k) for s, t, k, _ in events} == {
      'loss': (6, 'scalars'), 'grid': (3, 'images'), 'batch': (3, 'images'),
      'weights': (3, 'histograms')}
  # One image for the grid, two for the batch.
  pngs = {t: v for _, t, k, v in event_files.read(logdir, every_image=True) if k == 'images'}
  assert {tag: len(p) for tag, p in pngs.items()} == {'grid': 1, 'batch': 2}
  assert tf.io.decode_png(pngs['grid'][0]).shape == (6, 10, 3)


def test_a_process_that_is_not_the_chief_writes_nothing(tmp_path):
  logdir = str(tmp_path / 'train')
  summaries = summaries_lib.PendingSummaries(logdir, enabled=False)
  summaries.scalar('loss', 2.5, 3)
  summaries.image('grid', np.zeros([6, 10, 3], np.uint8), 3)
  assert len(summaries) == 2
  summaries.commit()
  assert not os.path.exists(logdir)
  assert not summaries  # Dropped all the same: a worker's buffer must not grow run-long.
