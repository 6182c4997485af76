"""The quick-start demo (README's first command) runs on the shipped demo checkpoints."""
import os
import re

import numpy as np
import pytest
from PIL import Image

from data import samples
from data import transforms
from helpers import block_means
from helpers import bt601_luma
from helpers import grid_cell
from helpers import run_in_process
from pixel_recursive import commands
from pixel_recursive import metrics
from pixel_recursive import sampling
from pixel_recursive import visualize
from pixel_recursive import workdir as workdir_lib
from pixel_recursive.training import precision
from pixcolor import model as pixcolor_model
from pixel_recursive import model as sr_model


def test_demo_checkpoints_are_shipped():
  for workdir in (*sr_model.DEMO_WORKDIRS.values(), pixcolor_model.DEMO_WORKDIR):
    assert os.path.isfile(os.path.join(workdir, 'config.json')), workdir
    assert os.path.isfile(os.path.join(workdir, 'checkpoints', 'checkpoint')), workdir
    # No path of the machine it was trained on (a data file, a weights file, a run to start from).
    with open(os.path.join(workdir, 'config.json')) as f:
      text = f.read()
    for value in re.findall(r'"([^"]*)"', text):
      assert not os.path.isabs(value) and '../' not in value and '~' not in value, (workdir, value)


def test_each_package_names_its_shipped_models_as_its_commands_do():
  """`model.demo_workdir(name)` in Python, as `--model=name` on the command line: the default the
  commands' default, an unknown name refused with the names that ship."""
  for package, names in ((sr_model, ('faces', 'bedrooms')), (pixcolor_model, ('photos',))):
    assert tuple(package.DEMO_WORKDIRS) == names
    assert package.demo_workdir() == package.DEMO_WORKDIR == package.DEMO_WORKDIRS[names[0]]
    for name in names:
      assert package.demo_workdir(name) == package.DEMO_WORKDIRS[name]
    with pytest.raises(commands.UsageError, match=f"one of {', '.join(names)}, got 'cats'"):
      package.demo_workdir('cats')


def test_the_bedrooms_model_restores_and_upsamples_at_its_shipped_defaults(tmp_path):
  from pixel_recursive import workdir as workdir_lib
  model, config, step = workdir_lib.restore(sr_model.demo_workdir('bedrooms'), sr_model.build_model)
  assert step == 11500 and (config.sampling.temperature, config.sampling.guidance) == (2.0, 5.0)
  Image.fromarray(samples.photo('motorcycle')).resize((32, 32), Image.BOX).save(
      tmp_path / 'motorcycle.png')
  result = run_in_process('pixel_recursive.upsample', '--model=bedrooms',
                          f'--input={tmp_path}/motorcycle.png', f'--output={tmp_path}/out',
                          '--num_samples=2')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'temperature 2, guidance 5' in result.stderr  # The model's own defaults.
  out = np.asarray(Image.open(tmp_path / 'out' / 'motorcycle_sample1.png'))
  assert out.shape == (32, 32, 3)
  lowres = np.asarray(Image.open(tmp_path / 'out' / 'motorcycle_input.png'))
  # It follows its input (consistency in dB, as the model card measures it).
  assert float(metrics.consistency(out[None], lowres[None])[0]) > 25


