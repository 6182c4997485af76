"""The moving average of the weights (`ema_decay`, pixel_recursive/training/averaging.py): its
recursion, that the loop keeps it under both strategies and across a resume, that checkpoints carry
it and that inference loads it."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import strategy_named
from pixel_recursive import commands
from pixel_recursive import model as model_lib
from pixel_recursive import task as task_lib
from pixel_recursive import workdir as workdir_lib
from pixel_recursive.training import averaging
from pixel_recursive.training import loop
from pixel_recursive.training import precision
import test_train


def test_the_average_follows_its_recursion_with_the_warm_up():
  # Batch norm's statistics and a frozen layer (a frozen pretrained backbone) get no average: it
  # would only repeat their values, and a frozen MobileNetV2's would add 9 MB to each checkpoint.
  frozen = keras.layers.Dense(2, name='frozen')
  frozen.trainable = False
  model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name='dense'), frozen,
                            keras.layers.BatchNormalization(name='norm')])
  average = averaging.WeightAverage(model, 0.9)
  assert sorted(average.averages) == ['dense/bias', 'dense/kernel', 'norm/beta', 'norm/gamma']
  kernel = model.layers[0].kernel
  expected = kernel.numpy().copy()  # Starts at the initial weights.
  rng = np.random.default_rng(0)
  for t in range(1, 41):
    kernel.assign(rng.normal(size=(3, 2)).astype(np.float32))
    average.update(tf.constant(t, tf.int64))
    d = min(0.9, (1 + t) / (10 + t))
    expected = d * expected + (1 - d) * kernel.numpy()
    np.testing.assert_allclose(average.averages['dense/kernel'].numpy(), expected, rtol=1e-5,
                               atol=1e-6)
  assert float(averaging.decay_at(0.9, 1)) == pytest.approx(2 / 11)
  assert float(averaging.decay_at(0.9, 1000)) == pytest.approx(0.9)


@pytest.mark.parametrize('decay', [-0.1, 1.0, 1.5])
def test_a_decay_outside_0_1_is_a_usage_error(decay, tmp_path):
  config = test_train.tiny_config(ema_decay=decay)
  with pytest.raises(commands.UsageError, match=r'ema_decay must be in \[0, 1\)'):
    loop.run(task_lib.SuperResolutionTask(config), config, str(tmp_path))
  assert not os.listdir(tmp_path)  # Checked before anything is written.


def stored(path, prefix, key):
  """The value the checkpoint at `path` holds for weight `key` under `prefix` (weights, average)."""
  name = workdir_lib.checkpoint_key(key).replace('weights/', prefix + '/', 1)
  return tf.train.load_variable(path, name)


def run(tmp_path, strategy='default', **overrides):
  config = test_train.tiny_config(**{'checkpoint_every_steps': 1, 'image_every_steps': 0,
                                     'histogram_every_steps': 0, 'eval_every_steps': 0,
                                     **overrides})
  loop.run(task_lib.SuperResolutionTask(config), config, str(tmp_path), 'train',
           strategy_named(strategy))
  return os.path.join(str(tmp_path), 'checkpoints')


def test_the_loop_keeps_the_average_across_a_resume_and_inference_loads_it(tmp_path):
  """On two replicas, where the averages are mirrored variables updated in cross-replica context
  (the default strategy runs in the next test)."""
  ckpts = run(tmp_path, 'mirrored', ema_decay=0.9, train_steps=2)
  run(tmp_path, 'mirrored', ema_decay=0.9, train_steps=3)  # Resumes at step 2.
  at2, at3 = os.path.join(ckpts, 'ckpt-2'), os.path.join(ckpts, 'ckpt-3')
  model = model_lib.build_model(test_train.tiny_config().model)
  keys = sorted(k for k, v in workdir_lib.weights_by_path(model).items() if v.trainable)
  d = min(0.9, 4 / 13)
  for key in keys:  # Step 3's update continued step 2's saved average: it was restored, not reset.
    np.testing.assert_allclose(
        stored(at3, 'average', key),
        d * stored(at2, 'average', key) + (1 - d) * stored(at3, 'weights', key), rtol=1e-5,
        atol=1e-6)
  assert any(not np.allclose(stored(at3, 'average', k), stored(at3, 'weights', k)) for k in keys)
  # Inference (upsample, evaluate, export, the demo...) samples with the averages.
  restored, _, step = workdir_lib.restore(str(tmp_path), model_lib.build_model)
  assert step == 3
  weights = workdir_lib.weights_by_path(restored)
  for key in keys:
    np.testing.assert_array_equal(weights[key].numpy(), stored(at3, 'average', key))


def test_a_run_without_an_average_resumes_with_one_and_back(tmp_path):
  ckpts = run(tmp_path, train_steps=2)
  at2 = os.path.join(ckpts, 'ckpt-2')
  assert not workdir_lib.has_averages(at2)
  run(tmp_path, ema_decay=0.9, train_steps=3)  # The average starts from step 2's weights.
  at3 = os.path.join(ckpts, 'ckpt-3')
  d = min(0.9, 4 / 13)
  model = model_lib.build_model(test_train.tiny_config().model)
  for key, weight in workdir_lib.weights_by_path(model).items():
    if weight.trainable:
      np.testing.assert_allclose(
          stored(at3, 'average', key),
          d * stored(at2, 'weights', key) + (1 - d) * stored(at3, 'weights', key), rtol=1e-5,
          atol=1e-6)
  run(tmp_path, train_steps=4)  # And back: ema_decay 0 leaves the averages unused and unsaved.
  assert not workdir_lib.has_averages(os.path.join(ckpts, 'ckpt-4'))


def test_the_inference_model_of_training_takes_the_averages():
  config = test_train.tiny_config()
  task = task_lib.SuperResolutionTask(config)
  model = task.build_model(config.model)
  average = averaging.WeightAverage(model, 0.5)
  for weight in model.trainable_weights:  # Move the trained weights away from the averages.
    weight.assign(weight + 1.0)
  copy = precision.InferenceModel(task, model, config, average).get()
  assert copy is not model
  trained, inferred = workdir_lib.weights_by_path(model), workdir_lib.weights_by_path(copy)
  for key, average_value in average.averages.items():
    np.testing.assert_array_equal(inferred[key].numpy(), average_value.numpy())
    assert not np.array_equal(inferred[key].numpy(), trained[key].numpy())


def test_the_inference_copy_reads_no_starting_weights(tmp_path, monkeypatch):
  """The float32 copy's weights are the model's (or their averages) as soon as `get()` is called:
  building it must not read `init_from`'s checkpoint (or a pretrained backbone's file) a second
  time. Continuous evaluation's model, which restores each checkpoint, reads none either."""
  first = test_train.tiny_config(train_steps=1, checkpoint_every_steps=1, image_every_steps=0,
                                 histogram_every_steps=0, eval_every_steps=0)
  loop.run(task_lib.SuperResolutionTask(first), first, str(tmp_path / 'a'))
  config = test_train.tiny_config(init_from=str(tmp_path / 'a'), train_steps=1,
                                  image_every_steps=0, histogram_every_steps=0,
                                  eval_timeout_seconds=5)
  task = task_lib.SuperResolutionTask(config)
  reads = []
  restore = workdir_lib.restore_matching_weights
  monkeypatch.setattr(workdir_lib, 'restore_matching_weights',
                      lambda *args: reads.append(args[0]) or restore(*args))
  model = task.build_model(config.model)
  assert len(reads) == 1  # The run's own start.
  copy = precision.InferenceModel(task, model, config, averaging.WeightAverage(model, 0.5)).get()
  assert copy is not model and len(reads) == 1
  task.build_model(config.model, initial_weights=False)
  assert len(reads) == 1
  assert loop.run(task, config, str(tmp_path / 'a'), 'eval') == 1  # Evaluates step 1 and stops.
  assert len(reads) == 1


