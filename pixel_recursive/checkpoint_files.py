"""Damaged checkpoints and failed saves. A checkpoint is only ever "latest" once all its files were
written (tf.train.CheckpointManager updates the `checkpoint` state file last), but files can be
damaged afterwards: a full disk during a copy, a crash in a sync, a truncated download. Training
moves a checkpoint it cannot read aside (`newest_readable(repair=True)`), into checkpoints/damaged/.
"""
import glob
import json
import os
import re
import shutil

from absl import logging

from pixel_recursive import commands

DAMAGED = 'damaged'  # checkpoints/damaged/: where training moves checkpoints it cannot read


def unreadable_reason(path):
  """None if every tensor of the checkpoint at `path` reads back (checksums checked), else why."""
  import tensorflow as tf
  try:
    reader = tf.train.load_checkpoint(path)
    for name in reader.get_variable_to_dtype_map():
      reader.get_tensor(name)
  except Exception as e:  # pylint: disable=broad-except. Whatever stops the read, it is unreadable.
    return one_line(e)
  return None


def one_line(error):
  """`Type: first line` of an exception, without TensorFlow's `{{function_node ...}}` prefix and
  `[Op:Name] name: ...` suffix."""
  text = str(error).strip().splitlines()[0] if str(error).strip() else ''
  text = re.sub(r'^\{\{[^}]*\}\}\s*|\s*\[Op:\w+\].*$', '', text)
  return f'{type(error).__name__}: {text[:200]}' if text else type(error).__name__


def step_of(path):
  """The step a checkpoint path ends with (`.../ckpt-1200` -> 1200); -1 if it ends with none."""
  match = re.search(r'-(\d+)$', path)
  return int(match.group(1)) if match else -1


def _checkpoint_state(ckpt_dir):
  """The `checkpoint` state file's (latest, [paths, oldest first], {path: timestamp}), or None when
  the file is missing or unreadable."""
  import tensorflow as tf
  try:
    state = tf.train.get_checkpoint_state(ckpt_dir)
  except ValueError:  # The file parses but names no checkpoint (e.g. truncated to nothing).
    state = None
  if state is None:
    return None
  paths = list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]
  times = dict(zip(state.all_model_checkpoint_paths, state.all_model_checkpoint_timestamps))
  return state.model_checkpoint_path, paths, times, state.last_preserved_timestamp


def checkpoints_newest_first(ckpt_dir):
  """The checkpoints of `ckpt_dir`, newest first: those its `checkpoint` state file lists, starting
  with the one `tf.train.latest_checkpoint` names; or, when that file is missing or unreadable,
  every checkpoint whose .index file is there, by step."""
  state = _checkpoint_state(ckpt_dir)
  if state:
    latest, paths, _, _ = state
    return [latest] + [p for p in reversed(paths) if p != latest]
  if not os.path.isdir(ckpt_dir):
    return []
  found = [os.path.join(ckpt_dir, f[:-len('.index')]) for f in os.listdir(ckpt_dir)
           if f.endswith('.index') and os.path.isfile(os.path.join(ckpt_dir, f))]
  return sorted(found, key=lambda p: (step_of(p), p), reverse=True)


def newest_readable(ckpt_dir, repair=False):
  """The newest checkpoint of `ckpt_dir` that reads back whole; None if there is no checkpoint.

  Each newer one that cannot be read is named in a warning and skipped. With `repair` (for the
  training chief, the only process that writes `ckpt_dir`) it is also moved to ckpt_dir/damaged/
  (never deleted), the `checkpoint` state file is rewritten so that `tf.train.latest_checkpoint`
  names the checkpoint returned, and leftover `*_temp` folders of interrupted saves are removed.
  Without it nothing is written (inference may read a read-only checkpoint).

  Raises:
    commands.Failure: there are checkpoints but none of them can be read (then nothing is moved).
  """
  if repair:
    remove_interrupted_saves(ckpt_dir)
  damaged, found = [], None
  for path in checkpoints_newest_first(ckpt_dir):
    reason = unreadable_reason(path)
    if reason is None:
      found = path
      break
    damaged.append((path, reason))
  if damaged and found is None:
    names = '; '.join(f'{os.path.basename(p)} ({r})' for p, r in damaged)
    raise commands.Failure(
        f'no checkpoint in {ckpt_dir} can be read: {names}. Restore them from a copy, or move them '
        'away (or use a new --workdir) to start over.')
  for path, reason in damaged:
    done = _move_aside(path, ckpt_dir) if repair else 'skipped'
    logging.warning('checkpoint %s cannot be read (%s): %s; using %s instead', path, reason, done,
                    found)
  if repair and found and (damaged or _checkpoint_state(ckpt_dir) is None):
    _rewrite_state(ckpt_dir, found)
  return found


