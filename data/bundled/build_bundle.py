"""Re-creates the bundled photographs from the staged copies described in SOURCES.md.

Usage: python data/bundled/build_bundle.py SHARED_DATA_DIR

SHARED_DATA_DIR is the folder that holds `faces/celeba_32.npz` and `natural/imagenet_sample_256/`
(see PROVENANCE.md beside this script for where those came from). The selection is deterministic:
- faces.npz: CelebA aligned faces at 32x32. `train` = the first 3,000 by file name, `eval` = the last
  1,000 (CelebA ids 009001..010000, the suggested held-out block), so the two never overlap.
- photos/{train,eval}/*.jpg: ImageNet photos (one per class), short side resized to 128 with Pillow's
  LANCZOS and saved as JPEG quality 90. `train` = the first 240 files in sorted order, `eval` = every
  file from the 901st on in sorted order (the suggested held-out block).
"""
import os
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def main(src):
  faces = np.load(os.path.join(src, 'faces', 'celeba_32.npz'))
  images, names = faces['images'], faces['filenames']
  order = np.argsort(names)
  images, names = images[order], names[order]
  np.savez_compressed(
      os.path.join(HERE, 'faces.npz'),
      train_images=images[:3000], train_filenames=names[:3000],
      eval_images=images[-1000:], eval_filenames=names[-1000:])

  photo_dir = os.path.join(src, 'natural', 'imagenet_sample_256')
  files = sorted(f for f in os.listdir(photo_dir) if f.lower().endswith('.jpg'))
  for split, chosen in (('train', files[:240]), ('eval', files[900:])):
    out_dir = os.path.join(HERE, 'photos', split)
    os.makedirs(out_dir, exist_ok=True)
    for name in chosen:
      im = Image.open(os.path.join(photo_dir, name)).convert('RGB')
      w, h = im.size
      scale = 128 / min(w, h)
      im = im.resize((max(128, round(w * scale)), max(128, round(h * scale))), Image.LANCZOS)
      im.save(os.path.join(out_dir, name), quality=90)


if __name__ == '__main__':
  main(sys.argv[1])
