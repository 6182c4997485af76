r"""Upsamples images 8x8 -> 32x32 by sampling a trained Pixel Recursive Super Resolution model.

  python -m pixel_recursive.upsample --workdir=/tmp/faces_tiny --input=photos/ --output=out/ \
      --num_samples=4 [--temperature=0.9] [--guidance=2] [--top_p=0.95] [--candidates=4]

  python -m pixel_recursive.upsample --faces --input=group_photo.jpg --output=out/

Input: an image file, a folder of them (searched recursively) or a quoted glob pattern
(--input='photos/*.jpg'; ** matches any depth). An input larger than 8x8 is cropped to its central
square and area-downsampled to 8x8, an input smaller than that is resized up to it, with a notice
(one line for all the inputs of one size). Output, per input NAME: NAME_input.png (the 8x8 input),
NAME_sample<k>.png for k < --num_samples (32x32 samples), and grid.png (the first 100 inputs:
GRID_ROWS; rows: input enlarged, bicubic, samples, and the input's central square at 32x32 where the
input is at least that large: the truth, for an input made by downsampling; each column titled, the
samples with their T and w; each row titled with its NAME). Each sample PNG records how it was made
(command line, model, settings, input, seed: `batch_command.provenance`). NAME is the input's path
under --input (under a pattern's folder part) without its extension, or with it where two inputs
differ only there (photo.jpg and photo.png: photo.jpg_sample0.png, ...).

With --faces, every frontal face of each photo is found (scikit-image's detector, `data.faces`),
cropped as the training faces were framed (CelebA's), area-resized to 32x32 (NAME_face<j>_crop.png)
and to 8x8 (NAME_face<j>_input.png), and upsampled (NAME_face<j>_sample<k>.png); grid.png then ends
each row (titled NAME_face<j>) with the 32x32 crop. A photo without a face is named on stderr in
one line. A detection under --min_face_fraction (0.5) of the side of its photo's largest face is
taken for a pattern in the background (the cascade finds one on `astronaut`'s helmet) and counted
on the photo's log line, not upsampled: --min_face_fraction=0 upsamples the smaller faces at the
back of a crowd too.
Samples are drawn from softmax((w A + B) / T), restricted to its top-p nucleus with --top_p < 1;
with --candidates=N > 1 each sample is the one of N draws nearest to their mean, the most typical
(`pixel_recursive.candidates`). Without --temperature / --guidance / --top_p / --candidates, T, w, p
and N are the model's shipped defaults (`sampling` in its config.json; 1, 1, 1 and 1, the paper's
one draw, if it has none; the bedrooms demo ships T = 2, w = 5, N = 4). A black-and-white
input (R = G = B at every pixel of its 8x8) gives black-and-white samples: each sample's luminance
(`upsample_all`'s keep_gray).
Without --workdir a demo checkpoint shipped with the package is used: --model=faces (the default) or
--model=bedrooms.

Exit status: 0 when every input was upsampled, 1 when some files could not be read or (--faces)
held no face (each is named on stderr; every good output is still written), 2 on a usage error.
"""
import math
import os
import sys

from absl import flags
from absl import logging
import numpy as np

from data import faces as faces_lib  # NumPy only: TensorFlow loads after the usage checks.
from pixel_recursive import batch_command
from pixel_recursive import commands

LOWRES = 8
FLAGS = flags.FLAGS


def define_flags():
  batch_command.define_batch_flags('pixel_recursive/demo/faces (--model=bedrooms: demo/bedrooms)',
                                   'Samples', guidance=True, models=('faces', 'bedrooms'),
                                   candidates=True)
  flags.DEFINE_bool('faces', False, 'Find the faces in each photo, crop each as the training faces '
                    'were framed and upsample each (a photo without a face is named on stderr).')
  flags.DEFINE_float('min_face_fraction', faces_lib.MIN_RELATIVE_SIDE,
                     "--faces: a detection whose side is under this fraction of the photo's "
                     'largest face\'s is taken for a pattern in the background, not upsampled, '
                     'and counted on the log (0: upsample every detection, e.g. the smaller faces '
                     'at the back of a crowd).', lower_bound=0, upper_bound=1)


