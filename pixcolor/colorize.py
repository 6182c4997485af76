r"""Colorizes photos by sampling a trained PixColor model: several plausible colourings per input.

  python -m pixcolor.colorize --workdir=/tmp/pixcolor_tiny --input=old_photos/ --output=colorized/ \
      --num_samples=4 [--temperature=T] [--top_p=P] [--candidates=N] [--seed=0]

Input: an image file, a folder of them (searched recursively) or a quoted glob pattern, colour or
true grayscale, any size. Only the BT.601 luminance Y of each is used (a colour input's colours are
discarded). Output, per input NAME: NAME_sample<k>.png for k < --num_samples, each at the input's
own size, whose luminance is the input's (up to rounding), and grid.png (a row per input, the first
100, titled with its NAME: the gray input, then the colourings, as thumbnails; columns titled); NAME
as in `pixel_recursive.upsample` (the path under --input, extension kept only where two inputs
differ by it alone); each sample PNG records how it was made (`batch_command.provenance`).
The model sees Y resized to its image size (224 x 224 in the paper; a non-square input is squeezed to a
square there and the colour is stretched back); its chroma is resized to the input's size and put on
the original Y, so the detail of the input is untouched.
Without --temperature / --top_p / --candidates, T, the nucleus p and the number of candidates N are
the model's shipped defaults (`sampling` in its config.json; 1.0, 1.0 and 1 if it has none: one draw
from the whole distribution). With N > 1 each colouring is the one of N draws whose chroma lies nearest
to their mean (`pixel_recursive.candidates`): the shipped demo draws 8 at T = 1.2. Without --workdir
the demo checkpoint shipped with the package (pixcolor/demo/photos, --model=photos) is used.

Exit status: 0 when every input was colorized, 1 when some files could not be read (each is named
on stderr; every good output is still written), 2 on a usage error.
"""
import collections.abc
import os

from absl import flags
from absl import logging
import numpy as np

from pixel_recursive import batch_command
from pixel_recursive import commands

THUMBNAIL = 128  # Longest side of the images in grid.png.
FLAGS = flags.FLAGS


def define_flags():
  batch_command.define_batch_flags('pixcolor/demo/photos', 'Colourings', models=('photos',),
                                   candidates=True)


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


class Reread(collections.abc.Sequence):
  """The luminance of each of `paths`, read again from its file when asked for and held until
  another is: `colorize` keeps only each input's small copies, so that a folder of 1,000 phone
  photos does not hold 12 GB of full-size luminance (colourings are written input by input, so
  each file is read once more). A file that cannot be read again (removed or changed meanwhile)
  ends the command in one line, `commands.Failure`."""

  def __init__(self, paths, read=None):
    self._paths = list(paths)
    self._read = read or read_luminance
    self._held = (None, None)

  def __len__(self):
    return len(self._paths)

  def __getitem__(self, i):
    from data import image_files
    if self._held[0] != i:
      self._held = (None, None)  # Let the last one go before reading the next.
      try:
        self._held = (i, self._read(self._paths[i]))
      except image_files.ImageReadError as e:
        raise commands.Failure(f'{e}, though it was read before: was it changed or removed while '
                               'its colourings were made?') from None
    return self._held[1]


def network_input(model, path, with_thumbnail=True):
  """(the model's input, grid.png's thumbnail or None) of an image file: all `colorize` keeps of
  it before its colourings are made."""
  gray = read_luminance(path)
  return model.network_gray(gray[None])[0].numpy(), thumbnail(gray) if with_thumbnail else None


def colorize_all(model, grays, num_samples, temperature, seed, batch_size, method, write,
                 top_p=1.0, candidates=1, small=None):
  """Samples `num_samples` colourings of every uint8 [H_i, W_i] luminance in `grays`.

  The inputs are resized to the model's size (or given so: `small`, `model.network_gray` of each)
  and sampled `batch_size` colourings at a time; `write(i, k, rgb)` receives colouring k of input i
  at the input's own size as soon as it is made, input after input (`grays` may be a `Reread`).
  Input i, sample k uses the seed `sampling.derive_seed(seed, i, k)`, whatever the batching; chroma
  bins are drawn from the top-`top_p` nucleus of softmax(logits / temperature), and each colouring
  is the most typical of `candidates` draws (`PixColor.sample_chroma`).
  """
  if small is None:
    small = [model.network_gray(g[None])[0].numpy() for g in grays]

  def sample(gray, seeds):
    seeds = seeds.tolist()
    bins = model.sample_chroma(gray, seeds, temperature, method, top_p, candidates)
    return model.refine(gray, bins, seeds)

  def write_chroma(i, k, chroma):
    write(i, k, model.combine(grays[i][None], chroma[None]).numpy()[0])

  batch_command.sample_in_batches(small, num_samples, seed, batch_size, sample, write_chroma,
                                  'colorized')


