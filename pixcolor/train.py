r"""Trains PixColor with the project's one training loop (`pixel_recursive.train.run`).

  python -m pixcolor.train --config=experiments/configs/pixcolor_tiny.py --workdir=/tmp/pixcolor_tiny
  python -m pixcolor.train --config=experiments/configs/pixcolor_imagenet.py --workdir=DIR \
      --strategy=mirrored
  python -m pixcolor.train --config=... --workdir=DIR --mode=eval   # continuous evaluator

Trains the conditional PixelCNN with its conditioning and adaptation networks (cross-entropy, teacher
forcing) and the refinement network (L2 on true low-resolution chroma) in one loop, as the config's
`train_pixelcnn` / `train_refinement` say; the two share no weights and no gradient. Strategies,
checkpoints (re-running resumes from workdir/checkpoints), SIGTERM, the NaN guard and TensorBoard
(bits/dim, refinement L2, image grids) are those of `pixel_recursive.train`.
"""
import os

from pixel_recursive import train

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              'experiments', 'configs', 'pixcolor_tiny.py')


def main():
  from absl import flags
  from data import sources
  from pixcolor import task as task_lib
  from pixel_recursive import cli
  train.define_flags(DEFAULT_CONFIG)
  flags.adopt_module_key_flags(train)  # --helpshort lists them as this command's flags.
  flags.mark_flags_as_required(['workdir'])
  cli.run(train.main_for(task_lib.PixColorTask), user_errors=(sources.DataSourceError,))


if __name__ == '__main__':
  main()
