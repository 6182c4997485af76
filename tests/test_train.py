"""The training loop end to end: strategies, checkpoints, resume, summaries, NaN guard, CLIs."""
import json
import logging
import os
import re
import types

import keras
import ml_collections
import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

import event_files
import helpers
import training_runs
from helpers import load_config, run_in_process, strategy_named
from data import pipeline
from pixel_recursive import commands
from pixel_recursive import metrics
from pixel_recursive import model as model_lib
from pixel_recursive import sampling
from pixel_recursive import task as task_lib
from pixel_recursive import visualize
from pixel_recursive import workdir as workdir_lib
from pixel_recursive.training import loop
from pixel_recursive.training import optim
from pixel_recursive.training import steps as steps_lib


def tiny_config(**overrides):
  """faces_tiny shrunk to seconds: a 2-layer prior and one ResNet block per resolution.

  In float32 on every CPU: at this size bfloat16's casts cost more than its maths saves (the suite
  took 7% more CPU time with them on a CPU with native bfloat16), and the tests' numbers are then
  the same whatever the CPU. The configs' own 'auto' policy trains in the command-line, resume and
  preemption tests, and mixed bfloat16 against float32 is test_precision.py's.
  """
  c = load_config('faces_tiny')
  c.dtype_policy = 'float32'
  c.data.source = helpers.faces_source()
  c.train_steps = 6
  c.batch_size = 4
  c.checkpoint_every_steps = 3
  c.log_every_steps = 3
  c.image_every_steps = 6
  c.histogram_every_steps = 6
  c.eval_every_steps = 6
  c.eval_examples = 8
  c.eval_batch_size = 4
  c.num_image_examples = 2
  c.sample_temperatures = (1.0, 0.8)
  c.data.shuffle_buffer = 64
  c.model.conditioning.filters = 8
  c.model.conditioning.blocks = (1, 1, 1)
  c.model.prior.num_layers = 2
  c.model.prior.filters = 8
  c.model.prior.head_filters = 16
  return helpers.override(c, overrides)


def test_mirrored_strategy_is_made_once_per_process():
  """Two models trained one after the other in one process (a notebook, this suite) must not get
  two MirroredStrategy objects: each numbers its collective ops from the same keys, and the second
  one's all-reduce of a differently sized model fails with "Shape mismatch in the collective
  instance 100" (it did in CI). The strategy `--strategy=mirrored` makes is reused instead."""
  assert strategy_named('mirrored') is strategy_named('mirrored')
  for size in (100, 50):  # Two "models" with different gradient sizes.
    strategy = strategy_named('mirrored')

    @tf.function
    def all_reduce(size=size, strategy=strategy):
      ctx = lambda: tf.distribute.get_replica_context()
      return strategy.run(lambda: ctx().all_reduce('sum', [tf.ones([size]), tf.ones([3])]))

    summed = strategy.experimental_local_results(all_reduce()[0])
    assert len(summed) == 2 and all(s.numpy().tolist() == [2.0] * size for s in summed)


def test_the_chief_is_the_chief_task_or_else_worker_0():
  """The one process that keeps checkpoints and writes summaries, as TensorFlow's convention says."""
  from pixel_recursive import distribute

  def chief(task_type, task_id, jobs):
    spec = tf.train.ClusterSpec({job: [f'localhost:{20000 + k}' for k in range(n)]
                                 for job, n in jobs.items()})
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(spec, task_type=task_type,
                                                                    task_id=task_id)
    return distribute.is_chief(types.SimpleNamespace(cluster_resolver=resolver))

  assert chief('worker', 0, {'worker': 2}) and not chief('worker', 1, {'worker': 2})
  assert chief('chief', 0, {'chief': 1, 'worker': 2})
  assert not chief('worker', 0, {'chief': 1, 'worker': 2})
  assert distribute.is_chief(tf.distribute.get_strategy())  # No cluster: one process, the chief.


def test_xla_training_is_refused_only_on_several_logical_cpus():
  """XLA training cannot compile across logical CPU devices (the environment notes), so the loop
  turns it off there, and only there: one device keeps the config's choice."""
  from pixel_recursive import distribute
  assert not distribute.uses_logical_cpus(tf.distribute.get_strategy())
  assert distribute.uses_logical_cpus(strategy_named('mirrored'))  # conftest's two logical CPUs.


@pytest.mark.parametrize('tf_config,message', [
    ('{"cluster": {"worker": ["localhost:1"]}', 'TF_CONFIG is not valid JSON'),
    # These ended in TensorFlow's tracebacks (ValueError, TypeError) ...
    ('{"cluster": {"worker": ["localhost:1"]}}', 'TF_CONFIG has no "task"'),
    ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 3}}',
     "the task index 3 is not one of the cluster's 1 'worker' addresses"),
    ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "chief", "index": 0}}',
     "the task type 'chief' is not in the cluster (it has 'worker')"),
    ('{"cluster": {"worker": "localhost:1"}, "task": {"type": "worker", "index": 0}}',
     '''the cluster's 'worker' must be a list of "host:port" addresses, got "localhost:1"'''),
    # ... and these trained on one machine as if there were no cluster.
    ('{"task": {"type": "worker", "index": 0}}', 'TF_CONFIG has no "cluster"'),
    ('[1, 2]', 'TF_CONFIG must be a JSON object'),
])
def test_a_tf_config_that_names_no_place_in_a_cluster_is_a_usage_error(monkeypatch, tf_config,
                                                                       message):
  from pixel_recursive import distribute
  monkeypatch.setenv('TF_CONFIG', tf_config)
  with pytest.raises(commands.UsageError, match=re.escape(message)):
    distribute.make_strategy('multi_worker')
  distribute.check_tf_config('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", '
                             '"index": 1}}')  # What the tests' two workers are given.
  # JSON's true is Python's 1, a place in a cluster of two: checked directly, as a strategy made
  # with it would wait for the other worker.
  with pytest.raises(commands.UsageError,
                     match="the task index true is not one of the cluster's 2"):
    distribute.check_tf_config('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": '
                               '"worker", "index": true}}')


