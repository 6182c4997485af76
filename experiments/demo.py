r"""The quick-start demo: the demo checkpoints on photographs that ship with the dependencies.

  python -m experiments.demo --output=results/demo

Needs no dataset and no internet: the photos are scikit-image's and matplotlib's (`data.samples`).
Writes, under --output:
  super_resolution.png   (the faces model) the faces found in the photos (CelebA-framed,
                         `data.faces`) and the first faces of scikit-image's LFW subset; rows: 8x8
                         input (enlarged), bicubic, a sample drawn as the paper draws (T 1,
                         guidance 1), three samples at the model's shipped defaults (temperature,
                         guidance), and the 32x32 crop as truth (LFW's faces are 25 x 25: no
                         truth, a blank cell)
  super_resolution/      each face's input, samples and truth as separate PNGs
  bedrooms.png           the bedrooms model on the central squares of the photos (none a bedroom),
                         the same columns, the 32x32 square as truth; bedrooms/ the single images
  colorization.png       rows: grayscale input, three sampled colourings, the original photo (each
                         photo first resized to --photo_size on its long side)
  colorization/          each photo's grayscale input and colourings at that size
  index.html             a page showing the three grids, with what each column is
Each grid's columns are titled with what they are, and each row with the name its single PNGs
start with (`astronaut_face0`, `lfw_000`, `chelsea`).
and prints the folder at the end. Uses the demo checkpoints shipped in pixel_recursive/demo/faces,
pixel_recursive/demo/bedrooms and pixcolor/demo/photos (model cards in WORKSPACE.md), or
--sr_workdir / --bedrooms_workdir / --pixcolor_workdir, sampled at the models' shipped defaults
(`sampling` in their config.json) unless --temperature, --guidance (both super-resolution models) or
--color_temperature say otherwise.
"""
import html
import os
import sys
import time

from absl import flags
from absl import logging
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

flags.DEFINE_string('output', 'results/demo', 'Folder for the results page and PNGs.')
flags.DEFINE_integer('num_faces', 6, 'Faces to upsample: those found in the sample photos, then '
                     "LFW's.", lower_bound=1)
flags.DEFINE_integer('num_photos', 9, 'Sample photos to colorize (all nine by default; more: all).',
                     lower_bound=1)
flags.DEFINE_integer('photo_size', 256, 'Long side the photos are resized to before colorizing.',
                     lower_bound=16)
flags.DEFINE_integer('seed', 0, 'Sampling seed.')
flags.DEFINE_string('sr_workdir', None, 'Super-resolution workdir (default: the demo checkpoint).')
flags.DEFINE_string('bedrooms_workdir', None, 'Bedrooms super-resolution workdir (default: the '
                    'bedrooms demo checkpoint).')
flags.DEFINE_integer('num_scenes', 6, 'Sample photos (their central squares) to upsample with the '
                     'bedrooms model.', lower_bound=1)
flags.DEFINE_string('pixcolor_workdir', None, 'PixColor workdir (default: the demo checkpoint).')
flags.DEFINE_float('temperature', None, "Super-resolution temperature (default: the model's).")
flags.DEFINE_float('guidance', None, "Super-resolution guidance (default: the model's).")
flags.DEFINE_float('color_temperature', None, "Colorization temperature (default: the model's).")
FLAGS = flags.FLAGS

SR_SAMPLES = 3
COLOR_SAMPLES = 3


def first(items, n, flag, what):
  """The first n of `items`; all of them, with a notice naming --flag, when there are fewer."""
  if n > len(items):
    logging.info('--%s=%d: there are %d %s; using all of them', flag, n, len(items), what)
  return items[:n]


def sample_faces(n):
  """(names, 8x8 inputs [n, 8, 8, 3], truths: [32, 32, 3] or None) of the faces in the sample
  photos, then LFW's (25 x 25: their input is area-downsampled from that, and they have no truth)."""
  from data import samples
  from data import transforms
  faces = first(samples.faces(), n, 'num_faces', 'faces (those of the sample photos, then LFW)')
  names = [name for name, _ in faces]
  lowres = np.stack([transforms.to_uint8(transforms.resize(face, 8, 'area')).numpy()
                     for _, face in faces])
  truths = [face if face.shape[0] == 32 else None for _, face in faces]
  return names, lowres, truths


