r"""The super-resolution demo recipe: CelebA faces 8x8 -> 32x32, sized for hours on a 2-core CPU.

  python -m pixel_recursive.train --config=experiments/configs/faces_demo.py --workdir=runs/faces_demo \
      --config.data.source=npz:celeba_8500_500.npz --mode=train_and_eval   # WORKSPACE.md makes it

The architecture of celeba_8x32.py, smaller than the paper's prior and with a wider conditioning
network: conditioning ResNet of 64 filters and 3 blocks per resolution (the paper: 32 and 6), prior of
8 gated layers of 32 (the paper: 20), output head of 256. Trained with the CPU recipe measured by
experiments/benchmarks/training.py (no XLA, mixed bfloat16), batch 16, RMSProp as the paper, gradient
clipping at 5, horizontal flips, 1e-3 after a 500-step warm-up, 3e-4 from step 9,100, 12,000 steps.
The shipped faces model is this run's 12,000 steps followed by faces_framing_finetune.py and then
faces_gray_finetune.py; its data, wall time and scores are in its model card (WORKSPACE.md, "Demo
checkpoints"). `data.source` defaults
to faces_tiny's `samples:faces` so that the command runs from a fresh clone (about 90 faces,
memorised within a few hundred steps: train on CelebA as above).

Expect (2 cores of an AMD EPYC with AVX512_BF16, shared): about 1.7 steps/s (3 hours with
evaluations); eval bits/dim of A+B 3.63 at 12,000 steps on the 500 validation faces (training on
8,500). Samples at guidance 1 follow the prior more than the input; the sampling defaults below
were chosen on 500 validation faces (README, "Guidance").
"""
from experiments.configs import faces_tiny


def get_config():
  c = faces_tiny.get_config()
  c.train_steps = 12_000
  c.learning_rate = 1e-3
  c.warmup_steps = 500  # A 64-filter conditioning network's logits blow up without it.
  c.learning_rate_drop_steps = (9100,)  # Where the eval bits/dim had stopped falling.
  c.learning_rate_drop_factor = 0.3
  c.checkpoint_every_steps = 1000
  c.keep_checkpoints = 5
  c.log_every_steps = 100
  c.image_every_steps = 2000
  c.histogram_every_steps = 5000
  c.eval_every_steps = 1000
  c.eval_examples = 500
  c.eval_batch_size = 100
  c.data.random_flip = True
  c.data.shuffle_buffer = 10_000
  c.model.conditioning.filters = 64
  c.model.conditioning.blocks = (3, 3, 3)
  c.model.prior.num_layers = 8
  c.model.prior.filters = 32
  c.model.prior.head_filters = 256
  # Chosen on the 500 validation faces (ids 008501-009000) to meet consistency >= 28 dB, pSNR >=
  # bicubic's and an HF energy ratio in [0.8, 1.25] with the most room (WORKSPACE.md, model card).
  c.sampling.temperature = 1.4
  c.sampling.guidance = 4.0
  return c
