r"""Pixel Recursive Super Resolution on LSUN bedrooms, 8x8 -> 32x32 (Dahl et al. 2017, Sec. 5).

  python -m pixel_recursive.train --config=experiments/configs/bedrooms_8x32.py \
      --workdir=~/runs/bedrooms_8x32 --strategy=mirrored

Data: TFDS `lsun/bedroom` only (no offline copy exists; see WORKSPACE.md), the central square crop,
area-downsampled to 32 x 32 and 8 x 8. Everything else as celeba_8x32.py.

Expect: bits/dim a little above CelebA's (bedrooms vary more), samples with sharp edges of beds, windows
and furniture where the L2 baseline is blurry.
"""
from experiments.configs import base


def get_config():
  c = base.super_resolution()
  c.data.source = 'tfds:lsun/bedroom'
  c.data.crop = 'center'
  return c
