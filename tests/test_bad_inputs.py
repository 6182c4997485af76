"""Every kind of bad input a user may hand the batch commands, through their command lines (run in this
process: test_commands.py runs each command in a real one)."""
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from pixcolor import task as pixcolor_task
from pixel_recursive import task as task_lib
from pixel_recursive.training import loop
import helpers
from helpers import assert_usage_error
from helpers import run_in_process as run
import test_pixcolor_e2e
import test_train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def huge_png_header(path, width=30000, height=30000):
  """A valid-looking PNG whose header claims 900 megapixels (without allocating them)."""
  def chunk(kind, data):
    return (struct.pack('>I', len(data)) + kind + data +
            struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))
  ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
  with open(path, 'wb') as f:
    f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) +
            chunk(b'IDAT', zlib.compress(b'\x00' * 16)) + chunk(b'IEND', b''))


def make_inputs(folder):
  """Good-but-odd files (converted) and broken ones (skipped); returns (good names, bad names)."""
  rng = np.random.default_rng(0)
  face = helpers.smooth_images(1)[0]
  photo = os.path.join(helpers.photo_folder(), 'eval', 'chelsea.jpg')
  os.makedirs(folder, exist_ok=True)
  good = {
      'rgb.png': Image.fromarray(face),
      'rgba.png': Image.fromarray(np.dstack([face, np.full(face.shape[:2], 128, np.uint8)])),
      'palette.png': Image.fromarray(face).convert('P', palette=Image.ADAPTIVE),
      'gray.png': Image.fromarray(face).convert('L'),
      'gray16.png': Image.fromarray((rng.integers(0, 65535, (40, 40))).astype(np.uint16)),
      'tiny_1x1.png': Image.fromarray(face[:1, :1]),
      'photo.jpg': Image.open(photo),
      'photo.png': Image.open(photo),  # Differs from photo.jpg by the extension alone.
  }
  for name, image in good.items():
    image.save(os.path.join(folder, name))
  data = open(photo, 'rb').read()
  bad = {'empty.png': b'', 'text.png': b'this is not an image\n', 'truncated.jpg': data[:len(data) // 3]}
  for name, content in bad.items():
    with open(os.path.join(folder, name), 'wb') as f:
      f.write(content)
  huge_png_header(os.path.join(folder, 'huge.png'))
  return sorted(good), sorted(list(bad) + ['huge.png'])


@pytest.fixture(scope='module')
def sr_workdir(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('sr'))
  config = test_train.tiny_config(train_steps=1, checkpoint_every_steps=1, image_every_steps=0,
                                  histogram_every_steps=0)
  loop.run(task_lib.SuperResolutionTask(config), config, workdir)
  return workdir


@pytest.fixture(scope='module')
def pixcolor_workdir(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('pixcolor'))
  config = test_pixcolor_e2e.tiny_config(train_steps=1, checkpoint_every_steps=1,
                                         image_every_steps=0, eval_every_steps=0)
  loop.run(pixcolor_task.PixColorTask(config), config, workdir)
  return workdir


@pytest.mark.parametrize('command', ['upsample', 'colorize'])
def test_batch_commands_convert_what_they_can_and_name_what_they_cannot(
    command, sr_workdir, pixcolor_workdir, tmp_path):
  good, bad = make_inputs(str(tmp_path / 'in'))
  out = tmp_path / 'out'
  module, workdir = {'upsample': ('pixel_recursive.upsample', sr_workdir),
                     'colorize': ('pixcolor.colorize', pixcolor_workdir)}[command]
  result = run(module, f'--workdir={workdir}', f'--input={tmp_path}/in', f'--output={out}')
  assert result.returncode == 1, result.stderr[-3000:]
  stems = [os.path.splitext(name)[0] for name in good]
  for name in good:
    stem = os.path.splitext(name)[0]
    stem = name if stems.count(stem) > 1 else stem  # photo.jpg_sample0.png, photo.png_sample0.png
    assert (out / f'{stem}_sample0.png').exists(), (name, result.stderr[-3000:])
    shape = np.asarray(Image.open(out / f'{stem}_sample0.png')).shape
    if command == 'upsample':
      assert shape == (32, 32, 3)
    else:  # Colourings keep each input's own size.
      assert shape == np.asarray(Image.open(tmp_path / 'in' / name)).shape[:2] + (3,), name
  skipped = [l for l in result.stderr.splitlines() if l.startswith('skipped ')]
  assert len(skipped) == len(bad), skipped
  for name, reason in (('empty.png', 'empty'), ('text.png', 'not an image'),
                       ('truncated.jpg', 'truncated'), ('huge.png', 'too large')):
    assert any(name in l and reason in l for l in skipped), (name, skipped)
  assert 'Traceback' not in result.stderr
  if command == 'colorize':  # An INFO line, in good English.
    assert f'colorizing {len(good)} images x 1 sample at temperature 1' in result.stderr


@pytest.mark.parametrize('args,message', [
    (['--input=/no/such/folder'], '/no/such/folder'),
    (['--temperature=-0.5'], 'temperature'),
    (['--num_samples=0'], 'num_samples'),
    (['--output=OUTPUT_IS_A_FILE'], 'cannot create output folder'),
    (['--output=FILE'], 'output folder FILE is a file, not a folder'),
    (['--workdir=FILE'], 'workdir FILE is a file, not a folder'),
])
def test_upsample_user_mistakes_exit_2(sr_workdir, tmp_path, args, message):
  (tmp_path / 'in').mkdir()
  Image.new('RGB', (8, 8)).save(tmp_path / 'in' / 'x.png')
  blocker = tmp_path / 'file'
  blocker.write_text('')
  defaults = {'--workdir': sr_workdir, '--input': str(tmp_path / 'in'),
              '--output': str(tmp_path / 'out')}
  for a in args:
    key, value = a.split('=', 1)
    defaults[key] = {'OUTPUT_IS_A_FILE': str(blocker / 'sub'), 'FILE': str(blocker)}.get(value,
                                                                                         value)
  result = run('pixel_recursive.upsample', *[f'{k}={v}' for k, v in defaults.items()])
  assert_usage_error(result, message.replace('FILE', str(blocker)), prog='pixel_recursive.upsample')


@pytest.mark.parametrize('command,given', [('pixel_recursive.upsample', '--input'),
                                           ('pixcolor.colorize', '--output')])
def test_a_batch_command_given_only_one_of_its_input_and_output_says_both_are_required(
    tmp_path, command, given):
  """Either one missing: one line, exit 2 (no test gave one alone: `or` as `and` passed)."""
  result = run(command, f'{given}={tmp_path / "x"}')
  assert_usage_error(result, '--input and --output are required', prog=command)
  assert not (tmp_path / 'x').exists()


@pytest.mark.parametrize('command,holds,wanted', [
    ('pixel_recursive.upsample', 'pixcolor', 'super_resolution'),
    ('pixel_recursive.upsample', 'l2_regression', 'super_resolution'),
    ('pixcolor.colorize', 'super_resolution', 'pixcolor'),
])
def test_a_workdir_of_another_model_is_named_and_leaves_no_output_folder(command, holds, wanted,
                                                                         tmp_path):
  run_dir = helpers.fake_run(tmp_path / 'run', holds)
  result = run(command, f'--workdir={run_dir}', '--input=docs', f'--output={tmp_path}/out')
  assert_usage_error(result, f'{run_dir} holds a {holds} model, not a {wanted} one', prog=command)
  assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('command,holds,wanted,hint', [
    ('pixel_recursive.evaluate', 'pixcolor', 'super_resolution',
     'evaluate it with python -m pixcolor.evaluate'),
    ('pixel_recursive.evaluate', 'l2_regression', 'super_resolution',
     "it is the baseline: give it as --l2_workdir beside a super_resolution run's --workdir"),
    ('pixcolor.evaluate', 'super_resolution', 'pixcolor',
     'evaluate it with python -m pixel_recursive.evaluate'),
])
def test_evaluate_names_a_workdir_of_another_model_and_leaves_no_output_folder(
    command, holds, wanted, hint, tmp_path):
  """Each paper's evaluate given the other's run (or the L2 baseline) said so in a traceback
  (ValueError from building the model), after TensorFlow had loaded."""
  run_dir = helpers.fake_run(tmp_path / 'run', holds)
  result = run(command, f'--workdir={run_dir}', f'--output={tmp_path}/out/m.json')
  assert_usage_error(result, f'{run_dir} holds a {holds} model, not a {wanted} one: {hint}',
                     prog=command)
  assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('holds', ['pixcolor', 'super_resolution'])
def test_evaluate_names_an_l2_workdir_of_another_model_before_any_model_loads(holds, tmp_path):
  # A pixcolor run ended in a traceback (ValueError from building it as a super-resolution model).
  l2_dir = helpers.fake_run(tmp_path / 'run', holds)
  result = run('pixel_recursive.evaluate', '--model=faces', f'--l2_workdir={l2_dir}',
               f'--output={tmp_path}/out/m.json')
  assert_usage_error(result, f'--l2_workdir: {l2_dir} holds a {holds} model, not a l2_regression '
                     'one: give a run of experiments/configs/celeba_8x32_l2.py or bedrooms_l2.py',
                     prog='pixel_recursive.evaluate')
  assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('command,model', [('pixel_recursive.evaluate', 'faces'),
                                           ('pixcolor.evaluate', 'photos')])
def test_evaluate_output_that_is_a_folder_is_named_before_the_evaluation(command, model, tmp_path):
  # open() found it after the whole evaluation, in a traceback.
  result = run(command, f'--model={model}', f'--output={tmp_path}')
  assert_usage_error(result, f'--output {tmp_path} is a folder: give the path of a file, '
                     f'e.g. {tmp_path}/metrics.json', prog=command)


def test_outputs_are_never_read_back_as_inputs(tmp_path):
  """--input's folder is searched with its sub-folders, except the --output folder inside it, so a
  second run reads the photos alone; the --input folder itself is refused as --output (its outputs
  could not be told from its photos); a photo given as --output is not left out (check_output_dir
  then names it as a file)."""
  from pixel_recursive import batch_command  # pylint: disable=g-import-not-at-top
  from pixel_recursive import commands  # pylint: disable=g-import-not-at-top
  (tmp_path / 'in' / 'out').mkdir(parents=True)
  for name in ('x.png', 'out/x_sample0.png', 'out/grid.png'):
    Image.new('RGB', (8, 8)).save(tmp_path / 'in' / name)
  photos = str(tmp_path / 'in')
  assert len(batch_command.read_inputs(photos)) == 3
  for output in ('in/out', 'in/../in/out', 'in/out/'):
    assert batch_command.read_inputs(photos, str(tmp_path / output)) == [f'{photos}/x.png'], output
  with pytest.raises(commands.UsageError, match=f'^--output {photos}/ is the --input folder: a '
                     'later run would read the outputs as inputs'):
    batch_command.read_inputs(photos, f'{photos}/')
  assert batch_command.read_inputs(photos, f'{photos}/x.png') == batch_command.read_inputs(photos)


@pytest.mark.parametrize('command', ['pixel_recursive.upsample', 'pixcolor.colorize'])
def test_both_batch_commands_tell_read_inputs_their_output(command, tmp_path):
  (tmp_path / 'in').mkdir()
  Image.new('RGB', (8, 8)).save(tmp_path / 'in' / 'x.png')
  result = run(command, f'--input={tmp_path / "in"}', f'--output={tmp_path / "in"}')
  assert_usage_error(result, f'--output {tmp_path / "in"} is the --input folder', prog=command)
  assert os.listdir(tmp_path / 'in') == ['x.png']


def test_upsample_with_a_workdir_that_is_not_a_run(tmp_path):
  result = run('pixel_recursive.upsample', f'--workdir={tmp_path}', '--input=docs',
               f'--output={tmp_path}/out')
  assert result.returncode == 2
  assert 'config.json' in result.stderr and 'Traceback' not in result.stderr


def test_a_workdir_or_one_shipped_model_is_resolved_and_a_mix_up_named(tmp_path):
  """workdir.resolve, under every command: --workdir wins; without it the first shipped model, or
  the one --model names; both flags, an unknown name, --model where one model ships, or a shipped
  folder that is missing, are usage errors."""
  from pixel_recursive import commands
  from pixel_recursive import workdir as workdir_lib
  faces, bedrooms = str(tmp_path / 'faces'), str(tmp_path / 'bedrooms')
  os.makedirs(faces)
  os.makedirs(bedrooms)
  shipped = {'faces': faces, 'bedrooms': bedrooms}
  assert workdir_lib.resolve('runs/mine', shipped) == 'runs/mine'
  assert workdir_lib.resolve(None, shipped) == faces
  assert workdir_lib.resolve('', shipped, 'bedrooms') == bedrooms
  assert workdir_lib.resolve(None, faces) == faces
  for args, message in [(('runs/mine', shipped, 'faces'), 'not both'),
                        ((None, shipped, 'cats'), "--model must be one of faces, bedrooms, got 'cats'"),
                        ((None, faces, 'faces'), '--model: only one model ships for this command'),
                        ((None, str(tmp_path / 'absent')), 'no demo checkpoint is installed at')]:
    with pytest.raises(commands.UsageError, match=message):
      workdir_lib.resolve(*args)
