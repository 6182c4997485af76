"""experiments/make_demo_checkpoint.py, the script that turns a training run into a shipped demo
folder: what it records, what it drops, what it keeps, and its one-line answer to a mistake."""
import os

import numpy as np
import pytest
import tensorflow as tf

from pixel_recursive import commands
from pixel_recursive import model as model_lib
from pixel_recursive import task as task_lib
from pixel_recursive import workdir as workdir_lib
from pixel_recursive.training import loop
from helpers import assert_usage_error
from helpers import edit_recorded_config
from helpers import run_in_process
from helpers import stderr_lines
from test_checkpoint_damage import copy_run
from test_train import tiny_config

SCRIPT = 'experiments.make_demo_checkpoint'
TERMS = 'Trained on test images: the terms a demo folder keeps.\n'


@pytest.fixture(scope='module')
def run(tmp_path_factory):
  """A 4-step tiny run (checkpoints at every step, the newest three kept: 2, 3 and 4) whose
  config.json, like a real run's, names a path of the machine it was trained on and the run it
  started from."""
  path = str(tmp_path_factory.mktemp('run'))
  config = tiny_config(train_steps=4, checkpoint_every_steps=1, keep_checkpoints=3,
                       log_every_steps=2, image_every_steps=100, histogram_every_steps=100,
                       eval_every_steps=100)
  loop.run(task_lib.SuperResolutionTask(config), config, path, 'train')
  edit_recorded_config(path, {'init_from': '/home/someone/runs/pretrain',
                              'data.source': 'npz:/home/someone/faces.npz'})
  return path


def demo_folder(tmp_path):
  """An existing demo folder: its terms, and a checkpoint of an older model that must go."""
  folder = tmp_path / 'demo'
  (folder / 'checkpoints').mkdir(parents=True)
  (folder / 'TERMS.md').write_text(TERMS)
  (folder / 'checkpoints' / 'ckpt-99.index').write_text('an older model')
  return folder


def assert_same_weights(trained, demo):
  trained_weights = workdir_lib.weights_by_path(trained)
  demo_weights = workdir_lib.weights_by_path(demo)
  assert trained_weights.keys() == demo_weights.keys()
  for key, variable in trained_weights.items():
    np.testing.assert_array_equal(variable.numpy(), demo_weights[key].numpy(), err_msg=key)


def size_of(folder):
  return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(folder) for f in fs)