def _move_aside(path, ckpt_dir):
  """Moves the files of checkpoint `path` to a new folder under ckpt_dir/damaged/; says where."""
  files = [f for f in [path + '.index'] + glob.glob(glob.escape(path) + '.data-*')
           if os.path.isfile(f)]
  if not files:
    return 'its files are missing'
  base = os.path.join(ckpt_dir, DAMAGED, os.path.basename(path))
  target, n = base, 1
  while os.path.exists(target):
    target, n = f'{base}.{n}', n + 1
  try:
    os.makedirs(target)
    for f in files:
      os.replace(f, os.path.join(target, os.path.basename(f)))
  except OSError as e:
    return f'left in place (moving it failed: {e.strerror or e})'
  return f'moved to {target}'


def _rewrite_state(ckpt_dir, latest):
  """Rewrites ckpt_dir/checkpoint: `latest` is the newest, older checkpoints still present stay
  listed (with their timestamps), newer or missing ones are dropped."""
  state = _checkpoint_state(ckpt_dir)
  if state:
    _, paths, times, preserved = state
  else:
    paths, times, preserved = list(reversed(checkpoints_newest_first(ckpt_dir))), {}, 0.0
  older = paths[:paths.index(latest)] if latest in paths else [p for p in paths if p != latest]
  keep = [p for p in older if os.path.isfile(p + '.index')] + [latest]

  def rel(p):  # Relative names, as CheckpointManager writes them: the workdir can be moved.
    same = os.path.normpath(os.path.dirname(p)) == os.path.normpath(ckpt_dir)
    return os.path.basename(p) if same else p

  lines = [f'model_checkpoint_path: {json.dumps(rel(latest))}']
  lines += [f'all_model_checkpoint_paths: {json.dumps(rel(p))}' for p in keep]
  if all(p in times for p in keep):
    lines += [f'all_model_checkpoint_timestamps: {times[p]!r}' for p in keep]
  if preserved:
    lines.append(f'last_preserved_timestamp: {preserved!r}')
  path = os.path.join(ckpt_dir, 'checkpoint')
  try:
    with open(path + '.tmp', 'w') as f:
      f.write('\n'.join(lines) + '\n')
    os.replace(path + '.tmp', path)
  except OSError as e:
    logging.warning('could not rewrite %s (%s)', path, e.strerror or e)


def remove_interrupted_saves(ckpt_dir):
  """Removes the `<checkpoint>_temp` folders an interrupted or failed save left in `ckpt_dir` (what
  tf.train.Checkpoint writes before moving the finished files into place; never a checkpoint)."""
  if not os.path.isdir(ckpt_dir):
    return
  for name in os.listdir(ckpt_dir):
    path = os.path.join(ckpt_dir, name)
    if name.endswith('_temp') and os.path.isdir(path):
      shutil.rmtree(path, ignore_errors=True)
      logging.info('removed %s, left by an interrupted checkpoint save', path)


def save_checkpoint(manager, step, last_good):
  """`manager.save(checkpoint_number=step)`; returns the new checkpoint's path.

  A save that fails (a full disk, no permission) removes what it left (its `_temp` folder, files of
  a checkpoint the state file does not list), so the last good checkpoint stays the latest.

  Raises:
    commands.Failure: the save failed; says what failed, where, and the last good checkpoint.
  """
  import tensorflow as tf
  try:
    return manager.save(checkpoint_number=step)
  except (tf.errors.OpError, OSError) as e:
    reason = one_line(e)
  directory = manager.directory
  remove_interrupted_saves(directory)
  prefix = os.path.join(directory, f'ckpt-{step}')
  if prefix not in manager.checkpoints:
    for f in [prefix + '.index'] + glob.glob(glob.escape(prefix) + '.data-*'):
      try:
        os.remove(f)
      except OSError:
        pass
  resume = (f'the last good checkpoint is {last_good}. Free some space (or fix the permissions) '
            'and run the same command again to resume from it.' if last_good else
            'no checkpoint was saved yet. Free some space (or fix the permissions) and run the '
            'same command again.')
  raise commands.Failure(
      f'saving the checkpoint of step {step} to {directory} failed ({reason}); {resume}')
