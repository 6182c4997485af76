r"""A CPU-size Pixel Recursive Super Resolution; from a fresh clone it trains on the sample faces.

  python -m pixel_recursive.train --config=experiments/configs/faces_tiny.py --workdir=/tmp/faces_tiny
  tensorboard --logdir=/tmp/faces_tiny

Same architecture as celeba_8x32.py, smaller: a 6-layer, 32-filter prior and 2 ResNet blocks per
resolution. `data.source` defaults to `samples:faces` (data/samples.py: the two faces found in the
sample photos, 32 x 32, and 90 of scikit-image's LFW faces, 25 x 25 and gray, for training, 10 LFW
faces for eval; already face crops, so no crop; the LFW faces are enlarged to 32 x 32, which the run
warns about): enough to watch a model learn, far too few for a good one. Point it at
CelebA for that (`--config.data.source=npz:celeba_8500_500.npz`, WORKSPACE.md, or `tfds:celeb_a`).

Expect, measured on 2 cores of an Intel Xeon with AMX (native bfloat16, so 'auto' resolved to mixed
bfloat16), sharing them with another training: 1.9-2.2 steps/s, 7 min 40 s for the 1,000 steps
(experiments/benchmarks/training.py gives the step time of your CPU alone). Training bits/dim of A+B
6.8 at step 50 and 2.8 at step 1,000: the ~90 faces, mostly gray, are memorised (on CelebA the same
config reaches about 4.6 at step 1,000). The samples in TensorBoard's IMAGES tab follow the 8x8
input's layout and shading; `--mode=train_and_eval` also scores the 10 eval faces.
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
