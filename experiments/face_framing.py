r"""Measures `data.faces` on CelebA faces whose framing is known, and prints one JSON line.

  python experiments/face_framing.py --fit=../shared/data/faces/celeba_64.npz \
      --check=../shared/data/faces/celeba_64_008501_010000.npz --check_count=500

The staged CelebA faces are the training faces' framing itself (the central 178 x 178 square of the
aligned photos, at 64 x 64), so the detector's box on each tells where that frame lies around a
detection. `--fit` (ids 000001-000500, training ids) gives `data.faces.FRAMING`: the medians of the
frame's side over the box's side and of the frame centre's offset from the box centre, in box
sides. `--check` (the first `--check_count` of ids 008501-010000: the validation ids 008501-009000)
reports how often a face is found, how often more than one, and how far the crop made with
the framing (the one `--fit` just measured, else `FRAMING`) is from the true frame: IoU, centre
error and side ratio. The photos that ship with the
dependencies (`data.samples`) are scanned too, for the faces found in each.
"""
import json
import os
import sys

from absl import flags
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)
from data import faces  # pylint: disable=g-import-not-at-top,wrong-import-position
from data import readers  # pylint: disable=g-import-not-at-top,wrong-import-position
from data import samples  # pylint: disable=g-import-not-at-top,wrong-import-position


def define_flags():
  """The command's flags (defined here, not on import, so that tests can import the module)."""
  flags.DEFINE_string('fit', None, 'npz of CelebA-framed faces (`images`) to fit the framing on.')
  flags.DEFINE_string('check', None, 'npz of other CelebA-framed faces to measure the framing on.')
  # At least one: 0 was an IndexError or a division by zero, -5 all but the last five faces.
  flags.DEFINE_integer('fit_count', 500, 'Faces of --fit used.', lower_bound=1)
  flags.DEFINE_integer('check_count', 500, 'Faces of --check used (the first ones).',
                       lower_bound=1)


FLAGS = flags.FLAGS


def _largest(image):
  found = faces.detect(image)
  return (found[0] if found else None), len(found)


def fit(images):
  """FRAMING's medians from faces whose frame is the whole image."""
  rel = []
  for image in images:
    box, _ = _largest(image)
    if box is None:
      continue
    top, left, h, w = box
    side = (h + w) / 2
    size = image.shape[0]
    rel.append((size / side, (size / 2 - (top + h / 2)) / side, (size / 2 - (left + w / 2)) / side))
  rel = np.array(rel)
  median = np.median(rel, axis=0)
  return {'scale': round(float(median[0]), 3), 'dy': round(float(median[1]), 3),
          'dx': round(float(median[2]), 3)}, len(rel)


def iou(box, size):
  top, left, side = box
  h = max(0.0, min(top + side, size) - max(top, 0.0))
  w = max(0.0, min(left + side, size) - max(left, 0.0))
  inter = h * w
  return inter / (side * side + size * size - inter)


def check(images, framing):
  ious, centre, ratio, multi = [], [], [], 0
  for image in images:
    box, count = _largest(image)
    if box is None:
      continue
    multi += count > 1
    size = image.shape[0]
    top, left, side = faces.framing_box(box, framing)
    ious.append(iou((top, left, side), size))
    centre.append(np.hypot(top + side / 2 - size / 2, left + side / 2 - size / 2) / size)
    ratio.append(side / size)
  n = len(images)
  return {'faces': n, 'found': len(ious), 'found_fraction': round(len(ious) / n, 3),
          'more_than_one_fraction': round(multi / n, 3),
          'iou_median': round(float(np.median(ious)), 3),
          'iou_p10': round(float(np.percentile(ious, 10)), 3),
          'centre_error_median_of_frame': round(float(np.median(centre)), 3),
          'side_ratio_median': round(float(np.median(ratio)), 3),
          'side_ratio_p10_p90': [round(float(np.percentile(ratio, q)), 3) for q in (10, 90)]}


def main(argv):
  del argv
  result = {'benchmark': 'face_framing', 'framing_in_code': faces.FRAMING,
            'min_neighbours': faces.MIN_NEIGHBOURS}
  framing = faces.FRAMING
  if FLAGS.fit:
    framing, used = fit(readers.npz_array(FLAGS.fit, 'images')[1][:FLAGS.fit_count])
    result['fitted_framing'] = framing
    result['fitted_on'] = used
  if FLAGS.check:
    result['check'] = check(readers.npz_array(FLAGS.check, 'images')[1][:FLAGS.check_count],
                            framing)
  result['sample_photos'] = {name: len(faces.detect(image)) for name, image in samples.photos()}
  print(json.dumps(result))


if __name__ == '__main__':
  from data import errors as _errors
  from pixel_recursive import commands as _commands
  define_flags()
  _commands.run(main, user_errors=(_errors.DataSourceError,))
