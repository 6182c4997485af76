r"""Fine-tunes the faces framing model on faces a tenth of which are gray (issue: a user's faces are
framed, and coloured, every which way; the framing model had never met a gray face).

  python -m pixel_recursive.train --config=experiments/configs/faces_gray_finetune.py \
      --workdir=runs/faces_gray --config.init_from=runs/faces_framing \
      --config.data.source=npz:celeba_8500_500.npz --mode=train_and_eval

Starts from the weights of the framing model (`init_from`: a faces_framing_finetune.py run stopped
at step 3,000, `--config.train_steps=3000`; the same model is pixel_recursive/demo/faces at commit
f90c903) and repeats that fine-tune's recipe (CelebA training faces 000001-008500, half of them
zoomed into [0.6, 1] of the frame, flips, RMSProp 3e-4 after a 200-step warm-up, batch 16) with a
tenth of the examples turned to gray, input and truth together (data.random_grayscale), for 1,500
steps. `experiments/framing.py --gray` measures it. The shipped faces model (pixel_recursive/demo/
faces) is this run's step 1,500 at the framing model's sampling defaults (T = 1.5, w = 4); the rule
that let it replace the framing model, and the tables, are in its model card (WORKSPACE.md).
"""
from experiments.configs import faces_framing_finetune


def get_config():
  c = faces_framing_finetune.get_config()
  c.init_from = 'runs/faces_framing'  # A faces_framing_finetune.py run of 3,000 steps.
  c.train_steps = 1500
  c.data.random_grayscale = 0.1
  return c
