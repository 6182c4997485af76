"""The tiny trainers' command lines and the probes of a workdir that the reliability tests share
(test_reliability.py: signals, two workers; test_checkpoint_damage.py: damaged checkpoints, a full
disk)."""
import os
import re
import sys
import time

import numpy as np
import tensorflow as tf

import event_files
import helpers
from helpers import ROOT, run_in_process

TINY = ['--config=experiments/configs/faces_tiny.py', '--config.batch_size=4',
        '--config.model.prior.num_layers=2', '--config.model.prior.filters=8',
        '--config.model.prior.head_filters=16', '--config.model.conditioning.filters=8',
        '--config.model.conditioning.blocks=(1, 1, 1)', '--config.image_every_steps=0',
        '--config.histogram_every_steps=0', '--config.data.shuffle_buffer=64',
        f'--config.data.source={helpers.faces_source()}']


# The same loop trains PixColor: its tiny flags, for the tests that run both trainers.
PIXCOLOR_TINY = ['--config=experiments/configs/pixcolor_tiny.py', '--config.batch_size=4',
                 '--config.xla=False', '--config.model.image_size=16',
                 '--config.model.chroma_size=4', '--config.model.conditioning.blocks=(1, 1)',
                 '--config.model.conditioning.max_pool=True', '--config.model.conditioning.width=4',
                 '--config.model.adaptation.filters=8', '--config.model.pixelcnn.num_layers=2',
                 '--config.model.pixelcnn.filters=8', '--config.model.pixelcnn.head_filters=16',
                 '--config.image_every_steps=0', '--config.histogram_every_steps=0',
                 '--config.eval_every_steps=0', f'--config.data.source={helpers.photo_crops_source()}']
TRAINERS = {'pixel_recursive': TINY, 'pixcolor': PIXCOLOR_TINY}


def train_args(workdir, *extra, package='pixel_recursive'):
  return [f'--workdir={workdir}', *TRAINERS[package], *extra]


def train_command(workdir, *extra, package='pixel_recursive'):
  """The command line of a trainer in its own process (what a signal or a second worker needs)."""
  return [sys.executable, '-m', f'{package}.train', *train_args(workdir, *extra, package=package)]


def train_in_process(workdir, *extra, package='pixel_recursive'):
  """The same command line run in this process (helpers.run_in_process): for the runs that only
  resume, read or evaluate a workdir, which need no process of their own."""
  return run_in_process(f'{package}.train', *train_args(workdir, *extra, package=package))


def env(**extra):
  return dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED='1', **extra)


def wait_for(predicate, timeout, proc=None):
  deadline = time.time() + timeout
  while time.time() < deadline:
    if predicate():
      return True
    if proc is not None and proc.poll() is not None:
      return False
    time.sleep(0.2)
  return False


def checkpoint_steps(workdir):
  ckpt_dir = os.path.join(workdir, 'checkpoints')
  if not os.path.isdir(ckpt_dir):
    return []
  return sorted(int(m.group(1)) for f in os.listdir(ckpt_dir)
                for m in [re.match(r'ckpt-(\d+)\.index$', f)] if m)


def assert_monotonic_summaries(workdir):
  steps = [s for s, _ in event_files.scalars(os.path.join(workdir, 'train'), 'bits_per_dim')]
  assert steps == sorted(set(steps)), steps
  return steps


def assert_same_training(workdir, reference, step):
  """Two runs' weights at checkpoint `step` (and their moving averages, if the runs keep them) agree
  to 1e-4 (absolute for weights near 1, relative for large ones such as batch-norm moving
  variances), and so do their logged losses, step for step."""
  read = lambda d: tf.train.load_checkpoint(os.path.join(d, 'checkpoints', f'ckpt-{step}'))
  run, ref = read(workdir), read(reference)
  kept = lambda c: sorted(k for k in c.get_variable_to_shape_map()
                          if k.startswith(('weights/', 'average/')))
  keys = kept(ref)
  assert keys and kept(run) == keys
  diffs = {k: (np.abs(run.get_tensor(k) - ref.get_tensor(k)) /
               np.maximum(1.0, np.abs(ref.get_tensor(k)))).max() for k in keys}
  worst = max(diffs, key=diffs.get)
  assert diffs[worst] < 1e-4, (worst, diffs[worst])
  losses = [event_files.scalars(os.path.join(d, 'train'), 'loss') for d in (workdir, reference)]
  assert [s for s, _ in losses[0]] == [s for s, _ in losses[1]]
  np.testing.assert_allclose([v for _, v in losses[0]], [v for _, v in losses[1]], rtol=1e-4)
  return [s for s, _ in losses[0]]


def no_traceback(stderr):
  assert 'Traceback' not in stderr, stderr[-3000:]
  return stderr


def last_line(stderr):
  return no_traceback(stderr).strip().splitlines()[-1]

