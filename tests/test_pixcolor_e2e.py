"""PixColor end to end: train -> resume -> colorize -> evaluate under both strategies, overfitting one
batch, and the command lines' exit codes."""
import json
import logging
import os

import ml_collections
import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

import event_files
import helpers
import training_runs
from helpers import load_config, run_in_process, strategy_named
from data import image_files
from data import samples
from data import transforms
from pixcolor import colorize
from pixcolor import evaluate
from pixcolor import model as model_lib
from pixcolor import task as task_lib
from pixel_recursive import commands
from pixel_recursive import evaluation
from pixel_recursive import metrics
from pixel_recursive import sampling
from pixel_recursive import visualize
from pixel_recursive import workdir as workdir_lib
from pixel_recursive.training import loop


def tiny_config(**overrides):
  """pixcolor_tiny shrunk to seconds: 16 x 16 photos, 4 x 4 chroma, a 2-layer PixelCNN of 8.

  Without XLA: compiling the train step costs more than these few steps gain (the XLA path is
  exercised by the overfitting test and by every pixcolor_tiny run).
  """
  c = load_config('pixcolor_tiny')
  c.dtype_policy = 'float32'  # As test_train.tiny_config's, for the same reasons.
  c.data.source = helpers.photo_crops_source()
  c.xla = False
  c.train_steps = 4
  c.batch_size = 4
  c.checkpoint_every_steps = 2
  c.log_every_steps = 2
  c.image_every_steps = 4
  c.histogram_every_steps = 0
  c.eval_every_steps = 4
  c.eval_examples = 4
  c.eval_batch_size = 4
  c.num_image_examples = 2
  c.num_image_samples = 2
  c.data.shuffle_buffer = 16
  c.model.image_size = 16  # data.image_size follows (a linked field).
  c.model.chroma_size = 4
  c.model.conditioning.blocks = (1, 1)  # With the max pool: output stride 4.
  c.model.conditioning.max_pool = True
  c.model.conditioning.width = 4
  c.model.adaptation.filters = 8
  c.model.pixelcnn.num_layers = 2
  c.model.pixelcnn.filters = 8
  c.model.pixelcnn.kernel_size = 3
  c.model.pixelcnn.head_filters = 16
  c.model.refinement.layers = ('conv3x3-8-s2', 'conv3x3-16', 'up2', 'conv3x3-8')
  return helpers.override(c, overrides)


def test_tensorboards_colourings_are_different_draws_for_each_sample_column():
  """The images TensorBoard shows: gray | (preview, colouring) per sample | truth, each sample
  column its own draw. Seen in the previews of the sampled chroma: a model this young draws
  near-uniform bins, so two draws always differ there, while its refinement (output layer still at
  zero, not residual) colours every draw gray."""
  config = tiny_config()
  task = task_lib.PixColorTask(config)
  model = task.build_model(config.model)
  batch = next(iter(task.input_fn(config, 'eval', 2, training=False)(tf.distribute.InputContext())))
  grids, scalars = task.image_summaries(model, batch, config)
  grid = grids['colorizations']
  # 16 x 16 cells 2 pixels apart (`visualize.grid`), shown 4 times as large below their titles;
  # columns: gray, 2 x (preview, colouring), truth.
  top = grid.shape[0] - 4 * (2 + 2 * 18)
  assert grid.shape[1] == 4 * (2 + 6 * 18) and top > visualize.TITLE_SIZE

  # Beside the grid, how the colourings it shows score against its truth, and the gray input.
  column = lambda c: np.stack([helpers.grid_cell(grid, r, c, 16, scale=4, top=top)[::4, ::4]
                               for r in range(2)])
  gray, truth, colourings = column(0), column(5), [column(2), column(4)]
  assert scalars == pytest.approx({
      'colorizations/psnr_gray': np.mean(np.minimum(metrics.psnr(gray, truth), 100)),
      'colorizations/psnr': np.mean(np.minimum([metrics.psnr(c, truth) for c in colourings],
                                               100)),
      'colorizations/colourfulness_ratio': np.mean([metrics.colourfulness(c)
                                                    for c in colourings])
      / np.mean(metrics.colourfulness(truth))}, rel=1e-5)
  assert np.mean(metrics.colourfulness(truth)) > 1  # A ratio of something.
  assert task.image_progress(scalars) == (  # The log's line.
      f"colourings' pSNR {scalars['colorizations/psnr']:.2f} dB (gray input "
      f"{scalars['colorizations/psnr_gray']:.2f}), colourfulness ratio "
      f"{scalars['colorizations/colourfulness_ratio']:.2f}")
  none = helpers.override(config.copy_and_resolve_references(), {'num_image_samples': 0})
  no_draw = task.image_summaries(model, batch, none)
  assert task.image_progress(no_draw[1]).startswith('no colouring drawn (gray input ')

  for row in range(2):  # The previews of samples 0 and 1.
    assert not np.array_equal(*(helpers.grid_cell(grid, row, c, 16, scale=4, top=top)
                                for c in (1, 3)))

  # Drawn at the config's `sample_temperature`.
  temperatures, sample_chroma = [], model.sample_chroma
  model.sample_chroma = lambda gray, seeds, t: temperatures.append(t) or sample_chroma(gray, seeds, t)
  task.images(model, batch, helpers.override(config, {'sample_temperature': 0.7}))
  assert temperatures == [0.7, 0.7]


