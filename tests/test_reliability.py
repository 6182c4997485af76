"""What training survives, with real subprocesses: SIGKILL, SIGTERM (to one process, or to one of two
workers); and two workers training together like one process. Damaged checkpoints and a full disk:
test_checkpoint_damage.py."""
import json
import os
import re
import signal
import socket
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

import event_files
import helpers
from pixel_recursive.training import preemption as preemption_lib
from training_runs import (ROOT, assert_monotonic_summaries, assert_same_training, checkpoint_steps,
                           env, train_command, train_in_process, wait_for)


def last_step(text, total):
  """The last training step a run of `total` steps logged in `text` (0 before the first)."""
  return max([int(s) for s in re.findall(rf'step (\d+)/{total}', text)], default=0)


# SIGKILL and SIGTERM meet the training loop and the command wrapper both trainers share
# (pixel_recursive/training/); PixColor's own resume, its two networks and its optimizer state, and
# its training over two replicas, are test_pixcolor_e2e.py's.
@pytest.mark.parametrize('package', ['pixel_recursive'])
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
  reached = last_step(open(tmp_path / 'first.log').read(), 60)
  saved = max(checkpoint_steps(workdir))
  assert 0 <= reached - saved <= 10

  second = train_in_process(workdir, *args, package=package)  # Resuming needs no process.
  assert second.returncode == 0, second.stderr[-3000:]
  assert 'resumed from' in second.stderr and f'at step {saved}' in second.stderr
  assert max(checkpoint_steps(workdir)) == 60
  steps = assert_monotonic_summaries(workdir)
  assert steps[-1] == 60
  print(f'{package}: SIGKILL at step {reached}; resumed at {saved}; {reached - saved} steps redone')


@pytest.mark.parametrize('package', ['pixel_recursive'])
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
  assert 'SIGTERM received: saving a checkpoint at the next step boundary and exiting' in text
  assert 'Ctrl-C again' not in text  # That advice is Ctrl-C's: a SIGTERM has no second one.
  stopped = last_step(text, 500)
  # The checkpoint is at the step training stopped, not at the last periodic one (there was none).
  assert checkpoint_steps(workdir) == [stopped]
  assert assert_monotonic_summaries(workdir)[-1] == stopped


def free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def start_workers(workdir, args, tmp_path, name):
  ports = [free_port(), free_port()]
  cluster = {'worker': [f'127.0.0.1:{p}' for p in ports]}
  procs, logs = [], []
  tmpdir = tmp_path / 'tmp'  # The workers' TMPDIR: what they leave there is seen.
  tmpdir.mkdir(exist_ok=True)
  for index in range(2):
    tf_config = json.dumps({'cluster': cluster, 'task': {'type': 'worker', 'index': index}})
    logs.append(tmp_path / f'{name}{index}.log')
    procs.append(subprocess.Popen(
        train_command(workdir, '--strategy=multi_worker', *args), stdout=open(logs[-1], 'w'),
        stderr=subprocess.STDOUT, cwd=ROOT, env=env(TF_CONFIG=tf_config, TMPDIR=str(tmpdir))))
  return procs, logs


def wait_all(procs, logs, timeout):
  try:
    return [proc.wait(timeout=timeout) for proc in procs]
  except subprocess.TimeoutExpired:
    for p in procs:
      p.kill()
    pytest.fail('workers did not exit in time:\n' + '\n'.join(
        f'--- {log}\n' + open(log).read()[-2000:] for log in logs))


