"""Test setup: quiet TensorFlow, a temporary directory of the session's own, two logical CPUs so
MirroredStrategy has two replicas, and for pytest-xdist the files' order, the cores shared among
the workers and a quick worker exit."""
import atexit
import logging
import os
import shutil
import sys
import tempfile

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

# What the tests and the processes they start put in the temporary directory (TensorFlow's autograph
# files, TFDS's folders, the helpers' data) goes into a folder of this process, removed when the
# session ends: left in /tmp it piled up run after run (processes the tests kill, or an xdist
# worker, never run their exit handlers). The xdist workers' folders sit beside the main one's, not
# inside it (paths stay short: a Unix socket's must be under 108 characters; the browser test keeps
# Chromium's in the usual place). pytest's tmp_path folders stay where pytest keeps them (3 runs).
TEMP_ROOT = os.environ.setdefault('PYTEST_DEBUG_TEMPROOT', tempfile.gettempdir())
SESSION_TEMP = tempfile.mkdtemp(prefix='pixel_recursive_tests_', dir=TEMP_ROOT)
os.environ['TMPDIR'] = tempfile.tempdir = SESSION_TEMP

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)


# The test files taking 13 s or more in all, longest first (measured 2026-12-04: from 120 s for
# test_pixcolor_e2e.py down to 13 s), the others after them in their usual order. With
# `-n 2 --dist loadfile --no-loadscope-reorder` (README's command) pytest-xdist hands whole files
# out in this order as its two workers ask for more: the workers end on short files, 4 s apart (in
# alphabetical order, handed out test by test, 3 to 29 s apart), and a file's module-scoped
# fixtures are built once.
RUN_FIRST = ('test_pixcolor_e2e.py', 'test_train.py', 'test_reliability.py', 'test_sampling.py',
             'test_pixcolor_export.py', 'test_export.py', 'test_notebooks.py', 'test_precision.py',
             'test_benchmarks.py', 'test_backbones.py', 'test_commands.py', 'test_demo.py',
             'test_faces.py', 'test_checkpoint_damage.py', 'test_pixcolor_model.py',
             'test_averaging.py', 'test_model.py', 'test_bad_inputs.py')


def pytest_collection_modifyitems(items):
  rank = {name: i for i, name in enumerate(RUN_FIRST)}
  items.sort(key=lambda item: rank.get(item.path.name, len(RUN_FIRST)))  # Stable: the rest as is.


def _end_the_worker_now():
  """An xdist worker's last exit handler: ends the process once every other handler has run
  (TensorFlow's, absl's, matplotlib's; registered later, so run earlier), without the interpreter's
  teardown of the hundreds of models and functions its tests left, which took 7 s after the last
  test while the controller waited. Its results were sent to the controller before."""
  logging.shutdown()
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(0)


def pytest_configure(config):
  # `workerinput` marks an xdist worker itself, not a pytest a test starts from one (which inherits
  # PYTEST_XDIST_WORKER, and whose exit status must stay its own).
  if hasattr(config, 'workerinput'):
    atexit.register(_end_the_worker_now)
    # The cores shared among the workers (TensorFlow's ops then the processes the tests start):
    # each worker's ops otherwise use every core, and with `-n 2` on 2 cores the two workers
    # oversubscribed them (on 2 cores of an AMD EPYC, 2026-12-05: the suite 7 min 38 s with each
    # worker on both cores, 7 min 11 s on one). Before TensorFlow's import; a value set outside wins.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    threads = max(1, (cores or 1) // config.workerinput['workercount'])
    os.environ.setdefault('TF_NUM_INTRAOP_THREADS', str(threads))


def pytest_sessionstart(session):
  """Two logical CPUs before any op runs (afterwards the device configuration is frozen), in each
  process that runs tests: not in pytest-xdist's controller, which runs none (TensorFlow's import
  there cost each `-n 2` run 3 s before the workers started)."""
  if session.config.pluginmanager.hasplugin('dsession'):
    return
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  cpu = tf.config.list_physical_devices('CPU')[0]
  tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])


def pytest_sessionfinish(session, exitstatus):
  """Removes the temporary directory of this process's session (each xdist worker its own)."""
  del session, exitstatus
  shutil.rmtree(SESSION_TEMP, ignore_errors=True)
