r"""A CPU-size PixColor on the bundled ImageNet photos (data/bundled/photos, 240 train / 74 eval).

  python -m pixcolor.train --config=experiments/configs/pixcolor_tiny.py --workdir=/tmp/pixcolor_tiny
  python -m pixcolor.colorize --workdir=/tmp/pixcolor_tiny --input=data/bundled/photos/eval \
      --output=/tmp/colorized --num_samples=3
  python -m pixcolor.evaluate --workdir=/tmp/pixcolor_tiny --output=/tmp/pixcolor_tiny.json

The architecture of pixcolor_imagenet.py, smaller: 64 x 64 photos, 16 x 16 chroma in 32 bins; a
three-stage ResNet (one bottleneck per stage, width 8) without the max pool, so its output stride is
4; a masked 7x7 convolution then three gated PixelCNN layers of 32; the small encoder-decoder
refinement network of `refinement.layers` below. Trained from scratch.

Expect (measured on 2 CPU cores): about 3 steps/s, so ~6 min for the 1,000 steps when the cores are
free (8m45s while another training shared them). Training bits/dim of the chroma PixelCNN from 3.3 at
step 50 to 0.90 at step 1000; eval bits/dim 2.97 at step 250, 2.11 at 500, 2.07 at 1000 (it rises
again after that: 240 training photos, mostly animals, are memorised, and the eval photos are food,
landscapes and people). Refinement L2 on eval 0.00121 (bilinear upsampling of the same chroma:
0.00164). TensorBoard's IMAGES tab shows spatially coherent, muted colourings from step ~500 on
(blue skies and water, green foliage, brown and orange food), different from sample to sample.
`pixcolor.evaluate` at step 1000 on the 74 eval photos: histogram intersection a .76, b .75 (paper,
ImageNet: .93 / .93); MS-SSIM between two samples median .95, 46% in [.95, .99]; pSNR of samples
19.5 dB (gray input 19.9, refinement of the true chroma 33.7).
"""
from experiments.configs import pixcolor_imagenet


def get_config():
  c = pixcolor_imagenet.get_config()
  c.train_steps = 1000
  c.batch_size = 16
  c.learning_rate = 1e-3
  c.grad_clip_norm = 5.0
  # The CPU recipe of experiments/benchmarks/training.py: no XLA (slower on both kinds of CPU
  # measured), bfloat16 maths only where the hardware computes it natively (elsewhere it is emulated).
  # config.json records what 'auto' resolved to.
  c.xla = False
  c.dtype_policy = 'auto'
  c.checkpoint_every_steps = 250
  c.log_every_steps = 50
  c.image_every_steps = 250
  c.histogram_every_steps = 500
  c.eval_every_steps = 250
  c.eval_examples = 74  # The whole bundled eval split, in two batches.
  c.eval_batch_size = 37
  c.eval_timeout_seconds = 600
  c.num_image_examples = 6
  c.data.source = 'samples:photos'
  c.data.cache = True
  c.data.shuffle_buffer = 240
  c.model.image_size = 64
  c.model.chroma_size = 16
  c.model.conditioning.backbone = 'resnet'  # Ours, from scratch (no weights file needed).
  c.model.conditioning_weights = ''
  c.model.conditioning.blocks = (1, 1, 1)
  c.model.conditioning.width = 8
  c.model.conditioning.max_pool = False
  c.model.conditioning.bn_momentum = 0.9
  c.model.adaptation.filters = 32
  c.model.conditioning.gradient_start_step = 0  # From scratch: no frozen start.
  c.model.pixelcnn.num_layers = 3  # After the masked 7x7 convolution.
  c.model.pixelcnn.filters = 32
  c.model.pixelcnn.head_filters = 128
  c.model.refinement.layers = ('conv3x3-16-s2', 'conv3x3-32-s2', 'conv3x3-64', 'up2', 'conv3x3-32',
                               'up2', 'conv3x3-16')
  return c