def sample_photos(n, size):
  """[(name, uint8 RGB)] of the first n sample photos, each resized to `size` on its long side."""
  from PIL import Image
  from data import samples
  out = []
  for name, rgb in first(samples.photos(), n, 'num_photos', 'sample photos'):
    scale = size / max(rgb.shape[:2])
    shape = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    out.append((name, np.asarray(Image.fromarray(rgb).resize(shape, Image.LANCZOS))))
  return out


def sample_scenes(n):
  """(names, 8x8 inputs, 32x32 truths) of the central squares of the first n sample photos: the
  scenes the bedrooms model is shown (none is a bedroom; they ship with the dependencies)."""
  from data import samples
  from data import transforms
  names, truths = [], []
  for name, rgb in first(samples.photos(), n, 'num_scenes', 'sample photos'):
    square = transforms.center_square_crop(rgb)
    truths.append(transforms.to_uint8(transforms.resize(square, 32, 'area')).numpy())
    names.append(name)
  truths = np.stack(truths)
  lowres = transforms.to_uint8(transforms.resize(truths, 8, 'area')).numpy()
  return names, lowres, list(truths)


def super_resolution(out_dir, workdir, model_name, inputs, seed, what):
  """Upsamples `inputs` (names, 8x8 inputs, truths or None) with a shipped model (or `workdir`):
  writes `{what}.png` and the single images under `{what}/`; returns what the page says of it."""
  from data import image_files
  from pixel_recursive import candidates as candidates_lib
  from pixel_recursive import commands
  from pixel_recursive import model as model_lib
  from pixel_recursive import sampling
  from pixel_recursive import upsample
  from pixel_recursive import visualize
  from pixel_recursive import workdir as workdir_lib
  folder = workdir or model_lib.demo_workdir(model_name)
  model, config, step = workdir_lib.restore(folder, model_lib.build_model)
  t = commands.sampling_setting(config, 'temperature', FLAGS.temperature)
  w = commands.sampling_setting(config, 'guidance', FLAGS.guidance)
  p = commands.sampling_setting(config, 'top_p', None)
  c = commands.sampling_setting(config, 'candidates', None)
  names, lowres, truths = inputs
  n = len(names)
  blank = np.full((32, 32, 3), 255, np.uint8)
  truth = np.stack([blank if t is None else t for t in truths])
  logging.info('%s: upsampling %s: the paper\'s sampling (T 1, guidance 1) and %d samples '
               'at T %g, guidance %g', what, commands.counted(n, 'image'), SR_SAMPLES, t, w)
  paper = model.sample(lowres, temperature=1.0, guidance=1.0, keep_gray=True,
                       seed=[sampling.derive_seed(seed, i) for i in range(n)]).numpy()
  samples = [model.sample(lowres, temperature=t, guidance=w, top_p=p, keep_gray=True,
                          candidates=c,
                          seed=[sampling.derive_seed(seed, i, k) for i in range(n)]).numpy()
             for k in range(SR_SAMPLES)]
  columns = ([visualize.nearest_upsample(lowres, 4), visualize.bicubic_upsample(lowres, 32), paper]
             + samples + [truth])
  kinds = (['input', 'bicubic', 'sample_paper_w1'] + [f'sample{k}' for k in range(SR_SAMPLES)]
           + ['truth'])
  for i, name in enumerate(names):
    for kind, col in zip(kinds, columns):
      if kind != 'truth' or truths[i] is not None:
        image_files.write_png(os.path.join(out_dir, what, f'{name}_{kind}.png'), col[i])
  titles = upsample.grid_titles(SR_SAMPLES, t, w, p, c, 'truth')  # upsample's grid.png's,
  titles.insert(2, 'paper\n' + visualize.setting_title(1, 1))  # with the paper's draw before.
  grid = visualize.grid([[c[i] for c in columns] for i in range(n)], titles=titles, scale=3,
                        row_titles=names)  # Each row named as its single PNGs are.
  image_files.write_png(os.path.join(out_dir, f'{what}.png'), grid)
  return {'step': step,
          'about': describe(config, workdir or f'pixel_recursive/demo/{model_name}', folder),
          'columns': ['8x8 input', 'bicubic', 'sample as the paper draws it (T = 1, guidance 1)']
          + [f'sample {k + 1}, T = {t:g}, guidance {w:g}{nucleus_text(p)}{candidates_lib.note(c)}'
             for k in range(SR_SAMPLES)]
          + ['truth (the 32x32 original, where there is one)'], 'names': names}


