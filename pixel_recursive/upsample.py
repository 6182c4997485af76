r"""Upsamples images 8x8 -> 32x32 by sampling a trained Pixel Recursive Super Resolution model.

  python -m pixel_recursive.upsample --workdir=/tmp/faces_tiny --input=photos/ --output=out/ \
      --num_samples=4 [--temperature=0.9] [--guidance=2]

Input: an image file or a folder of them (searched recursively). An input larger than 8x8 is cropped
to its central square and area-downsampled to 8x8, an input smaller than that is resized up to it,
each with a notice. Output, per input NAME: NAME_input.png (the 8x8 input), NAME_sample<k>.png for
k < --num_samples (32x32 samples), and grid.png (rows: input enlarged, bicubic, samples).
Samples are drawn from softmax((w A + B) / T); without --temperature / --guidance, T and w are the
model's shipped defaults (`sampling` in its config.json; 1 and 1, the paper's, if it has none).
Without --workdir the demo checkpoint shipped with the package is used.

Exit status: 0 when every input was upsampled, 1 when some files could not be read (each is named
on stderr; every good output is still written), 2 on a usage error.
"""
import os

from absl import flags
from absl import logging
import numpy as np

from pixel_recursive import commands

LOWRES = 8
FLAGS = flags.FLAGS


def define_flags():
  commands.define_batch_flags('pixel_recursive/demo/faces', 'Samples', guidance=True)


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


def upsample_all(model, lowres, num_samples, temperature, seed, batch_size, method='cached',
                 guidance=1.0):
  """Samples `num_samples` upsamplings of each uint8 [N, 8, 8, 3] input: uint8 [N, S, 32, 32, 3].

  Sample k of input i is seeded `sampling.derive_seed(seed, i, k)` whatever the batching.
  """
  out = np.zeros((len(lowres), num_samples, 32, 32, 3), np.uint8)

  def sample(images, seeds):
    return model.sample(images, temperature=temperature, seed=seeds, method=method,
                        guidance=guidance).numpy()

  def write(i, k, image):
    out[i, k] = image

  commands.sample_in_batches(list(lowres), num_samples, seed, batch_size, sample, write)
  return out


def main(argv):
  del argv
  from data import image_files
  from pixel_recursive import model as model_lib
  from pixel_recursive import visualize
  from pixel_recursive import workdir as workdir_lib
  if not FLAGS.input or not FLAGS.output:
    raise commands.UsageError('--input and --output are required')
  for value, check in ((FLAGS.temperature, commands.check_temperature),
                       (FLAGS.guidance, commands.check_guidance)):
    if value is not None:
      check(value)
  files = commands.read_inputs(FLAGS.input)
  commands.check_output_dir(FLAGS.output)
  workdir = workdir_lib.resolve(FLAGS.workdir, model_lib.DEMO_WORKDIR)
  model, config, step = workdir_lib.restore(workdir, model_lib.build_model)
  if not isinstance(model, model_lib.SuperResolution):
    raise commands.UsageError(f'{workdir} holds a {type(model).__name__}, not a SuperResolution '
                              'model')
  temperature = commands.sampling_setting(config, 'temperature', FLAGS.temperature)
  guidance = commands.sampling_setting(config, 'guidance', FLAGS.guidance)

  def read(path):
    small, notice = to_lowres(image_files.read_image(path))
    if notice:
      logging.info('%s %s', path, notice)
    return small

  good, lowres, failures = commands.read_each(files, read)
  if good:
    logging.info('sampling %d x %d images at temperature %g, guidance %g with the step-%d model '
                 'from %s', len(good), FLAGS.num_samples, temperature, guidance, step, workdir)
    samples = upsample_all(model, np.stack(lowres), FLAGS.num_samples, temperature, FLAGS.seed,
                           FLAGS.batch_size, FLAGS.method, guidance)
    rows = []
    for path, small, images in zip(good, lowres, samples):
      image_files.write_png(commands.output_name(path, FLAGS.input, FLAGS.output, '_input'), small)
      for k, image in enumerate(images):
        image_files.write_png(commands.output_name(path, FLAGS.input, FLAGS.output, f'_sample{k}'),
                              image)
      rows.append([visualize.nearest_upsample(small, 4),
                   visualize.bicubic_upsample(small[None], 32)[0]] + list(images))
    grid_path = os.path.join(FLAGS.output, 'grid.png')
    image_files.write_png(grid_path, visualize.nearest_upsample(visualize.grid(rows), 2))
    print(f'wrote {len(good) * (FLAGS.num_samples + 1)} PNGs and {grid_path}', flush=True)
  commands.finish(failures, len(files))


if __name__ == '__main__':
  define_flags()
  commands.run(main)
