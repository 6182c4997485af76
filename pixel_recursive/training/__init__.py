"""Training plumbing both papers share: the loop and its parts.

  task.py       the task protocol (`Task`): model, data, metrics, scalars, images of one paper
  loop.py       `run`: the custom loop under tf.distribute, top to bottom; `build`, `restore`
  steps.py      the compiled train step (`make_train_step`) and evaluation (`Evaluator`)
  preemption.py SIGTERM: save a checkpoint and stop (every worker at one step)
  optim.py      the optimizer and its learning-rate schedule
  averaging.py  the exponential moving average of the weights (`ema_decay`) used for inference
  precision.py  the dtype policy: 'auto' (bfloat16 where the hardware computes it natively), ...
  summaries.py  TensorBoard summaries committed with checkpoints
  command.py    the train command line of both papers
"""

# What `loop.run` does, the train command's --mode: train; eval, a continuous evaluator of each new
# checkpoint; or both in one process. Here, not in loop.py, so that the command defines its flags
# without importing TensorFlow.
MODES = ('train', 'eval', 'train_and_eval')