def test_a_checkpoint_with_averages_gives_them_to_trainable_weights_and_the_rest_its_weights(
    tmp_path):
  """Batch norm's moving statistics have no average: inference takes them as stored, beside the
  averages of the trainable weights (a model of the tests' configs has no such weight)."""

  def build():
    return keras.Sequential([keras.Input([3]), keras.layers.Dense(4, name='dense'),
                             keras.layers.BatchNormalization(name='norm')])

  model = build()
  weights = workdir_lib.weights_by_path(model)
  for i, weight in enumerate(weights.values()):
    weight.assign(np.full(weight.shape, i + 1.0))
  averages = {key: tf.Variable(np.full(weight.shape, -10.0 - i, np.float32))
              for i, (key, weight) in enumerate(weights.items()) if weight.trainable}
  path = workdir_lib.make_checkpoint(model, **{workdir_lib.AVERAGES: averages}).save(
      str(tmp_path / 'ckpt'))
  fresh = build()
  assert list(workdir_lib.weights_by_path(fresh)) == list(weights)  # Matched by path.
  assert {w.trainable for w in weights.values()} == {True, False}
  workdir_lib.restore_weights(path, fresh)
  for i, (key, weight) in enumerate(workdir_lib.weights_by_path(fresh).items()):
    want = -10.0 - i if weight.trainable else i + 1.0
    np.testing.assert_array_equal(weight.numpy(), np.full(weight.shape, want), err_msg=key)