def to_lowres(image, size=LOWRES):
  """uint8 [H, W, 3] (or gray [H, W], [H, W, 1]) -> (uint8 [size, size, 3], notice or None):
  central square, area resize. Anything else is a ValueError naming it (a float image in [0, 1]
  would become a black 8 x 8)."""
  from data import transforms
  image = np.asarray(image)
  if image.dtype != np.uint8 or not (image.ndim == 2 or (
      image.ndim == 3 and image.shape[-1] in (1, 3))):
    raise ValueError('image must be uint8 (0-255) [H, W, 3] or gray [H, W], got '
                     f'{image.dtype.name} {list(image.shape)}'
                     + (': drop or composite its alpha channel first'
                        if image.ndim == 3 and image.shape[-1] == 4 else ''))
  if 0 in image.shape[:2]:
    raise ValueError(f'image has no pixels: {list(image.shape)}')
  if image.ndim == 2:
    image = image[..., None]
  if image.shape[-1] == 1:
    image = np.repeat(image, 3, axis=-1)
  h, w = image.shape[:2]
  if (h, w) == (size, size):
    return image, None
  square = transforms.center_square_crop(image)
  side = min(h, w)
  crop = f'cropped to the central {side}x{side} and ' if h != w else ''
  if side >= size:
    out = transforms.to_uint8(transforms.resize(square, size, 'area')).numpy()
    return out, f'is {w}x{h}: {crop}area-downsampled to {size}x{size}'
  out = transforms.to_uint8(transforms.resize(square, size, 'bicubic')).numpy()
  return out, f'is only {w}x{h}: {crop}resized up to {size}x{size} (there is little to upsample)'


def reference(image, size=32):
  """What an input's 8x8 was made from, at the output's size: its central square area-resized to
  size x size (the truth, for an input made by downsampling), or None for an input smaller than
  that."""
  from data import transforms
  if min(image.shape[:2]) < size:
    return None
  square = transforms.center_square_crop(image)
  return transforms.to_uint8(transforms.resize(square, size, 'area')).numpy()


def upsample_all(model, lowres, num_samples, temperature, seed, batch_size, method='cached',
                 guidance=1.0, top_p=1.0, keep_gray=True, candidates=1, on_sample=None):
  """Samples `num_samples` upsamplings of each uint8 [N, 8, 8, 3] input: uint8 [N, S, 32, 32, 3],
  from softmax((guidance A + B) / temperature) restricted to its top-`top_p` nucleus, each the most
  typical of `candidates` draws; with `keep_gray`, a gray input's samples are turned to their
  luminance (`SuperResolution.sample`).

  Sample k of input i is seeded `sampling.derive_seed(seed, i, k)` whatever the batching.
  `on_sample(i, k, image)`, if given, receives each sample as soon as it is made (the command
  writes it then: an interrupted run over a large folder keeps what it made).
  """
  out = np.zeros((len(lowres), commands.check_count('num_samples', num_samples, 0), 32, 32, 3),
                 np.uint8)

  def sample(images, seeds):
    return model.sample(images, temperature=temperature, seed=seeds, method=method,
                        guidance=guidance, top_p=top_p, keep_gray=keep_gray,
                        candidates=candidates).numpy()

  def write(i, k, image):
    out[i, k] = image
    if on_sample is not None:
      on_sample(i, k, image)

  batch_command.sample_in_batches(list(lowres), num_samples, seed, batch_size, sample, write)
  return out


