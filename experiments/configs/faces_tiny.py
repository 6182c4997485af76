r"""A CPU-size Pixel Recursive Super Resolution on the bundled CelebA faces (data/bundled).

  python -m pixel_recursive.train --config=experiments/configs/faces_tiny.py --workdir=/tmp/faces_tiny
  tensorboard --logdir=/tmp/faces_tiny

Trains in minutes on 2 CPU cores. Same architecture as celeba_8x32.py, smaller: a 6-layer, 32-filter
prior and 2 ResNet blocks per resolution. The bundled faces are already centre-cropped 32 x 32 images,
so no crop is applied.

Expect: bits/dim of A+B from ~8 at step 0 to roughly 4.5-5 after the default 1,500 steps; samples
in TensorBoard's IMAGES tab that follow the 8x8 input's colours and layout and grow sharper with more
steps (train longer with --config.train_steps=10000 for clearly face-like detail).
"""
from experiments.configs import base


def get_config():
  c = base.super_resolution()
  c.train_steps = 1500
  c.batch_size = 16
  c.learning_rate = 1e-3
  c.grad_clip_norm = 5.0
  c.checkpoint_every_steps = 250
  c.log_every_steps = 50
  c.image_every_steps = 500
  c.histogram_every_steps = 500
  c.eval_every_steps = 500
  c.eval_examples = 256
  c.eval_batch_size = 64
  c.eval_timeout_seconds = 600
  c.data.source = 'bundled'
  c.data.crop = 'none'
  c.data.cache = True
  c.model.conditioning.blocks = (2, 2, 2)
  c.model.prior.num_layers = 6
  c.model.prior.filters = 32
  c.model.prior.head_filters = 128
  return c
