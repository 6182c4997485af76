"""Training plumbing both papers share: the loop and its parts.

  task.py       the task protocol (`Task`): model, data, metrics, scalars, images of one paper
  loop.py       `run`: the custom loop under tf.distribute; `build`, `make_train_step`, `Evaluator`
  optim.py      the optimizer, the learning-rate warm-up's config, mixed precision (`dtype_policy`)
  summaries.py  TensorBoard summaries committed with checkpoints
  command.py    the train command line of both papers
"""
