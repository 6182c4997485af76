"""Training survives SIGKILL and SIGTERM, and trains across two worker processes (real subprocesses)."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import event_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ['--config=experiments/configs/faces_tiny.py', '--config.batch_size=4',
        '--config.model.prior.num_layers=2', '--config.model.prior.filters=8',
        '--config.model.prior.head_filters=16', '--config.model.conditioning.filters=8',
        '--config.model.conditioning.blocks=(1, 1, 1)', '--config.image_every_steps=0',
        '--config.histogram_every_steps=0', '--config.data.shuffle_buffer=64']


# The same loop trains PixColor: its tiny flags, for the tests that run both trainers.
PIXCOLOR_TINY = ['--config=experiments/configs/pixcolor_tiny.py', '--config.batch_size=4',
                 '--config.xla=False', '--config.model.image_size=16',
                 '--config.model.chroma_size=4', '--config.model.conditioning.blocks=(1, 1)',
                 '--config.model.conditioning.max_pool=True', '--config.model.conditioning.width=4',
                 '--config.model.adaptation.filters=8', '--config.model.pixelcnn.num_layers=2',
                 '--config.model.pixelcnn.filters=8', '--config.model.pixelcnn.head_filters=16',
                 '--config.model.refinement.filters=(8, 16)', '--config.image_every_steps=0',
                 '--config.histogram_every_steps=0', '--config.eval_every_steps=0']
TRAINERS = {'pixel_recursive': TINY, 'pixcolor': PIXCOLOR_TINY}


def train_command(workdir, *extra, package='pixel_recursive'):
  return [sys.executable, '-m', f'{package}.train', f'--workdir={workdir}', *TRAINERS[package],
          *extra]


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


@pytest.mark.parametrize('package', sorted(TRAINERS))
def test_sigkill_at_any_moment_loses_at_most_one_checkpoint_interval(package, tmp_path):
  workdir = str(tmp_path / 'run')
  args = ['--config.train_steps=60', '--config.checkpoint_every_steps=10',
          '--config.log_every_steps=2']
  log = open(tmp_path / 'first.log', 'w')
  proc = subprocess.Popen(train_command(workdir, *args, package=package), stdout=log,
                          stderr=subprocess.STDOUT, cwd=ROOT, env=env())
  try:
    # Kill between checkpoints: a few steps after the second one.
    assert wait_for(lambda: 20 in checkpoint_steps(workdir), 240, proc), open(tmp_path / 'first.log').read()[-3000:]
    assert wait_for(lambda: re.search(r'step 2[4-9]/60', open(tmp_path / 'first.log').read()),
                    120, proc)
  finally:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    log.close()
  reached = max(int(s) for s in re.findall(r'step (\d+)/60', open(tmp_path / 'first.log').read()))
  saved = max(checkpoint_steps(workdir))
  assert 0 <= reached - saved <= 10

  second = subprocess.run(train_command(workdir, *args, package=package), capture_output=True,
                          text=True, cwd=ROOT, env=env(), timeout=600)
  assert second.returncode == 0, second.stderr[-3000:]
  assert f'resumed from' in second.stderr and f'at step {saved}' in second.stderr
  assert max(checkpoint_steps(workdir)) == 60
  steps = assert_monotonic_summaries(workdir)
  assert steps[-1] == 60
  print(f'{package}: SIGKILL at step {reached}; resumed at {saved}; {reached - saved} steps redone')


@pytest.mark.parametrize('package', sorted(TRAINERS))
def test_sigterm_saves_a_checkpoint_and_exits_cleanly(package, tmp_path):
  workdir = str(tmp_path / 'run')
  args = ['--config.train_steps=500', '--config.checkpoint_every_steps=100',
          '--config.log_every_steps=3']
  log = open(tmp_path / 'log', 'w')
  proc = subprocess.Popen(train_command(workdir, *args, package=package), stdout=log,
                          stderr=subprocess.STDOUT, cwd=ROOT, env=env())
  try:
    assert wait_for(lambda: re.search(r'step (1[2-9]|[2-9]\d)/500', open(tmp_path / 'log').read()),
                    240, proc), open(tmp_path / 'log').read()[-3000:]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0
  finally:
    if proc.poll() is None:
      proc.kill()
    log.close()
  text = open(tmp_path / 'log').read()
  assert 'SIGTERM received' in text
  stopped = max(int(s) for s in re.findall(r'step (\d+)/500', text))
  # The checkpoint is at the step training stopped, not at the last periodic one (there was none).
  assert checkpoint_steps(workdir) == [stopped]
  assert assert_monotonic_summaries(workdir)[-1] == stopped


def free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


@pytest.mark.parametrize('package', sorted(TRAINERS))
def test_two_workers_train_together_like_one_process(package, tmp_path):
  """MultiWorkerMirroredStrategy over two processes on 127.0.0.1 versus one process.

  Super-resolution: the training set alternates two faces and is not shuffled, so worker 0 (which
  reads examples 0, 2, 4, ...) only ever sees face A and worker 1 only face B, while the single
  process's batches hold both. Only if the workers all-reduce their gradients (each scaled by the
  global batch) do their weights follow the single process's; a worker training alone on its
  own face would drift away.
  PixColor: its conditioning network has per-replica batch norm, whose statistics differ between
  differing shards, so every training image is the same face; this checks the loop, the
  chief's checkpoints and the loss scaling under MultiWorkerMirroredStrategy.
  """
  faces = np.load(os.path.join(ROOT, 'data', 'bundled', 'faces.npz'))['train_images']
  pair = faces[:2] if package == 'pixel_recursive' else faces[:1].repeat(2, 0)
  np.savez(tmp_path / 'data.npz', train_images=np.tile(pair, (8, 1, 1, 1)),
           eval_images=np.tile(pair, (4, 1, 1, 1)))
  args = ['--config.train_steps=6', '--config.checkpoint_every_steps=3',
          '--config.log_every_steps=3', '--config.xla=False',
          '--config.data.shuffle_buffer=1', f'--config.data.source=npz:{tmp_path}/data.npz']
  ports = [free_port(), free_port()]
  cluster = {'worker': [f'127.0.0.1:{p}' for p in ports]}
  chief_dir = str(tmp_path / 'multi')
  procs = []
  for index in range(2):
    tf_config = json.dumps({'cluster': cluster, 'task': {'type': 'worker', 'index': index}})
    procs.append(subprocess.Popen(
        train_command(chief_dir, '--strategy=multi_worker', *args, package=package),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env(TF_CONFIG=tf_config)))
  outputs = []
  for proc in procs:
    try:
      outputs.append(proc.communicate(timeout=400)[0])
    except subprocess.TimeoutExpired:
      for p in procs:
        p.kill()
      pytest.fail('multi-worker training did not finish in time')
  for proc, out in zip(procs, outputs):
    assert proc.returncode == 0, out[-3000:]
  assert '2 replica(s)' in outputs[0]
  # The chief (worker 0) wrote checkpoints and summaries; worker 1 wrote nothing under the workdir.
  assert checkpoint_steps(chief_dir) == [3, 6]
  assert_monotonic_summaries(chief_dir)

  single_dir = str(tmp_path / 'single')
  single = subprocess.run(train_command(single_dir, *args, package=package), capture_output=True,
                          text=True, cwd=ROOT, env=env(), timeout=400)
  assert single.returncode == 0, single.stderr[-3000:]
  multi = tf.train.load_checkpoint(os.path.join(chief_dir, 'checkpoints', 'ckpt-6'))
  one = tf.train.load_checkpoint(os.path.join(single_dir, 'checkpoints', 'ckpt-6'))
  keys = [k for k in one.get_variable_to_shape_map() if k.startswith('weights/')]
  assert keys
  # Absolute for weights near 1, relative for large ones (batch-norm moving variances reach 1e3).
  diffs = {k: (np.abs(multi.get_tensor(k) - one.get_tensor(k)) /
               np.maximum(1.0, np.abs(one.get_tensor(k)))).max() for k in keys}
  worst = max(diffs, key=diffs.get)
  assert diffs[worst] < 1e-4, (worst, diffs[worst])
  loss_multi = event_files.scalars(os.path.join(chief_dir, 'train'), 'loss')
  loss_one = event_files.scalars(os.path.join(single_dir, 'train'), 'loss')
  np.testing.assert_allclose([v for _, v in loss_multi], [v for _, v in loss_one], rtol=1e-4)
