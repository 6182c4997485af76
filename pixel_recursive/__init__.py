"""Pixel Recursive Super Resolution (Dahl, Norouzi, Shlens 2017) in TensorFlow 2 / Keras 3, and the
PixelCNN core and plumbing that PixColor (the `pixcolor` package) shares.

  The PixelCNN core, shared by both papers:
    layers.py      causal gated PixelCNN layers (vertical and horizontal stacks, the output head)
    causal.py      their building blocks: masks A/B, the one-row shift, the gate, value scaling
    sampling.py    XLA-compiled naive and cached samplers, counter-based noise, seeds
    losses.py      per-example cross-entropy (nats per sub-pixel), bits/dim
    metrics.py     pSNR, SSIM, MS-SSIM, consistency, high-frequency energy
  Plumbing both papers' commands share:
    training/      the training loop, the task protocol, optimizers, mixed precision, summaries
    distribute.py  tf.distribute strategies, chief, logical CPUs
    workdir.py     config.json, checkpoints, restoring a model from a workdir
    commands.py    the error contract and the batch-command skeleton (upsample, colorize)
    evaluation.py  the evaluate-command skeleton (data, files, TensorBoard)
    serving.py     SavedModel export: chunked batches, checked inputs, save and verify
    visualize.py   image grids
    rating/        the human "% fooled" study
  Super-resolution itself:
    model.py  task.py  train.py  upsample.py  evaluate.py  export.py
"""
import os as _os
import sys as _sys


def _import_tensorflow_quietly():
  """Imports TensorFlow with its C++ start-up chatter silenced.

  TensorFlow's CUDA wheel prints "Could not find cuda drivers" and "failed call to cuInit" to the
  process's stderr from C++ on every machine without a GPU, before any Python setting can silence
  it. Our commands promise one line on stderr for a user mistake, so the import and the device scan
  run with file descriptor 2 pointed at /dev/null (Python errors still surface: they are raised,
  not printed). TF_CPP_MIN_LOG_LEVEL defaults to 2 (warnings and errors of TF's C++ kept quiet);
  set it to 0 to see everything.
  """
  _os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  if 'tensorflow' in _sys.modules:
    return
  saved, devnull = _os.dup(2), _os.open(_os.devnull, _os.O_WRONLY)
  try:
    _sys.stderr.flush()
    _os.dup2(devnull, 2)
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.config.list_physical_devices()
  finally:
    _os.dup2(saved, 2)
    _os.close(saved)
    _os.close(devnull)


# Only for the command lines: while `python -m pixel_recursive.<command>` (or pixcolor.<command>,
# experiments.<command>) imports its package, runpy holds sys.argv[0] at '-m'. A library user's
# `import pixel_recursive` (a notebook, a script, a test) keeps TensorFlow's diagnostics.
if _sys.argv[:1] == ['-m']:
  _import_tensorflow_quietly()
