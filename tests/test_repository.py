"""The repository holds code, docs and the demo checkpoints, never a copy of a dataset."""
import os
import subprocess
import sys

import pytest

from helpers import ROOT

DATA_SUFFIXES = ('.npz', '.npy', '.jpg', '.jpeg', '.tfrecord', '.tar', '.zip')
IMAGE_SUFFIXES = ('.png', '.gif', '.bmp', '.webp', '.tif', '.tiff')


def tracked_files():
  try:
    out = subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True, text=True, check=True)
  except (OSError, subprocess.CalledProcessError):
    pytest.skip('not a git checkout')
  return out.stdout.splitlines()


def test_no_dataset_file_is_tracked():
  files = tracked_files()
  assert 'README.md' in files
  data = [f for f in files if f.lower().endswith(DATA_SUFFIXES)]
  assert not data, f'dataset-like files are tracked: {data[:10]}'
  images = [f for f in files if f.lower().endswith(IMAGE_SUFFIXES)
            and not f.startswith('docs/') and '/demo/' not in f]
  assert not images, f'images outside docs/ and the demo checkpoints: {images[:10]}'


def test_every_demo_checkpoint_states_its_terms():
  demos = sorted({os.path.dirname(os.path.dirname(f)) for f in tracked_files()
                  if '/demo/' in f and f.endswith('/checkpoints/checkpoint')})
  assert demos, 'no demo checkpoint is tracked'
  for demo in demos:
    terms = os.path.join(ROOT, demo, 'TERMS.md')
    assert os.path.isfile(terms), demo
    assert 'non-commercial' in open(terms).read(), demo


def test_the_readme_and_ci_run_the_same_tests_in_the_order_conftest_gives():
  """README's test command is .ci/run's last line, and conftest.RUN_FIRST (the order in which that
  command hands whole files to the two workers) names test files that exist: a renamed file would
  otherwise drop silently to the end of the order."""
  import conftest  # pylint: disable=g-import-not-at-top
  ci_command = open(os.path.join(ROOT, '.ci', 'run')).read().strip().splitlines()[-1]
  assert ci_command.endswith('--dist loadfile --no-loadscope-reorder tests'), ci_command
  assert f'\n{ci_command}\n' in open(os.path.join(ROOT, 'README.md')).read()
  tests = os.path.join(ROOT, 'tests')
  missing = [name for name in conftest.RUN_FIRST if not os.path.isfile(os.path.join(tests, name))]
  assert not missing, missing
  assert len(set(conftest.RUN_FIRST)) == len(conftest.RUN_FIRST)


def test_the_package_ships_the_demo_models_files_and_nothing_written_beside_them(tmp_path):
  """setup.py's package_data, run by setuptools' build_py on a copy of the tracked sources: the
  demo folders' tracked files are installed, and what `evaluate --workdir=<a demo folder>` or
  training in one writes beside them (its TensorBoard runs) is not."""
  files = [f for f in tracked_files() if f == 'setup.py' or f == 'README.md'
           or f.split('/')[0] in ('pixel_recursive', 'pixcolor', 'data', 'experiments')]
  source = tmp_path / 'source'
  for f in files:
    os.makedirs(source / os.path.dirname(f), exist_ok=True)
    os.symlink(os.path.join(ROOT, f), source / f)
  demos = sorted({f.split('/checkpoints/')[0] for f in files
                  if '/demo/' in f and '/checkpoints/' in f})
  assert len(demos) == 3, demos
  for demo in demos:
    for run in ('evaluate', 'train', 'eval'):
      os.makedirs(source / demo / run)
      (source / demo / run / 'events.out.tfevents.1').write_text('')
  build = subprocess.run(
      [sys.executable, 'setup.py', '-q', 'build_py', f'--build-lib={tmp_path}/lib'],
      cwd=source, capture_output=True, text=True)
  assert build.returncode == 0, build.stderr[-3000:]
  built = [os.path.relpath(os.path.join(root, name), tmp_path / 'lib')
           for root, _, names in os.walk(tmp_path / 'lib') for name in names]
  data = lambda paths: sorted(f for f in paths if '/demo/' in f or '/templates/' in f)
  assert data(built) == data(files)
