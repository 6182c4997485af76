"""Test setup: quiet TensorFlow, a temporary directory of the session's own, and two logical CPUs so
MirroredStrategy has two replicas."""
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

import tensorflow as tf  # pylint: disable=g-import-not-at-top

# Before any op runs: afterwards the device configuration is frozen.
_cpu = tf.config.list_physical_devices('CPU')[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])


def pytest_sessionfinish(session, exitstatus):
  """Removes the temporary directory of this process's session (each xdist worker its own)."""
  del session, exitstatus
  shutil.rmtree(SESSION_TEMP, ignore_errors=True)
