r"""Colorizes photos by sampling a trained PixColor model: several plausible colourings per input.

  python -m pixcolor.colorize --workdir=/tmp/pixcolor_tiny --input=old_photos/ --output=colorized/ \
      --num_samples=4 [--temperature=1.0] [--seed=0]

Input: an image file or a folder of them (searched recursively), colour or true grayscale, any size.
Only the BT.601 luminance Y of each is used (a colour input's colours are discarded). Output, per input
NAME: NAME_sample<k>.png for k < --num_samples, each at the input's own size, whose luminance is the
input's (up to rounding), and grid.png (rows: gray input, then the colourings, as thumbnails).
The model sees Y resized to its image size (224 x 224 in the paper; a non-square input is squeezed to a
square there and the colour is stretched back); its chroma is resized to the input's size and put on
the original Y, so the detail of the input is untouched.
Without --workdir the demo checkpoint shipped with the package (pixcolor/demo/photos) is used.

Exit status: 0 when every input was colorized, 1 when some files could not be read (each is named
on stderr; every good output is still written), 2 on a usage error.
"""
import os
import sys

from absl import flags
from absl import logging
import numpy as np

from pixel_recursive import cli

THUMBNAIL = 128  # Longest side of the images in grid.png.

def define_flags():
  """The command's flags; defined on demand so that colorize and evaluate import side by side."""
  flags.DEFINE_string('workdir', None, 'Training workdir to load (config.json + checkpoints/). '
                      'Default: the demo checkpoint shipped in pixcolor/demo/photos.')
  flags.DEFINE_string('input', None, 'An image file or a folder of images (colour or grayscale).')
  flags.DEFINE_string('output', None, 'Folder for the PNGs (created if missing).')
  flags.DEFINE_float('temperature', 1.0, 'Sampling temperature T > 0 of the chroma PixelCNN: bins are '
                     'drawn from softmax(logits / T). Lower is less diverse and less noisy.')
  flags.DEFINE_integer('num_samples', 1, 'Colourings per input.', lower_bound=1)
  flags.DEFINE_integer('seed', 0, 'Random seed; the same seed gives the same colourings.')
  flags.DEFINE_integer('batch_size', 16, 'Colourings sampled at once.', lower_bound=1)
  flags.DEFINE_enum('method', 'cached', ['cached', 'naive'], 'Sampler: cached (fast) or naive.')


FLAGS = flags.FLAGS


def read_luminance(path):
  """uint8 [H, W] BT.601 luminance of an image file (raises image_files.ImageReadError)."""
  from data import image_files
  from data import transforms
  rgb = image_files.read_image(path, 'RGB')
  return transforms.to_uint8(transforms.luminance(rgb)).numpy()[..., 0]


def thumbnail(image, size=THUMBNAIL):
  """uint8 [H, W(, 3)] -> the same picture with its longest side `size` (aspect kept)."""
  from PIL import Image
  image = np.asarray(image)
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]  # Not squeeze(): a 1x1 input must stay two-dimensional.
  h, w = image.shape[:2]
  scale = size / max(h, w)
  new = (max(1, round(w * scale)), max(1, round(h * scale)))
  return np.asarray(Image.fromarray(image).resize(new, Image.BICUBIC))


def colorize_all(model, grays, num_samples, temperature, seed, batch_size, method, write):
  """Samples `num_samples` colourings of every uint8 [H_i, W_i] luminance in `grays`.

  The inputs are resized to the model's size and sampled `batch_size` colourings at a time (the last
  batch padded, so the compiled sampler is reused); `write(i, k, rgb)` receives colouring k of input
  i at the input's own size as soon as it is made. Input i, sample k uses the seed
  `sampling.derive_seed(seed, i, k)`, whatever the batching.
  """
  from pixel_recursive import sampling
  small = [model.network_gray(g[None])[0] for g in grays]
  jobs = [(i, k) for i in range(len(grays)) for k in range(num_samples)]
  for start in range(0, len(jobs), batch_size):
    chunk = jobs[start:start + batch_size]
    padded = chunk + [chunk[-1]] * (batch_size - len(chunk))
    gray = np.stack([small[i] for i, _ in padded])
    seeds = [sampling.derive_seed(seed, i, k) for i, k in padded]
    chroma = model.refine(gray, model.sample_chroma(gray, seeds, temperature, method))
    for n, (i, k) in enumerate(chunk):
      write(i, k, model.combine(grays[i][None], chroma[n:n + 1]).numpy()[0])
    cli.log_progress(min(start + batch_size, len(jobs)), len(jobs), 'colorized')


def main(argv):
  if len(argv) > 1:
    raise cli.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  from data import image_files
  from pixcolor import model as model_lib
  from pixel_recursive import visualize
  if not FLAGS.input or not FLAGS.output:
    raise cli.UsageError('--input and --output are required')
  cli.check_temperature(FLAGS.temperature)
  files = cli.read_inputs(FLAGS.input)
  cli.check_output_dir(FLAGS.output)
  workdir = cli.resolve_workdir(FLAGS.workdir, model_lib.DEMO_WORKDIR)
  config = cli.read_config(workdir)
  if config.get('model', {}).get('name') != 'pixcolor':
    raise cli.UsageError(f'{workdir} is not a PixColor run (model.name is '
                         f"{config.get('model', {}).get('name')!r})")
  model, _, step = cli.restore(workdir, model_lib.build_model)

  # --- read every input; skip (and name) the unreadable ones ---
  good, grays, failures = [], [], []
  for n, path in enumerate(files, 1):
    try:
      grays.append(read_luminance(path))
    except image_files.ImageReadError as e:
      failures.append(str(e))
      print(f'skipped {e}', file=sys.stderr, flush=True)
      continue
    good.append(path)
    if len(files) > 1:
      cli.log_progress(n, len(files), 'read', every=max(1, len(files) // 10))

  # --- sample, write each colouring as it comes, then the grid ---
  if good:
    logging.info('colorizing %d images x %d samples at temperature %g with the step-%d model '
                 'from %s', len(good), FLAGS.num_samples, FLAGS.temperature, step, workdir)
    rows = [[thumbnail(g)] for g in grays]

    def write(i, k, rgb):
      image_files.write_png(cli.output_name(good[i], FLAGS.input, FLAGS.output, f'_sample{k}'), rgb)
      rows[i].append(thumbnail(rgb))

    colorize_all(model, grays, FLAGS.num_samples, FLAGS.temperature, FLAGS.seed,
                 min(FLAGS.batch_size, len(good) * FLAGS.num_samples), FLAGS.method, write)
    grid_path = os.path.join(FLAGS.output, 'grid.png')
    image_files.write_png(grid_path, visualize.grid(rows))
    print(f'wrote {len(good) * FLAGS.num_samples} PNGs and {grid_path}', flush=True)
  if failures:
    print(f'{len(failures)} of {len(files)} inputs could not be read', file=sys.stderr)
    sys.exit(cli.EXIT_PARTIAL)


if __name__ == '__main__':
  define_flags()
  cli.run(main)