def upsample_faces(model, image, num_samples=1, temperature=1.0, guidance=1.0, seed=0,
                   batch_size=16, top_p=1.0, candidates=1, method='cached',
                   min_face_fraction=faces_lib.MIN_RELATIVE_SIDE,
                   detections=None):
  """Finds the faces in a photo and upsamples each: [{'box', 'crop', 'lowres', 'samples'}].

  Args:
    model: a `SuperResolution` model.
    image: uint8 RGB [H, W, 3] (or gray [H, W]) of any size.
    num_samples, temperature, guidance, seed, batch_size, top_p, candidates, method: as
      `upsample_all`.
    min_face_fraction: detections whose side is under this fraction of the largest face's are
      taken for patterns in the background and skipped (`data.faces.detect`'s min_relative_side).
    detections: the detector's boxes of the faces to upsample, if already found
      (`data.faces.find`'s).
  Returns:
    One dict per face, largest first: 'box' (top, left, side) of the CelebA-framed square in the
    photo, 'crop' uint8 [32, 32, 3] (that square area-resized), 'lowres' uint8 [8, 8, 3] (the crop
    area-downsampled: the model's input) and 'samples' uint8 [num_samples, 32, 32, 3]. Empty if the
    detector finds no face.
  """
  from data import transforms
  found = faces_lib.find(image, size=32, min_relative_side=min_face_fraction,
                         detections=detections)
  if not found:
    return []
  lowres = np.stack([transforms.to_uint8(transforms.resize(f.crop, LOWRES, 'area')).numpy()
                     for f in found])
  samples = upsample_all(model, lowres, num_samples, temperature, seed, batch_size, method,
                         guidance=guidance, top_p=top_p, candidates=candidates)
  return [{'box': f.box, 'crop': f.crop, 'lowres': small, 'samples': s}
          for f, small, s in zip(found, lowres, samples)]


def main(argv):
  del argv
  from pixel_recursive import workdir as workdir_lib
  if not FLAGS.input or not FLAGS.output:
    raise commands.UsageError('--input and --output are required')
  for value, check in ((FLAGS.temperature, commands.check_temperature),
                       (FLAGS.guidance, commands.check_guidance),
                       (FLAGS.top_p, commands.check_top_p)):
    if value is not None:
      check(value)
  files = batch_command.read_inputs(FLAGS.input, FLAGS.output)
  workdir = workdir_lib.resolve(FLAGS.workdir, workdir_lib.SR_DEMO_WORKDIRS, FLAGS.model)
  workdir_lib.check_model_name(workdir, 'super_resolution')
  bedrooms = workdir_lib.SR_DEMO_WORKDIRS['bedrooms']
  if FLAGS.faces and os.path.realpath(workdir) == os.path.realpath(bedrooms):
    logging.warning('--faces with the bedrooms model, trained on %s, not on faces: the faces '
                    'model is --model=faces (the default)',
                    ' and '.join(workdir_lib.trained_on(bedrooms)))
  if FLAGS['min_face_fraction'].present and not FLAGS.faces:
    logging.warning('--min_face_fraction=%g does nothing without --faces', FLAGS.min_face_fraction)
  commands.check_output_dir(FLAGS.output)  # After the workdir's checks: a mistake leaves no folder.
  # TensorFlow from here on: the mistakes above are named before it loads (in a fraction of a
  # second instead of five).
  from data import image_files
  from pixel_recursive import candidates as candidates_lib
  from pixel_recursive import model as model_lib
  from pixel_recursive import sampling
  from pixel_recursive import visualize
  model, config, step = workdir_lib.restore(workdir, model_lib.build_model)
  temperature = commands.sampling_setting(config, 'temperature', FLAGS.temperature)
  guidance = commands.sampling_setting(config, 'guidance', FLAGS.guidance)
  top_p = commands.sampling_setting(config, 'top_p', FLAGS.top_p)
  candidates = commands.sampling_setting(config, 'candidates', FLAGS.candidates)

  if FLAGS.faces:
    faces_main(model, files, temperature, guidance, top_p, step, workdir, candidates)
    return

  notices = {}  # Notice -> the inputs it is about.

  def read(path):
    image = image_files.read_image(path)
    small, notice = to_lowres(image)
    if notice:
      notices.setdefault(notice, []).append(path)
    return small, reference(image)

  good, read_items, failures = batch_command.read_each(files, read)
  for line in notice_lines(notices):
    logging.info('%s', line)
  lowres = [small for small, _ in read_items]
  if good:
    logging.info('sampling %d x %d images at temperature %g, guidance %g, top-p %g%s, with the '
                 'step-%d model from %s', len(good), FLAGS.num_samples, temperature, guidance,
                 top_p, candidates_lib.note(candidates), step, workdir)
    output_name = batch_command.output_names(files, FLAGS.input, FLAGS.output)
    for path, small in zip(good, lowres):
      image_files.write_png(output_name(path, '_input'), small)
    settings = dict(temperature=temperature, guidance=guidance, top_p=top_p, candidates=candidates)

    def write(i, k, image):  # As each sample is made.
      image_files.write_png(output_name(good[i], f'_sample{k}'), image, batch_command.provenance(
          'pixel_recursive.upsample', workdir, step, settings, input=good[i], sample=k,
          seed=sampling.derive_seed(FLAGS.seed, i, k)))

    samples = upsample_all(model, np.stack(lowres), FLAGS.num_samples, temperature, FLAGS.seed,
                           FLAGS.batch_size, FLAGS.method, guidance, top_p,
                           candidates=candidates, on_sample=write)
    rows, names = [], []
    blank = np.full((32, 32, 3), 255, np.uint8)
    for path, (small, original), images in zip(good, read_items, samples):
      if len(rows) < batch_command.GRID_ROWS:
        names.append(batch_command.row_title(output_name, path, FLAGS.output))
        rows.append(grid_row(small, images, blank if original is None else original))
    grid_path = os.path.join(FLAGS.output, 'grid.png')
    titles = grid_titles(FLAGS.num_samples, temperature, guidance, top_p, candidates, 'truth')
    image_files.write_png(grid_path,
                          visualize.grid(rows, titles=titles, scale=2, row_titles=names))
    batch_command.report_written(len(good) * (FLAGS.num_samples + 1), grid_path, shown=len(rows),
                                 total=len(good))
  batch_command.finish(failures, len(files))


