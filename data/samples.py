"""Photographs that ship with the dependencies: the `samples` data source (no dataset, no internet).

  samples:photos   the colour photographs of scikit-image's `skimage.data` and matplotlib's sample
                   data (`PHOTOS`), at their own sizes
  samples:faces    the faces in the portraits among them, CelebA-framed at 32 x 32 by `data.faces`, then
                   the 100 faces of scikit-image's LFW subset (`skimage.data.lfw_subset()`, gray,
                   25 x 25, tightly cropped: another framing than CelebA's)
  samples          faces for super-resolution, photos for colorization

Splits: `eval` is `EVAL_PHOTOS` for photos and the last 10 LFW faces for faces; `train` the rest.
These are for the quick start and for tests of mechanics: a handful of images, not a training set
(the demo models were trained on the staged sets; WORKSPACE.md). Origins and terms: `PHOTOS` and
WORKSPACE.md ("Photographs that ship with the dependencies").
"""
import collections
import functools
import os

import numpy as np

Photo = collections.namedtuple('Photo', ['name', 'load', 'origin', 'terms'])


def _skimage(name):
  def load():
    import skimage.data  # pylint: disable=g-import-not-at-top
    if name == 'motorcycle_left':
      import skimage.io  # pylint: disable=g-import-not-at-top
      return skimage.io.imread(os.path.join(skimage.data.data_dir, 'motorcycle_left.png'))
    return getattr(skimage.data, name)()
  return load


def _matplotlib(filename):
  def load():
    from matplotlib import cbook  # pylint: disable=g-import-not-at-top
    from PIL import Image  # pylint: disable=g-import-not-at-top
    with Image.open(cbook.get_sample_data(filename)) as image:
      return np.asarray(image.convert('RGB'))
  return load


# Every colour photograph in the installed wheels (renderings, charts and gray images left out).
PHOTOS = (
    Photo('astronaut', _skimage('astronaut'),
          'scikit-image `astronaut`: Eileen Collins, NASA (flic.kr/p/r9qvLn)', 'public domain'),
    Photo('grace_hopper', _matplotlib('grace_hopper.jpg'),
          'matplotlib `grace_hopper.jpg`: Rear Admiral Grace Hopper, US Navy', 'public domain'),
    Photo('rocket', _skimage('rocket'),
          'scikit-image `rocket`: Falcon 9 on its pad, SpaceX', 'public domain'),
    Photo('motorcycle', _skimage('motorcycle_left'),
          'scikit-image `stereo_motorcycle` (left): Middlebury 2014 stereo benchmark',
          'research use (Middlebury stereo datasets)'),
    Photo('hubble_deep_field', _skimage('hubble_deep_field'),
          'scikit-image `hubble_deep_field`: NASA/ESA Hubble', 'public domain'),
    Photo('retina', _skimage('retina'),
          'scikit-image `retina`: fundus photograph, Häggström (Wikimedia)', 'CC0 1.0'),
    Photo('immunohistochemistry', _skimage('immunohistochemistry'),
          'scikit-image `immunohistochemistry`: stained tissue, microscope photograph',
          'no known copyright restrictions'),
    Photo('chelsea', _skimage('chelsea'),
          'scikit-image `chelsea`: a cat, Stefan van der Walt', 'CC0'),
    Photo('coffee', _skimage('coffee'),
          'scikit-image `coffee`: espresso, Rachel Michetti (Pikolo Espresso Bar)', 'CC0'),
)
EVAL_PHOTOS = ('chelsea', 'coffee')
# The photos searched for faces (the detector finds none in the others: tests/test_sources.py).
PORTRAITS = ('astronaut', 'grace_hopper')
LFW_EVAL = 10  # The last LFW faces are the faces' eval split.
LFW_ORIGIN = ('scikit-image `lfw_subset`: 100 faces of Labeled Faces in the Wild (UMass Amherst), '
              '25 x 25 gray', 'research use (LFW)')
SETS = ('faces', 'photos')


@functools.lru_cache(maxsize=None)
def photo(name):
  """uint8 RGB [H, W, 3] of the photograph `name` (one of `PHOTOS`)."""
  by_name = {p.name: p for p in PHOTOS}
  if name not in by_name:
    raise KeyError(f'no sample photo {name!r}; there are {", ".join(by_name)}')
  image = np.asarray(by_name[name].load())
  return np.ascontiguousarray(image[..., :3]).astype(np.uint8)


def photos(split=None):
  """[(name, uint8 [H, W, 3])] of the photographs of `split` ('train', 'eval' or None: all)."""
  names = [p.name for p in PHOTOS]
  if split == 'eval':
    names = [n for n in names if n in EVAL_PHOTOS]
  elif split == 'train':
    names = [n for n in names if n not in EVAL_PHOTOS]
  return [(n, photo(n)) for n in names]


@functools.lru_cache(maxsize=1)
def _photo_faces():
  from data import faces as faces_lib  # pylint: disable=g-import-not-at-top
  out = []
  for name in PORTRAITS:
    for k, face in enumerate(faces_lib.find(photo(name), size=32)):
      out.append((f'{name}_face{k}', face.crop))
  return tuple(out)


@functools.lru_cache(maxsize=1)
def lfw_faces():
  """uint8 [100, 25, 25] gray faces of scikit-image's LFW subset (its first 100 images)."""
  import skimage.data  # pylint: disable=g-import-not-at-top
  faces = np.asarray(skimage.data.lfw_subset())[:100]
  if faces.dtype != np.uint8:
    faces = np.clip(np.round(faces * 255.0), 0, 255).astype(np.uint8)
  return faces


def faces(split=None):
  """[(name, uint8 [h, w, 3])] of the faces of `split`: the photographs' faces at 32 x 32 (train),
  then LFW's at 25 x 25 (the last `LFW_EVAL` are eval)."""
  lfw = [(f'lfw_{k:03d}', np.repeat(f[..., None], 3, axis=-1)) for k, f in enumerate(lfw_faces())]
  if split == 'eval':
    return lfw[-LFW_EVAL:]
  train = list(_photo_faces()) + lfw[:-LFW_EVAL]
  return train if split == 'train' else train + lfw[-LFW_EVAL:]


def load(name, split):
  """[(name, image)] of the set `name` ('faces' or 'photos') and `split`."""
  if name == 'faces':
    return faces(split)
  if name == 'photos':
    return photos(split)
  raise KeyError(name)