def test_train_resume_colorize_evaluate(tmp_path):
  """Under the default strategy; under MirroredStrategy, the next test."""
  workdir = str(tmp_path / 'run')
  config = tiny_config()
  assert loop.run(task_lib.PixColorTask(config), config, workdir, 'train_and_eval') == 4
  assert tf.train.latest_checkpoint(os.path.join(workdir, 'checkpoints')).endswith('ckpt-4')
  saved = json.load(open(os.path.join(workdir, 'config.json')))
  assert saved['data']['image_size'] == saved['model']['image_size'] == 16

  # Resume: the same command with more steps continues from step 4.
  config = tiny_config(train_steps=6)
  assert loop.run(task_lib.PixColorTask(config), config, workdir, 'train') == 6
  assert [s for s, _ in event_files.scalars(os.path.join(workdir, 'train'),
                                            'bits_per_dim')] == [2, 4, 6]
  summaries = event_files.read(os.path.join(workdir, 'train'))
  tags = {t for _, t, _, _ in summaries}
  assert {'loss', 'bits_per_dim', 'refinement_l2', 'refinement_psnr', 'grad_norm'} <= tags
  evals = event_files.scalars(os.path.join(workdir, 'eval'), 'bits_per_dim')
  assert [s for s, _ in evals] == [4] and 0 < evals[0][1] < 8
  assert 'colorizations' in tags
  assert {f'colorizations/{name}' for name in ('psnr', 'psnr_gray', 'colourfulness_ratio')} <= tags
  grid = tf.io.decode_png(next(v for _, t, k, v in summaries if t == 'colorizations')).numpy()
  # 2 examples x (gray, 2 x (low-res sample, refined), truth) of 16 px + 2 px padding, x4, titled.
  assert grid.shape[1:] == (4 * (6 * 18 + 2), 3)
  assert 4 * (2 * 18 + 2) + visualize.TITLE_SIZE < grid.shape[0] < 4 * (2 * 18 + 2) + 50

  # The workdir restores, colorizes photos of their own size and evaluates.
  model, _, step = workdir_lib.restore(workdir, model_lib.build_model)
  assert step == 6
  folder = os.path.join(helpers.photo_folder(), 'eval')
  grays = [np.asarray(colorize.read_luminance(os.path.join(folder, name)))
           for name in sorted(os.listdir(folder))[:2]]
  written = {}
  colorize.colorize_all(model, grays, 2, 1.0, 0, 4, 'cached',
                        lambda i, k, rgb: written.__setitem__((i, k), rgb))
  assert sorted(written) == [(0, 0), (0, 1), (1, 0), (1, 1)]
  for (i, _), rgb in written.items():
    assert rgb.shape == grays[i].shape + (3,)
    luma = transforms.luminance(rgb).numpy()[..., 0]
    assert np.abs(luma - grays[i]).max() <= 0.5 + 1e-3
  # Batches of 4, as colorize_all's: the compiled sampler is reused.
  results, plot = evaluate.evaluate(model, workdir_lib.read_config(workdir), 4, (1.0, 0.5),
                                    batch_size=4, bins=64)
  assert results['num_examples'] == 4 and set(results['temperatures']) == {'1', '0.5'}
  for r in results['temperatures'].values():
    for channel in 'ab':
      assert 0 < r['histogram_intersection'][channel] <= 1
    assert 0 < r['ms_ssim_between_samples']['median'] <= 1
    assert sum(r['ms_ssim_between_samples']['histogram']['counts']) == 4
  # The wiring, not only the ranges: a model this young colours nearly gray (its refinement network
  # has not learnt to follow the sampled chroma yet), unlike the photos, whose histograms and
  # colourfulness are the photos' own; the ratio is samples / truth.
  photos = np.concatenate([b['image'][:n] for b, n in evaluation.batches(
      workdir_lib.read_config(workdir), 'colorization', 4, 4)])
  at_1 = results['temperatures']['1']
  assert max(at_1['histogram_intersection'].values()) < 0.9
  colourfulness = at_1['colourfulness']
  assert colourfulness['truth'] == pytest.approx(metrics.colourfulness(photos).mean())
  assert colourfulness['ratio'] == pytest.approx(colourfulness['samples'] / colourfulness['truth'])
  assert results['psnr']['refined_true_chroma'] > results['psnr']['gray_input'] > 10
  assert 0 < results['bits_per_dim'] < 8
  figure = evaluate.plot(results, plot)
  assert len(figure.axes) == 3
  table = evaluate.markdown(results)
  assert '| samples, T = 0.5 |' in table
  assert table.rstrip().endswith('samples drawn from the whole distribution (top_p 1)')


