"""Pixel Recursive Super Resolution (Dahl, Norouzi, Shlens 2017) in TensorFlow 2 / Keras 3, and the
PixelCNN core and plumbing that PixColor (the `pixcolor` package) shares.

  The PixelCNN core, shared by both papers:
    layers.py      causal gated PixelCNN layers (vertical and horizontal stacks, the output head)
    causal.py      their building blocks: masks A/B, the one-row shift, the gate, value scaling
    masked_conv.py the masked convolution every layer is made of
    sampling.py    XLA-compiled naive and cached samplers, counter-based noise, seeds
    grouped_column.py  the cached sampler's per-pixel work on the horizontal stacks
    candidates.py  the most typical of N draws (`candidates=N`: minimum-Bayes-risk selection)
    losses.py      per-example cross-entropy (nats per sub-pixel), bits/dim
    metrics.py     pSNR, SSIM, MS-SSIM, consistency, high-frequency energy
  Plumbing both papers' commands share:
    training/      the training loop, the task protocol, optimizers, mixed precision, summaries
    distribute.py  tf.distribute strategies, chief, logical CPUs
    workdir.py     config.json, checkpoints, restoring a model from a workdir
    commands.py    the error contract (one line, exit 2, never a traceback), flag-value checks
    batch_command.py  the batch-command skeleton (upsample, colorize): read, sample, write, name
    checkpoint_files.py  damaged checkpoints and failed saves: named, set aside, skipped
    evaluation.py  the evaluate-command skeleton (data, files, TensorBoard)
    serving.py     SavedModel export: chunked batches, checked inputs, save and verify
    export_command.py  both papers' export command line (flags read before TensorFlow loads)
    visualize.py   image grids
    rating/        the human "% fooled" study
  Super-resolution itself:
    model.py  task.py  train.py  upsample.py  evaluate.py  export.py
"""
import contextlib as _contextlib
import importlib.util as _importlib_util
import os as _os
import sys as _sys


@_contextlib.contextmanager
def _stderr_silenced():
  """Points file descriptor 2 at /dev/null (C++ writes there directly; Python errors still raise)."""
  _sys.stderr.flush()
  saved, devnull = _os.dup(2), _os.open(_os.devnull, _os.O_WRONLY)
  try:
    _os.dup2(devnull, 2)
    yield
  finally:
    _os.dup2(saved, 2)
    _os.close(saved)
    _os.close(devnull)


class _QuietTensorFlowImport:
  """A meta-path finder that makes the process's first `import tensorflow` a quiet one.

  TensorFlow's CUDA wheel prints "Could not find cuda drivers" and "failed call to cuInit" to the
  process's stderr from C++ on every machine without a GPU, before any Python setting can silence
  it. Our commands promise one line on stderr for a user mistake, so TensorFlow's import and its
  device scan run with stderr pointed at /dev/null. The import happens where the command first
  needs TensorFlow, not up front: every command reads its flags, its --input and --output and
  its --workdir's config.json without it, so that a mistyped flag or path is reported in a tenth
  of a second instead of after the 3 to 7 s of TensorFlow's import (tests/test_commands.py).
  TF_CPP_MIN_LOG_LEVEL defaults to 2 (warnings and errors of TF's C++ kept quiet); set it
  to 0 to see everything.
  """

  @classmethod
  def find_spec(cls, name, path=None, target=None):  # pylint: disable=unused-argument
    if name != 'tensorflow':
      return None
    _sys.meta_path.remove(cls)  # Once: the real finders locate it, this loader runs it quietly.
    spec = _importlib_util.find_spec(name)
    if spec is not None and spec.loader is not None:
      spec.loader = _QuietLoader(spec.loader)
    return spec


class _QuietLoader:
  """Runs TensorFlow's own loader, then the device scan, with stderr silenced."""

  def __init__(self, loader):
    self._loader = loader

  def create_module(self, spec):
    return self._loader.create_module(spec)

  def exec_module(self, module):
    with _stderr_silenced():
      self._loader.exec_module(module)
      module.config.list_physical_devices()

  def __getattr__(self, name):  # get_resource_reader, is_package, ...: TensorFlow's loader's.
    return getattr(self._loader, name)


# Only for the command lines: while `python -m pixel_recursive.<command>` (or pixcolor.<command>,
# experiments.<command>) imports its package, runpy holds sys.argv[0] at '-m'. A library user's
# `import pixel_recursive` (a notebook, a script, a test) keeps TensorFlow's diagnostics.
if _sys.argv[:1] == ['-m'] and 'tensorflow' not in _sys.modules:
  _os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  _sys.meta_path.insert(0, _QuietTensorFlowImport)