def test_two_workers_train_like_one_process_and_sigterm_to_either_saves_the_same_step_on_both(
    tmp_path):
  """MultiWorkerMirroredStrategy over two processes on 127.0.0.1, stopped by SIGTERM to one worker
  alone, versus one process trained to the step they saved; then the resumed workers, stopped by
  SIGTERM to the other one. (One test: each pair of workers costs a TensorFlow start-up each.)

  The training set alternates two faces and is not shuffled, so worker 0 (which reads examples 0,
  2, 4, ...) only ever sees face A and worker 1 only face B, while the single process's batches
  hold both. Only if the workers all-reduce their gradients (each scaled by the global batch) do
  their weights follow the single process's; a worker training alone on its own face would drift
  away. PixColor's training step shares this loop; its two networks under two replicas and a
  resume: test_pixcolor_e2e.py (in one process, MirroredStrategy).

  SIGTERM to one worker alone, first worker 1, then, in the run that resumes from the step they
  saved, the chief (worker 0): both workers save the same step and exit 0 (before, the signalled
  worker stopped alone and the other blocked in its next all-reduce).
  """
  faces = helpers.smooth_images(2, seed=2)
  np.savez(tmp_path / 'data.npz', train_images=np.tile(faces, (8, 1, 1, 1)),
           eval_images=np.tile(faces, (4, 1, 1, 1)))
  # float32: the tiny configs' 'auto' is mixed_bfloat16 on a CPU with native bfloat16, too coarse
  # for comparing weights at 1e-4. With a moving average of the weights, which each worker keeps
  # in cross-replica context: the workers' averages must follow the single process's too. An eval
  # at step 6 on 5 examples in batches of 2 per replica: the workers' shares are 3 and 2, both
  # padded to 2 steps (the workers' steps must pair up), and every example counted once.
  args = ['--config.checkpoint_every_steps=1000', '--config.log_every_steps=2',
          '--config.xla=False', '--config.dtype_policy=float32', '--config.data.shuffle_buffer=1',
          f'--config.data.source=npz:{tmp_path}/data.npz', '--config.ema_decay=0.9',
          '--mode=train_and_eval', '--config.eval_every_steps=6', '--config.eval_examples=5',
          '--config.eval_batch_size=4']
  workdir = str(tmp_path / 'multi')
  resumed_at = 0
  steps = []
  for run, signalled in (('first', 1), ('again', 0)):
    procs, logs = start_workers(workdir, ['--config.train_steps=2000', *args], tmp_path, run)
    try:
      for proc, log in zip(procs, logs):  # Both are training, past the eval at step 6.
        past_start = lambda log=log: last_step(open(log).read(), 2000) >= resumed_at + 8
        assert wait_for(past_start, 300, proc), open(log).read()[-3000:]
      procs[signalled].send_signal(signal.SIGTERM)
    finally:
      codes = wait_all(procs, logs, 180)
    texts = [open(log).read() for log in logs]
    assert codes == [0, 0], [t[-3000:] for t in texts]
    assert '2 replica(s)' in texts[0]
    # Worker 1 saved into a temporary folder of its own, and each worker's preemption handler
    # wrote its (empty) checkpoints into one: both removed when they stopped.
    assert not [f for f in os.listdir(tmp_path / 'tmp') if f.startswith('pixel_recursive_')]
    if resumed_at:  # Both resumed from the step saved in the first run.
      for text in texts:
        assert f'ckpt-{resumed_at} at step {resumed_at}' in text
    assert 'SIGTERM received' in texts[signalled]
    assert 'SIGTERM received' not in texts[1 - signalled]
    saved = [re.findall(r'preemption: every worker saved step (\d+); exiting', t) for t in texts]
    assert len(saved[0]) == 1 and saved[0] == saved[1], saved
    step = int(saved[0][0])
    assert resumed_at + 8 <= step < 1000
    steps.append(step)
    # The chief (worker 0) wrote checkpoints and summaries; worker 1 wrote nothing there.
    assert checkpoint_steps(workdir) == steps
    checkpoint = tf.train.load_checkpoint(os.path.join(workdir, 'checkpoints', f'ckpt-{step}'))
    assert checkpoint.get_tensor('step/.ATTRIBUTES/VARIABLE_VALUE') == step
    assert assert_monotonic_summaries(workdir)[-1] == step
    if not resumed_at:
      single_dir = str(tmp_path / 'single')
      single = train_in_process(single_dir, f'--config.train_steps={step}', *args)
      assert single.returncode == 0, single.stderr[-3000:]
      assert_same_training(workdir, single_dir, step)
      for text in texts + [single.stderr]:
        assert 'eval at step 6 on 5 examples' in text
      evals = [dict(event_files.scalars(os.path.join(d, 'eval'), 'bits_per_dim'))
               for d in (workdir, single_dir)]
      assert evals[0][6] == pytest.approx(evals[1][6], rel=1e-4)
    resumed_at = step


