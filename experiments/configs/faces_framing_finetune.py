r"""Fine-tunes the faces demo model on faces framed tighter than CelebA's (issue: a user's faces are
framed every which way; experiments/framing.py measures it).

  python -m pixel_recursive.train --config=experiments/configs/faces_framing_finetune.py \
      --workdir=runs/faces_framing --config.init_from=pixel_recursive/demo/faces \
      --config.data.source=npz:PATH/celeba_8500_500.npz --mode=train_and_eval

Starts from the shipped faces model's weights (`init_from`) and trains on the same CelebA training
faces (ids 000001-008500), half of them zoomed: with probability 1/2 the central square of side
[0.6, 1] x the face's, enlarged back to 32 x 32 (data.random_zoom), so the model also meets faces that
fill more of the frame. RMSProp at the demo's final rate (3e-4) after a 200-step warm-up (the
optimizer's state starts afresh), horizontal flips, batch 16. The checkpoint is chosen on the
framing test's `choice` ids (008501-009000) at every zoom and at CelebA's own framing.
"""
from experiments.configs import faces_demo


def get_config():
  c = faces_demo.get_config()
  c.init_from = 'pixel_recursive/demo/faces'
  c.train_steps = 4000
  c.learning_rate = 3e-4
  c.warmup_steps = 200
  c.learning_rate_drop_steps = ()
  c.learning_rate_drop_factor = 1.0
  c.checkpoint_every_steps = 500
  c.keep_checkpoints = 10
  c.eval_every_steps = 500
  c.data.random_zoom = 0.6
  c.data.random_zoom_probability = 0.5
  return c
