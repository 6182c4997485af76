"""The benchmark scripts run and print one JSON line per measurement, with every number measured.

Speed itself is never asserted (a shared CI machine's wall clock proves nothing); that the scripts
keep working as the code under them changes is (the training benchmark once broke silently when
PixColor's chroma helpers moved).
"""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from experiments import configs
from experiments.benchmarks import common
from experiments.benchmarks import sampling
from experiments.benchmarks import training
import helpers
from helpers import ROOT


def run_script(name, *args):
  """The JSON lines a benchmark script prints, and its stderr."""
  result = subprocess.run([sys.executable, os.path.join(ROOT, 'experiments', 'benchmarks', name),
                           *args], capture_output=True, text=True, timeout=600, cwd=ROOT)
  assert result.returncode == 0, result.stderr[-3000:]
  return ([json.loads(line) for line in result.stdout.splitlines() if line.startswith('{')],
          result.stderr)


def test_training_benchmark_times_every_part_of_both_tasks():
  lines, _ = run_script('training.py', '--configs=faces_tiny,pixcolor_tiny',
                        '--variants=recipe', '--batch_size=2',
                        '--steps=1', '--repeats=1', '--pipeline_batches=2')
  assert [l['config'] for l in lines] == ['faces_tiny.py', 'pixcolor_tiny.py']
  from pixel_recursive.training import precision  # pylint: disable=g-import-not-at-top
  for line in lines:
    assert line['benchmark'] == 'training' and line['batch_size'] == 2
    # The recipe is the config's own: 'auto' resolved as on this machine, its xla setting.
    config = configs.load(line['config'][:-3])
    resolved = precision.resolve(config.dtype_policy)
    assert line['dtype_policy']['config'] == config.dtype_policy == 'auto'
    assert line['dtype_policy']['resolved'] == resolved
    assert line['recipe'] == training.recipe_name(config, resolved) == f'noxla_{resolved}'
    assert list(line['variants']) == [line['recipe']]
    for name, variant in line['variants'].items():
      assert 'error' not in variant, (name, variant)
      assert variant['ms_per_step'] > 0
      assert variant['examples_per_second'] == pytest.approx(2000 / variant['ms_per_step'], 0.01)
    assert line['best_variant'] == line['recipe'] and line['recipe_fraction_of_best'] == 1
    assert line['breakdown_ms'] and all(v > 0 for v in line['breakdown_ms'].values())
    assert line['input']['examples_per_second'] > 0
  assert set(lines[1]['breakdown_ms']) >= {'conditioning_networks', 'refinement_and_loss'}
  assert all('weight_average_update' in line['breakdown_ms'] for line in lines)


def test_sampling_benchmark_times_the_cached_sampler():
  (line,), stderr = run_script('sampling.py', '--config=experiments/configs/faces_tiny.py',
                               '--batch_size=2', '--methods=cached,cached_top_p,predict_loop',
                               '--repeats=2', '--predict_steps=2')
  assert line['benchmark'] == 'sampling' and line['seconds_per_image']['cached'] > 0
  # Per image: the batch's time (its fastest of 2 runs, on stderr to the millisecond) over its 2
  # images.
  batch_seconds = float(re.search(r'^cached: ([\d.]+) s per batch of 2$', stderr,
                                  re.M).group(1))
  assert line['seconds_per_image']['cached'] == pytest.approx(batch_seconds / 2, abs=3e-4)
  assert line['top_p'] == 0.9
  seconds = line['seconds_per_image']
  assert line['nucleus_cost_vs_cached'] == pytest.approx(seconds['cached_top_p'] / seconds['cached'])
  # The keras.io-style loop, timed over 2 sub-pixels and extrapolated to all 32 x 32 x 3 of them.
  assert line['predict_loop_extrapolated_from_steps'] == 2 and seconds['predict_loop'] > 0
  ms_per_step = float(re.search(r'^predict loop: ([\d.]+) ms per sub-pixel step$', stderr,
                                re.M).group(1))
  assert seconds['predict_loop'] == pytest.approx(ms_per_step / 1e3 * 32 * 32 * 3 / 2, rel=0.01)
  assert line['speedup_cached_vs_predict_loop'] == pytest.approx(
      seconds['predict_loop'] / seconds['cached'])