def test_two_replicas_train_as_one_process_with_a_resume_does(tmp_path):
  """MirroredStrategy over two replicas, 6 steps in one go with evals at steps 4 and 6 (the last),
  against 4 steps under the default strategy resumed to 6: the same weights and losses. So the two
  networks' losses are scaled by the global batch, their gradients all-reduced, both optimizers'
  states saved and restored. Every training photo is the same (the conditioning network's
  per-replica batch norm then sees the same statistics however the batch is split); float32 (as
  every tiny_config), no random crops, flips or dequantization noise: the runs differ only in the
  strategy and the resume. (The resume under the default strategy: tracing the two replicas' step
  costs 2.5 times the one's; a resume under MirroredStrategy is test_train.py's.) Summaries of
  images, colorizing and evaluating run on one device whatever the strategy (the test above).
  MultiWorkerMirroredStrategy, which shares this loop, is test_reliability.py's.
  """
  photo = helpers.smooth_images(1, size=24, seed=2)
  np.savez(tmp_path / 'one.npz', train_images=photo.repeat(8, 0), eval_images=photo.repeat(4, 0))
  same = {'image_every_steps': 0, 'data.source': f'npz:{tmp_path}/one.npz',
          'data.random_crop': 0, 'data.random_flip': False, 'data.shuffle_buffer': 1,
          'model.dequantization': 'centre'}
  two = str(tmp_path / 'two')
  config = tiny_config(train_steps=6, **same)
  assert loop.run(task_lib.PixColorTask(config), config, two, 'train_and_eval',
                  strategy_named('mirrored')) == 6
  evals = event_files.scalars(os.path.join(two, 'eval'), 'bits_per_dim')
  assert [s for s, _ in evals] == [4, 6] and all(0 < v < 8 for _, v in evals)
  one = str(tmp_path / 'one')
  config = tiny_config(eval_every_steps=0, **same)
  assert loop.run(task_lib.PixColorTask(config), config, one, 'train') == 4
  config = tiny_config(train_steps=6, eval_every_steps=0, **same)
  assert loop.run(task_lib.PixColorTask(config), config, one, 'train') == 6

  assert training_runs.assert_same_training(two, one, 6) == [2, 4, 6]


