"""The benchmark scripts run and print one JSON line per measurement, with every number measured.

Speed itself is never asserted (a shared CI machine's wall clock proves nothing); that the scripts
keep working as the code under them changes is (the training benchmark once broke silently when
PixColor's chroma helpers moved).
"""
import json
import os
import subprocess
import sys

from helpers import ROOT


def run_script(name, *args):
  result = subprocess.run([sys.executable, os.path.join(ROOT, 'experiments', 'benchmarks', name),
                           *args], capture_output=True, text=True, timeout=600, cwd=ROOT)
  assert result.returncode == 0, result.stderr[-3000:]
  return [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{')]


def test_training_benchmark_times_every_part_of_both_tasks():
  lines = run_script('training.py', '--configs=faces_tiny,pixcolor_tiny',
                     '--variants=recipe', '--batch_size=2',
                     '--steps=1', '--repeats=1', '--pipeline_batches=2')
  assert [l['config'] for l in lines] == ['faces_tiny.py', 'pixcolor_tiny.py']
  for line in lines:
    assert line['benchmark'] == 'training' and line['batch_size'] == 2
    for name, variant in line['variants'].items():
      assert 'error' not in variant, (name, variant)
      assert variant['ms_per_step'] > 0 and variant['examples_per_second'] > 0
    assert line['breakdown_ms'] and all(v > 0 for v in line['breakdown_ms'].values())
    assert line['input']['examples_per_second'] > 0
  assert set(lines[1]['breakdown_ms']) >= {'conditioning_networks', 'refinement_and_loss'}
  assert all('weight_average_update' in line['breakdown_ms'] for line in lines)


def test_sampling_benchmark_times_the_cached_sampler():
  (line,) = run_script('sampling.py', '--config=experiments/configs/faces_tiny.py',
                       '--batch_size=1', '--methods=cached,cached_top_p', '--repeats=1')
  assert line['benchmark'] == 'sampling' and line['seconds_per_image']['cached'] > 0
  assert line['top_p'] == 0.9 and line['nucleus_cost_vs_cached'] > 0
