r"""Trains PixColor with the shared training loop (`pixel_recursive.training.loop.run`).

  python -m pixcolor.train --config=experiments/configs/pixcolor_tiny.py --workdir=/tmp/pixcolor_tiny
  python -m pixcolor.train --config=experiments/configs/pixcolor_imagenet.py --workdir=DIR \
      --strategy=mirrored
  python -m pixcolor.train --config=... --workdir=DIR --mode=eval   # continuous evaluator

Trains the conditional PixelCNN with its conditioning and adaptation networks (cross-entropy, teacher
forcing) and the refinement network (L2 on true low-resolution chroma) in one loop, as the config's
`train_pixelcnn` / `train_refinement` say; the two share no weights and no gradient. Strategies,
checkpoints (re-running resumes from workdir/checkpoints), SIGTERM, the NaN guard and TensorBoard
(bits/dim, refinement L2, image grids) are the shared loop's.
"""
if __name__ == '__main__':
  from pixel_recursive.training import command
  command.main('pixcolor.task.PixColorTask', 'pixcolor_tiny.py')
