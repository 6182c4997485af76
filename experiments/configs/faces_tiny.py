r"""A CPU-size Pixel Recursive Super Resolution on the bundled CelebA faces (data/bundled).

  python -m pixel_recursive.train --config=experiments/configs/faces_tiny.py --workdir=/tmp/faces_tiny
  tensorboard --logdir=/tmp/faces_tiny

Trains in minutes on 2 CPU cores. Same architecture as celeba_8x32.py, smaller: a 6-layer, 32-filter
prior and 2 ResNet blocks per resolution. The bundled faces are already centre-cropped 32 x 32 images,
so no crop is applied.

Expect (measured on 2 CPU cores): about 1.4 steps/s on idle cores, so the default 1,000 steps take
12-15 minutes; training bits/dim of A+B averages 7.2 over the first 50 steps and 4.6 around step 1,000
(eval 4.7 on the bundled eval faces); the samples in TensorBoard's IMAGES tab follow the 8x8 input's
colours, pose and hair, with blotchy faces. Longer runs plateau near 4.4 on the 3,000 bundled faces
and start to overfit; the demo checkpoint (WORKSPACE.md) continued on 9,000 CelebA faces.
"""
from experiments.configs import base


def get_config():
  c = base.super_resolution()
  c.train_steps = 1000
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
  # The CPU recipe of experiments/benchmarks/training.py: no XLA (slower on both kinds of CPU
  # measured), bfloat16 maths only where the hardware computes it natively (elsewhere it is emulated).
  # config.json records what 'auto' resolved to.
  c.xla = False
  c.dtype_policy = 'auto'
  c.data.source = 'samples:faces'
  c.data.crop = 'none'
  c.data.cache = True
  c.model.conditioning.blocks = (2, 2, 2)
  c.model.prior.num_layers = 6
  c.model.prior.filters = 32
  c.model.prior.head_filters = 128
  return c
