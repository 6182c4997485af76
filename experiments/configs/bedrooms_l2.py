r"""The L2-regression baseline of the bedrooms demo: its conditioning network, mean squared error.

  python -m pixel_recursive.train --config=experiments/configs/bedrooms_l2.py \
      --workdir=runs/bedrooms_l2 --config.init_from=runs/bedrooms_pretrain \
      --config.data.source=npz:PATH/bedrooms_4500_500.npz

Started, like the demo model, from stage 1's conditioning weights (its output layer starts afresh:
it predicts 3 values per pixel instead of 256 logits per sub-pixel), then 3,000 steps on the same
4,500 bedrooms. Its mean prediction is the "L2 regression" row of the bedrooms model card
(WORKSPACE.md): `pixel_recursive.evaluate --l2_workdir=runs/bedrooms_l2`. Not shipped.
"""
from experiments.configs import bedrooms_demo


def get_config():
  c = bedrooms_demo.get_config()
  c.model.name = 'l2_regression'
  c.sample_temperatures = ()
  c.train_steps = 3000
  c.eval_every_steps = 1000
  c.checkpoint_every_steps = 1000
  c.keep_checkpoints = 3
  return c
