"""What training survives, with real subprocesses: SIGKILL, SIGTERM (to one process, or to one of two
workers), a damaged checkpoint, a full disk; and two workers training together like one process."""
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
import helpers
from helpers import run_in_process

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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

  second = train_in_process(workdir, *args, package=package)  # Resuming needs no process.
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
  faces = helpers.smooth_images(2, seed=2)
  pair = faces[:2] if package == 'pixel_recursive' else faces[:1].repeat(2, 0)
  np.savez(tmp_path / 'data.npz', train_images=np.tile(pair, (8, 1, 1, 1)),
           eval_images=np.tile(pair, (4, 1, 1, 1)))
  # float32: the tiny configs train in mixed_bfloat16, too coarse for comparing weights at 1e-4.
  args = ['--config.train_steps=6', '--config.checkpoint_every_steps=3',
          '--config.log_every_steps=3', '--config.xla=False', '--config.dtype_policy=float32',
          '--config.data.shuffle_buffer=1', f'--config.data.source=npz:{tmp_path}/data.npz']
  if package == 'pixcolor':  # Random crops and flips differ between one pipeline and two, and so
    # does the training's random dequantization of the chroma bins (model.dequantization=uniform).
    args += ['--config.data.random_crop=0', '--config.data.random_flip=False',
             '--config.model.dequantization=centre']
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
  single = train_in_process(single_dir, *args, package=package)  # Needs no process of its own.
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


# ----------------------------------------------------------------------------------------------
# Damaged checkpoints, failing saves, preemption of one worker of two.
# ----------------------------------------------------------------------------------------------
def no_traceback(stderr):
  assert 'Traceback' not in stderr, stderr[-3000:]
  return stderr


def last_line(stderr):
  return no_traceback(stderr).strip().splitlines()[-1]


@pytest.fixture(scope='module')
def trained_to_20(tmp_path_factory):
  """A tiny super-resolution workdir trained to step 20, with checkpoints at 10 and 20."""
  workdir = str(tmp_path_factory.mktemp('trained') / 'run')
  result = train_in_process(workdir, '--config.train_steps=20', '--config.checkpoint_every_steps=10')
  assert result.returncode == 0, result.stderr[-3000:]
  assert checkpoint_steps(workdir) == [10, 20]
  return workdir


def copy_run(source, tmp_path, damage=()):
  """A copy of the workdir `source` whose checkpoints of the steps `damage` are truncated to 1,000
  bytes (what a full disk or an interrupted copy leaves)."""
  import shutil
  workdir = str(tmp_path / 'run')
  shutil.copytree(source, workdir)
  for step in damage:
    with open(os.path.join(workdir, 'checkpoints', f'ckpt-{step}.data-00000-of-00001'), 'r+b') as f:
      f.truncate(1000)
  return workdir


def snapshot(folder):
  return sorted((os.path.relpath(os.path.join(d, f), folder), os.path.getsize(os.path.join(d, f)),
                 os.path.getmtime(os.path.join(d, f)))
                for d, _, files in os.walk(folder) for f in files)


