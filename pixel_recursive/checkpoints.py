"""`tf.train.Checkpoint`s of Keras 3 models, keyed by each weight's Keras path.

Keras 3 keeps sublayers held in Python lists (our PixelCNN's gated blocks, the ResNet stages) in its
own tracked lists, which `tf.train.Checkpoint(model=model)` does not see: such a checkpoint silently
misses most weights, and restoring it "succeeds" with random ones. So every checkpoint of this project
tracks the weights explicitly, `{variable.path: variable}`, which also makes restores match by name.
"""
import tensorflow as tf


def weights_by_path(model):
  """{path below the model: weight}; the model's own name (e.g. `super_resolution_1`, which Keras
  numbers per process) is left out so that any instance restores any other's checkpoint."""
  weights = {}
  prefix = model.name + '/'
  for v in model.weights:
    key = v.path[len(prefix):] if v.path.startswith(prefix) else v.path
    if key in weights and weights[key] is not v:
      raise ValueError(f'two weights share the path {key}')
    weights[key] = v
  return weights


def make(model, **others):
  """A `tf.train.Checkpoint` of `model`'s weights plus other trackables (step, optimizer, ...)."""
  return tf.train.Checkpoint(weights=weights_by_path(model), **others)


def restore_weights(path, model, **others):
  """Restores `model` (and `others`) from the checkpoint at `path`; every weight must be found.

  Raises:
    AssertionError: a weight of `model` is absent from the checkpoint (a different architecture).
  """
  status = make(model, **others).restore(path)
  status.expect_partial()  # The optimizer's slots may be in the file; inference does not need them.
  status.assert_existing_objects_matched()
  return status