@pytest.mark.parametrize('strategy', ['default', 'mirrored'])
def test_train_checkpoint_resume(strategy, tmp_path, caplog):
  """Under MirroredStrategy without the image and histogram summaries: those run on the chief's
  float32 copy of the model whatever the strategy (checked under the default one), and compiling
  the sampler again doubled this test's time."""
  workdir = str(tmp_path)
  images = strategy == 'default'
  config = tiny_config(**({} if images else {'image_every_steps': 0, 'histogram_every_steps': 0}))
  task = task_lib.SuperResolutionTask(config)
  with caplog.at_level(logging.INFO):
    assert loop.run(task, config, workdir, 'train_and_eval', strategy_named(strategy)) == 6
  assert tf.train.latest_checkpoint(os.path.join(workdir, 'checkpoints')).endswith('ckpt-6')
  assert json.load(open(os.path.join(workdir, 'config.json')))['train_steps'] == 6

  # Resume: the same command with more steps continues from step 6, at the config's new rate.
  config = tiny_config(train_steps=9, learning_rate=2e-4,
                       **({} if images else {'image_every_steps': 0, 'histogram_every_steps': 0}))
  assert loop.run(task_lib.SuperResolutionTask(config), config, workdir, 'train',
                  strategy_named(strategy)) == 9
  rates = event_files.scalars(os.path.join(workdir, 'train'), 'learning_rate')
  assert rates[-1][0] == 9 and abs(rates[-1][1] - 2e-4) < 1e-9 and abs(rates[0][1] - 1e-3) < 1e-9
  steps = [s for s, _ in event_files.scalars(os.path.join(workdir, 'train'), 'bits_per_dim')]
  assert steps == [3, 6, 9]
  summaries = event_files.read(os.path.join(workdir, 'train'))
  tags = {t for _, t, _, _ in summaries}
  assert {'bits_per_dim_conditioning', 'bits_per_dim_prior', 'learning_rate', 'grad_norm'} <= tags
  if not images:
    assert 'samples' not in tags
    return
  assert 'samples' in tags and any(t.startswith('weights/') for t in tags)
  image = next(v for s, t, k, v in summaries if k == 'images' and s == 6)
  # 2 examples x (input, bicubic, 2 temperatures, truth), 32 px + 2 px padding, doubled, titled.
  decoded = tf.io.decode_png(image).numpy()
  assert decoded.shape[1:] == (2 * (5 * 34 + 2), 3)
  assert 2 * (2 * 34 + 2) + visualize.TITLE_SIZE < decoded.shape[0] < 2 * (2 * 34 + 2) + 50
  evals = event_files.scalars(os.path.join(workdir, 'eval'), 'bits_per_dim')
  assert [s for s, _ in evals] == [6] and 0 < evals[0][1] < 9

  # Beside the grid, how its columns score: the paper's metrics of the very images it shows.
  top = decoded.shape[0] - 2 * (2 * 34 + 2)
  cells = [[helpers.grid_cell(decoded, r, c, 32, scale=2, top=top)[::2, ::2] for c in range(5)]
           for r in range(2)]
  inputs, bicubic, hot, cold, truth = (np.stack([row[c] for row in cells]) for c in range(5))
  lowres = inputs[:, ::4, ::4]  # The input column is the 8x8 input shown x4.
  logged = {t: v for s, t, k, v in summaries  # Of the grid above (step 6; step 9 has its own).
            if s == 6 and k == 'scalars' and t.startswith('samples/')}
  assert set(logged) == {f'samples/{m}_{c}' for m in ('psnr', 'consistency', 'hf_ratio')
                         for c in ('bicubic', 'T1', 'T0.8')}
  for column, shown in (('bicubic', bicubic), ('T1', hot), ('T0.8', cold)):
    want = {'psnr': np.mean(np.minimum(metrics.psnr(shown, truth), 100)),
            'consistency': np.mean(np.minimum(metrics.consistency(shown, lowres), 100)),
            'hf_ratio': np.median(metrics.hf_energy_ratio(shown, truth))}
    for metric, value in want.items():
      assert logged[f'samples/{metric}_{column}'] == pytest.approx(value, rel=1e-5), (metric,
                                                                                      column)
  assert logged['samples/hf_ratio_T1'] > logged['samples/hf_ratio_bicubic']  # Drawn, not blurred.
  # And on the log, for a run watched without TensorBoard: the first sample column's beside bicubic.
  get = lambda metric, column='T1': logged[f'samples/{metric}_{column}']
  assert (f"image grid at step 6, 2 examples: pSNR {get('psnr'):.2f} dB (bicubic "
          f"{get('psnr', 'bicubic'):.2f}), consistency {get('consistency'):.1f} dB, HF ratio "
          f"{get('hf_ratio'):.2f} at T 1") in [r.getMessage() for r in caplog.records]


def test_loss_falls_when_overfitting_one_batch(tmp_path):
  images = helpers.smooth_images(4, seed=4)
  np.savez(tmp_path / 'four.npz', train_images=images, eval_images=images)
  # Wide enough to memorise four faces; the 8-filter test model is not (10.6 -> 8.3: fails below).
  config = tiny_config(**{'train_steps': 150, 'checkpoint_every_steps': 150,
                          'log_every_steps': 10, 'image_every_steps': 0,
                          'histogram_every_steps': 0, 'learning_rate': 3e-3, 'grad_clip_norm': 0.0,
                          'data.source': f'npz:{tmp_path}/four.npz', 'data.shuffle_buffer': 4,
                          'model.conditioning.filters': 16, 'model.prior.filters': 16,
                          'model.prior.num_layers': 3, 'model.prior.head_filters': 32})
  loop.run(task_lib.SuperResolutionTask(config), config, str(tmp_path / 'run'))
  losses = [v for _, v in event_files.scalars(str(tmp_path / 'run' / 'train'), 'loss')]
  # From the mean of steps 11-20 on, not of steps 1-10: those include the untrained model's first
  # losses (several times larger), which any learning at all would halve. Measured: 10.0 -> 5.8.
  assert losses[-1] < 0.7 * losses[1], losses


def test_same_seed_same_first_losses(tmp_path):
  config = tiny_config(train_steps=3, image_every_steps=0, histogram_every_steps=0)
  runs = []
  for name in ('a', 'b'):
    loop.run(task_lib.SuperResolutionTask(config), config, str(tmp_path / name))
    runs.append(event_files.scalars(str(tmp_path / name / 'train'), 'loss'))
  assert runs[0] == runs[1]
  config = tiny_config(train_steps=3, image_every_steps=0, histogram_every_steps=0, seed=1)
  loop.run(task_lib.SuperResolutionTask(config), config, str(tmp_path / 'c'))
  assert event_files.scalars(str(tmp_path / 'c' / 'train'), 'loss') != runs[0]


def test_learning_rate_warms_up_and_drops_at_its_steps_also_after_a_resume(tmp_path):
  """warmup_steps ramps the rate up, each learning_rate_drop_steps multiplies it by the factor; a
  run resumed after the drop trains at the dropped rate (not the config's learning_rate)."""
  config = tiny_config(train_steps=4, checkpoint_every_steps=2, log_every_steps=1,
                       image_every_steps=0, histogram_every_steps=0, eval_every_steps=0,
                       learning_rate=1e-3, warmup_steps=2, learning_rate_drop_steps=(3,),
                       learning_rate_drop_factor=0.5)
  workdir = str(tmp_path / 'run')
  loop.run(task_lib.SuperResolutionTask(config), config, workdir)
  rates = dict(event_files.scalars(os.path.join(workdir, 'train'), 'learning_rate'))
  # The summary at step s is the rate the s-th step trained at (set from s - 1 steps done).
  np.testing.assert_allclose([rates[s] for s in (1, 2, 3, 4)], [5e-4, 1e-3, 1e-3, 5e-4], rtol=1e-5)
  config.train_steps = 6
  loop.run(task_lib.SuperResolutionTask(config), config, workdir)
  rates = dict(event_files.scalars(os.path.join(workdir, 'train'), 'learning_rate'))
  np.testing.assert_allclose([rates[5], rates[6]], [5e-4, 5e-4], rtol=1e-5)


def test_either_part_of_the_schedule_alone_is_a_schedule():
  # The train step applies `learning_rate_at` only where `has_schedule` says there is one.
  def config(**values):
    return ml_collections.ConfigDict({'learning_rate': 1e-3, **values})
  assert optim.has_schedule(config(warmup_steps=2))
  assert optim.has_schedule(config(learning_rate_drop_steps=(5,), learning_rate_drop_factor=0.5))
  assert not optim.has_schedule(config(warmup_steps=0, learning_rate_drop_steps=()))
  np.testing.assert_allclose(
      [float(optim.learning_rate_at(config(learning_rate_drop_steps=(5,),
                                           learning_rate_drop_factor=0.5), s)) for s in (4, 5)],
      [1e-3, 5e-4], rtol=1e-6)