def test_the_colour_regression_bound_runs_end_to_end(tmp_path):
  """experiments/colour_regression_bound.py (issue 18's diagnostic) on a 2-step tiny model with
  sampling defaults of its own: the head trains on the model's frozen features in chroma units,
  and every row is the pSNR of what it names, checked against the public API: the references
  against `pixcolor.evaluate`'s, the colourings against `PixColor.colorize`'s (one at the
  defaults, seed 0; the per-pixel mean of two at T = 1, seed 1), over the eval source's eval photos
  (24 of the 30 asked for), not the training source's."""
  workdir = str(tmp_path / 'run')
  # A residual refinement passes the chroma it is given through (a 2-step one would ignore it).
  config = tiny_config(train_steps=2, image_every_steps=0, eval_every_steps=0,
                       **{'model.refinement.residual': True})
  loop.run(task_lib.PixColorTask(config), config, workdir, 'train')
  helpers.edit_recorded_config(workdir, {'sampling': {'temperature': 0.6, 'candidates': 4}})
  source, out = helpers.photo_crops_source(), tmp_path / 'bound.json'
  result = run_in_process('experiments.colour_regression_bound', f'--workdir={workdir}',
                          f'--train=folder:{helpers.photo_folder()}', f'--eval={source}',
                          '--num_examples=30', '--eval_batch_size=16',  # Two batches.
                          '--steps=3', '--batch_size=4', '--colourings=2', f'--output={out}')
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.load(open(out))
  assert json.loads(result.stdout.strip().splitlines()[-1]) == report
  assert report['num_examples'] == 24 and report['head_steps'] == 3 and report['step'] == 2
  assert report['defaults'] == {'temperature': 0.6, 'top_p': 1.0, 'candidates': 4}
  assert report['head_train_l2_last_250'] < 1  # Chroma units in [-1, 1], not 0..255 levels.
  psnr = report['psnr']
  assert set(psnr) == {'gray_input', 'regression', 'one_colouring_at_defaults',
                       'mean_of_colourings_t1', 'refined_true_chroma'}

  model, config, _ = workdir_lib.restore(workdir, model_lib.build_model)
  config.data.source = source
  references, _ = evaluate.evaluate(model, config, 30, batch_size=100)
  for name in ('gray_input', 'refined_true_chroma'):
    assert psnr[name] == pytest.approx(references['psnr'][name], abs=1e-4), name
  (batch, n), = evaluation.batches(config, 'colorization', 30, 100)  # All in one batch: each
  assert n == 24  # photo is seeded by its place among them all, as the script's two batches do.
  gray, truth = batch['gray'], batch['image'][:n]
  at_defaults = model.colorize(gray, 1, 0.6, seed=0, candidates=4)[0].numpy()[:n]
  two = model.colorize(gray, 2, 1.0, seed=1).numpy()[:, :n].astype(np.float64)
  assert not np.array_equal(two[0], two[1])  # Two draws: their mean is neither.
  for name, colouring in (('one_colouring_at_defaults', at_defaults),
                          ('mean_of_colourings_t1', tf.constant(two.mean(0), tf.float32))):
    assert psnr[name] == pytest.approx(np.mean(metrics.psnr(colouring, truth)), abs=1e-3), name
  # The neutral chroma (128 levels) refines to about the gray input; a head trained by L2 lies near
  # or above that (3 steps on the folder's photos here: 18.7 dB against gray's 16.3), while its
  # chroma left in [-1, 1] units and read as levels is a cast far below (8.6 dB).
  c = model.chroma_size
  neutral = model.combine(gray, model.compiled_network('refine')(
      tf.constant(gray), tf.fill([len(gray), c, c, 2], 128.0))).numpy()[:n]
  assert np.mean(metrics.psnr(neutral, truth)) == pytest.approx(psnr['gray_input'], abs=0.5)
  assert psnr['regression'] > psnr['gray_input'] - 3, psnr


def test_both_networks_learn_when_overfitting_one_batch(tmp_path):
  image_dir = tmp_path / 'four' / 'train'
  image_dir.mkdir(parents=True)
  for name, rgb in samples.photos('train')[:4]:
    image_files.write_png(str(image_dir / f'{name}.png'), rgb)
  os.symlink(image_dir, tmp_path / 'four' / 'eval')
  config = tiny_config(**{'xla': True,
                          'train_steps': 60, 'checkpoint_every_steps': 60, 'log_every_steps': 10,
                          'image_every_steps': 0, 'eval_every_steps': 0, 'learning_rate': 1e-2,
                          'data.source': f'folder:{tmp_path / "four"}',
                          'data.shuffle_buffer': 4})
  loop.run(task_lib.PixColorTask(config), config, str(tmp_path / 'run'))
  logdir = str(tmp_path / 'run' / 'train')
  bits = [v for _, v in event_files.scalars(logdir, 'bits_per_dim')]
  l2 = [v for _, v in event_files.scalars(logdir, 'refinement_l2')]
  assert bits[-1] < 0.6 * bits[0], bits  # 4.1 -> 2.1 bits/dim in 60 steps; ~4.2 untrained.
  assert l2[-1] < 0.8 * l2[0], l2


