r"""The paper's L2-regression baseline on CelebA: the same conditioning ResNet, mean squared error.

  python -m pixel_recursive.train --config=experiments/configs/celeba_8x32_l2.py \
      --workdir=~/runs/celeba_8x32_l2 --strategy=mirrored
  python -m pixel_recursive.evaluate --workdir=~/runs/celeba_8x32 \
      --l2_workdir=~/runs/celeba_8x32_l2 --output=metrics.json

Expect: the best pSNR of all methods and blurry, averaged faces (Dahl et al. 2017, Table 2, Fig. 1).
Add --config.data.source=npz:PATH/celeba_32.npz --config.data.crop=none to the train command for
32 x 32 faces in an .npz (WORKSPACE.md: the staged CelebA copy; evaluate takes only the
--config.data.source), or samples:faces from a fresh clone (and a tiny model).
"""
from experiments.configs import base


def get_config():
  c = base.super_resolution()
  c.model.name = 'l2_regression'
  c.sample_temperatures = ()
  return c