def test_the_demo_holds_the_runs_weights_and_the_given_defaults_and_keeps_its_terms(run, tmp_path):
  folder = demo_folder(tmp_path)
  result = run_in_process(SCRIPT, f'--workdir={run}', f'--output={folder}',
                          '--data_source=samples:faces', '--trained_on=two steps of smooth images',
                          '--sampling=temperature=1.3,guidance=2', '--set={"learning_rate": 0.002}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert '(step 4, ' in result.stdout
  assert (folder / 'TERMS.md').read_text() == TERMS
  assert sorted(os.listdir(folder / 'checkpoints')) == [
      'checkpoint', 'ckpt-4.data-00000-of-00001', 'ckpt-4.index']
  config = workdir_lib.read_config(str(folder))
  assert config.init_from == ''  # No path of the training machine, no run a user lacks.
  assert config.data.source == 'samples:faces'
  assert config.data.trained_on == 'two steps of smooth images'
  assert (config.sampling.temperature, config.sampling.guidance) == (1.3, 2.0)
  assert config.learning_rate == 0.002
  trained, _, _ = workdir_lib.restore(run, model_lib.build_model)
  demo, _, step = workdir_lib.restore(str(folder), model_lib.build_model)
  assert step == 4
  assert 'averaged_steps' not in config  # The newest checkpoint alone, by default.
  assert_same_weights(trained, demo)
  # Weights only: the run's checkpoint also holds RMSProp's state, as large as the weights.
  assert size_of(folder / 'checkpoints') < 0.7 * size_of(os.path.join(run, 'checkpoints')) / len(
      [f for f in os.listdir(os.path.join(run, 'checkpoints')) if f.endswith('.index')])


@pytest.mark.parametrize('args,message', [
    (['--sampling=temprature=1.3'],
     "--sampling takes temperature=T, guidance=W, top_p=P and candidates=N, got 'temprature"),
    (['--sampling=temperature=-1'], '--sampling temperature'),
    (['--sampling=top_p=1.5'], '--sampling top_p must be in (0, 1], got 1.5'),
    (['--sampling=candidates=2.5'], '--sampling candidates must be an integer >= 1, got 2.5'),
    (['--sampling=candidates=2'], '--sampling candidates=2 cannot choose: two draws lie equally'),
    (['--set={"learning_rat": 0.1}'], "--set learning_rat: the run's config has no such key"),
    (['--set=learning_rate=0.1'], '--set is not a JSON object'),
    (['--set=[0.1]'], "--set must be a JSON object, got '[0.1]'"),
    (['--average_last=0'], '--average_last must be >= 1, got 0'),
    (['--average_last=4'], 'checkpoints holds 3 checkpoint(s)'),
    (['--data_source=celeba.npz'], "--data_source: data.source 'celeba.npz' is not one of samples"),
    (['--data_source=samples:cats'], "--data_source: unknown sample set 'cats'"),
    (['--task=pixcolor'], 'holds a super_resolution model, not a pixcolor one: leave --task out, '
                          'or give --task=super_resolution'),
], ids=['sampling key', 'sampling value', 'top_p value', 'candidates value', 'two candidates',
        'set key', 'set json', 'set list',
        'average none', 'average too many', 'source form', 'source set', 'task'])
def test_a_mistake_ends_with_one_line_and_leaves_the_demo_as_it_was(run, tmp_path, args, message):
  folder = demo_folder(tmp_path)
  result = run_in_process(SCRIPT, f'--workdir={run}', f'--output={folder}', *args)
  assert_usage_error(result, message)
  assert os.listdir(folder / 'checkpoints') == ['ckpt-99.index']
  assert not (folder / 'config.json').exists()


def test_an_output_holding_a_training_run_is_refused_and_keeps_its_checkpoints(run, tmp_path):
  # The run itself (it lost its older checkpoints and its optimizer state), however spelt, or
  # another run.
  other = copy_run(run, tmp_path)
  for output, message in ((str(run) + os.sep, 'is the --workdir'), (other, 'holds a training run')):
    before = sorted(os.listdir(os.path.join(output, 'checkpoints')))
    result = run_in_process(SCRIPT, f'--workdir={run}', f'--output={output}')
    assert_usage_error(result, f'--output {output} {message}')
    assert sorted(os.listdir(os.path.join(output, 'checkpoints'))) == before


def test_training_in_a_demo_folder_says_to_start_a_new_run_from_it(run, tmp_path):
  folder = str(tmp_path / 'demo')
  assert run_in_process(SCRIPT, f'--workdir={run}', f'--output={folder}').returncode == 0
  config = tiny_config(train_steps=6, checkpoint_every_steps=2)
  # The weights fit, the optimizer state is missing: not 'the model changed'.
  with pytest.raises(commands.UsageError, match=r'ckpt-4 holds weights only \(a shipped demo, or '
                     r".*--workdir with --config.init_from=.*demo$"):
    loop.run(task_lib.SuperResolutionTask(config), config, folder, 'train')
  assert sorted(os.listdir(os.path.join(folder, 'checkpoints'))) == [
      'checkpoint', 'ckpt-4.data-00000-of-00001', 'ckpt-4.index']


def test_average_last_ships_the_mean_of_the_newest_checkpoints_weights(run, tmp_path):
  folder = tmp_path / 'averaged'
  result = run_in_process(SCRIPT, f'--workdir={run}', f'--output={folder}', '--average_last=2')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'averaged the weights of steps 3, 4' in result.stdout  # The newest two of 2, 3, 4.
  config = workdir_lib.read_config(str(folder))
  assert list(config.averaged_steps) == [3, 4]
  demo, _, step = workdir_lib.restore(str(folder), model_lib.build_model)
  assert step == 4  # The newest step, so that a run's later checkpoints still sort after it.
  each = []
  for s in (3, 4):
    model = model_lib.build_model(config.model)
    workdir_lib.restore_weights(os.path.join(run, 'checkpoints', f'ckpt-{s}'), model)
    each.append({k: v.numpy() for k, v in workdir_lib.weights_by_path(model).items()})
  differing = 0
  for key, variable in workdir_lib.weights_by_path(demo).items():
    if not tf.as_dtype(variable.dtype).is_floating:
      continue
    mean = (each[0][key].astype(np.float64) + each[1][key]) / 2
    np.testing.assert_allclose(variable.numpy(), mean, rtol=1e-6, atol=1e-7, err_msg=key)
    differing += not np.array_equal(each[0][key], each[1][key])
  assert differing  # Steps 3 and 4 differ, so the mean is neither of them.


def test_a_damaged_older_checkpoint_ends_the_average_with_one_line_before_anything_is_written(
    run, tmp_path):
  """Every checkpoint to be averaged is read through first, not only the newest (which restoring
  the model checks): a damaged older one must not leave a half-averaged demo behind."""
  copy = copy_run(run, tmp_path, damage=(3,))
  folder = demo_folder(tmp_path)
  result = run_in_process(SCRIPT, f'--workdir={copy}', f'--output={folder}', '--average_last=2')
  assert result.returncode == 1 and 'Traceback' not in result.stderr, result.stderr[-3000:]
  assert stderr_lines(result)[-1].startswith(
      f'{SCRIPT}: error: cannot average {copy}/checkpoints/ckpt-3: '), result.stderr[-3000:]
  assert os.listdir(folder / 'checkpoints') == ['ckpt-99.index']
  assert not (folder / 'config.json').exists()


def test_a_pixcolor_demo_names_its_weights_file_by_name_only_and_restores_without_it(tmp_path):
  """PixColor's run records the pretrained backbone's file by the path of the machine it trained on;
  the demo records the file's name (where it came from), and restoring the demo reads no file."""
  from pixcolor import model as pixcolor_model
  from pixcolor import task as pixcolor_task
  from test_pixcolor_e2e import tiny_config as pixcolor_tiny_config
  run = str(tmp_path / 'run')
  config = pixcolor_tiny_config(train_steps=2, image_every_steps=0, eval_every_steps=0)
  loop.run(pixcolor_task.PixColorTask(config), config, run, 'train')
  edit_recorded_config(run, {
      'model.conditioning_weights': '/home/someone/weights/mobilenet_v2_notop.h5',
      'train_refinement': False})  # The run's second stage trains one network of the two.
  folder = tmp_path / 'demo'
  result = run_in_process(SCRIPT, f'--workdir={run}', f'--output={folder}', '--task=pixcolor')
  assert result.returncode == 0, result.stderr[-3000:]
  config = workdir_lib.read_config(str(folder))
  assert config.model.conditioning_weights == 'mobilenet_v2_notop.h5'
  # The demo is a whole model: fine-tuned from, it trains both networks unless told otherwise.
  assert config.train_pixelcnn and config.train_refinement
  demo, _, step = workdir_lib.restore(str(folder), pixcolor_model.build_model)
  assert step == 2
  trained, _, _ = workdir_lib.restore(run, pixcolor_model.build_model)
  assert_same_weights(trained, demo)


def test_the_shipped_demos_name_the_datasets_they_were_trained_on_in_order(tmp_path):
  """The demo page, the notebooks and `demo` say 'trained on X then Y' from TERMS.md's bold names."""
  import pixcolor.model as pixcolor_model  # pylint: disable=g-import-not-at-top
  demos = model_lib.DEMO_WORKDIRS
  assert workdir_lib.trained_on(demos['faces']) == ['CelebA']
  assert workdir_lib.trained_on(demos['bedrooms']) == ['Tiny ImageNet', 'Places365']
  assert workdir_lib.trained_on(pixcolor_model.DEMO_WORKDIR) == ['Tiny ImageNet']
  (tmp_path / 'TERMS.md').write_text('Trained on **A** (terms a), then on **B**.\n')
  assert workdir_lib.trained_on(str(tmp_path)) == ['A', 'B']
  assert workdir_lib.trained_on(str(tmp_path / 'none')) == []


# What make_demo_checkpoint.py writes over the run's config.json, and the keys added since a demo
# was trained, with the value that does what the code did before they existed.
REWRITTEN = {'config_file', 'data.source', 'data.trained_on', 'init_from', 'averaged_steps'}
ADDED_SINCE = {'ema_decay': 0.0, 'sampling.candidates': 1, 'data.random_grayscale': 0.0}


@pytest.mark.parametrize('demo', ['faces', 'bedrooms', 'photos'])
def test_each_shipped_demo_is_what_the_config_file_it_names_trains(demo):
  """The model cards give each demo's config file as its recipe ('the folder's config.json holds the
  whole config'), but the commands restore from config.json alone: a config file edited since (its
  learning rate, a layer more) would no longer make the shipped model, and no test said so."""
  import json  # pylint: disable=g-import-not-at-top
  import pixcolor.model as pixcolor_model  # pylint: disable=g-import-not-at-top
  from experiments import configs  # pylint: disable=g-import-not-at-top
  folder = {**model_lib.DEMO_WORKDIRS, 'photos': pixcolor_model.DEMO_WORKDIR}[demo]
  with open(os.path.join(folder, 'config.json')) as f:
    shipped = workdir_lib.flat_config(json.load(f))
  name = os.path.splitext(os.path.basename(shipped['config_file']))[0]
  # As JSON, as config.json holds it (tuples become lists).
  config = workdir_lib.flat_config(json.loads(json.dumps(configs.load(name).to_dict())))
  assert config.pop('dtype_policy') == 'auto'  # Resolved on the machine it trained on:
  assert shipped.pop('dtype_policy') in ('mixed_bfloat16', 'float32')
  weights = config.pop('model.conditioning_weights', '')  # A local file, recorded by name only:
  recorded = shipped.pop('model.conditioning_weights', '')  # 'imagenet' offline is Keras' file.
  assert recorded in (weights, os.path.basename(weights)) or (
      weights == 'imagenet' and recorded.endswith('imagenet.h5')
      and recorded.startswith(shipped['model.conditioning.backbone']))
  for key, off in ADDED_SINCE.items():
    if key not in shipped:
      assert config.pop(key, off) == off, key
  differ = {key for key in config.keys() | shipped.keys()
            if config.get(key, '<none>') != shipped.get(key, '<none>')}
  assert differ <= REWRITTEN, {k: (config.get(k), shipped.get(k)) for k in differ - REWRITTEN}