def test_the_optimizer_is_the_one_its_config_names_with_the_papers_defaults():
  """RMSProp as Dahl et al. (decay 0.95, momentum 0.9, epsilon 1e-8) when the config names no
  values; the config's values, weight decay included, when it does; Adam likewise. Every shipped
  config spells its values out, so only this test sees a default or a dropped setting."""
  def make(**optimizer):
    return optim.make_optimizer(ml_collections.ConfigDict(
        {'learning_rate': 1e-3, 'optimizer': optimizer}))

  paper = make(name='rmsprop')
  assert (paper.rho, paper.momentum, paper.epsilon, paper.weight_decay) == (0.95, 0.9, 1e-8, None)
  custom = make(name='rmsprop', decay=0.8, momentum=0.5, epsilon=1e-6, weight_decay=1e-4)
  assert (custom.rho, custom.momentum, custom.epsilon, custom.weight_decay) == (0.8, 0.5, 1e-6, 1e-4)
  adam = make(name='adam', weight_decay=0.01)
  assert (adam.beta_1, adam.beta_2, adam.epsilon, adam.weight_decay) == (0.9, 0.999, 1e-7, 0.01)
  assert float(adam.learning_rate) == pytest.approx(1e-3)
  with pytest.raises(commands.UsageError, match="'rmsprop' or 'adam'"):
    make(name='sgd')


def one_sgd_step(strategy_name, clip):
  """One train step with plain SGD at rate 1, so that the weights move by exactly the gradient
  the optimizer was handed (RMSProp and Adam would hide a missing clip or a gradient off by a
  factor: they divide its scale out). Returns (how each weight moved, TensorBoard's grad_norm)."""
  strategy = strategy_named(strategy_name)
  config = tiny_config(grad_clip_norm=clip, xla=False, learning_rate=1.0, warmup_steps=0,
                       learning_rate_drop_steps=(), ema_decay=0.0)
  task = task_lib.SuperResolutionTask(config)
  keras.utils.set_random_seed(config.seed)  # As loop.run: the same weights on either strategy.
  training = loop.build(task, config, strategy)
  variables = training.model.trainable_variables
  with strategy.scope():
    sgd = keras.optimizers.SGD(1.0)
    sgd.build(variables)
  train_steps = steps_lib.make_train_step(task, training._replace(optimizer=sgd), config,
                                          strategy, use_xla=False)
  iterator = iter(strategy.distribute_datasets_from_function(
      task.input_fn(config, 'train', config.batch_size, training=True)))
  before = [v.numpy() for v in variables]
  totals, first_bad = train_steps(iterator, tf.constant(1))
  assert int(first_bad) == -1
  return [v.numpy() - b for v, b in zip(variables, before)], float(totals['grad_norm'])


def norm(arrays):
  return np.sqrt(sum(np.sum(np.square(a)) for a in arrays))


@pytest.mark.parametrize('clip', [0.0, 1e-3])
def test_clipping_bounds_the_update_and_grad_norm_measures_the_gradient(clip):
  """Clipped, the move is `grad_clip_norm` long and TensorBoard's grad_norm is the global
  gradient's, before clipping. Unclipped, one replica reports the norm of the move itself; two
  report each one's share scaled to the whole batch, which by the triangle inequality is never
  below the norm of their sum, and near it (the halves' gradients point much the same way). Two
  replicas make the same move as one on the same global batch (the loss is summed over each
  replica's examples and divided by the global batch, so the replicas' sum is the mean)."""
  moves, reports = {}, {}
  for strategy_name in ('default', 'mirrored'):
    delta, reported = one_sgd_step(strategy_name, clip)
    moves[strategy_name], reports[strategy_name] = delta, reported
    moved = norm(delta)
    if clip:
      assert moved == pytest.approx(clip, rel=1e-3)
      assert reported > 10 * clip
    elif strategy_name == 'default':
      assert moved == pytest.approx(reported, rel=1e-4)
    else:
      assert moved * (1 - 1e-4) <= reported < 1.5 * moved
  for one, two in zip(moves['default'], moves['mirrored']):
    np.testing.assert_allclose(two, one, rtol=1e-3, atol=1e-3 * np.abs(one).max() + 1e-9)
  if clip:
    assert reports['mirrored'] == pytest.approx(reports['default'], rel=1e-3)


def test_an_eval_batch_that_does_not_split_over_the_replicas_is_rounded_down_to_one_that_does():
  """eval_batch_size 5 on two replicas: batches of 4 (2 each), all 8 eval examples counted."""
  strategy = strategy_named('mirrored')
  config = tiny_config(eval_batch_size=5, eval_examples=8)
  task = task_lib.SuperResolutionTask(config)
  evaluator = steps_lib.Evaluator(task, config, strategy)
  assert evaluator.batch == 4
  with strategy.scope():
    model = task.build_model(config.model)
  means, count = evaluator(model)
  assert count == 8 and np.isfinite(means['loss'])


def test_each_bits_per_dim_scalar_comes_from_its_own_term():
  """TensorBoard's bits/dim of A + B, of A alone and of B alone: nats per sub-pixel / ln 2."""
  means = {'loss': 9.0, 'nats': 2 * np.log(2), 'nats_conditioning': 3 * np.log(2),
           'nats_prior': 4 * np.log(2)}
  scalars = task_lib.SuperResolutionTask(tiny_config()).scalars(means)
  assert scalars['loss'] == 9.0
  np.testing.assert_allclose([scalars['bits_per_dim'], scalars['bits_per_dim_conditioning'],
                              scalars['bits_per_dim_prior']], [2, 3, 4], rtol=1e-6)
  progress = task_lib.SuperResolutionTask(tiny_config()).progress(means)
  assert progress == 'bits/dim 2.000 (A 3.000, B 4.000)', progress  # The log line names them too.


def test_tensorboards_samples_are_drawn_at_each_configured_temperature_and_the_guidance():
  """The images summary: 8x8 input (nearest) | bicubic | one sample per `sample_temperatures`,
  each at the config's `sampling.guidance` and seed | truth (a fake model records what it was
  asked and answers a flat image of 100 x the temperature)."""
  config = tiny_config(sample_temperatures=(1.0, 0.7), seed=5)
  config.sampling = {'guidance': 3.0}
  calls = []

  class Fake:
    def sample(self, lowres, temperature, seed, guidance):
      calls.append((temperature, guidance, seed))
      return tf.fill([len(lowres), 32, 32, 3], tf.constant(round(100 * temperature), tf.uint8))

  rng = np.random.default_rng(0)
  lowres = rng.integers(0, 256, [2, 8, 8, 3], np.uint8)
  highres = rng.integers(0, 256, [2, 32, 32, 3], np.uint8)
  grid = task_lib.SuperResolutionTask(config).images(
      Fake(), {'lowres': lowres, 'highres': highres}, config)['samples']
  assert calls == [(1.0, 3.0, 5), (0.7, 3.0, 5)]
  # 2 rows, 5 columns, x2, under the columns' titles.
  titles = ['input 8x8', 'bicubic', 'T 1, w 3', 'T 0.7, w 3', 'truth']
  top = grid.shape[0] - 2 * (2 + 2 * 34)
  assert grid.shape[1] == 2 * (2 + 5 * 34) and top > visualize.TITLE_SIZE
  np.testing.assert_array_equal(grid[:top], visualize.grid(
      [[np.zeros([32, 32, 3], np.uint8)] * 5], titles=titles, scale=2)[:top])
  cells = grid[top::2, ::2]
  for row in range(2):
    cell = lambda column: helpers.grid_cell(cells, row, column, 32)
    np.testing.assert_array_equal(cell(0), visualize.nearest_upsample(lowres[row], 4))
    np.testing.assert_array_equal(cell(1), visualize.bicubic_upsample(lowres, 32)[row])
    assert np.all(cell(2) == 100) and np.all(cell(3) == 70)
    np.testing.assert_array_equal(cell(4), highres[row])


