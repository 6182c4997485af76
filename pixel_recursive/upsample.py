r"""Upsamples images 8x8 -> 32x32 by sampling a trained Pixel Recursive Super Resolution model.

  python -m pixel_recursive.upsample --workdir=/tmp/faces_tiny --input=photos/ --output=out/ \
      --num_samples=4 --temperature=0.9

Input: an image file or a folder of them (searched recursively). An input larger than 8x8 is cropped
to its central square and area-downsampled to 8x8, an input smaller than that is resized up to it,
each with a notice. Output, per input NAME: NAME_input.png (the 8x8 input), NAME_sample<k>.png for
k < --num_samples (32x32 samples), and grid.png (rows: input enlarged, bicubic, samples).
Without --workdir the demo checkpoint shipped with the package is used.

Exit status: 0 when every input was upsampled, 1 when some files could not be read (each is named
on stderr; every good output is still written), 2 on a usage error.
"""
import os
import sys

from absl import flags
from absl import logging
import numpy as np

from pixel_recursive import cli
from pixel_recursive import sampling

LOWRES = 8
FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string('workdir', None, 'Training workdir to load (config.json + checkpoints/). '
                      'Default: the demo checkpoint shipped in pixel_recursive/demo/faces.')
  flags.DEFINE_string('input', None, 'An image file or a folder of images.')
  flags.DEFINE_string('output', None, 'Folder for the PNGs (created if missing).')
  flags.DEFINE_float('temperature', 1.0, 'Sampling temperature T > 0: sub-pixels are drawn from '
                     'softmax(logits / T). 1.0 samples the model; 0.8-0.9 gives cleaner images.')
  flags.DEFINE_integer('num_samples', 1, 'Samples per input.', lower_bound=1)
  flags.DEFINE_integer('seed', 0, 'Random seed; the same seed gives the same samples.')
  flags.DEFINE_integer('batch_size', 16, 'Images sampled at once.', lower_bound=1)
  flags.DEFINE_enum('method', 'cached', ['cached', 'naive'], 'Sampler: cached (fast) or naive.')


def to_lowres(image, size=LOWRES):
  """uint8 [H, W, 3] -> (uint8 [size, size, 3], notice or None): central square, area resize."""
  from data import transforms
  h, w = image.shape[:2]
  if (h, w) == (size, size):
    return image, None
  square = transforms.center_square_crop(image)
  side = min(h, w)
  if side >= size:
    out = transforms.to_uint8(transforms.resize(square, size, 'area')).numpy()
    crop = f'cropped to the central {side}x{side} and ' if h != w else ''
    return out, f'is {w}x{h}: {crop}area-downsampled to {size}x{size}'
  out = transforms.to_uint8(transforms.resize(square, size, 'bicubic')).numpy()
  return out, f'is only {w}x{h}: resized up to {size}x{size} (there is little to upsample)'


def upsample_all(model, lowres, num_samples, temperature, seed, batch_size, method='cached'):
  """Samples `num_samples` upsamplings of each uint8 [N, 8, 8, 3] input: uint8 [N, S, 32, 32, 3].

  Batches are padded to `batch_size` so the compiled sampler is reused for every batch.
  """
  jobs = [(i, k) for i in range(len(lowres)) for k in range(num_samples)]
  out = np.zeros((len(lowres), num_samples, 32, 32, 3), np.uint8)
  for start in range(0, len(jobs), batch_size):
    chunk = jobs[start:start + batch_size]
    padded = chunk + [chunk[-1]] * (batch_size - len(chunk))
    images = np.stack([lowres[i] for i, _ in padded])
    seeds = np.array([sampling.derive_seed(seed, i, k) for i, k in padded])
    samples = model.sample(images, temperature=temperature, seed=seeds, method=method).numpy()
    for (i, k), sample in zip(chunk, samples):
      out[i, k] = sample
    cli.log_progress(min(start + batch_size, len(jobs)), len(jobs), 'sampled')
  return out


def main(argv):
  if len(argv) > 1:
    raise cli.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  from data import image_files
  from pixel_recursive import model as model_lib
  from pixel_recursive import visualize
  if not FLAGS.input or not FLAGS.output:
    raise cli.UsageError('--input and --output are required')
  cli.check_temperature(FLAGS.temperature)
  files = cli.read_inputs(FLAGS.input)
  cli.check_output_dir(FLAGS.output)
  workdir = cli.resolve_workdir(FLAGS.workdir, model_lib.DEMO_WORKDIR)
  model, _, step = cli.restore(workdir, model_lib.build_model)
  if not isinstance(model, model_lib.SuperResolution):
    raise cli.UsageError(f'{workdir} holds a {type(model).__name__}, not a SuperResolution model')

  # --- read every input; skip (and name) the unreadable ones ---
  good, lowres, failures = [], [], []
  for n, path in enumerate(files, 1):
    try:
      small, notice = to_lowres(image_files.read_image(path))
    except image_files.ImageReadError as e:
      failures.append(str(e))
      print(f'skipped {e}', file=sys.stderr, flush=True)
      continue
    if notice:
      logging.info('%s %s', path, notice)
    good.append(path)
    lowres.append(small)
    if len(files) > 1:
      cli.log_progress(n, len(files), 'read', every=max(1, len(files) // 10))

  # --- sample and write ---
  if good:
    logging.info('sampling %d x %d images at temperature %g with the step-%d model from %s',
                 len(good), FLAGS.num_samples, FLAGS.temperature, step, workdir)
    lowres = np.stack(lowres)
    samples = upsample_all(model, lowres, FLAGS.num_samples, FLAGS.temperature, FLAGS.seed,
                           min(FLAGS.batch_size, len(good) * FLAGS.num_samples), FLAGS.method)
    rows = []
    for path, small, images in zip(good, lowres, samples):
      image_files.write_png(cli.output_name(path, FLAGS.input, FLAGS.output, '_input'), small)
      for k, image in enumerate(images):
        image_files.write_png(cli.output_name(path, FLAGS.input, FLAGS.output, f'_sample{k}'),
                              image)
      rows.append([visualize.nearest_upsample(small, 4),
                   visualize.bicubic_upsample(small[None], 32)[0]] + list(images))
    grid_path = os.path.join(FLAGS.output, 'grid.png')
    image_files.write_png(grid_path, visualize.nearest_upsample(visualize.grid(rows), 2))
    print(f'wrote {len(good) * (FLAGS.num_samples + 1)} PNGs and {grid_path}', flush=True)
  if failures:
    print(f'{len(failures)} of {len(files)} inputs could not be read', file=sys.stderr)
    sys.exit(cli.EXIT_PARTIAL)


if __name__ == '__main__':
  define_flags()
  cli.run(main)
