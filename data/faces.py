"""Faces in any photograph, cropped the way the super-resolution model's training faces are framed.

  faces = data.faces.find(image)           # [Face(crop uint8 [32, 32, 3], box, detection)], largest first

Detection is scikit-image's LBP frontal-face cascade (`skimage.feature.Cascade` with
`skimage.data.lbp_frontal_face_cascade_filename()`), which ships with scikit-image. Its boxes are
mapped to CelebA's framing: the training faces are the central 178 x 178 square of CelebA's aligned
178 x 218 photos (data/SOURCES.md in the staged data), so a face fills a known part of the frame.
`FRAMING` holds that mapping (the crop's side and centre relative to the detector's box), measured by
`experiments/face_framing.py` on CelebA faces whose framing is known (ids 000001-000500, training
ids) and checked on others (ids 008501-009000); WORKSPACE.md ("Faces in any photo") has the numbers.
"""
import collections
import functools

import numpy as np

# The CelebA-framed square around a detection (top, left, side of the detector's box): side =
# scale * box side, centre = box centre + (dy, dx) * box side. Fitted (medians) by
# experiments/face_framing.py on CelebA faces 000001-000500 at 64 x 64.
FRAMING = {'scale': 1.778, 'dy': -0.153, 'dx': 0.0}
# Detection runs on a copy whose long side is at most this (big photos hold big faces) and whose
# short side is at least MIN_SIDE (the cascade's window is 24 x 24: small faces need enlarging).
# At 1280 the 48 faces of a 4096 x 3072 tiling of `astronaut` were found, but also a face in
# `retina`: a face below `smallest_face` needs a crop of the photo (the no-face line says so).
MAX_SIDE = 640
MIN_SIDE = 160
WINDOW = 24
# A face is a group of at least this many of the cascade's raw detections (scikit-image's default
# is 4, which finds faces in rockets and galaxies: see experiments/face_framing.py).
MIN_NEIGHBOURS = 8
MIN_RELATIVE_SIDE = 0.5

Face = collections.namedtuple('Face', ['crop', 'box', 'detection'])


@functools.lru_cache(maxsize=1)
def _detector():
  import skimage.data  # pylint: disable=g-import-not-at-top
  import skimage.feature  # pylint: disable=g-import-not-at-top
  return skimage.feature.Cascade(skimage.data.lbp_frontal_face_cascade_filename())


def _gray(image):
  image = np.asarray(image)
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  if image.ndim == 3:
    image = image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
  return image.astype(np.float32) / 255.0


def _resized(gray, factor):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  h, w = gray.shape
  size = (max(1, int(round(w * factor))), max(1, int(round(h * factor))))
  return np.asarray(Image.fromarray(gray).resize(size, Image.BILINEAR))


def _overlap(a, b):
  """Intersection of two (top, left, height, width) boxes over the smaller one's area."""
  h = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
  w = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
  return max(h, 0) * max(w, 0) / min(a[2] * a[3], b[2] * b[3])


def _search_factor(height, width):
  """The scale of the copy the detector searches (see MAX_SIDE, MIN_SIDE)."""
  factor = min(1.0, MAX_SIDE / max(height, width))
  return max(factor, min(MIN_SIDE / min(height, width), MAX_SIDE / max(height, width)))


def smallest_face(height, width):
  """The side, in pixels of a height x width photo, of the smallest face box `detect` can find."""
  return WINDOW / _search_factor(height, width)


def detect(image, min_neighbours=MIN_NEIGHBOURS, min_relative_side=MIN_RELATIVE_SIDE):
  """Frontal faces in `image` (uint8 [H, W, 3] or [H, W]): [(top, left, height, width)] in pixels
  of `image`, largest first.

  The cascade's groups of detections are thinned (`detect_all`), and a box under
  `min_relative_side` of the largest one's side is taken for a false detection in the background
  (a pattern on a sleeve, a helmet's reflection), which the cascade finds now and then (`by_size`;
  0 keeps them all, and with them the small faces at the back of a crowd).
  """
  return by_size(detect_all(image, min_neighbours), min_relative_side)[0]