def test_the_l2_baselines_images_show_its_prediction_between_bicubic_and_the_truth():
  config = tiny_config(**{'model.name': 'l2_regression'})
  l2 = model_lib.build_model(config.model)
  rng = np.random.default_rng(1)
  lowres = rng.integers(0, 256, [2, 8, 8, 3], np.uint8)
  highres = rng.integers(0, 256, [2, 32, 32, 3], np.uint8)
  grids, scalars = task_lib.SuperResolutionTask(config).image_summaries(
      l2, {'lowres': lowres, 'highres': highres}, config)
  grid = grids['samples']
  # Its scores are the prediction's, beside bicubic's.
  assert scalars['samples/psnr_l2_mean'] == pytest.approx(
      np.mean(metrics.psnr(l2.predict_images(lowres), highres)), rel=1e-5)
  assert set(scalars) == {f'samples/{m}_{c}' for m in ('psnr', 'consistency', 'hf_ratio')
                          for c in ('bicubic', 'l2_mean')}
  task = task_lib.SuperResolutionTask(config)
  assert task.image_progress(scalars).endswith(' at the L2 mean')
  only_bicubic = {k: v for k, v in scalars.items() if k.endswith('_bicubic')}
  assert task.image_progress(only_bicubic) == (
      f"bicubic's pSNR {scalars['samples/psnr_bicubic']:.2f} dB, no sample drawn")
  top = grid.shape[0] - 2 * (2 + 2 * 34)
  titles = ['input 8x8', 'bicubic', 'L2 mean', 'truth']
  np.testing.assert_array_equal(grid[:top], visualize.grid(
      [[np.zeros([32, 32, 3], np.uint8)] * 4], titles=titles, scale=2)[:top])
  grid = grid[top::2, ::2]  # Below the titles, halved.
  assert grid.shape[:2] == (2 + 2 * 34, 2 + 4 * 34)  # nearest | bicubic | prediction | truth.
  np.testing.assert_array_equal(helpers.grid_cell(grid, 0, 2, 32),
                                l2.predict_images(lowres).numpy()[0])


@pytest.mark.parametrize('key,value,message', [
    ('learning_rate_drop_steps', (5, 3), 'increasing positive steps'),
    ('learning_rate_drop_steps', (0, 3), 'increasing positive steps'),
    ('learning_rate_drop_steps', (2.5,), 'increasing positive steps'),
    ('learning_rate_drop_factor', 1.5, 'learning_rate_drop_factor must be in (0, 1]'),
    ('learning_rate_drop_factor', 0.0, 'learning_rate_drop_factor must be in (0, 1]'),
    ('warmup_steps', -1, 'warmup_steps must be >= 0, got -1'),
])
def test_a_schedule_that_cannot_be_meant_is_a_usage_error(key, value, message):
  with pytest.raises(commands.UsageError, match=re.escape(message)):
    task_lib.SuperResolutionTask(tiny_config(**{key: value}))


class NaNFromCall(task_lib.SuperResolutionTask):
  """Injects a NaN into the training loss (`into='loss'`) or into the gradients of a finite loss
  (`into='gradients'`) from the `bad_call`-th training step on."""

  def __init__(self, config, bad_call, into='loss'):
    super().__init__(config)
    self.calls = tf.Variable(0)
    self.bad_call = bad_call
    self.into = into

  def _poison(self):
    self.calls.assign_add(1)
    return tf.where(self.calls >= self.bad_call, float('nan'), 1.0)

  def metrics(self, model, batch, training):
    metrics = super().metrics(model, batch, training)
    if training and self.into == 'loss':
      metrics['loss'] = metrics['loss'] * self._poison()
    return metrics

  def scale_gradients(self, model, grads, step):
    grads = super().scale_gradients(model, grads, step)
    if self.into == 'gradients':
      poison = self._poison()
      grads = [g * poison for g in grads]
    return grads


def test_non_finite_loss_stops_with_step_and_last_good_checkpoint(tmp_path):
  workdir = str(tmp_path)
  config = tiny_config(train_steps=12, image_every_steps=0, histogram_every_steps=0)
  # Steps 1-3 are fine and checkpointed; the loss of step 5 is NaN.
  with pytest.raises(loop.NonFiniteError) as error:
    loop.run(NaNFromCall(config, bad_call=5), config, workdir)
  message = str(error.value)
  assert 'at step 5;' in message and 'ckpt-3' in message, message
  # Nothing after the last good checkpoint was saved.
  assert tf.train.latest_checkpoint(os.path.join(workdir, 'checkpoints')).endswith('ckpt-3')


