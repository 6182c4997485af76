"""What training and inference do with damaged checkpoints (a flipped byte, a missing file, a
truncated data file) and with a save that fails (a file-size limit standing in for a full disk), with
real subprocesses where the exit status matters."""
import json
import os
import re
import signal
import subprocess

import pytest
import tensorflow as tf

import helpers
from helpers import run_in_process
from training_runs import (ROOT, assert_monotonic_summaries, checkpoint_steps, env, last_line,
                           no_traceback, train_command, train_in_process)


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
  checkpoint at all; without `repair` nothing is written, with it the damaged ones are moved (beside,
  never over, what an earlier run moved) and a missing state file is written again."""
  from pixel_recursive import checkpoint_files
  from pixel_recursive import commands
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
  os.makedirs(os.path.join(ckpt_dir, 'damaged', 'ckpt-4'))  # An earlier run's damaged ckpt-4.

  before = snapshot(ckpt_dir)
  assert checkpoint_files.newest_readable(ckpt_dir).endswith('ckpt-2')
  assert snapshot(ckpt_dir) == before and os.path.isdir(os.path.join(ckpt_dir, 'ckpt-5_temp'))

  assert checkpoint_files.newest_readable(ckpt_dir, repair=True).endswith('ckpt-2')
  assert tf.train.latest_checkpoint(ckpt_dir).endswith('ckpt-2')
  assert [os.path.basename(p) for p in
          tf.train.get_checkpoint_state(ckpt_dir).all_model_checkpoint_paths] == ['ckpt-1', 'ckpt-2']
  damaged = os.path.join(ckpt_dir, 'damaged')
  assert sorted(os.listdir(damaged)) == ['ckpt-3', 'ckpt-4', 'ckpt-4.1']  # The earlier one kept.
  assert open(os.path.join(damaged, 'ckpt-4.1', 'ckpt-4.data-00000-of-00001'), 'rb').read() == raw
  assert not os.path.exists(os.path.join(ckpt_dir, 'ckpt-5_temp'))

  os.remove(os.path.join(ckpt_dir, 'checkpoint'))  # Without a state file: the files there, by step.
  assert checkpoint_files.newest_readable(ckpt_dir).endswith('ckpt-2')
  assert not os.path.exists(os.path.join(ckpt_dir, 'checkpoint'))
  assert checkpoint_files.newest_readable(ckpt_dir, repair=True).endswith('ckpt-2')  # Written again.
  assert tf.train.latest_checkpoint(ckpt_dir).endswith('ckpt-2')
  for n in (1, 2):
    with open(os.path.join(ckpt_dir, f'ckpt-{n}.data-00000-of-00001'), 'r+b') as f:
      f.truncate(100)
  before = snapshot(ckpt_dir)
  with pytest.raises(commands.Failure, match=r'no checkpoint in .* can be read: ckpt-2 .*; ckpt-1'):
    checkpoint_files.newest_readable(ckpt_dir, repair=True)
  assert snapshot(ckpt_dir) == before  # Nothing readable: nothing is moved either.


def test_a_rewritten_state_file_lists_the_older_checkpoints_still_there_by_relative_name(tmp_path):
  """After a damaged newest checkpoint is moved aside, the state file lists the older checkpoints
  whose files are still there (not one a user deleted), with their timestamps and the manager's
  last preserved time, by names relative to their folder (as CheckpointManager writes them), so the
  workdir can still be moved."""
  from pixel_recursive import checkpoint_files
  ckpt_dir = str(tmp_path / 'run' / 'checkpoints')
  value = tf.Variable(tf.zeros([10]))
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=value), ckpt_dir, max_to_keep=5)
  for n in (1, 2, 3, 4):
    manager.save(checkpoint_number=n)
  before = tf.train.get_checkpoint_state(ckpt_dir)
  times = dict(zip([os.path.basename(p) for p in before.all_model_checkpoint_paths],
                   before.all_model_checkpoint_timestamps))
  with open(os.path.join(ckpt_dir, 'ckpt-4.index'), 'r+b') as f:
    f.truncate(10)
  for name in os.listdir(ckpt_dir):
    if name.startswith('ckpt-1.'):
      os.remove(os.path.join(ckpt_dir, name))
  assert checkpoint_files.newest_readable(ckpt_dir, repair=True).endswith('ckpt-3')
  lines = open(os.path.join(ckpt_dir, 'checkpoint')).read().splitlines()
  assert [line for line in lines if 'path' in line] == [
      'model_checkpoint_path: "ckpt-3"', 'all_model_checkpoint_paths: "ckpt-2"',
      'all_model_checkpoint_paths: "ckpt-3"']
  after = tf.train.get_checkpoint_state(ckpt_dir)
  assert list(after.all_model_checkpoint_timestamps) == [times['ckpt-2'], times['ckpt-3']]
  assert after.last_preserved_timestamp == before.last_preserved_timestamp > 0
  os.rename(tmp_path / 'run', tmp_path / 'moved')
  assert tf.train.latest_checkpoint(str(tmp_path / 'moved' / 'checkpoints')) == str(
      tmp_path / 'moved' / 'checkpoints' / 'ckpt-3')


def test_a_checkpoint_of_another_architecture_is_named_not_restored_with_random_weights(
    trained_to_20, tmp_path):
  import json
  from pixel_recursive import commands
  from pixel_recursive import model as model_lib
  from pixel_recursive import workdir as workdir_lib
  workdir = copy_run(trained_to_20, tmp_path)
  assert workdir_lib.restore(workdir, model_lib.build_model)[2] == 20
  path = os.path.join(workdir, 'config.json')
  with open(path) as f:
    config = json.load(f)
  config['model']['prior']['num_layers'] += 1  # One more layer than the checkpoint holds.
  with open(path, 'w') as f:
    json.dump(config, f)
  with pytest.raises(commands.UsageError,
                     match=r'ckpt-20 does not match the model in .*/config\.json: '):
    workdir_lib.restore(workdir, model_lib.build_model)
  # As many layers, other widths: named by the first weight whose shape differs, before restoring
  # (a failed restore left TensorFlow's hundreds of 'unrestored values' warnings after the line).
  config['model']['prior']['num_layers'] -= 1
  config['model']['prior']['filters'] *= 2
  with open(path, 'w') as f:
    json.dump(config, f)
  with pytest.raises(commands.UsageError,
                     match=r"ckpt-20 does not match the model in .*/config\.json: its "
                           r"prior/\S+ is \(.*\), the model's \(.*\)$"):
    workdir_lib.restore(workdir, model_lib.build_model)


def test_resuming_with_another_model_ends_in_one_line_and_leaves_config_json_as_it_was(
    trained_to_20, tmp_path):
  workdir = copy_run(trained_to_20, tmp_path)
  config_json = os.path.join(workdir, 'config.json')
  before = open(config_json).read()
  result = train_in_process(workdir, '--config.train_steps=30', '--config.model.prior.filters=16')
  helpers.assert_usage_error(result, 'ckpt-20 does not fit this config: the model or the set of '
                             'trained weights changed since it was written (its prior/',
                             prog='pixel_recursive.train')
  assert 'unrestored' not in result.stderr
  # config.json still describes the checkpoints: the workdir's commands keep working.
  assert open(config_json).read() == before
  # A resume that fits says what it changes in config.json, and records it.
  result = train_in_process(workdir, '--config.train_steps=21',
                            '--config.checkpoint_every_steps=10')
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'{config_json} changes: train_steps 20 -> 21' in result.stderr
  assert json.load(open(config_json))['train_steps'] == 21


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


def test_a_save_that_fails_after_writing_its_files_removes_them_and_names_the_last_good_one(
    tmp_path):
  """A save can fail after its files are in place (the state file left unwritten, say): those files
  go too, so the next run does not take them for a checkpoint, and the one line names the last good
  checkpoint. (A real full disk fails earlier, in the `_temp` folder: the test above.)"""
  from pixel_recursive import checkpoint_files
  from pixel_recursive import commands

  class FailingManager:  # What `save_checkpoint` uses of a tf.train.CheckpointManager.
    directory = str(tmp_path)
    checkpoints = [str(tmp_path / 'ckpt-10')]

    def save(self, checkpoint_number):
      for ext in ('index', 'data-00000-of-00001'):
        (tmp_path / f'ckpt-{checkpoint_number}.{ext}').write_text('written')
      raise OSError(28, 'No space left on device')

  (tmp_path / 'ckpt-10.index').write_text('the last good one')
  with pytest.raises(commands.Failure) as failure:
    checkpoint_files.save_checkpoint(FailingManager(), 30, str(tmp_path / 'ckpt-10'))
  assert str(failure.value).startswith(f'saving the checkpoint of step 30 to {tmp_path} failed '
                                       '(OSError: [Errno 28] No space left on device); the last '
                                       f'good checkpoint is {tmp_path}/ckpt-10.')
  assert os.listdir(tmp_path) == ['ckpt-10.index']


def test_a_checkpoints_step_is_the_number_its_path_ends_with():
  from pixel_recursive import checkpoint_files
  assert checkpoint_files.step_of('/runs/run-3/checkpoints/ckpt-1200') == 1200
  assert checkpoint_files.step_of('/runs/run-3/checkpoints/ckpt') == -1


def test_without_a_state_file_checkpoints_are_ordered_by_step_not_by_name(tmp_path):
  """ckpt-10 is newer than ckpt-9 (by name it sorts before it), and a folder that happens to end in
  `.index` is no checkpoint."""
  from pixel_recursive import checkpoint_files
  for name in ('ckpt-9.index', 'ckpt-10.index', 'ckpt-2.index'):
    (tmp_path / name).write_bytes(b'')
  (tmp_path / 'ckpt-11.index').mkdir()
  found = checkpoint_files.checkpoints_newest_first(str(tmp_path))
  assert [os.path.basename(p) for p in found] == ['ckpt-10', 'ckpt-9', 'ckpt-2']


def test_config_changes_name_keys_added_removed_and_changed(tmp_path):
  """What a resume with another config logs: every flattened key whose value differs, a key the
  new config drops or adds included."""
  from pixel_recursive import workdir
  path = tmp_path / 'config.json'
  path.write_text(json.dumps({'train_steps': 20, 'data': {'source': 'samples', 'old_key': 1}}))
  assert workdir.config_changes(str(path), {'train_steps': 30, 'data': {'source': 'samples'},
                                            'ema_decay': 0.9}) == [
      'data.old_key 1 -> "(none)"', 'ema_decay "(none)" -> 0.9', 'train_steps 20 -> 30']
  assert workdir.config_changes(str(tmp_path / 'missing.json'), {'train_steps': 1}) == []