def notice_lines(notices):
  """One line per notice of `to_lowres` ({notice: [paths]}): a folder of 1,000 photos of one size
  gets one line, not 1,000."""
  lines = []
  for notice, paths in notices.items():
    if len(paths) == 1:
      lines.append(f'{paths[0]} {notice}')
    else:
      are = 'are' + notice.removeprefix('is')  # 'is 32x32: ...' -> 'are 32x32: ...'
      lines.append(f'{len(paths)} inputs {are} (the first: {paths[0]})')
  return lines


def grid_titles(num_samples, temperature, guidance, top_p, candidates, last):
  """The column titles of grid.png: input, bicubic, each sample with its setting, `last`."""
  from pixel_recursive import visualize
  setting = visualize.setting_title(temperature, guidance, top_p, candidates)
  return (['input 8x8', 'bicubic'] + [f'sample {k + 1}\n{setting}' for k in range(num_samples)]
          + [last])


def grid_row(lowres, samples, last):
  """A row of grid.png: the 8x8 input enlarged, bicubic, the samples, then `last` (the truth, or
  the face's crop), as `grid_titles` names them."""
  from pixel_recursive import visualize
  return ([visualize.nearest_upsample(lowres, 4), visualize.bicubic_upsample(lowres[None], 32)[0]]
          + list(samples) + [last])


def no_face_line(path, shape):
  """The line naming a photo without a face: how small a face the detector looks for in it."""
  height, width = shape[:2]
  smallest = math.ceil(round(faces_lib.smallest_face(height, width), 6))
  hint = '; crop it to find smaller ones' if smallest > faces_lib.WINDOW else ''
  return (f'no face found in {path} (scikit-image\'s frontal-face detector, which looks for faces '
          f'at least {smallest} px across in this {width}x{height} photo{hint})')


