r"""The framing test: a super-resolution model on CelebA faces framed tighter than its training faces.

  python experiments/framing.py --faces=../shared/data/faces/celeba_64_008501_010000.npz \
      --ids=report [--workdir=DIR] [--zooms=0.6,0.7,0.8,0.9,1.0] [--num_examples=1000] [--gray]

A user's faces are framed every which way; the training faces are CelebA's central 178 x 178 of the
aligned photos. Here each 64 x 64 CelebA face (the same framing) is cropped to its central
`zoom` x 64 square (zoom 1: CelebA's own framing; 0.6: the face fills the frame, as LFW's do),
area-resized to 32 x 32 as the truth, area-downsampled to 8 x 8 as the input, and upsampled by the
model at its shipped sampling defaults (temperature, guidance, nucleus and draws per sample; or
--temperature, --guidance), beside bicubic. `--ids`:
`choice` is ids 008501-009000 (the validation ids: choose recipes and checkpoints there), `report`
ids 009001-010000 (report only); train on neither. `--gray` turns every face to gray (its BT.601
luminance in all three channels) before anything else: black-and-white photos, whose samples should
be gray too. Prints the table, then one JSON line.
"""
import json
import os
import sys
import tempfile

from absl import flags
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string('workdir', None, 'Super-resolution workdir (default: the faces demo model).')
  flags.DEFINE_string('model', None, 'A shipped demo model instead of --workdir (faces, bedrooms).')
  flags.DEFINE_string('faces', None, 'npz of CelebA ids 008501-010000 at 64 x 64 (`images`).')
  flags.DEFINE_enum('ids', 'choice', ['choice', 'report'], 'choice: 008501-009000; report: '
                    '009001-010000.')
  flags.DEFINE_list('zooms', ['0.6', '0.7', '0.8', '0.9', '1.0'], 'Side of the central crop, as a '
                    'fraction of the frame.')
  flags.DEFINE_integer('num_examples', None, 'Faces per zoom (default: all of the block).',
                       lower_bound=1)
  flags.DEFINE_float('temperature', None, "Sampling temperature (default: the model's).")
  flags.DEFINE_float('guidance', None, "Guidance weight (default: the model's).")
  flags.DEFINE_integer('batch_size', 100, 'Faces sampled at once.', lower_bound=1)
  flags.DEFINE_bool('gray', False, 'Turn the faces to gray first (black-and-white photos).')
  flags.mark_flags_as_required(['faces'])


def check_zoom(zoom, flag='--zooms'):
  """A zoom in (0, 1], a central crop of the frame (1.5 ran as 1.0; 0 failed in a resize)."""
  from pixel_recursive import commands  # pylint: disable=g-import-not-at-top
  if not 0 < zoom <= 1:
    raise commands.UsageError(f'{flag} must be in (0, 1], a fraction of the frame, got {zoom:g}')
  return zoom


def zoomed(images, zoom, size=32):
  """The central zoom x side square of each uint8 [N, S, S, 3] image, area-resized to size."""
  from data import transforms  # pylint: disable=g-import-not-at-top
  side = images.shape[1]
  crop = int(round(zoom * side))
  top = (side - crop) // 2
  square = images[:, top:top + crop, top:top + crop]
  return transforms.to_uint8(transforms.resize(square, size, 'area')).numpy()


def faces_block(faces, ids, num_examples=None, gray=False):
  """The faces of `ids` ('choice': the first 500, 'report': the next 1,000), the first
  `num_examples` of them, turned to gray if `gray`."""
  from data import transforms  # pylint: disable=g-import-not-at-top
  block = faces[:500] if ids == 'choice' else faces[500:1500]
  block = block[:num_examples] if num_examples else block
  if gray:
    block = transforms.to_gray(block).numpy()
  return block


def main(argv):
  del argv
  from pixel_recursive import commands  # pylint: disable=g-import-not-at-top
  from pixel_recursive import evaluate  # pylint: disable=g-import-not-at-top
  from pixel_recursive import model as model_lib  # pylint: disable=g-import-not-at-top
  from pixel_recursive import workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  from data import readers  # pylint: disable=g-import-not-at-top
  from pixel_recursive import evaluation  # pylint: disable=g-import-not-at-top
  # The flags before the faces and the model are read (they were tracebacks after both).
  zooms = evaluation.parse_floats(FLAGS.zooms, '--zooms', check_zoom)
  for flag, check in (('temperature', commands.check_temperature),
                      ('guidance', commands.check_guidance)):
    if FLAGS[flag].value is not None:
      check(FLAGS[flag].value, f'--{flag}')
  faces = readers.npz_array(FLAGS.faces, 'images')[1]  # A missing or wrong file: one line, exit 2.
  block = faces_block(faces, FLAGS.ids, FLAGS.num_examples, FLAGS.gray)
  workdir = workdir_lib.resolve(FLAGS.workdir, model_lib.DEMO_WORKDIRS, FLAGS.model)
  model, config, step = workdir_lib.restore(workdir, model_lib.build_model)
  t = commands.sampling_setting(config, 'temperature', FLAGS.temperature)
  w = commands.sampling_setting(config, 'guidance', FLAGS.guidance)
  p = commands.sampling_setting(config, 'top_p', None)
  c = commands.sampling_setting(config, 'candidates', None)
  rows = {}
  with tempfile.TemporaryDirectory() as tmp:
    for zoom in zooms:
      path = os.path.join(tmp, f'zoom{zoom:g}.npz')
      images = zoomed(block, zoom)
      np.savez(path, train_images=images[:1], eval_images=images)
      config.data.source = f'npz:{path}'
      config.data.crop = 'none'
      results = evaluate.evaluate(model, config, len(images), [(t, w)], batch_size=FLAGS.batch_size,
                                  top_p=p, candidates=c)
      methods = results['methods']
      samples = methods[evaluate.method_name(t, w)]
      rows[f'{zoom:g}'] = {
          'samples': {k: round(samples[k], 4) for k in ('psnr', 'consistency', 'hf_ratio')},
          'bicubic': {k: round(methods['bicubic'][k], 4) for k in ('psnr', 'consistency')},
          'psnr_minus_bicubic': round(samples['psnr'] - methods['bicubic']['psnr'], 3),
          'bits_per_dim': round(results['bits_per_dim'], 4)}
  print('| zoom | samples pSNR | bicubic pSNR | difference | consistency (dB) | HF ratio | '
        'bits/dim |\n|---|---|---|---|---|---|---|')
  for zoom, r in rows.items():
    print(f"| {zoom} | {r['samples']['psnr']:.2f} | {r['bicubic']['psnr']:.2f} | "
          f"{r['psnr_minus_bicubic']:+.2f} | {r['samples']['consistency']:.2f} | "
          f"{r['samples']['hf_ratio']:.2f} | {r['bits_per_dim']:.3f} |")
  print(json.dumps({'benchmark': 'framing', 'workdir': workdir, 'step': step, 'ids': FLAGS.ids,
                    'gray': FLAGS.gray, 'num_faces': len(block), 'temperature': t,
                    'guidance': w, 'top_p': p, 'candidates': c, 'zooms': rows}))


if __name__ == '__main__':
  from data import errors as _errors
  from pixel_recursive import commands as _commands
  define_flags()
  _commands.run(main, user_errors=(_errors.DataSourceError,))