def main(argv):
  del argv
  from pixel_recursive import workdir as workdir_lib
  if not FLAGS.input or not FLAGS.output:
    raise commands.UsageError('--input and --output are required')
  if FLAGS.temperature is not None:
    commands.check_temperature(FLAGS.temperature)
  if FLAGS.top_p is not None:
    commands.check_top_p(FLAGS.top_p)
  files = batch_command.read_inputs(FLAGS.input, FLAGS.output)
  workdir = workdir_lib.resolve(FLAGS.workdir, workdir_lib.PIXCOLOR_DEMO_WORKDIRS, FLAGS.model)
  workdir_lib.check_model_name(workdir, 'pixcolor')
  commands.check_output_dir(FLAGS.output)  # After the workdir's checks: a mistake leaves no folder.
  # TensorFlow from here on: the mistakes above are named before it loads (as by `upsample`).
  from data import image_files
  from pixcolor import model as model_lib
  from pixel_recursive import candidates as candidates_lib
  from pixel_recursive import sampling
  from pixel_recursive import visualize
  model, config, step = workdir_lib.restore(workdir, model_lib.build_model)
  temperature = commands.sampling_setting(config, 'temperature', FLAGS.temperature)
  top_p = commands.sampling_setting(config, 'top_p', FLAGS.top_p)
  candidates = commands.sampling_setting(config, 'candidates', FLAGS.candidates)
  thumbnails = []  # Only grid.png's rows (GRID_ROWS) get one.

  def read(path):
    network, thumb = network_input(model, path, len(thumbnails) < batch_command.GRID_ROWS)
    if thumb is not None:
      thumbnails.append(thumb)
    return network

  good, small, failures = batch_command.read_each(files, read)
  if good:
    logging.info('colorizing %s x %s at temperature %g, top-p %g%s, with the step-%d model from '
                 '%s', commands.counted(len(good), 'image'),
                 commands.counted(FLAGS.num_samples, 'sample'), temperature, top_p,
                 candidates_lib.note(candidates), step, workdir)
    rows = [[thumb] for thumb in thumbnails]
    output_name = batch_command.output_names(files, FLAGS.input, FLAGS.output)

    settings = dict(temperature=temperature, top_p=top_p, candidates=candidates)

    def write(i, k, rgb):
      image_files.write_png(output_name(good[i], f'_sample{k}'), rgb, batch_command.provenance(
          'pixcolor.colorize', workdir, step, settings, input=good[i], sample=k,
          seed=sampling.derive_seed(FLAGS.seed, i, k)))
      if i < len(rows):
        rows[i].append(thumbnail(rgb))

    colorize_all(model, Reread(good), FLAGS.num_samples, temperature, FLAGS.seed,
                 FLAGS.batch_size, FLAGS.method, write, top_p, candidates, small=small)
    grid_path = os.path.join(FLAGS.output, 'grid.png')
    titles = grid_titles(FLAGS.num_samples, temperature, top_p, candidates)
    names = [batch_command.row_title(output_name, path, FLAGS.output) for path in good[:len(rows)]]
    image_files.write_png(grid_path, visualize.grid(rows, titles=titles, row_titles=names))
    batch_command.report_written(len(good) * FLAGS.num_samples, grid_path, shown=len(rows),
                                 total=len(good))
  batch_command.finish(failures, len(files))


def grid_titles(num_samples, temperature, top_p, candidates):
  """The column titles of grid.png: the gray input, then each colouring with its setting."""
  from pixel_recursive import visualize
  setting = visualize.setting_title(temperature, None, top_p, candidates)
  return ['gray input'] + [f'colouring {k + 1}\n{setting}' for k in range(num_samples)]


if __name__ == '__main__':
  define_flags()
  commands.run(main)
