"""experiments/make_demo_checkpoint.py, the script that turns a training run into a shipped demo
folder: what it records, what it drops, what it keeps, and its one-line answer to a mistake."""
import json
import os

import numpy as np
import pytest

from pixel_recursive import model as model_lib
from pixel_recursive import task as task_lib
from pixel_recursive import workdir as workdir_lib
from pixel_recursive.training import loop
from helpers import assert_usage_error
from helpers import run_in_process
from test_train import tiny_config

SCRIPT = 'experiments.make_demo_checkpoint'
TERMS = 'Trained on test images: the terms a demo folder keeps.\n'


@pytest.fixture(scope='module')
def run(tmp_path_factory):
  """A 2-step tiny run whose config.json, like a real run's, names a path of the machine it was
  trained on and the run it started from."""
  path = str(tmp_path_factory.mktemp('run'))
  config = tiny_config(train_steps=2, checkpoint_every_steps=2, log_every_steps=2,
                       image_every_steps=100, histogram_every_steps=100, eval_every_steps=100)
  loop.run(task_lib.SuperResolutionTask(config), config, path, 'train')
  with open(os.path.join(path, 'config.json')) as f:
    recorded = json.load(f)
  recorded['init_from'] = '/home/someone/runs/pretrain'
  recorded['data']['source'] = 'npz:/home/someone/faces.npz'
  with open(os.path.join(path, 'config.json'), 'w') as f:
    json.dump(recorded, f)
  return path


def demo_folder(tmp_path):
  """An existing demo folder: its terms, and a checkpoint of an older model that must go."""
  folder = tmp_path / 'demo'
  (folder / 'checkpoints').mkdir(parents=True)
  (folder / 'TERMS.md').write_text(TERMS)
  (folder / 'checkpoints' / 'ckpt-99.index').write_text('an older model')
  return folder


def size_of(folder):
  return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(folder) for f in fs)


def test_the_demo_holds_the_runs_weights_and_the_given_defaults_and_keeps_its_terms(run, tmp_path):
  folder = demo_folder(tmp_path)
  result = run_in_process(SCRIPT, f'--workdir={run}', f'--output={folder}',
                          '--data_source=samples:faces', '--trained_on=two steps of smooth images',
                          '--sampling=temperature=1.3,guidance=2', '--set={"learning_rate": 0.002}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'(step 2, ' in result.stdout
  assert (folder / 'TERMS.md').read_text() == TERMS
  assert sorted(os.listdir(folder / 'checkpoints')) == [
      'checkpoint', 'ckpt-2.data-00000-of-00001', 'ckpt-2.index']
  config = workdir_lib.read_config(str(folder))
  assert config.init_from == ''  # No path of the training machine, no run a user lacks.
  assert config.data.source == 'samples:faces'
  assert config.data.trained_on == 'two steps of smooth images'
  assert (config.sampling.temperature, config.sampling.guidance) == (1.3, 2.0)
  assert config.learning_rate == 0.002
  trained, _, _ = workdir_lib.restore(run, model_lib.build_model)
  demo, _, step = workdir_lib.restore(str(folder), model_lib.build_model)
  assert step == 2
  trained_weights = workdir_lib.weights_by_path(trained)
  demo_weights = workdir_lib.weights_by_path(demo)
  assert trained_weights.keys() == demo_weights.keys()
  for key, variable in trained_weights.items():
    np.testing.assert_array_equal(variable.numpy(), demo_weights[key].numpy(), err_msg=key)
  # Weights only: the run's checkpoint also holds RMSProp's state, as large as the weights.
  assert size_of(folder / 'checkpoints') < 0.7 * size_of(os.path.join(run, 'checkpoints')) / len(
      [f for f in os.listdir(os.path.join(run, 'checkpoints')) if f.endswith('.index')])


@pytest.mark.parametrize('args,message', [
    (['--sampling=temprature=1.3'], "--sampling takes temperature=T and guidance=W, got 'temprature"),
    (['--sampling=temperature=-1'], '--sampling temperature'),
    (['--set={"learning_rat": 0.1}'], "--set learning_rat: the run's config has no such key"),
    (['--set=learning_rate=0.1'], '--set is not a JSON object'),
], ids=['sampling key', 'sampling value', 'set key', 'set json'])
def test_a_mistake_ends_with_one_line_and_leaves_the_demo_as_it_was(run, tmp_path, args, message):
  folder = demo_folder(tmp_path)
  result = run_in_process(SCRIPT, f'--workdir={run}', f'--output={folder}', *args)
  assert_usage_error(result, message)
  assert os.listdir(folder / 'checkpoints') == ['ckpt-99.index']
  assert not (folder / 'config.json').exists()