def test_pixcolors_benchmark_target_samples_its_chroma_at_the_temperature_it_is_given():
  """PixColor's target (pixcolor/benchmark_target.py, behind README's pixcolor_imagenet.py line):
  the chroma PixelCNN with its conditioning, for the cached sampler and for the predict loop."""
  from pixcolor import benchmark_target
  config = configs.load('pixcolor_tiny')
  target = benchmark_target.make(config, 2, temperature=0.25)
  c = config.model.chroma_size
  assert target.shape == (2, c, c) and target.extra is None
  want = target.model.sampler.sample(target.shape, conditioning=target.conditioning,
                                     temperature=0.25, seed=0, method='cached')
  np.testing.assert_array_equal(target.sample('cached'), want)
  canvas = np.random.default_rng(0).uniform(-1, 1, [2, c, c, 2]).astype(np.float32)
  logits = target.predict_logits(canvas)
  assert logits.shape == (2, c, c, 2, config.model.num_bins)
  np.testing.assert_allclose(logits, target.prior(canvas, target.conditioning), rtol=1e-4,
                             atol=1e-4)


# The arithmetic of the JSON lines, on timings given rather than measured.

def test_the_recipe_is_compared_with_the_fastest_variant_that_ran():
  # faces_tiny's ms per step at batch 16 on an Intel Xeon with AMX (2026-12-05).
  ms = {'xla_float32': 430.64, 'noxla_float32': 301.54, 'xla_mixed_bfloat16': 423.02,
        'noxla_mixed_bfloat16': 227.50}
  variants = {v: training.speeds(m, 16) for v, m in ms.items()}
  assert variants['noxla_float32'] == {'ms_per_step': 301.54, 'steps_per_second': 3.316,
                                       'examples_per_second': 53.06}
  assert training.compare(variants, 'noxla_mixed_bfloat16') == {
      'best_variant': 'noxla_mixed_bfloat16', 'recipe_fraction_of_best': 1.0,
      'speedup_recipe_vs_xla_float32': 1.893}
  assert training.compare(variants, 'noxla_float32') == {
      'best_variant': 'noxla_mixed_bfloat16', 'recipe_fraction_of_best': 0.754,  # 53.06 / 70.33
      'speedup_recipe_vs_xla_float32': 1.428}  # 53.06 / 37.15
  variants['noxla_mixed_bfloat16'] = {'error': 'InternalError: no kernel'}  # Failed: not compared.
  assert training.compare(variants, 'noxla_float32')['best_variant'] == 'noxla_float32'
  del variants['xla_float32']
  assert training.compare(variants, 'noxla_float32') == {
      'best_variant': 'noxla_float32', 'recipe_fraction_of_best': 1.0}
  assert training.compare(variants, 'noxla_mixed_bfloat16') == {}  # The recipe itself failed.


def test_a_recipe_is_the_configs_xla_and_its_resolved_policy():
  config = configs.load('faces_tiny')
  assert training.recipe_name(config, 'mixed_bfloat16') == 'noxla_mixed_bfloat16'
  config.xla = True
  assert training.recipe_name(config, 'float32') == 'xla_float32'
  del config['xla']
  assert training.recipe_name(config, 'float32') == 'xla_float32'  # Keras' default: XLA on.


def test_a_step_time_is_the_median_repeat_per_step_after_the_warm_up(monkeypatch):
  clock = [0.0]
  costs = iter([100, 100,  # Two warm-up calls, not counted.
                0.010, 0.010, 0.030, 0.030, 0.020, 0.020])  # 3 repeats of 2 steps: 10, 30, 20 ms.

  def step():
    clock[0] += next(costs)
    return 0

  monkeypatch.setattr(training.time, 'perf_counter', lambda: clock[0])
  assert training.median_ms(step, steps=2, repeats=3) == pytest.approx(20)


def test_the_input_pipeline_rate_counts_every_example_of_the_timed_batches(monkeypatch):
  config = configs.load('faces_tiny')
  task = training.make_task(config)
  ticks = iter(range(100))
  monkeypatch.setattr(training.time, 'perf_counter', lambda: float(next(ticks)))  # 1 s a reading.
  assert training.pipeline_rate(task, config, 2, 'samples:faces', batches=3) == 6  # 3 x 2 in 1 s.