def test_demo_writes_both_grids_and_the_page(tmp_path, monkeypatch):
  out = tmp_path / 'demo'
  restored = {}  # The folder of every model the demo restores -> (that model, its config).

  def restore(folder, build, *args, **kwargs):
    model, config, step = real_restore(folder, build, *args, **kwargs)
    restored[os.path.realpath(folder)] = model, config
    return model, config, step

  real_restore = workdir_lib.restore
  monkeypatch.setattr(workdir_lib, 'restore', restore)
  # In this process (test_commands.py runs the command in a real one).
  result = run_in_process('experiments.demo', f'--output={out}', '--num_faces=3', '--num_photos=2',
                          '--num_scenes=2')
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'Results in {out}' in result.stdout

  # The faces found in the two portraits x (input, bicubic, the paper's guidance, 3 samples at the
  # defaults, the 32x32 crop as truth), then LFW's first (25 x 25: no truth, a blank cell), enlarged.
  sr = np.asarray(Image.open(out / 'super_resolution.png'))
  assert sr.ndim == 3 and sr.shape[0] < sr.shape[1]
  faces = sorted(os.listdir(out / 'super_resolution'))
  assert len(faces) == 2 * 7 + 6 and 'astronaut_face0_sample_paper_w1.png' in faces
  assert 'grace_hopper_face0_truth.png' in faces and 'lfw_000_sample2.png' in faces
  assert 'lfw_000_truth.png' not in faces
  # 3 rows of 7 cells, shown x3, below a band with the columns' titles (two lines), right of a
  # column with the rows' names.
  top = sr.shape[0] - 3 * (2 + 3 * 34)
  left = sr.shape[1] - 3 * (2 + 7 * 34)
  assert 2 * visualize.TITLE_SIZE < top < 50 and 0 < left <= visualize.ROW_TITLE_WIDTH
  sr_cells = sr[:, left:]
  assert (grid_cell(sr_cells, 2, 6, 32, scale=3, top=top) == 255).all()  # LFW's truth: blank.
  assert not (grid_cell(sr_cells, 1, 6, 32, scale=3, top=top) == 255).all()  # Grace Hopper's.
  assert (sr[:top, left:] < 128).any(axis=-1)[:, :3 * 34].any()  # A title over the first column.
  assert (sr[top:, :left] < 128).any()  # And the rows' names left of them.
  scenes = sorted(os.listdir(out / 'bedrooms'))  # The bedrooms model on the photos' centres.
  assert len(scenes) == 2 * 7 and 'astronaut_truth.png' in scenes
  assert np.asarray(Image.open(out / 'bedrooms.png')).ndim == 3
  drawn = [np.asarray(Image.open(out / 'super_resolution' / f'astronaut_face0_sample{k}.png'))
           for k in range(3)]
  assert all(s.shape == (32, 32, 3) for s in drawn)
  assert not np.array_equal(drawn[0], drawn[2])  # Three samples, not one mean.
  page = (out / 'index.html').read_text()
  assert 'guidance' in page
  assert f'on {precision.device_name()}.' in page  # Its seconds, with the machine they ran on.
  # The faces model samples all of its distribution (top-p 1): the page does not call it a nucleus.
  assert 'top-p 1' not in page  # (A nucleus is below 1: 'top-p 0.9'.)
  # What each shipped model was trained on (its TERMS.md), not the `samples` its config.json
  # records so that it runs from a fresh clone.
  assert 'trained on CelebA (terms' in page and 'trained on Tiny ImageNet then Places365' in page
  assert 'data samples' not in page

  photos = sorted(os.listdir(out / 'colorization'))
  assert len(photos) == 2 * 4  # gray + three colourings each
  stem = photos[0].rsplit('_', 1)[0]
  gray = np.asarray(Image.open(out / 'colorization' / f'{stem}_gray.png'))
  colourings = [np.asarray(Image.open(out / 'colorization' / f'{stem}_sample{k}.png'))
                for k in range(3)]
  assert all(c.shape == gray.shape + (3,) for c in colourings)  # At the photo's own size.
  assert not np.array_equal(colourings[0], colourings[1])  # Sampled, not averaged.
  for c in colourings:  # Each keeps the input's luminance (BT.601 Y), up to rounding and clipping.
    assert np.abs(bt601_luma(c) - gray).mean() < 1.5
  page = (out / 'index.html').read_text()
  assert 'super_resolution.png' in page and 'colorization.png' in page

  # Each column is what the model's own API gives for the same inputs and seeds: the inputs made
  # from their truths by area, the scenes' truths the photos' central squares, the paper's
  # sampling (T 1, w 1) and the shipped defaults (their nucleus and candidates) of each model.
  # The demo's own model objects, restored from the shipped folders (their samplers, compiled for
  # these batches, are reused: re-restored, they were compiled again, 14 of the test's 33 s).
  # (experiments.demo is not imported here: its flags would stay defined in this process.)
  assert set(restored) == {os.path.realpath(w) for w in (
      sr_model.demo_workdir('faces'), sr_model.demo_workdir('bedrooms'),
      pixcolor_model.DEMO_WORKDIR)}
  read = lambda *path: np.asarray(Image.open(out.joinpath(*path)))
  photos = samples.photos()[:2]
  for what, model_name, names in (
      ('super_resolution', 'faces', [name for name, _ in samples.faces()[:3]]),
      ('bedrooms', 'bedrooms', [name for name, _ in photos])):
    lowres = np.stack([read(what, f'{n}_input.png')[::4, ::4] for n in names])  # Written x4.
    for name, low in zip(names, lowres):
      if name.startswith('lfw_'):  # No truth: its input is area-downsampled from 25 x 25.
        continue
      truth = read(what, f'{name}_truth.png')
      np.testing.assert_allclose(low, block_means(truth, 4), atol=0.51, err_msg=name)
      if what == 'bedrooms':
        square = np.asarray(transforms.center_square_crop(dict(photos)[name]))
        np.testing.assert_allclose(truth, block_means(square, len(square) // 32),
                                   atol=0.51, err_msg=name)
    model, config = restored[os.path.realpath(sr_model.demo_workdir(model_name))]
    s = config.sampling
    paper = model.sample(lowres, temperature=1.0, guidance=1.0, keep_gray=True,
                         seed=[sampling.derive_seed(0, i) for i in range(len(names))]).numpy()
    np.testing.assert_array_equal(
        np.stack([read(what, f'{n}_sample_paper_w1.png') for n in names]), paper)
    shipped = model.sample(lowres, temperature=s.temperature, guidance=s.guidance,
                           top_p=s.get('top_p', 1.0), candidates=s.get('candidates', 1),
                           keep_gray=True,
                           seed=[sampling.derive_seed(0, i, 1) for i in range(len(names))]
                           ).numpy()
    np.testing.assert_array_equal(np.stack([read(what, f'{n}_sample1.png') for n in names]),
                                  shipped)
    # The grid is those images (a blank where there is no truth), under its columns' titles.
    kinds = ['input', 'bicubic', 'sample_paper_w1', 'sample0', 'sample1', 'sample2', 'truth']
    cells = [[read(what, f'{n}_{kind}.png') if (out / what / f'{n}_{kind}.png').exists()
              else np.full((32, 32, 3), 255, np.uint8) for kind in kinds] for n in names]
    setting = f'T {s.temperature:g}, w {s.guidance:g}' + (
        f'\ntypical of {s.candidates}' if s.get('candidates', 1) > 1 else '')
    titles = (['input 8x8', 'bicubic', 'paper\nT 1, w 1']
              + [f'sample {k}\n{setting}' for k in (1, 2, 3)] + ['truth'])
    np.testing.assert_array_equal(read(f'{what}.png'),
                                  visualize.grid(cells, titles=titles, scale=3, row_titles=names))
  model, config = restored[os.path.realpath(pixcolor_model.DEMO_WORKDIR)]
  s = config.sampling
  assert s.candidates > 1  # So that dropping them would show.
  for i, (name, _) in enumerate(photos):  # The i-th photo's colourings: seed i.
    gray = read('colorization', f'{name}_gray.png')
    want = model.colorize(gray[None], num_samples=3, temperature=s.temperature, seed=i,
                          top_p=s.get('top_p', 1.0), candidates=s.candidates).numpy()[:, 0]
    np.testing.assert_array_equal(
        np.stack([read('colorization', f'{name}_sample{k}.png') for k in range(3)]), want, name)
  # Its grid's titles: gray input, each colouring at its T, the original (cells as wide as those).
  shapes = [[np.zeros(read('colorization', f'{name}_gray.png').shape + (3,), np.uint8)] * 5
            for name, _ in photos]
  setting = f'T {s.temperature:g}\ntypical of {s.candidates}'  # (The nucleus is all: top-p 1.)
  titles = ['gray input'] + [f'colouring {k}\n{setting}' for k in (1, 2, 3)] + ['original']
  names = [name for name, _ in photos]  # And its rows' names, as its single PNGs start.
  want = visualize.grid(shapes, pad=4, titles=titles, row_titles=names)
  top = want.shape[0] - visualize.grid(shapes, pad=4).shape[0]
  assert top > visualize.TITLE_SIZE
  left = want.shape[1] - visualize.grid(shapes, pad=4).shape[1]
  assert left > 0
  np.testing.assert_array_equal(read('colorization.png')[:top], want[:top])
  np.testing.assert_array_equal(read('colorization.png')[:, :left], want[:, :left])


def test_asking_the_demo_for_more_photos_than_ship_uses_all_and_says_so(caplog):
  import importlib
  import logging
  import sys
  from absl.testing import flagsaver
  # Imported for this test only: its flags are removed after it, as a command run in process has.
  with flagsaver.flagsaver(), caplog.at_level(logging.INFO):
    demo = importlib.import_module('experiments.demo')
    sys.modules.pop('experiments.demo')
    photos = demo.sample_photos(20, 16)
    names, lowres, truths = demo.sample_scenes(50)
    assert len(demo.sample_photos(2, 16)) == 2  # Fewer than there are: no notice.
  assert [name for name, _ in photos] == names == [name for name, _ in samples.photos()]
  assert lowres.shape == (len(names), 8, 8, 3) and len(truths) == len(names)
  notices = [r.getMessage() for r in caplog.records if r.getMessage().startswith('--num_')]
  assert notices == [f'--num_photos=20: there are {len(names)} sample photos; using all of them',
                     f'--num_scenes=50: there are {len(names)} sample photos; using all of them']