def test_one_network_at_a_time_through_init_from(tmp_path):
  """PixelCNN alone in one workdir, then the refinement alone in another started from it, and a
  refinement network of another kind on top of the same PixelCNN run (the comparison of the
  encoder-decoder with the U-Net); a PixelCNN run cannot start from a workdir without its weights."""
  first = tiny_config(train_steps=2, image_every_steps=0, eval_every_steps=0,
                      train_refinement=False)
  loop.run(task_lib.PixColorTask(first), first, str(tmp_path / 'pixelcnn'))
  second = tiny_config(train_steps=2, image_every_steps=0, eval_every_steps=0,
                       train_pixelcnn=False, init_from=str(tmp_path / 'pixelcnn'))
  loop.run(task_lib.PixColorTask(second), second, str(tmp_path / 'both'))
  a, _, _ = workdir_lib.restore(str(tmp_path / 'pixelcnn'), model_lib.build_model)
  b, _, _ = workdir_lib.restore(str(tmp_path / 'both'), model_lib.build_model)

  def same(x, y):
    return all(np.array_equal(v.numpy(), w.numpy()) for v, w in zip(x.weights, y.weights))

  # The refinement's output layer starts at zero: the first run left it there, the second trained
  # it, starting from the first's weights, whose PixelCNN side (batch-norm statistics included) it
  # kept as they were.
  assert np.all(a.refinement.out.kernel.numpy() == 0)
  assert np.any(b.refinement.out.kernel.numpy() != 0)
  assert same(b.pixelcnn, a.pixelcnn) and same(b.backbone, a.backbone)
  assert same(b.adaptation, a.adaptation)
  assert not same(b.refinement.convs[0], a.refinement.convs[0])

  unet = {'model.refinement.name': 'unet', 'model.refinement.filters': (8, 16),
          'model.refinement.bottom_layers': 1}
  third = tiny_config(train_steps=2, image_every_steps=0, eval_every_steps=0,
                      train_pixelcnn=False, init_from=str(tmp_path / 'pixelcnn'), **unet)
  loop.run(task_lib.PixColorTask(third), third, str(tmp_path / 'unet'))
  c, _, _ = workdir_lib.restore(str(tmp_path / 'unet'), model_lib.build_model)
  assert type(c.refinement).__name__ == 'UNetRefinement'
  assert same(c.pixelcnn, a.pixelcnn) and same(c.backbone, a.backbone)
  # Not training a PixelCNN whose weights in init_from have another shape: refused, as they would
  # stay random.
  wider = tiny_config(train_steps=2, image_every_steps=0, eval_every_steps=0,
                      train_pixelcnn=False, init_from=str(tmp_path / 'pixelcnn'),
                      **{'model.pixelcnn.filters': 12})
  with pytest.raises(commands.UsageError, match='does not hold the weights'):
    task_lib.PixColorTask(wider).build_model(wider.model)
  # Nor one whose adaptation network has a layer more than init_from's (it feeds the PixelCNN).
  deeper = tiny_config(train_steps=2, image_every_steps=0, eval_every_steps=0,
                       train_pixelcnn=False, init_from=str(tmp_path / 'pixelcnn'),
                       **{'model.adaptation.num_layers': first.model.adaptation.num_layers + 1})
  with pytest.raises(commands.UsageError, match=r'does not hold the weights .* e\.g\. adaptation'):
    task_lib.PixColorTask(deeper).build_model(deeper.model)
  # A run of another model (a super-resolution run): refused even when both networks train (it
  # trained from nothing, saying it started from that run).
  tf.train.Checkpoint(unrelated=tf.Variable([1.0, 2.0])).save(
      str(tmp_path / 'other' / 'checkpoints' / 'ckpt'))
  other = tiny_config(init_from=str(tmp_path / 'other'))
  with pytest.raises(commands.UsageError, match="holds none of this model's weights"):
    task_lib.PixColorTask(other).build_model(other.model)
  # A run not trained yet: named, with what to do.
  untrained = tiny_config(init_from=str(tmp_path / 'not_yet'))
  with pytest.raises(commands.UsageError, match='^init_from .*not_yet: no checkpoint under .*: '
                     'train that run first'):
    task_lib.PixColorTask(untrained).build_model(untrained.model)


def test_gradient_multiplier_freezes_the_conditioning_network_until_its_step(tmp_path):
  """model.conditioning.gradient_start_step: the ResNet's trainable weights stay as initialised
  while the other networks train; from that step on they train too."""
  workdir = str(tmp_path / 'run')

  def trainable(net):
    return [v.numpy().copy() for v in net.trainable_variables]

  config = tiny_config(train_steps=2, image_every_steps=0, eval_every_steps=0,
                       **{'model.conditioning.gradient_start_step': 2})
  task = task_lib.PixColorTask(config)
  tf.keras.utils.set_random_seed(config.seed)  # As training.loop.run does before it builds the model.
  start = task.build_model(config.model)
  loop.run(task, config, workdir)
  after_two, _, _ = workdir_lib.restore(workdir, model_lib.build_model)
  for x, y in zip(trainable(start.backbone), trainable(after_two.backbone)):
    np.testing.assert_array_equal(x, y)
  assert any(not np.array_equal(x, y) for x, y in
             zip(trainable(start.pixelcnn), trainable(after_two.pixelcnn)))
  config = tiny_config(train_steps=4, image_every_steps=0, eval_every_steps=0,
                       **{'model.conditioning.gradient_start_step': 2})
  loop.run(task_lib.PixColorTask(config), config, workdir)
  after_four, _, _ = workdir_lib.restore(workdir, model_lib.build_model)
  assert all(not np.array_equal(x, y) for x, y in
             zip(trainable(after_two.backbone), trainable(after_four.backbone)))