def test_sampling_times_are_per_image_and_extrapolated_to_every_sub_pixel():
  assert sampling.per_image(2.0, 4) == 0.5
  # 6 of 24 sub-pixel steps took 3 s for a batch of 2: 12 s a batch, 6 s an image.
  assert sampling.per_image(3.0, 2, steps=6, subpixels=24) == 6
  assert sampling.ratios({'cached': 0.1, 'cached_top_p': 0.15, 'naive': 50.0,
                          'predict_loop': 200.0}) == pytest.approx({
                              'nucleus_cost_vs_cached': 1.5, 'speedup_cached_vs_naive': 500,
                              'speedup_cached_vs_predict_loop': 2000})
  assert sampling.ratios({'naive': 50.0, 'cached_top_p': 0.15}) == {}  # Nothing to compare with.


def test_the_cpu_is_named_by_its_model_name_line(tmp_path):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if tf.config.list_physical_devices('GPU'):
    pytest.skip('a GPU is named instead of the CPU')
  cpuinfo = tmp_path / 'cpuinfo'
  cpuinfo.write_text('processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n'
                     'model\t\t: 143\nmodel name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz\n'
                     'flags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16\n')
  assert common.device_name(str(cpuinfo)) == (
      f'CPU: {os.cpu_count()} cores, Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz')


def test_the_training_benchmark_builds_a_pretrained_backbone_without_reading_its_weights():
  """Its promise (random weights, every config runs offline): pixcolor_imagenet asks for Keras'
  ImageNet download, which failed offline for each of its variants here before. The backbone is
  still built and trained as the pretrained one it stands for (batch norm in inference mode)."""
  from pixel_recursive import commands  # pylint: disable=g-import-not-at-top
  config = helpers.override(configs.load('pixcolor_tiny'), {
      'model.image_size': 32, 'model.chroma_size': 4,
      'model.conditioning.backbone': 'mobilenet_v2', 'model.conditioning.input_size': 32,
      'model.conditioning_weights': '/no/such/mobilenet_v2.h5'})
  task = training.make_task(config)
  model, _ = training.build(task, config, 'float32')
  assert model.pretrained and model.backbone.count_params() > 0
  with pytest.raises(commands.UsageError, match='/no/such/mobilenet_v2.h5 is not a file'):
    task.build_model(config.model)  # Training reads it.


def test_each_variant_is_built_in_its_own_precision_and_keras_policy_is_left_as_it_was():
  import keras  # pylint: disable=g-import-not-at-top
  config = configs.load('faces_tiny')
  task = training.make_task(config)
  before = keras.config.dtype_policy().name
  for policy in ('mixed_bfloat16', 'float32'):
    model, optimizer = training.build(task, config, policy)
    assert keras.config.dtype_policy().name == before == 'float32'
    layers = model._flatten_layers()  # pylint: disable=protected-access
    assert {layer.dtype_policy.name for layer in layers} == {policy}
    assert optimizer.built and {v.dtype for v in model.trainable_variables} == {'float32'}


@pytest.mark.parametrize('module,args,message', [
    ('training', ['--configs=faces_tiny,nosuch'],
     '--configs: no config named nosuch in experiments/configs (there: bedrooms_8x32, '),
    ('sampling', ['--config=nosuch.py'], 'cannot load --config nosuch.py: '),
    # Flags that timed nothing (an unknown method was skipped; no --configs printed no JSON line)
    # or failed after a model was built (an unknown variant, in a traceback).
    ('training', ['--configs='], '--configs is empty: name one or more, e.g. faces_tiny'),
    ('training', ['--configs=faces_tiny', '--variants=recipe,xla_bf16'],
     '--variants: no variant xla_bf16; choose from recipe, xla_float32, noxla_float32, '),
    ('sampling', ['--methods=cached,fast'],
     '--methods: no method fast; choose from cached, cached_top_p, naive, predict_loop'),
    ('sampling', ['--methods='], '--methods: empty; choose from '),
    ('sampling', ['--temperature=0'], '--temperature must be a positive number, got 0.0'),
    ('sampling', ['--repeats=0'], 'flag --repeats=0: 0 is not a positive integer'),
])
def test_a_benchmark_given_flags_it_cannot_run_says_so_in_one_line(module, args, message):
  """Exit 2 and one line, as the commands' (both printed a traceback and exited 1)."""
  result = helpers.run_in_process(f'experiments.benchmarks.{module}', *args)
  helpers.assert_usage_error(result, message, prog=f'experiments.benchmarks.{module}')


def test_the_config_names_are_the_files_that_define_get_config():
  names = configs.names()
  assert {'faces_tiny', 'pixcolor_tiny', 'celeba_8x32', 'bedrooms_demo'} <= set(names)
  assert 'base' not in names and '__init__' not in names
  for name in names:
    configs.load(name)  # Each one loads.
