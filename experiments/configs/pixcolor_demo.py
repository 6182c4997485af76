r"""The shipped PixColor demo model: ImageNet photos at 64 x 64, sized for hours on 2 CPU cores.

  python -m pixcolor.train --config=experiments/configs/pixcolor_demo.py --workdir=runs/pixcolor_demo \
      --config.data.source=folder:PHOTOS --config.train_refinement=False --mode=train_and_eval
  python -m pixcolor.train --config=experiments/configs/pixcolor_demo.py \
      --workdir=runs/pixcolor_demo_refine --config.data.source=folder:PHOTOS \
      --config.train_pixelcnn=False --config.init_from=runs/pixcolor_demo --config.train_steps=4000

The architecture of pixcolor_imagenet.py at CPU size: 64 x 64 photos, 16 x 16 chroma in 32 bins; a
three-stage ResNet (2 bottlenecks per stage, width 24, no max pool: output stride 4) trained from
scratch; adaptation of 64; a plain masked 7x7 convolution and 4 gated layers of 48, a 1x1 of 256;
our U-Net refinement network (see below; the paper's encoder-decoder is `pixcolor_imagenet.py`'s).
Chroma bins are dequantized uniformly within each bin for the refinement network. Random crops (0.6-1 of the short side) and flips. The
CPU recipe of experiments/benchmarks/training.py (no XLA, mixed bfloat16), batch 16, Adam 1e-3 after
a 500-step warm-up. The shipped model's data, steps, wall time and sampling defaults are in its
model card (WORKSPACE.md, "Demo checkpoints"); `data.source` defaults to the bundled photos so that
the commands run from a fresh clone.
"""
from experiments.configs import pixcolor_tiny


def get_config():
  c = pixcolor_tiny.get_config()
  c.train_steps = 20_000
  c.learning_rate = 1e-3
  c.warmup_steps = 500
  c.checkpoint_every_steps = 1000
  c.keep_checkpoints = 5
  c.log_every_steps = 100
  c.image_every_steps = 2000
  c.histogram_every_steps = 5000
  c.eval_every_steps = 2000
  c.eval_examples = 50
  c.eval_batch_size = 50
  c.data.shuffle_buffer = 1000
  c.model.conditioning.blocks = (2, 2, 2)
  c.model.conditioning.width = 24
  c.model.adaptation.filters = 64
  c.model.pixelcnn.num_layers = 4
  c.model.pixelcnn.filters = 48
  c.model.pixelcnn.head_filters = 256
  # Our U-Net, not the paper's encoder-decoder: at this size it refines measurably better (L2 on 50
  # held-out photos after 2,000 steps: 0.00130 against 0.00260; bilinear upsampling 0.00213).
  c.model.refinement.name = 'unet'
  c.model.refinement.filters = (32, 64, 128)
  c.model.refinement.bottom_layers = 1
  return c