def test_the_newest_readable_checkpoint_is_found_past_any_damage(tmp_path):
  """In-process: a flipped byte (checksum), a missing .index, a missing state file, no readable
  checkpoint at all; without `repair` nothing is written, with it the damaged ones are moved."""
  from pixel_recursive import commands
  from pixel_recursive import workdir as workdir_lib
  ckpt_dir = str(tmp_path / 'checkpoints')
  value = tf.Variable(tf.zeros([1000]))
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=value), ckpt_dir, max_to_keep=5)
  for n in (1, 2, 3, 4):
    value.assign(tf.fill([1000], float(n)))
    manager.save(checkpoint_number=n)
  data = os.path.join(ckpt_dir, 'ckpt-4.data-00000-of-00001')
  raw = bytearray(open(data, 'rb').read())
  raw[len(raw) // 2] ^= 0xFF
  open(data, 'wb').write(bytes(raw))
  os.remove(os.path.join(ckpt_dir, 'ckpt-3.index'))
  os.makedirs(os.path.join(ckpt_dir, 'ckpt-5_temp'))

  before = snapshot(ckpt_dir)
  assert workdir_lib.newest_readable(ckpt_dir).endswith('ckpt-2')
  assert snapshot(ckpt_dir) == before and os.path.isdir(os.path.join(ckpt_dir, 'ckpt-5_temp'))

  assert workdir_lib.newest_readable(ckpt_dir, repair=True).endswith('ckpt-2')
  assert tf.train.latest_checkpoint(ckpt_dir).endswith('ckpt-2')
  assert [os.path.basename(p) for p in
          tf.train.get_checkpoint_state(ckpt_dir).all_model_checkpoint_paths] == ['ckpt-1', 'ckpt-2']
  damaged = os.path.join(ckpt_dir, 'damaged')
  assert sorted(os.listdir(damaged)) == ['ckpt-3', 'ckpt-4']
  assert open(os.path.join(damaged, 'ckpt-4', 'ckpt-4.data-00000-of-00001'), 'rb').read() == raw
  assert not os.path.exists(os.path.join(ckpt_dir, 'ckpt-5_temp'))

  os.remove(os.path.join(ckpt_dir, 'checkpoint'))  # Without a state file: the files there, by step.
  assert workdir_lib.newest_readable(ckpt_dir).endswith('ckpt-2')
  for n in (1, 2):
    with open(os.path.join(ckpt_dir, f'ckpt-{n}.data-00000-of-00001'), 'r+b') as f:
      f.truncate(100)
  before = snapshot(ckpt_dir)
  with pytest.raises(commands.Failure, match=r'no checkpoint in .* can be read: ckpt-2 .*; ckpt-1'):
    workdir_lib.newest_readable(ckpt_dir, repair=True)
  assert snapshot(ckpt_dir) == before  # Nothing readable: nothing is moved either.


def test_training_moves_a_damaged_newest_checkpoint_aside_and_resumes_from_the_one_before(
    trained_to_20, tmp_path):
  workdir = copy_run(trained_to_20, tmp_path, damage=[20])
  ckpt_dir = os.path.join(workdir, 'checkpoints')
  # What an interrupted save leaves beside the checkpoints.
  os.makedirs(os.path.join(ckpt_dir, 'ckpt-30_temp'))
  open(os.path.join(ckpt_dir, 'ckpt-30_temp', 'part-00000-of-00001.data-00000-of-00001.tempstate1'),
       'w').write('partial')
  second = train_in_process(workdir, '--config.train_steps=30', '--config.checkpoint_every_steps=10')
  assert second.returncode == 0, second.stderr[-3000:]
  no_traceback(second.stderr)
  assert re.search(r'checkpoint \S*ckpt-20 cannot be read \(.*\): moved to \S*damaged/ckpt-20',
                   second.stderr), second.stderr[-3000:]
  assert 'resumed from' in second.stderr and 'ckpt-10 at step 10' in second.stderr
  # Moved, not deleted: both files, the data file as damaged as it was.
  damaged = os.path.join(ckpt_dir, 'damaged', 'ckpt-20')
  assert sorted(os.listdir(damaged)) == ['ckpt-20.data-00000-of-00001', 'ckpt-20.index']
  assert os.path.getsize(os.path.join(damaged, 'ckpt-20.data-00000-of-00001')) == 1000
  assert not os.path.exists(os.path.join(ckpt_dir, 'ckpt-30_temp'))
  # Steps 11-20 were trained again and saved; the state file lists what is there.
  assert checkpoint_steps(workdir) == [10, 20, 30]
  assert tf.train.latest_checkpoint(ckpt_dir).endswith('ckpt-30')
  assert [os.path.basename(p) for p in
          tf.train.get_checkpoint_state(ckpt_dir).all_model_checkpoint_paths] == [
              'ckpt-10', 'ckpt-20', 'ckpt-30']
  assert tf.train.load_checkpoint(os.path.join(ckpt_dir, 'ckpt-20')).get_tensor(
      'step/.ATTRIBUTES/VARIABLE_VALUE') == 20


def test_inference_skips_a_damaged_checkpoint_without_writing_and_fails_in_one_line_if_none_reads(
    trained_to_20, tmp_path):
  workdir = copy_run(trained_to_20, tmp_path, damage=[20])
  before = snapshot(workdir)
  faces = helpers.smooth_images(1)
  from PIL import Image
  Image.fromarray(faces[0]).resize((8, 8)).save(tmp_path / 'face.png')
  upsample = run_in_process('pixel_recursive.upsample', f'--workdir={workdir}',
                            f'--input={tmp_path}/face.png', f'--output={tmp_path}/out')
  assert upsample.returncode == 0, upsample.stderr[-3000:]
  no_traceback(upsample.stderr)
  assert re.search(r'checkpoint \S*ckpt-20 cannot be read \(.*\): skipped; using \S*ckpt-10',
                   upsample.stderr), upsample.stderr[-3000:]
  assert re.search(r'restored \S*ckpt-10 \(step 10\)', upsample.stderr)
  assert os.path.exists(tmp_path / 'out' / 'face_sample0.png')

  # The continuous evaluator evaluates the newest readable checkpoint.
  evaluator = train_in_process(workdir, '--mode=eval', '--config.train_steps=20',
                               '--config.eval_timeout_seconds=2', '--config.eval_examples=8',
                               '--config.eval_batch_size=8')
  assert evaluator.returncode == 0, evaluator.stderr[-3000:]
  no_traceback(evaluator.stderr)
  assert 'ckpt-20 cannot be read' in evaluator.stderr
  assert 'eval of step 10 on 8 examples' in evaluator.stderr
  eval_files = [f for f in snapshot(workdir) if f[0].startswith('eval')]
  assert snapshot(workdir) == sorted(before + eval_files)  # Nothing moved, nothing rewritten.

  # Nothing readable left: one line, exit 1.
  with open(os.path.join(workdir, 'checkpoints', 'ckpt-10.index'), 'r+b') as f:
    f.truncate(100)
  evaluate = run_in_process('pixel_recursive.evaluate', f'--workdir={workdir}',
                            f'--output={tmp_path}/metrics.json', '--num_examples=4')
  assert evaluate.returncode == 1, evaluate.stderr[-3000:]
  line = last_line(evaluate.stderr)
  assert line.startswith('pixel_recursive.evaluate: error: no checkpoint in'), line
  assert 'ckpt-20' in line and 'ckpt-10' in line


def limit_file_size(size):
  """A preexec_fn: files the subprocess writes stop growing at `size` bytes (EFBIG, "File too
  large"), as on a full disk; small files (config.json, event files) still fit."""
  import resource

  def apply():
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # Ignored signals stay ignored across exec.
  return apply


def test_a_failing_save_ends_in_one_line_and_the_next_run_resumes_from_the_last_good_one(
    trained_to_20, tmp_path):
  workdir = copy_run(trained_to_20, tmp_path)
  ckpt_dir = os.path.join(workdir, 'checkpoints')
  data_size = os.path.getsize(os.path.join(ckpt_dir, 'ckpt-20.data-00000-of-00001'))
  args = ['--config.train_steps=30', '--config.checkpoint_every_steps=10']
  full = subprocess.run(train_command(workdir, *args), capture_output=True, text=True, cwd=ROOT,
                        env=env(), timeout=600, preexec_fn=limit_file_size(data_size // 2))
  assert full.returncode == 1, full.stderr[-3000:]
  line = last_line(full.stderr)
  assert line.startswith('pixel_recursive.train: error: saving the checkpoint of step 30 to '
                         f'{ckpt_dir} failed ('), line
  assert 'File too large' in line and f'the last good checkpoint is {ckpt_dir}/ckpt-20' in line
  # Nothing half-written is left, and the latest checkpoint is still the last good one.
  assert sorted(os.listdir(ckpt_dir)) == sorted(
      ['checkpoint'] + [f'ckpt-{s}.{e}' for s in (10, 20)
                        for e in ('index', 'data-00000-of-00001')])
  assert tf.train.latest_checkpoint(ckpt_dir).endswith('ckpt-20')

  again = train_in_process(workdir, *args)
  assert again.returncode == 0, again.stderr[-3000:]
  assert 'ckpt-20 at step 20' in again.stderr
  assert checkpoint_steps(workdir) == [10, 20, 30]
  assert assert_monotonic_summaries(workdir)[-1] == 30


def start_workers(workdir, args, tmp_path, name):
  ports = [free_port(), free_port()]
  cluster = {'worker': [f'127.0.0.1:{p}' for p in ports]}
  procs, logs = [], []
  for index in range(2):
    tf_config = json.dumps({'cluster': cluster, 'task': {'type': 'worker', 'index': index}})
    logs.append(tmp_path / f'{name}{index}.log')
    procs.append(subprocess.Popen(
        train_command(workdir, '--strategy=multi_worker', *args), stdout=open(logs[-1], 'w'),
        stderr=subprocess.STDOUT, cwd=ROOT, env=env(TF_CONFIG=tf_config)))
  return procs, logs


def wait_all(procs, logs, timeout):
  try:
    return [proc.wait(timeout=timeout) for proc in procs]
  except subprocess.TimeoutExpired:
    for p in procs:
      p.kill()
    pytest.fail('workers did not exit in time:\n' + '\n'.join(
        f'--- {log}\n' + open(log).read()[-2000:] for log in logs))


@pytest.mark.parametrize('signalled', [1, 0])
def test_sigterm_to_one_of_two_workers_saves_the_same_step_on_both_and_they_resume(
    signalled, tmp_path):
  """Worker `signalled` alone gets SIGTERM: both workers save the same step and exit 0 (before, the
  signalled worker stopped alone and the other blocked in its next all-reduce)."""
  workdir = str(tmp_path / 'run')
  args = ['--config.train_steps=2000', '--config.checkpoint_every_steps=1000',
          '--config.log_every_steps=2', '--config.xla=False', '--config.eval_every_steps=0']
  procs, logs = start_workers(workdir, args, tmp_path, 'first')
  try:
    for proc, log in zip(procs, logs):  # Both are training.
      assert wait_for(lambda: re.search(r'step ([6-9]|\d\d+)/2000', open(log).read()), 300,
                      proc), open(log).read()[-3000:]
    procs[signalled].send_signal(signal.SIGTERM)
  finally:
    codes = wait_all(procs, logs, 180)
  texts = [open(log).read() for log in logs]
  assert codes == [0, 0], [t[-3000:] for t in texts]
  assert 'SIGTERM received' in texts[signalled]
  assert 'SIGTERM received' not in texts[1 - signalled]
  saved = [re.findall(r'preemption: every worker saved step (\d+); exiting', t) for t in texts]
  assert len(saved[0]) == 1 and saved[0] == saved[1], saved
  step = int(saved[0][0])
  assert 6 <= step < 1000
  assert checkpoint_steps(workdir) == [step]
  assert tf.train.load_checkpoint(os.path.join(workdir, 'checkpoints', f'ckpt-{step}')).get_tensor(
      'step/.ATTRIBUTES/VARIABLE_VALUE') == step
  assert assert_monotonic_summaries(workdir)[-1] == step
  if signalled == 0:
    return
  # Run again: both resume from the step they saved and finish.
  args[0] = f'--config.train_steps={step + 2}'
  procs, logs = start_workers(workdir, args, tmp_path, 'again')
  codes = wait_all(procs, logs, 300)
  texts = [open(log).read() for log in logs]
  assert codes == [0, 0], [t[-3000:] for t in texts]
  for text in texts:
    assert f'ckpt-{step} at step {step}' in text
  assert checkpoint_steps(workdir) == [step, step + 2]