def test_command_lines_end_to_end(tmp_path):
  """train -> upsample (with a broken file) -> evaluate, through the command lines (run in this
  process; test_commands.py runs each in a real one)."""
  workdir = str(tmp_path / 'run')
  result = run_in_process('pixel_recursive.train', '--config=experiments/configs/faces_tiny.py',
                          f'--workdir={workdir}', '--config.train_steps=2',
                          '--config.checkpoint_every_steps=2', '--config.image_every_steps=0',
                          '--config.model.prior.num_layers=2', '--config.model.prior.filters=8',
                          '--config.model.conditioning.blocks=(1, 1, 1)', '--config.batch_size=4',
                          f'--config.data.source={helpers.faces_source()}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'step 2/2' in result.stderr
  # TensorFlow's own INFO lines stay out of the run's log (its checkpoint writer logged a line at
  # every save, 'Sharding callback duration: 52 microseconds').
  assert 'saved checkpoint' in result.stderr and 'Sharding callback' not in result.stderr
  saved = json.load(open(os.path.join(workdir, 'config.json')))  # Resolved, and where it came from.
  assert saved['config_file'] == 'experiments/configs/faces_tiny.py'
  assert saved['train_steps'] == 2 and saved['model']['prior']['num_layers'] == 2

  faces = helpers.smooth_images(2, seed=9)
  inputs = tmp_path / 'inputs'
  (inputs / 'sub').mkdir(parents=True)
  tf.io.write_file(str(inputs / 'face.png'), tf.io.encode_png(faces[0]))
  tf.io.write_file(str(inputs / 'sub' / 'big.png'),
                   tf.io.encode_png(np.repeat(np.repeat(faces[1], 3, 0), 3, 1)))
  (inputs / 'broken.jpg').write_text('not a jpeg')
  out = tmp_path / 'out'
  result = run_in_process('pixel_recursive.upsample', f'--workdir={workdir}', f'--input={inputs}',
                          f'--output={out}', '--num_samples=2', '--temperature=0.9',
                          '--guidance=2.5')
  assert result.returncode == 1, result.stderr[-3000:]
  assert 'at temperature 0.9, guidance 2.5, top-p 1' in result.stderr  # The flags, not the model's.
  assert 'broken.jpg' in result.stderr and 'not an image' in result.stderr
  assert 'area-downsampled to 8x8' in result.stderr  # The notice for the 96x96 input.
  assert result.stdout.strip().splitlines()[-1] == f'wrote 6 PNGs and {out}/grid.png'  # 2 x (1 + 2).
  for name in ('face_input', 'face_sample0', 'face_sample1', 'sub/big_sample1', 'grid'):
    assert (out / f'{name}.png').exists(), name
  read = lambda name: tf.io.decode_png(tf.io.read_file(str(out / f'{name}.png'))).numpy()
  assert read('face_sample0').shape == (32, 32, 3)
  # The grid's rows: the input enlarged, bicubic, the samples, the truth (both inputs are >= 32).
  rows = [[visualize.nearest_upsample(read(f'{name}_input'), 4),
           visualize.bicubic_upsample(read(f'{name}_input')[None], 32)[0],
           read(f'{name}_sample0'), read(f'{name}_sample1'), truth]
          for name, truth in (('face', faces[0]), ('sub/big', faces[1]))]
  titles = ['input 8x8', 'bicubic', 'sample 1\nT 0.9, w 2.5', 'sample 2\nT 0.9, w 2.5', 'truth']
  np.testing.assert_array_equal(read('grid'), visualize.grid(rows, titles=titles, scale=2,
                                                             row_titles=['face', 'sub/big']))
  # Each sample says how it was made, and the model draws it again from that.
  made = json.loads(Image.open(out / 'face_sample1.png').text['pixel_recursive'])
  assert made == {'command': ['python', '-m', 'pixel_recursive.upsample', f'--workdir={workdir}',
                              f'--input={inputs}', f'--output={out}', '--num_samples=2',
                              '--temperature=0.9', '--guidance=2.5'],
                  'cwd': helpers.ROOT, 'model': os.path.abspath(workdir), 'step': made['step'],
                  'temperature': 0.9, 'guidance': 2.5, 'top_p': 1.0, 'candidates': 1,
                  'input': str(inputs / 'face.png'), 'sample': 1,
                  'seed': sampling.derive_seed(0, 0, 1)}  # The first input read.
  model, _, step = workdir_lib.restore(str(workdir), model_lib.build_model)
  assert made['step'] == step > 0
  np.testing.assert_array_equal(
      model.sample(read('face_input')[None], temperature=0.9, guidance=2.5,
                   seed=np.array([made['seed']])).numpy()[0], read('face_sample1'))

  # Exactly 7 examples though the batches hold 4; a sweep of 2 temperatures x 2 guidances; on
  # another data source than the run's (what a model card's numbers are re-run with).
  metrics_path = tmp_path / 'metrics.json'
  result = run_in_process('pixel_recursive.evaluate', f'--workdir={workdir}',
                          f'--output={metrics_path}', '--num_examples=7',
                          '--temperatures=1.0,0.8', '--guidances=1,2.5', '--batch_size=4',
                          '--config.data.source=samples:faces', '--top_p=0.95', '--seed=3')
  assert result.returncode == 0, result.stderr[-3000:]
  metrics = json.load(open(metrics_path))
  assert metrics['num_examples'] == 7 and metrics['step'] == 2 and metrics['top_p'] == 0.95
  assert metrics['seed'] == 3
  assert metrics['data'] == 'samples:faces'
  methods = metrics['methods']
  sweep = {f'samples_T{t}_w{w}' for t in ('1', '0.8') for w in ('1', '2.5')}
  assert set(methods) == {'nearest', 'bicubic', 'conditioning_mean'} | sweep
  assert methods['bicubic']['psnr'] > methods['nearest']['psnr'] > 10
  assert methods['nearest']['consistency'] > 40  # Area-downsampling nearest gives the input.
  assert methods['nearest']['consistency_mse'] < 1e-4
  assert methods['bicubic']['hf_ratio'] < 0.2 < methods['nearest']['hf_ratio']
  assert 0 < metrics['bits_per_dim'] < 9
  table = (tmp_path / 'metrics.md').read_text()
  assert table.startswith('| Method |') and all(f'| {m} |' in table for m in sweep)
  assert 'HF energy ratio' in table and 'Consistency (MSE' in table and 'top-0.95 nucleus' in table
  assert Image.open(tmp_path / 'metrics.png').size[0] > 600  # The sweep plot.
  events = event_files.read(os.path.join(workdir, 'evaluate'))
  assert {'hf_ratio/samples_T1_w2.5', 'bits_per_dim', 'sweep'} <= {t for _, t, _, _ in events}
  assert {s for s, _, _, _ in events} == {2}  # At the checkpoint's step, beside its training.


@pytest.mark.parametrize('module,args,message', [
    ('pixel_recursive.train', ['--config=experiments/configs/faces_tiny.py',
                               '--config.no_such_key=1', '--workdir=/tmp/x'], 'no_such_key'),
    ('pixel_recursive.train', ['--config=experiments/configs/faces_tiny.py'], 'workdir'),
    ('pixel_recursive.upsample', ['--input=/no/such/file.png', '--output=/tmp/o',
                                  '--workdir=/tmp'], '/no/such/file.png'),
    ('pixel_recursive.upsample', ['--input=docs', '--output=/tmp/o',
                                  '--guidance=-1'], '--guidance must be a finite number >= 0'),
    ('pixel_recursive.upsample', ['--input=docs', '--output=/tmp/o',
                                  '--guidance=inf'], '--guidance must be a finite number >= 0'),
    ('pixel_recursive.evaluate', ['--workdir=pixel_recursive/demo/faces', '--output=/tmp/m.json',
                                  '--guidances=1,nan'], '--guidances must be a finite number'),
    ('pixel_recursive.upsample', ['--input=docs', '--output=/tmp/o',
                                  '--temperature=0'], 'temperature'),
    ('pixel_recursive.upsample', ['--input=docs', '--output=/tmp/o',
                                  '--top_p=0'], '--top_p must be in (0, 1], got 0.0'),
    ('pixel_recursive.evaluate', ['--workdir=pixel_recursive/demo/faces', '--output=/tmp/m.json',
                                  '--top_p=1.5'], '--top_p must be in (0, 1], got 1.5'),
    ('pixcolor.colorize', ['--input=docs', '--output=/tmp/o', '--top_p=-0.1'],
     '--top_p must be in (0, 1], got -0.1'),
    ('pixcolor.evaluate', ['--output=/tmp/m.json', '--top_p=2'], '--top_p must be in (0, 1]'),
    ('pixel_recursive.upsample', ['--input=docs', '--output=/tmp/o', '--candidates=2'],
     '--candidates=2: 2 cannot choose: two draws lie equally far from their mean'),
    ('pixel_recursive.evaluate', ['--workdir=pixel_recursive/demo/faces', '--output=/tmp/m.json',
                                  '--candidates=2'], '--candidates=2: 2 cannot choose'),
    ('pixel_recursive.evaluate', ['--workdir=pixel_recursive/demo/faces', '--output=/tmp/m.json',
                                  '--temperatures='], '--temperatures is empty'),
])
def test_user_mistakes_exit_2_with_one_line(module, args, message):
  helpers.assert_usage_error(run_in_process(module, *args), message, prog=module)


def test_an_eval_split_smaller_than_tensorboards_image_grid_names_the_key_to_set(tmp_path):
  """A small source (a folder of 9 photos has an eval split of 1) ends in one line before any
  training, with the count and the key to lower: the grid's `num_image_examples`."""
  source = helpers.write_npz(tmp_path / 'few.npz', n_train=8, n_eval=3)
  train = lambda workdir: run_in_process(
      'pixel_recursive.train', '--config=experiments/configs/faces_tiny.py',
      f'--workdir={workdir}', f'--config.data.source={source}', '--config.num_image_examples=4')
  helpers.assert_usage_error(
      train(tmp_path / 'run'), f'the eval split of {source} has only 3 of the 4 examples asked '
      "for: TensorBoard's images show the first --config.num_image_examples=4 of them",
      prog='pixel_recursive.train')
  # The mistake leaves the workdir as it was: no folder (config.json was written in one before
  # the data was looked at), or, in a folder the user made, no config.json.
  assert not os.path.exists(tmp_path / 'run')
  os.mkdir(tmp_path / 'mine')
  assert train(tmp_path / 'mine').returncode == 2
  assert os.listdir(tmp_path / 'mine') == []


def test_a_data_mistake_after_a_checkpoint_leaves_the_new_workdir_whole(tmp_path, monkeypatch):
  """A run in a folder of its own that saved a checkpoint keeps it whatever stops it later (here an
  eval split gone when first evaluated): only a run that trained nothing leaves no folder."""
  from data import errors  # pylint: disable=g-import-not-at-top

  def gone(*unused_args, **unused_kwargs):
    raise errors.DataSourceError('the eval split is gone')

  monkeypatch.setattr(steps_lib.Evaluator, '__call__', gone)
  workdir = tmp_path / 'run'
  result = training_runs.train_in_process(workdir, '--mode=train_and_eval',
                                          '--config.train_steps=2', '--config.eval_every_steps=2',
                                          '--config.checkpoint_every_steps=2')
  assert result.returncode == 2, result.stderr[-3000:]
  assert result.stderr.strip().splitlines()[-1].endswith('error: the eval split is gone')
  assert training_runs.checkpoint_steps(workdir) == [2]
  assert os.path.exists(workdir / 'config.json')


def faces_tiny_eval():
  """faces_tiny's eval settings: its source (samples:faces: 10 eval faces), its eval batch (64)."""
  tiny = load_config('faces_tiny')
  return {'data.source': tiny.data.source, 'data.crop': tiny.data.crop,
          'eval_examples': tiny.eval_examples, 'eval_batch_size': tiny.eval_batch_size}


@pytest.mark.parametrize('strategy', ['default', 'mirrored'])
@pytest.mark.parametrize('overrides,examples', [
    ({'eval_examples': 8, 'eval_batch_size': 4}, 8),
    ({'eval_examples': 7, 'eval_batch_size': 4}, 7),
    (faces_tiny_eval(), 10),
], ids=['8_in_4s', '7_in_4s', 'faces_tiny'])
def test_the_evaluator_reports_the_mean_over_the_eval_examples(strategy, overrides, examples):
  """The eval numbers of TensorBoard and the log are per-example values summed over batches and
  replicas, then divided by the examples: the mean over `eval_examples` (not a mean of batch means
  divided again, nor a sum), every one of them: 7 in batches of 4 are 4 and 3, the last padded with
  examples that count for nothing; faces_tiny's 10 eval faces are one padded batch of 64 (its runs
  used to stop at their first eval with 'the eval split has fewer examples than one eval batch')."""
  config = tiny_config(**overrides)
  task = task_lib.SuperResolutionTask(config)
  distribution = strategy_named(strategy)
  with distribution.scope():
    model = task.build_model(config.model)
  means, count = steps_lib.Evaluator(task, config, distribution)(model)
  assert count == examples
  _, aux = model(pipeline.first_batch(config.data, 'super_resolution', 'eval', examples),
                 training=False)
  for key in ('nats', 'nats_conditioning', 'nats_prior'):
    np.testing.assert_allclose(means[key], aux[key].numpy().mean(), rtol=1e-4)


def test_an_eval_split_whose_every_image_is_unreadable_ends_in_one_line(tmp_path):
  """Unreadable images are skipped and counted; an eval split of nothing else leaves no example to
  evaluate: one line naming the source (not a mean of nothing, an empty set of metrics)."""
  for split in ('train', 'eval'):
    (tmp_path / split).mkdir()
  Image.fromarray(helpers.smooth_images(1)[0]).save(tmp_path / 'train' / 'face.png')
  (tmp_path / 'eval' / 'face.png').write_bytes(b'not a png')
  config = tiny_config(**{'data.source': f'folder:{tmp_path}'})
  task = task_lib.SuperResolutionTask(config)
  model = task.build_model(config.model)
  with pytest.raises(commands.UsageError, match=f'the eval split of folder:{tmp_path} has no ex'):
    steps_lib.Evaluator(task, config, tf.distribute.get_strategy())(model)


@pytest.mark.parametrize('workers,examples', [(2, 5), (2, 1), (3, 2)])
def test_every_workers_eval_input_takes_the_same_steps_and_all_count_each_example_once(
    workers, examples):
  """Under MultiWorkerMirroredStrategy each worker's pipeline gets its share of `eval_examples`
  (example k to worker k % n); they must yield as many batches, or the collective ops of the eval
  step abort. A worker whose share is empty (fewer eval examples than workers) pads with the
  split's first example at weight 0: before, it had nothing to pad with and yielded no batch.
  Each worker here has one replica; the workers are faked by their input contexts."""
  config = tiny_config(eval_examples=examples, eval_batch_size=2 * workers)
  evaluator = steps_lib.Evaluator(task_lib.SuperResolutionTask(config), config,
                                  types.SimpleNamespace(num_replicas_in_sync=workers))
  weights = []
  for i in range(workers):
    context = tf.distribute.InputContext(num_input_pipelines=workers, input_pipeline_id=i,
                                         num_replicas_in_sync=workers)
    weights.append([b['eval_weight'].numpy() for b in evaluator.input_fn(context)])
  # As many batches, all of one size, enough for the largest share: ceil(ceil(N / n) / batch).
  size = weights[0][0].shape[0]
  assert all(w.shape == (size,) for worker in weights for w in worker)
  assert [len(w) for w in weights] == [-(-(-(-examples // workers)) // size)] * workers
  assert sum(w.sum() for worker in weights for w in worker) == examples


def test_the_l2_baselines_psnr_is_on_the_0_255_scale():
  """Its MSE is on [-1, 1] (a difference of 2 spans 255 levels): 0.01 there is 162.6 on 0..255."""
  scalars = task_lib.SuperResolutionTask(tiny_config()).scalars({'loss': 0.01, 'mse': 0.01})
  assert scalars['psnr'] == pytest.approx(10 * np.log10(255 ** 2 / (0.01 * 127.5 ** 2)))
  assert scalars['psnr'] == pytest.approx(26.02, abs=0.01)


def test_continuous_evaluator_evaluates_each_checkpoint_once(tmp_path, monkeypatch, caplog):
  workdir = str(tmp_path)
  config = tiny_config(image_every_steps=0, histogram_every_steps=0)
  task = task_lib.SuperResolutionTask(config)
  loop.run(task, config, workdir)  # Checkpoints at steps 3 and 6.
  config.eval_timeout_seconds = 5
  # The evaluator finds the newest checkpoint (6 = train_steps), evaluates it and stops, without
  # waiting out its timeout for another.
  asked = []
  real_iterator = tf.train.checkpoints_iterator

  def recording_iterator(*args, **kwargs):
    for path in real_iterator(*args, **kwargs):
      asked.append(os.path.basename(path))
      yield path
    asked.append('timed out')

  monkeypatch.setattr(tf.train, 'checkpoints_iterator', recording_iterator)
  assert loop.run(task, config, workdir, 'eval') == 6
  assert asked == ['ckpt-6']
  evals = event_files.scalars(os.path.join(workdir, 'eval'), 'bits_per_dim')
  assert [s for s, _ in evals] == [6] and 0 < evals[0][1] < 9
  assert any(t == 'samples' for _, t, _, _ in event_files.read(os.path.join(workdir, 'eval')))
  # Run again: step 6 was evaluated already, so nothing is written twice.
  assert loop.run(task, config, workdir, 'eval') == 6
  assert len(event_files.scalars(os.path.join(workdir, 'eval'), 'bits_per_dim')) == 1
  # A trainer that stops before train_steps: the evaluator gives up after its timeout and says so,
  # as it does when no checkpoint ever appears.
  config.train_steps, config.eval_timeout_seconds = 9, 1
  caplog.clear()
  with caplog.at_level(logging.WARNING):
    assert loop.run(task, config, workdir, 'eval') == 6
    assert loop.run(task, config, str(tmp_path / 'never_trained'), 'eval') == -1
  assert [r.getMessage() for r in caplog.records if r.name == 'absl'] == [
      f'no new checkpoint in {workdir}/checkpoints within 1s: evaluated up to step 6 of 9; run '
      '--mode=eval again to go on',
      f'no checkpoint appeared in {tmp_path}/never_trained/checkpoints within 1s: nothing '
      'evaluated']


def test_evaluate_compares_with_the_l2_baseline(tmp_path):
  """An L2 baseline trains and restores like the model; the table sets it beside an (untrained:
  training it is the other tests') super-resolution model."""
  from pixel_recursive import evaluate
  l2_config = tiny_config(train_steps=2, checkpoint_every_steps=2, image_every_steps=0,
                          histogram_every_steps=0, **{'model.name': 'l2_regression'})
  loop.run(task_lib.SuperResolutionTask(l2_config), l2_config, str(tmp_path / 'l2'))
  l2, _, step = workdir_lib.restore(str(tmp_path / 'l2'), model_lib.build_model)
  assert isinstance(l2, model_lib.L2Regression) and step == 2
  config = tiny_config()
  model = model_lib.build_model(config.model)
  results = evaluate.evaluate(model, config, 8, [(1.0, 1.0)], batch_size=4, l2_model=l2)
  assert set(results['methods']) == {'nearest', 'bicubic', 'l2_regression', 'conditioning_mean',
                                     'samples_T1_w1'}
  for values in results['methods'].values():
    assert 0 < values['ssim'] <= 1 and values['psnr'] > 5
  assert '| l2_regression |' in evaluate.markdown(results)


def test_evaluate_says_when_the_eval_split_holds_fewer_examples_than_asked(caplog):
  from pixel_recursive import evaluation
  config = tiny_config()  # 40 eval faces.
  with caplog.at_level(logging.INFO):  # One more than it holds.
    batches = list(evaluation.batches(config, 'super_resolution', 41, 16))
  assert [n for _, n in batches] == [16, 16, 8]
  assert any(r.getMessage() == '41 eval examples were asked for, but the eval split of '
             f'{config.data.source} holds 40: the tables score those 40' for r in caplog.records)
  # Progress counts to what the split holds, not to what was asked for.
  assert [r.getMessage() for r in caplog.records if r.getMessage().startswith('evaluated')] == [
      'evaluated 16/40 (40%)', 'evaluated 32/40 (80%)', 'evaluated 40/40 (100%)']
  # The last batch is filled up to 16 with its last example (a photo, not a blank: what samplers
  # and metrics see is always real data), and callers keep only its first 8 rows.
  last = batches[-1][0]
  for key, value in last.items():
    assert len(value) == 16
    np.testing.assert_array_equal(value[8:], np.repeat(value[7:8], 8, axis=0), err_msg=key)
  assert last['highres'][7].std() > 0
  caplog.clear()
  with caplog.at_level(logging.WARNING):
    assert [n for _, n in evaluation.batches(config, 'super_resolution', 40, 16)] == [16, 16, 8]
  assert not [r for r in caplog.records if 'asked for' in r.getMessage()]


def test_a_run_ends_on_a_checkpoint_and_its_scalars_are_means_per_step_and_example(
    tmp_path, monkeypatch, caplog):
  """train_steps 5 with checkpoints every 4: the last step is saved too. TensorBoard's scalars
  are the compiled steps' totals over the steps since the last boundary, per example, and the
  gradient norm per step. The log's last progress line is the last step's."""
  recorded = []
  make_train_step = steps_lib.make_train_step

  def recording(*args, **kwargs):
    train_steps = make_train_step(*args, **kwargs)

    def run_steps(*step_args):
      totals, first_bad = train_steps(*step_args)
      recorded.append({k: float(v) for k, v in totals.items()})
      return totals, first_bad
    return run_steps

  monkeypatch.setattr(loop.steps_lib, 'make_train_step', recording)
  config = tiny_config(train_steps=5, checkpoint_every_steps=4, log_every_steps=2,
                       image_every_steps=0, histogram_every_steps=0, eval_every_steps=0)
  with caplog.at_level(logging.INFO):
    assert loop.run(task_lib.SuperResolutionTask(config), config, str(tmp_path)) == 5
  assert not [r for r in caplog.records if 'not evaluate' in r.getMessage()]  # eval_every_steps 0.
  assert tf.train.latest_checkpoint(str(tmp_path / 'checkpoints')).endswith('ckpt-5')
  steps = (2, 2, 1)  # Boundaries at steps 2, 4 (log and checkpoint) and 5 (the end).
  for tag, per in (('grad_norm', 1), ('loss', config.batch_size)):
    values = event_files.scalars(str(tmp_path / 'train'), tag)
    assert [s for s, _ in values] == [2, 4, 5], tag
    want = [totals[tag] / (n * per) for totals, n in zip(recorded, steps)]
    np.testing.assert_allclose([v for _, v in values], want, rtol=1e-5, err_msg=tag)
  progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith('step ')]
  assert [m.split()[1] for m in progress] == ['2/5', '4/5', '5/5']
  assert (loop._format_duration(125), loop._format_duration(3725)) == ('2m05s', '1h02m')


def test_a_run_that_will_not_evaluate_says_how_to_have_it_evaluate(tmp_path, caplog):
  """The configs set eval_every_steps, which only --mode=train_and_eval uses: a first run of the
  README's command (--mode=train) drew no eval curve in TensorBoard and said nothing about it."""
  config = tiny_config(train_steps=1, checkpoint_every_steps=1, image_every_steps=0,
                       histogram_every_steps=0, eval_every_steps=1, eval_examples=2)
  told = lambda: [r.getMessage() for r in caplog.records if 'does not evaluate' in r.getMessage()]
  for mode, says in (('train', True), ('train_and_eval', False)):
    caplog.clear()
    with caplog.at_level(logging.INFO):
      loop.run(task_lib.SuperResolutionTask(config), config, str(tmp_path / mode), mode=mode)
    assert told() == (['this run does not evaluate (--mode=train): --mode=train_and_eval also '
                       'scores the eval split every 1 step (eval_every_steps), --mode=eval '
                       'beside it scores each checkpoint'] if says else []), mode
  assert os.path.isdir(tmp_path / 'train_and_eval' / 'eval')  # That one did evaluate.
  assert not os.path.exists(tmp_path / 'train' / 'eval')


def test_the_last_step_is_evaluated_and_drawn_even_off_the_every_steps_grid(tmp_path):
  """A short try (faces_tiny with --config.train_steps=300: evals and images every 500) ended with
  no eval curve and no image in TensorBoard: the final step now gets them (and its histograms)
  whatever the every-steps are, as big_vision's loop does; the steps between keep their grid."""
  config = tiny_config(train_steps=5, checkpoint_every_steps=5, log_every_steps=5,
                       image_every_steps=2, histogram_every_steps=3, eval_every_steps=4)
  loop.run(task_lib.SuperResolutionTask(config), config, str(tmp_path), mode='train_and_eval')
  evals = event_files.scalars(str(tmp_path / 'eval'), 'bits_per_dim')
  assert [s for s, _ in evals] == [4, 5]  # Each on its own grid.
  summaries = event_files.read(str(tmp_path / 'train'))
  assert sorted({s for s, t, _, _ in summaries if t == 'samples'}) == [2, 4, 5]
  assert sorted({s for s, t, _, _ in summaries if t.startswith('weights/')}) == [3, 5]
  # Resumed to a further end: that end is drawn too, the old one not again.
  config = tiny_config(train_steps=7, checkpoint_every_steps=5, log_every_steps=5,
                       image_every_steps=4, histogram_every_steps=0, eval_every_steps=0)
  loop.run(task_lib.SuperResolutionTask(config), config, str(tmp_path), mode='train_and_eval')
  summaries = event_files.read(str(tmp_path / 'train'))
  assert sorted({s for s, t, _, _ in summaries if t == 'samples'}) == [2, 4, 5, 7]
  assert [s for s, _ in event_files.scalars(str(tmp_path / 'eval'), 'bits_per_dim')] == [4, 5]


def test_a_batch_the_replicas_cannot_share_evenly_is_a_usage_error(tmp_path):
  config = tiny_config(batch_size=3)
  with pytest.raises(commands.UsageError, match='batch_size 3 is not divisible by the 2 replicas'):
    loop.run(task_lib.SuperResolutionTask(config), config, str(tmp_path),
             strategy=strategy_named('mirrored'))
  assert not os.listdir(tmp_path)  # Refused before anything is written.


def test_init_from_starts_a_run_from_another_runs_weights(tmp_path):
  """A fine-tune of a trained (or shipped) model: the new run's weights start as the old run's."""
  first = tiny_config(train_steps=2, checkpoint_every_steps=2, image_every_steps=0,
                      histogram_every_steps=0, eval_every_steps=0)
  loop.run(task_lib.SuperResolutionTask(first), first, str(tmp_path / 'a'))
  trained, _, _ = workdir_lib.restore(str(tmp_path / 'a'), model_lib.build_model)
  second = tiny_config(init_from=str(tmp_path / 'a'))
  started = task_lib.SuperResolutionTask(second).build_model(second.model)
  fresh = task_lib.SuperResolutionTask(tiny_config()).build_model(tiny_config().model)
  ours, theirs = workdir_lib.weights_by_path(started), workdir_lib.weights_by_path(trained)
  assert ours.keys() == theirs.keys()
  for key in ours:
    np.testing.assert_array_equal(ours[key].numpy(), theirs[key].numpy(), err_msg=key)
  assert any(not np.array_equal(v.numpy(), theirs[k].numpy())
             for k, v in workdir_lib.weights_by_path(fresh).items())
  # A run not trained yet (bedrooms_demo.py's stage 1): the message names init_from and what to do.
  for missing in (tmp_path, tmp_path / 'not_yet'):
    with pytest.raises(commands.UsageError, match=(
        f'^init_from {re.escape(str(missing))}: no checkpoint under .*: train that run first, or '
        'set --config.init_from to a run or a shipped demo folder that has one$')):
      bad = tiny_config(init_from=str(missing))
      task_lib.SuperResolutionTask(bad).build_model(bad.model)
  with pytest.raises(commands.UsageError, match='^init_from gs://bucket/run is a URL'):
    bad = tiny_config(init_from='gs://bucket/run')
    task_lib.SuperResolutionTask(bad).build_model(bad.model)
  # A checkpoint of something else (another model, a typo'd workdir of another project).
  tf.train.Checkpoint(unrelated=tf.Variable([1.0, 2.0])).save(
      str(tmp_path / 'other' / 'checkpoints' / 'ckpt'))
  with pytest.raises(commands.UsageError, match="holds none of this model's weights"):
    bad = tiny_config(init_from=str(tmp_path / 'other'))
    task_lib.SuperResolutionTask(bad).build_model(bad.model)


def test_init_from_expands_the_home_folder(tmp_path, monkeypatch):
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(1.0)),
                                       str(tmp_path / 'run' / 'checkpoints'), max_to_keep=1)
  manager.save(checkpoint_number=3)
  monkeypatch.setenv('HOME', str(tmp_path))
  assert workdir_lib.init_from_checkpoint('~/run') == str(
      tmp_path / 'run' / 'checkpoints' / 'ckpt-3')


def test_a_resumed_run_shuffles_its_data_with_another_seed_than_the_run_before(tmp_path):
  """Resuming must not replay the batches the first steps trained on: the data's seed includes the
  step the run starts from."""
  seeds = []

  class Recording(task_lib.SuperResolutionTask):
    def input_fn(self, config, split, global_batch_size, training, seed=None, num_examples=None):
      if training:
        seeds.append(seed)
      return super().input_fn(config, split, global_batch_size, training, seed, num_examples)

  config = tiny_config(train_steps=3, image_every_steps=0, histogram_every_steps=0,
                       eval_every_steps=0)
  workdir = str(tmp_path / 'run')
  loop.run(Recording(config), config, workdir)
  config.train_steps = 6
  loop.run(Recording(config), config, workdir)
  assert len(seeds) == 2 and seeds[0] == config.seed and seeds[1] != seeds[0], seeds


def test_the_speed_scalars_count_every_step_since_the_last_log_line(tmp_path, monkeypatch):
  """Checkpoints every 2 steps, log lines every 4: each steps_per_second covers 4 steps. The loop's
  clock advances one second per reading, so the rate is the number of steps counted."""
  readings = iter(range(1000))
  monkeypatch.setattr(loop, 'time', types.SimpleNamespace(time=lambda: float(next(readings))))
  config = tiny_config(train_steps=8, checkpoint_every_steps=2, log_every_steps=4,
                       image_every_steps=0, histogram_every_steps=0, eval_every_steps=0)
  workdir = str(tmp_path / 'run')
  loop.run(task_lib.SuperResolutionTask(config), config, workdir)
  train = os.path.join(workdir, 'train')
  assert event_files.scalars(train, 'steps_per_second') == [(4, 4.0), (8, 4.0)]
  assert event_files.scalars(train, 'examples_per_second') == [(4, 16.0), (8, 16.0)]


def test_keep_checkpoints_is_the_number_kept(tmp_path):
  config = tiny_config(train_steps=6, checkpoint_every_steps=1, keep_checkpoints=2,
                       image_every_steps=0, histogram_every_steps=0, eval_every_steps=0)
  workdir = str(tmp_path / 'run')
  loop.run(task_lib.SuperResolutionTask(config), config, workdir)
  assert training_runs.checkpoint_steps(workdir) == [5, 6]


def test_a_non_finite_gradient_with_a_finite_loss_also_stops_training(tmp_path):
  config = tiny_config(train_steps=12, image_every_steps=0, histogram_every_steps=0)
  with pytest.raises(loop.NonFiniteError, match='at step 5;'):
    loop.run(NaNFromCall(config, bad_call=5, into='gradients'), config, str(tmp_path))


def test_trainable_weights_the_loss_never_reaches_are_named_before_training(tmp_path):
  class ConditioningLossOnly(task_lib.SuperResolutionTask):
    """A task bug: the loss leaves out the prior, whose weights then get no gradient."""
    def metrics(self, model, batch, training):
      metrics = super().metrics(model, batch, training)
      return dict(metrics, loss=metrics['nats_conditioning'])

  config = tiny_config(train_steps=3, image_every_steps=0, histogram_every_steps=0)
  with pytest.raises(ValueError, match='the loss does not depend on these trainable weights: .*prior'):
    loop.run(ConditioningLossOnly(config), config, str(tmp_path))
