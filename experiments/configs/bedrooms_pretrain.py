r"""Stage 1 of the bedrooms demo model: 8x8 -> 32x32 super-resolution of Tiny ImageNet photos.

  TINY=../shared/data/natural/tiny_imagenet   # the staged copy (WORKSPACE.md), or your TFRecords
  python -m pixel_recursive.train --config=experiments/configs/bedrooms_pretrain.py \
      --workdir=runs/bedrooms_pretrain --mode=train_and_eval --config.data.source="tfrecord:\
$TINY/train-*.tfrecord,$TINY/validation-00000-of-00002.tfrecord"

then stage 2, bedrooms_demo.py, starts from this run's weights (`init_from`). Why: 4,500 bedroom
photos seemed too few for the conditioning network, whose mean beat bicubic by only 0.5 dB when
trained on them alone, and Tiny ImageNet's 40,400 training photos (64 x 64, area-downsampled to
32 x 32 here, or a random central square of [0.5, 1] of the photo for half of them, so that the
model meets objects at several scales) might teach it what natural photos look like at 32 x 32.
Measured on the 100 evaluation bedrooms, the two-stage model (also deeper, below) has the mean of
the single-stage one it replaced (E[A] 20.35 dB both) and samples 0.1 dB better (model card): not a
clean ablation of this stage, but no sign that it helps much. The faces demo's
architecture with a deeper conditioning network at low resolution, where a block is cheap and sees
the whole input (64 filters; 6, 4 and 3 blocks at 8x8, 16x16 and 32x32: a scene's layout is less
predictable than a face's), a prior of 8 gated layers of 32, a head of 256; the faces demo's
recipe: RMSProp 1e-3 after a 500-step warm-up, clipping at 5, flips, batch 16.

Expect (an Intel Xeon with AVX512_BF16 and AMX, 2 cores, mixed bfloat16): about 3.6 steps/s
alone, an hour; eval bits/dim of A+B on 500 Tiny ImageNet validation photos 4.57 at step 2,000,
4.36 at 4,000, 4.25 at 8,000, 4.12 at 10,000, 4.20 at 12,000 (a noisy eval: 500 photos of 200
classes).
"""
from experiments.configs import faces_demo


def get_config():
  c = faces_demo.get_config()
  c.train_steps = 12_000
  c.learning_rate_drop_steps = ()
  c.learning_rate_drop_factor = 1.0
  c.keep_checkpoints = 3
  c.eval_every_steps = 2000
  c.eval_examples = 500
  c.eval_batch_size = 100
  c.data.source = 'samples'  # Too few to learn from: point it at Tiny ImageNet (above).
  c.data.crop = 'center'
  c.data.random_zoom = 0.5
  c.data.random_zoom_probability = 0.5
  c.model.conditioning.blocks = (6, 4, 3)
  c.sampling.temperature = 1.0
  c.sampling.guidance = 1.0
  return c
