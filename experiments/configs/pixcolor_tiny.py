r"""A CPU-size PixColor; from a fresh clone it trains on the sample photos (a mechanics check).

  python -m pixcolor.train --config=experiments/configs/pixcolor_tiny.py --workdir=/tmp/pixcolor_tiny
  python -m pixcolor.colorize --workdir=/tmp/pixcolor_tiny --input=my_photos/ \
      --output=/tmp/colorized --num_samples=3
  python -m pixcolor.evaluate --workdir=/tmp/pixcolor_tiny --output=/tmp/pixcolor_tiny.json

The architecture of pixcolor_imagenet.py, smaller: 64 x 64 photos, 16 x 16 chroma in 32 bins; a
three-stage ResNet (one bottleneck per stage, width 8) without the max pool, so its output stride is
4; a masked 7x7 convolution then three gated PixelCNN layers of 32; the small encoder-decoder
refinement network of `refinement.layers` below. Trained from scratch. `data.source` defaults to
`samples:photos` (data/samples.py: seven colour photographs of scikit-image and matplotlib for
training, `chelsea` and `coffee` for eval), which shows the whole pipeline running, TensorBoard
included, and nothing more: seven photos are memorised. To learn colours, train on Tiny ImageNet,
ImageNet or your photos (`--config.data.source=tfrecord:...`, `folder:...`, `tfds:imagenet2012`;
pixcolor_demo.py is the recipe that does).

Expect, measured on 2 cores of an Intel Xeon with AMX (native bfloat16, so 'auto' resolved to mixed
bfloat16), the cores partly shared: 3.3-8 steps/s, about 2.5 minutes for the 1,000 steps. Training
bits/dim of the chroma PixelCNN 3.4 at step 50 and 0.002 at step 1,000 (memorised); refinement L2
0.018 at step 50, 0.0012 at 1,000.
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
  c.eval_examples = 2  # The whole eval split of samples:photos (chelsea, coffee).
  c.eval_batch_size = 2
  c.eval_timeout_seconds = 600
  c.num_image_examples = 2  # The image grid's photos come from the eval split.
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