def nucleus_text(top_p):
  """', top-p 0.9' for a model that samples from a nucleus, '' for one that samples it all."""
  return '' if top_p >= 1 else f', top-p {top_p:g}'


def colorization(out_dir, workdir, n, seed):
  from data import image_files
  from data import transforms
  from pixcolor import colorize
  from pixcolor import model as model_lib
  from pixel_recursive import candidates as candidates_lib
  from pixel_recursive import commands
  from pixel_recursive import visualize
  from pixel_recursive import workdir as workdir_lib
  folder = workdir_lib.resolve(workdir, model_lib.DEMO_WORKDIR)
  model, config, step = workdir_lib.restore(folder, model_lib.build_model)
  temperature = commands.sampling_setting(config, 'temperature', FLAGS.color_temperature)
  top_p = commands.sampling_setting(config, 'top_p', None)
  candidates = commands.sampling_setting(config, 'candidates', None)
  rows, stems = [], []
  for i, (stem, rgb) in enumerate(sample_photos(n, FLAGS.photo_size)):
    gray = transforms.to_uint8(transforms.luminance(rgb)).numpy()[..., 0]
    logging.info('colorizing %s (%dx%d), %d colourings', stem, rgb.shape[1], rgb.shape[0],
                 COLOR_SAMPLES)
    colourings = model.colorize(gray[None], num_samples=COLOR_SAMPLES,
                                temperature=temperature, seed=seed + i, top_p=top_p,
                                candidates=candidates).numpy()[:, 0]
    image_files.write_png(os.path.join(out_dir, 'colorization', f'{stem}_gray.png'), gray)
    for k, image in enumerate(colourings):
      image_files.write_png(os.path.join(out_dir, 'colorization', f'{stem}_sample{k}.png'), image)
    rows.append([gray] + list(colourings) + [rgb])
    stems.append(stem)
  titles = colorize.grid_titles(COLOR_SAMPLES, temperature, top_p, candidates) + ['original']
  image_files.write_png(os.path.join(out_dir, 'colorization.png'),
                        visualize.grid(rows, pad=4, titles=titles, row_titles=stems))
  return {'step': step, 'about': describe(config, workdir or 'pixcolor/demo/photos', folder),
          'columns': ['grayscale input'] + [
              f'colouring {k + 1} (T = {temperature:g}{nucleus_text(top_p)}'
              f'{candidates_lib.note(candidates)})'
              for k in range(COLOR_SAMPLES)] + [
                  'original']}


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Pixel recursive demo</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}}
img{{max-width:100%;image-rendering:pixelated;border:1px solid #ddd}}
.photo img{{image-rendering:auto}} code{{background:#f3f3f3;padding:0 .2em}}</style></head><body>
<h1>Pixel Recursive Super Resolution and PixColor: demo</h1>
<p>Made by <code>python -m experiments.demo</code> in {seconds:.0f} s on {device}.</p>
<h2>Super-resolution, 8x8 &rarr; 32x32 (Dahl et al. 2017)</h2>
<p>The faces scikit-image's face detector finds in the sample photographs (Eileen Collins, Grace
Hopper), cropped as CelebA frames its faces, then the first faces of scikit-image's LFW subset
(gray, tightly cropped, 25x25: another framing than the model trained on). Columns: {sr_columns}.
Each row of the three grids is titled with the name its single images start with.
Samples are drawn sub-pixel by sub-pixel from softmax((w A + B) / T): A the conditioning network's
logits, B the PixelCNN prior's, w = 1 the paper's model, w &gt; 1 our guidance (README), which makes
a small model follow its input; a gray input's samples are shown as their luminance (gray in,
gray out). Model at step {sr_step}: {sr_about}; model card in WORKSPACE.md.</p>
<img src="super_resolution.png" alt="super-resolution grid">
<h2>Super-resolution of scenes, with the bedrooms model</h2>
<p>The central squares of the sample photographs, none of them a bedroom, upsampled by the model
trained on bedroom photos (Places365), same columns. Model at step {bed_step}: {bed_about}.</p>
<img src="bedrooms.png" alt="bedrooms model grid">
<h2>Colorization (Guadarrama et al. 2017)</h2>
<p>The colour photographs of scikit-image and matplotlib, turned to grayscale. Columns:
{pc_columns}. Every colouring
keeps the input's luminance exactly and differs from the others: the chroma is sampled, not averaged.
Model at step {pc_step}: {pc_about}. {pc_note}</p>
<div class="photo"><img src="colorization.png" alt="colorization grid"></div>
<p>Single images: <code>super_resolution/</code> and <code>colorization/</code>.</p>
</body></html>
"""


def describe(config, workdir, folder):
  """One line about a run's model and data, from its config.json (and TERMS.md) in `folder`."""
  m = config.model
  if m.get('name') == 'pixcolor':
    net = (f"{m.image_size}x{m.image_size} photos, {m.chroma_size}x{m.chroma_size} chroma, "
           f"{m.pixelcnn.num_layers} gated layers of {m.pixelcnn.filters}")
  else:
    net = f"a prior of {m.prior.num_layers} gated layers of {m.prior.filters} filters"
  source = f"{config.config_file}: " if config.get('config_file') else ''
  from pixel_recursive import workdir as workdir_lib
  names = workdir_lib.trained_on(folder)
  data = (f"trained on {' then '.join(names)} (terms: its TERMS.md)" if names
          else f"data {config.data.source}")
  return f"{source}{net}, {data}, batch {config.batch_size} ({workdir})"


def main(argv):
  del argv
  start = time.time()
  from pixel_recursive import commands
  from pixel_recursive import workdir as workdir_lib
  # Named before anything is read or written (they were tracebacks after the first model had run).
  for flag in ('temperature', 'color_temperature'):
    if FLAGS[flag].value is not None:
      commands.check_temperature(FLAGS[flag].value, f'--{flag}')
  if FLAGS.guidance is not None:
    commands.check_guidance(FLAGS.guidance)
  for flag, model in (('sr_workdir', 'super_resolution'), ('bedrooms_workdir', 'super_resolution'),
                      ('pixcolor_workdir', 'pixcolor')):
    if FLAGS[flag].value:
      workdir_lib.check_model_name(FLAGS[flag].value, model, lambda name: (
          f'--{flag} takes a {model} run'))
  out_dir = FLAGS.output and os.path.abspath(FLAGS.output)  # Empty: refused, not the cwd.
  commands.check_output_dir(out_dir)  # Before TensorFlow loads: a wrong --output is named at once.
  from pixel_recursive.training import precision
  sr = super_resolution(out_dir, FLAGS.sr_workdir, 'faces', sample_faces(FLAGS.num_faces),
                        FLAGS.seed, 'super_resolution')
  beds = super_resolution(out_dir, FLAGS.bedrooms_workdir, 'bedrooms',
                          sample_scenes(FLAGS.num_scenes), FLAGS.seed, 'bedrooms')
  pc = colorization(out_dir, FLAGS.pixcolor_workdir, FLAGS.num_photos, FLAGS.seed)
  device = precision.device_name()  # 'CPU: 2 cores, AMD EPYC': seconds mean little without it.
  page = PAGE.format(
      seconds=time.time() - start, device=device,
      sr_columns=html.escape(', '.join(sr['columns'])), sr_step=sr['step'],
      sr_about=html.escape(sr['about']), bed_step=beds['step'], bed_about=html.escape(beds['about']),
      pc_columns=html.escape(', '.join(pc['columns'])), pc_step=pc['step'],
      pc_about=html.escape(pc['about']),
      pc_note='' if FLAGS.pixcolor_workdir else (
          'The demo model is small and was trained on a CPU: see its model card for what to '
          'expect.'))
  with open(os.path.join(out_dir, 'index.html'), 'w') as f:
    f.write(page)
  print(f'Results in {out_dir} (open {os.path.join(out_dir, "index.html")})', flush=True)


if __name__ == '__main__':
  from pixel_recursive import commands as _commands
  _commands.run(main)
