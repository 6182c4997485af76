"""The repository holds code, docs and the demo checkpoints, never a copy of a dataset."""
import os
import subprocess

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
