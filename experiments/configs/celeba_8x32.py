r"""Pixel Recursive Super Resolution on CelebA faces, 8x8 -> 32x32 (Dahl et al. 2017, Sec. 4-5).

  python -m pixel_recursive.train --config=experiments/configs/celeba_8x32.py \
      --workdir=~/runs/celeba_8x32 --strategy=mirrored

Data: TFDS `celeb_a` (see WORKSPACE.md for an offline copy), the central 138 x 138 crop of the aligned
images, area-downsampled to 32 x 32 (target) and 8 x 8 (input). Optimiser as the paper: RMSProp, lr 4e-4,
decay 0.95, momentum 0.9, eps 1e-8, global batch 32 split synchronously over the GPUs.

Expect: bits/dim of A+B falling below ~3 within the first ~20k steps on 8 GPUs, and samples that keep
the input's colours and pose and add plausible eyes, mouths and hair; temperature 0.8-0.9 gives
cleaner faces than 1.0 (the paper's Fig. 5 and Table 2).
"""
from experiments.configs import base


def get_config():
  return base.super_resolution()