def test_gradient_multiplier_scales_only_the_conditioning_gradients():
  # (start step, multiplier) -> the backbone's factor at some steps; the second starts at once (the
  # paper's fine-tuning without a frozen start).
  for start, multiplier, factors in ((10, 0.25, ((0, 0.0), (9, 0.0), (10, 0.25), (11, 0.25))),
                                     (0, 0.5, ((0, 0.5),))):
    config = tiny_config(**{'model.conditioning.gradient_start_step': start,
                            'model.conditioning.gradient_multiplier': multiplier})
    task = task_lib.PixColorTask(config)
    model = task.build_model(config.model)  # The multiplier is the model's config's.
    grads = [tf.ones_like(v) for v in model.trainable_variables]
    resnet = {id(v) for v in model.backbone.trainable_variables}
    assert resnet and len(resnet) < len(grads)
    for step, factor in factors:
      scaled = task.scale_gradients(model, grads, tf.constant(step, tf.int64))
      for g, v in zip(scaled, model.trainable_variables):
        want = factor if id(v) in resnet else 1.0
        assert np.all(g.numpy() == want), (start, step, v.path)


@pytest.mark.parametrize('key,value,message', [
    ('image_size', 32, r'data.image_size \(32\) differs from model.image_size \(16\)'),
    ('num_bins', 8, r'data.num_bins \(8\) differs from model.num_bins'),
])
def test_a_config_whose_data_and_model_disagree_is_a_usage_error(key, value, message):
  # The configs link data's sizes to the model's; a config read back from JSON has no links.
  config = ml_collections.ConfigDict(tiny_config().to_dict())
  config.data[key] = value
  with pytest.raises(commands.UsageError, match=message):
    task_lib.PixColorTask(config)


def test_an_image_size_that_is_no_multiple_of_the_chroma_size_is_a_usage_error():
  with pytest.raises(commands.UsageError, match='image_size 16 is not a multiple of '
                     'model.chroma_size 5'):
    task_lib.PixColorTask(tiny_config(**{'model.chroma_size': 5}))


def test_the_scalars_are_bits_per_dim_and_the_refinements_l2_and_its_chroma_psnr():
  task = task_lib.PixColorTask(tiny_config())
  means = {'loss': 9.0, 'nats': 2 * np.log(2), 'refinement_mse': 0.01}
  assert task.scalars(means) == pytest.approx({
      'loss': 9.0, 'bits_per_dim': 2.0, 'refinement_l2': 0.01,
      'refinement_psnr': 10 * np.log10(255 ** 2 / 163.84)})  # 0.01 units = 163.84 levels squared.
  assert task.progress(means) == 'bits/dim 2.000  refinement L2 0.01000 (chroma pSNR 25.99 dB)'


@pytest.mark.parametrize('size,enlarged', [(16, 4), (32, 2), (128, 1)])
def test_tensorboards_colorizations_show_gray_then_each_samples_preview_and_colouring_then_truth(
    size, enlarged):
  """The images summary, from a fake model whose outputs are flat images naming what made them:
  gray | per sample (k = 0, 1) the low-resolution preview enlarged to the gray's size and the
  refined colouring | truth, under their titles; doubled in size below 128 x 128, x4 below 32."""
  config = tiny_config(num_image_samples=2, sample_temperature=0.8, seed=3)
  calls, refined_with = [], []

  class Fake:
    chroma_size = size // 4

    def sample_chroma(self, gray, seeds, temperature):
      calls.append((seeds, temperature))
      return tf.fill([len(gray), self.chroma_size, self.chroma_size, 2], 10 * len(calls))

    def lowres_preview(self, gray, bins):
      return tf.cast(tf.fill([len(gray), self.chroma_size, self.chroma_size, 3], bins[0, 0, 0, 0]),
                     tf.uint8)

    def refine(self, gray, bins, seeds):
      refined_with.append(seeds)
      return tf.cast(tf.fill([len(gray), size, size, 2], bins[0, 0, 0, 0] + 1), tf.float32)

    def combine(self, gray, chroma):
      return tf.cast(tf.fill([len(gray), size, size, 3], chroma[0, 0, 0, 0]), tf.uint8)

  rng = np.random.default_rng(0)
  gray = rng.integers(0, 256, [2, size, size, 1], np.uint8)
  truth = rng.integers(0, 256, [2, size, size, 3], np.uint8)
  grid = task_lib.PixColorTask(config).images(Fake(), {'gray': gray, 'image': truth},
                                              config)['colorizations']
  pitch = size + 2
  top = grid.shape[0] - enlarged * (2 + 2 * pitch)
  assert grid.shape[1:] == (enlarged * (2 + 6 * pitch), 3)
  titles = ['gray', 'chroma 1', 'sample 1', 'chroma 2', 'sample 2', 'truth']
  blank = [[np.zeros([size, size, 3], np.uint8)] * 6]
  np.testing.assert_array_equal(grid[:top], visualize.grid(blank, titles=titles,
                                                           scale=enlarged)[:top])
  grid = grid[top::enlarged, ::enlarged]
  derive = sampling.derive_seed
  seeds = [[derive(3, 0, k), derive(3, 1, k)] for k in range(2)]
  assert calls == [(seeds[0], 0.8), (seeds[1], 0.8)] and refined_with == seeds
  for row in range(2):
    cell = lambda column: helpers.grid_cell(grid, row, column, size)
    np.testing.assert_array_equal(cell(0), np.repeat(gray[row], 3, -1))
    for column, value in zip(range(1, 5), (10, 11, 20, 21)):
      assert np.all(cell(column) == value), (row, column)
    np.testing.assert_array_equal(cell(5), truth[row])