def detect_all(image, min_neighbours=MIN_NEIGHBOURS):
  """Every detection in `image`, largest first, as `detect` gives them but of any size: the
  cascade's groups thinned so that a box that overlaps a larger one (by a third of its own area),
  the same face found at another scale, is dropped."""
  gray = _gray(image)
  h, w = gray.shape
  factor = _search_factor(h, w)
  small = _resized(gray, factor) if factor != 1.0 else gray
  found = _detector().detect_multi_scale(
      img=small, scale_factor=1.1, step_ratio=1, min_size=(WINDOW, WINDOW),
      max_size=small.shape, min_neighbor_number=min_neighbours)
  boxes = sorted(((d['r'] / factor, d['c'] / factor, d['height'] / factor, d['width'] / factor)
                  for d in found), key=lambda b: -b[2] * b[3])
  kept = []
  for box in boxes:
    if all(_overlap(box, k) < 1 / 3 for k in kept):
      kept.append(box)
  return kept


def by_size(detections, min_relative_side=MIN_RELATIVE_SIDE):
  """(faces, ignored): the detections (largest first, as `detect_all` gives them) whose side is
  at least `min_relative_side` of the largest one's, and the smaller ones."""
  if not 0 <= min_relative_side <= 1:
    raise ValueError(f'min_relative_side must be in [0, 1], got {min_relative_side}')
  least = min_relative_side * detections[0][2] if detections else 0
  return ([d for d in detections if d[2] >= least], [d for d in detections if d[2] < least])


def framing_box(detection, framing=None):
  """The CelebA-framed square (top, left, side) around a detection (top, left, height, width)."""
  f = framing or FRAMING
  top, left, height, width = detection
  box = (height + width) / 2
  side = f['scale'] * box
  cy = top + height / 2 + f['dy'] * box
  cx = left + width / 2 + f['dx'] * box
  return cy - side / 2, cx - side / 2, side


def crop(image, box, size=32):
  """The square `box` (top, left, side) of `image`, area-resized to size x size: uint8 [size, size, 3].

  Parts of the box outside the photo repeat its edge pixels (a face at the border keeps its frame).
  """
  from PIL import Image  # pylint: disable=g-import-not-at-top
  if size < 1:  # Pillow's error would speak of height and width.
    raise ValueError(f'size must be >= 1, got {size}')
  image = np.asarray(image)
  if image.ndim == 2:
    image = image[..., None]
  if image.shape[-1] == 1:
    image = np.repeat(image, 3, axis=-1)
  top, left, side = (int(round(v)) for v in box)
  side = max(side, 1)
  h, w = image.shape[:2]
  rows = np.clip(np.arange(top, top + side), 0, h - 1)
  cols = np.clip(np.arange(left, left + side), 0, w - 1)
  square = image[rows][:, cols, :3]
  # Pillow's BOX filter is area averaging when shrinking.
  return np.asarray(Image.fromarray(np.ascontiguousarray(square)).resize((size, size), Image.BOX))


def find(image, size=32, framing=None, min_relative_side=MIN_RELATIVE_SIDE, detections=None):
  """Every frontal face of `image`, CelebA-framed and resized to size x size: [Face], largest first.

  Face.crop is uint8 [size, size, 3], Face.box the (top, left, side) square it was cut from and
  Face.detection the detector's (top, left, height, width). `image`: uint8 [H, W, 3 or 4] or
  [H, W(, 1)]; anything else is a ValueError naming it (floats in [0, 1] would crop to black).
  `min_relative_side`: as `detect`'s. `detections`: the boxes to crop, if already found (e.g. by
  `detect_all` and `by_size`, to know the ignored ones too); default `detect`'s.
  """
  image = np.asarray(image)
  if image.dtype != np.uint8 or not (image.ndim == 2 or (
      image.ndim == 3 and image.shape[-1] in (1, 3, 4))):
    raise ValueError('image must be uint8 (0-255) [H, W, 3], [H, W, 4] or [H, W], got '
                     f'{image.dtype.name} {list(image.shape)}')
  if 0 in image.shape[:2]:  # The detector would divide by its size.
    raise ValueError(f'image has no pixels: {list(image.shape)}')
  if detections is None:
    detections = detect(image, min_relative_side=min_relative_side)
  out = []
  for detection in detections:
    box = framing_box(detection, framing)
    out.append(Face(crop(image, box, size), box, detection))
  return out