def ignored_text(count, fraction):
  """What a photo's line on the log adds for its `count` detections under `fraction` of its
  largest face (`data.faces.by_size`): nothing for none."""
  if not count:
    return ''
  return (f'; {commands.counted(count, "smaller detection")} ignored (under {fraction:g} of the '
          "largest face's side: taken for patterns in the background; --min_face_fraction=0 "
          'upsamples them too)')


def faces_main(model, files, temperature, guidance, top_p, step, workdir, candidates=1):
  """--faces: every face of every photo, each upsampled; photos without one are named."""
  from data import image_files
  from pixel_recursive import candidates as candidates_lib
  from pixel_recursive import sampling
  from pixel_recursive import visualize
  logging.info('finding faces in %s; sampling at temperature %g, guidance %g, top-p %g%s, with '
               'the step-%d model from %s', commands.counted(len(files), 'photo'), temperature,
               guidance, top_p, candidates_lib.note(candidates), step, workdir)
  rows, names, faceless, failures, written, read, found_all = [], [], [], [], 0, 0, 0
  output_name = batch_command.output_names(files, FLAGS.input, FLAGS.output)
  # One photo at a time, read, searched and let go: only its faces are kept. (No enumerate(): it
  # would hold the last photo while the next is read.)
  settings = dict(temperature=temperature, guidance=guidance, top_p=top_p, candidates=candidates)
  for path, photo in batch_command.each_read(files, image_files.read_image, failures):
    seed = sampling.derive_seed(FLAGS.seed, read)  # The photo's: its faces' are derived from it.
    kept, ignored = faces_lib.by_size(faces_lib.detect_all(photo), FLAGS.min_face_fraction)
    found = upsample_faces(model, photo, FLAGS.num_samples, temperature, guidance, seed,
                           FLAGS.batch_size, top_p, candidates, FLAGS.method, detections=kept)
    read += 1
    shape = photo.shape
    del photo
    if not found:
      faceless.append(path)
      print(no_face_line(path, shape), file=sys.stderr, flush=True)
      continue
    logging.info('%s: %s%s', path, commands.counted(len(found), 'face'), ignored_text(
        len(ignored), FLAGS.min_face_fraction))
    found_all += len(found)
    for j, face in enumerate(found):
      name = lambda suffix, j=j: output_name(path, f'_face{j}{suffix}')
      image_files.write_png(name('_input'), face['lowres'])
      image_files.write_png(name('_crop'), face['crop'])
      for k, image in enumerate(face['samples']):
        image_files.write_png(name(f'_sample{k}'), image, batch_command.provenance(
            'pixel_recursive.upsample', workdir, step, settings, input=path, face=j, sample=k,
            seed=sampling.derive_seed(seed, j, k)))
      written += FLAGS.num_samples + 2
      if len(rows) < batch_command.GRID_ROWS:
        names.append(batch_command.row_title(output_name, path, FLAGS.output, f'_face{j}'))
        rows.append(grid_row(face['lowres'], face['samples'], face['crop']))
  if rows:
    grid_path = os.path.join(FLAGS.output, 'grid.png')
    titles = grid_titles(FLAGS.num_samples, temperature, guidance, top_p, candidates, 'crop')
    image_files.write_png(grid_path,
                          visualize.grid(rows, titles=titles, scale=2, row_titles=names))
    batch_command.report_written(written, grid_path, f' of {commands.counted(found_all, "face")}',
                                 shown=len(rows), total=found_all, rows='face')
  if len(faceless) > 1:  # The count after the lines naming them (one photo: its line says it).
    print(f'no face found in {len(faceless)} of {commands.counted(read, "photo")}',
          file=sys.stderr, flush=True)
  batch_command.finish(failures, len(files))
  if faceless:
    sys.exit(commands.EXIT_PARTIAL)


if __name__ == '__main__':
  define_flags()
  commands.run(main)