def test_a_config_that_trains_no_network_is_a_usage_error():
  with pytest.raises(commands.UsageError, match='nothing to train'):
    task_lib.PixColorTask(tiny_config(train_pixelcnn=False, train_refinement=False))


def test_a_frozen_start_without_pretrained_weights_is_warned_about(caplog):
  config = tiny_config(**{'model.conditioning.gradient_start_step': 100,
                          'model.conditioning_weights': ''})
  with caplog.at_level(logging.WARNING):
    task_lib.PixColorTask(config)
  assert 'randomly initialised conditioning network is frozen until that step' in caplog.text


def test_command_lines_end_to_end(tmp_path):
  """train -> colorize (a gray non-square file, a colour file, a broken file) -> evaluate, through
  the command lines (run in this process; test_commands.py runs each in a real one)."""
  workdir = str(tmp_path / 'run')
  result = run_in_process('pixcolor.train', '--config=experiments/configs/pixcolor_tiny.py',
                          f'--workdir={workdir}', '--config.train_steps=2',
                          '--config.checkpoint_every_steps=2', '--config.image_every_steps=0',
                          '--config.histogram_every_steps=0', '--config.batch_size=4',
                          '--config.xla=False',
                          '--config.model.image_size=16', '--config.model.chroma_size=4',
                          '--config.model.pixelcnn.num_layers=2',
                          '--config.model.pixelcnn.filters=8',
                          f'--config.data.source={helpers.photo_crops_source()}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'step 2/2' in result.stderr

  inputs = tmp_path / 'inputs'
  (inputs / 'sub').mkdir(parents=True)
  photo = dict(samples.photos())['coffee'][::4, ::4]  # 100 x 150.
  gray = transforms.to_uint8(transforms.luminance(photo[:45, :31])).numpy()[..., 0]
  image_files.write_png(str(inputs / 'old.png'), gray)  # A true grayscale file, 31 x 45.
  image_files.write_png(str(inputs / 'sub' / 'colour.png'), photo)
  (inputs / 'broken.jpg').write_text('not a jpeg')
  out = tmp_path / 'out'
  result = run_in_process('pixcolor.colorize', f'--workdir={workdir}', f'--input={inputs}',
                          f'--output={out}', '--num_samples=2', '--temperature=0.9',
                          '--candidates=3', '--top_p=0.95')
  assert result.returncode == 1, result.stderr[-3000:]
  assert 'broken.jpg' in result.stderr and 'not an image' in result.stderr
  assert 'at temperature 0.9, top-p 0.95, each the most typical of 3 draws' in result.stderr
  assert 'colorized 4/4' in result.stderr
  for name in ('old_sample0', 'old_sample1', 'sub/colour_sample1', 'grid'):
    assert (out / f'{name}.png').exists(), name
  sample = image_files.read_image(str(out / 'old_sample1.png'))
  assert sample.shape == (45, 31, 3)
  assert np.abs(transforms.luminance(sample).numpy()[..., 0] - gray).max() <= 0.5 + 1e-3
  assert image_files.read_image(str(out / 'sub' / 'colour_sample0.png')).shape == photo.shape
  assert result.stdout.strip().splitlines()[-1] == f'wrote 4 PNGs and {out}/grid.png'
  rows = [[colorize.thumbnail(colorize.read_luminance(str(inputs / f'{name}.png')))]
          + [colorize.thumbnail(image_files.read_image(str(out / f'{name}_sample{k}.png')))
             for k in range(2)] for name in ('old', 'sub/colour')]  # Gray, then each colouring.
  titles = ['gray input'] + [f'colouring {k}\nT 0.9\ntop-p 0.95\ntypical of 3' for k in (1, 2)]
  names = ['old', 'sub/colour']  # Each row titled with the name its files start with.
  np.testing.assert_array_equal(image_files.read_image(str(out / 'grid.png')),
                                visualize.grid(rows, titles=titles, row_titles=names))
  made = json.loads(Image.open(out / 'old_sample1.png').text['pixel_recursive'])
  assert made == {'command': ['python', '-m', 'pixcolor.colorize', f'--workdir={workdir}',
                              f'--input={inputs}', f'--output={out}', '--num_samples=2',
                              '--temperature=0.9', '--candidates=3', '--top_p=0.95'],
                  'cwd': helpers.ROOT, 'model': os.path.abspath(workdir), 'step': made['step'],
                  'temperature': 0.9, 'top_p': 0.95, 'candidates': 3,
                  'input': str(inputs / 'old.png'), 'sample': 1,
                  'seed': sampling.derive_seed(0, 0, 1)}  # How it was made: the first input read.

  metrics_path = tmp_path / 'metrics.json'
  result = run_in_process('pixcolor.evaluate', f'--workdir={workdir}', f'--output={metrics_path}',
                          '--num_examples=3', '--batch_size=2', '--candidates=3')
  assert result.returncode == 0, result.stderr[-3000:]
  metrics = json.load(open(metrics_path))
  assert metrics['num_examples'] == 3 and metrics['step'] == 2  # 2 + 1: none dropped by batching.
  assert metrics['candidates'] == 3 and 'the most typical of 3 draws' in result.stdout
  assert set(metrics['temperatures']['1']['histogram_intersection']) == {'a', 'b'}
  assert (tmp_path / 'metrics.png').exists() and (tmp_path / 'metrics.md').exists()
  tags = {t for _, t, _, _ in event_files.read(os.path.join(workdir, 'evaluate'))}
  assert {'histogram_intersection_a/T1', 'bits_per_dim', 'histograms'} <= tags


@pytest.mark.parametrize('module,args,message', [
    ('pixcolor.colorize', ['--workdir=/no/such/run', '--input=docs',
                           '--output=/tmp/o'], '/no/such/run'),
    ('pixcolor.colorize', ['--input=docs', '--output=/tmp/o', '--candidates=0'], 'candidates'),
    ('pixcolor.colorize', ['--input=docs', '--output=/tmp/o', '--candidates=2'],
     '--candidates=2: 2 cannot choose: two draws lie equally far from their mean'),
    ('pixcolor.evaluate', ['--workdir=/tmp', '--output=/tmp/m.json', '--candidates=2'],
     '--candidates=2: 2 cannot choose'),
    ('pixcolor.evaluate', ['--workdir=/no/such/run', '--output=/tmp/m.json'], '/no/such/run'),
    ('pixcolor.train', ['--config=experiments/configs/pixcolor_tiny.py', '--workdir=/tmp/x',
                        '--config.model.chroma_size=5'], 'chroma_size'),
])
def test_user_mistakes_exit_2_with_one_line(module, args, message):
  helpers.assert_usage_error(run_in_process(module, *args), message, prog=module)


def test_colorize_all_samples_every_colouring_as_asked():
  """`colorize` (and the notebook) pass their temperature, sampler, nucleus and candidates to the
  chroma sampling of every batch; a fake model records them."""

  class Recording:
    def __init__(self):
      self.calls = []

    def network_gray(self, gray):
      return tf.zeros([1, 4, 4, 1], tf.uint8)

    def sample_chroma(self, gray, seeds, temperature, method, top_p, candidates):
      self.calls.append((len(seeds), temperature, method, top_p, candidates))
      return tf.zeros([len(gray), 2, 2, 2], tf.int32)

    def refine(self, gray, bins, seeds):
      return tf.fill([len(gray), 4, 4, 2], 128.0)

    def combine(self, gray, chroma):
      return tf.zeros(list(gray.shape) + [3], tf.uint8)

  model, written = Recording(), {}
  colorize.colorize_all(model, [np.zeros([5, 7], np.uint8)] * 3, 2, 0.7, 0, 4, 'naive',
                        lambda i, k, rgb: written.__setitem__((i, k), rgb.shape), top_p=0.9,
                        candidates=5)
  assert model.calls == [(4, 0.7, 'naive', 0.9, 5)] * 2  # 6 colourings in batches of 4 (padded).
  assert written == {(i, k): (5, 7, 3) for i in range(3) for k in range(2)}