def test_ctrl_c_asks_for_a_stop_a_second_one_stops_at_once_and_an_ignored_one_stays_ignored():
  """Ctrl-C (SIGINT) under Python's own handler: the first asks the loop to save and stop, as
  SIGTERM does, and marks the run interrupted; the second raises KeyboardInterrupt at once; after
  the loop, Python's handler is back. Where SIGINT is ignored (a job a script started in the
  background) it stays ignored. Before, Ctrl-C ended training in a traceback without saving."""
  previous = signal.signal(signal.SIGINT, signal.default_int_handler)
  try:
    with preemption_lib.Preemption(tf.distribute.get_strategy(), save=None) as preemption:
      try:
        os.kill(os.getpid(), signal.SIGINT)
        assert wait_for(lambda: preemption.stop, 1) and preemption.interrupted
      except KeyboardInterrupt:  # Not pytest's own stop: a failure of this test.
        pytest.fail('the first Ctrl-C raised KeyboardInterrupt instead of asking for a stop')
      with pytest.raises(KeyboardInterrupt, match='^again: stopped at once, without saving'):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)  # The handler raises here, between two bytecodes.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with preemption_lib.Preemption(tf.distribute.get_strategy(), save=None) as preemption:
      assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
  finally:
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_during_training_saves_that_step_and_exits_130_with_one_line(tmp_path, monkeypatch):
  """The train command, Ctrl-C at its first step boundary (sent from the task's scalars, which the
  loop calls at each boundary): the checkpoint of that step, one line naming it, and the shell's
  status for Ctrl-C, 130, so that `train && evaluate` stops there."""
  from pixel_recursive import task as task_lib  # pylint: disable=g-import-not-at-top
  scalars, sent = task_lib.SuperResolutionTask.scalars, []

  def interrupting_scalars(self, means):
    if not sent:  # Once: a second Ctrl-C would stop at once.
      sent.append(os.kill(os.getpid(), signal.SIGINT))
    return scalars(self, means)

  monkeypatch.setattr(task_lib.SuperResolutionTask, 'scalars', interrupting_scalars)
  workdir = str(tmp_path / 'run')
  previous = signal.signal(signal.SIGINT, signal.default_int_handler)
  try:
    result = train_in_process(workdir, '--config.train_steps=40', '--config.log_every_steps=2',
                              '--config.checkpoint_every_steps=20')
  except KeyboardInterrupt:
    pytest.fail('Ctrl-C escaped the train command as a KeyboardInterrupt')
  finally:
    signal.signal(signal.SIGINT, previous)
  assert result.returncode == 130, result.stderr[-3000:]
  assert checkpoint_steps(workdir) == [2]
  assert helpers.stderr_lines(result)[-1] == (
      f'pixel_recursive.train: error: interrupted at step 2, checkpoint saved: {workdir}/'
      'checkpoints/ckpt-2; re-run the same command to resume')
  assert ('Ctrl-C received: saving a checkpoint at the next step boundary and exiting (Ctrl-C '
          'again stops at once, without saving)') in result.stderr
  assert 'Traceback' not in result.stderr


def test_sigterm_in_this_process_asks_for_a_stop_and_the_callers_handler_comes_back():
  """In-process (a notebook, a test runner): inside the loop's `Preemption` a SIGTERM only sets the
  flag the loop saves and stops on; after it, whatever handled SIGTERM before handles it again."""
  received = []
  previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
  try:
    callers = signal.getsignal(signal.SIGTERM)
    with preemption_lib.Preemption(tf.distribute.get_strategy(), save=None) as preemption:
      assert not preemption.stop
      os.kill(os.getpid(), signal.SIGTERM)
      # Python runs the handler between two bytecodes of the main thread.
      assert wait_for(lambda: preemption.stop, 1) and not received
    assert signal.getsignal(signal.SIGTERM) is callers
    os.kill(os.getpid(), signal.SIGTERM)
    assert wait_for(lambda: received, 1) and received == [signal.SIGTERM]
  finally:
    signal.signal(signal.SIGTERM, previous)


class FakeHandler:
  """tf.distribute.experimental.PreemptionCheckpointHandler's part that `Preemption` uses."""
  made = []

  def __init__(self, resolver, manager, termination_config):
    del resolver, termination_config
    self.directory, self.stopped = manager.directory, []
    FakeHandler.made.append(self)

  def _stop_poll_termination_signal_thread(self):
    self.stopped.append('signal watcher')

  def _stop_cluster_wise_termination_watcher_thread(self):
    self.stopped.append('peer watcher')


@pytest.mark.parametrize('platform', ['', 'GCE_CPU'])
def test_several_workers_stop_the_handlers_threads_and_remove_its_folder_after_the_loop(
    monkeypatch, tmp_path, caplog, platform):
  """The handler's two watcher threads run until `Preemption` stops them (TensorFlow stops them
  itself only after a preemption): a notebook's process would keep both polling after training.
  On GCE the handler does nothing at all: stopped at once, with a warning."""
  monkeypatch.setattr(tf.distribute.experimental, 'PreemptionCheckpointHandler', FakeHandler)
  monkeypatch.setattr(FakeHandler, '_platform_device', type('Device', (), {'name': platform}),
                      raising=False)
  monkeypatch.setenv('TMPDIR', str(tmp_path))
  monkeypatch.setattr(preemption_lib.tempfile, 'tempdir', None)  # TMPDIR read anew.
  cluster = tf.train.ClusterSpec({'worker': ['127.0.0.1:1', '127.0.0.1:2']})
  resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
      cluster, task_type='worker', task_id=0)
  strategy = type('Strategy', (), {'cluster_resolver': resolver})()
  FakeHandler.made.clear()
  with preemption_lib.Preemption(strategy, save=None) as preemption:
    [handler] = FakeHandler.made
    assert handler.directory.startswith(str(tmp_path / 'pixel_recursive_preemption_'))
    assert os.path.isdir(handler.directory)
    assert handler.stopped == ([] if not platform else ['signal watcher', 'peer watcher'])
    assert ('inactive on GCE_CPU' in caplog.text) == bool(platform)
    assert preemption.stop is False
  assert handler.stopped == ['signal watcher', 'peer watcher']
  assert not os.listdir(tmp_path)
