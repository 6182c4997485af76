"""Pixel Recursive Super Resolution (Dahl, Norouzi, Shlens 2017) in TensorFlow 2 / Keras 3.

  pixel_recursive.layers    causal gated PixelCNN layers (shared with pixcolor)
  pixel_recursive.sampling  XLA-compiled naive and cached samplers (shared with pixcolor)
  pixel_recursive.model     SuperResolution and the L2-regression baseline
  pixel_recursive.train     the training loop (shared with pixcolor), `python -m pixel_recursive.train`
"""
import os as _os


def _import_tensorflow_quietly():
  """Imports TensorFlow with its C++ start-up chatter silenced.

  TensorFlow's CUDA wheel prints "Could not find cuda drivers" and "failed call to cuInit" to the
  process's stderr from C++ on every machine without a GPU, before any Python setting can silence
  it. Our commands promise one line on stderr for a user mistake, so the import and the device scan
  run with file descriptor 2 pointed at /dev/null (Python errors still surface: they are raised,
  not printed). TF_CPP_MIN_LOG_LEVEL defaults to 2 (warnings and errors of TF's C++ kept quiet);
  set it to 0 to see everything.
  """
  import sys
  _os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  if 'tensorflow' in sys.modules:
    return
  saved, devnull = _os.dup(2), _os.open(_os.devnull, _os.O_WRONLY)
  try:
    sys.stderr.flush()
    _os.dup2(devnull, 2)
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.config.list_physical_devices()
  finally:
    _os.dup2(saved, 2)
    _os.close(saved)
    _os.close(devnull)


_import_tensorflow_quietly()
