r"""Trains Pixel Recursive Super Resolution (or its L2 baseline) with the shared training loop.

  python -m pixel_recursive.train --config=experiments/configs/faces_tiny.py --workdir=/tmp/faces
  python -m pixel_recursive.train --config=experiments/configs/celeba_8x32.py --workdir=DIR \
      --strategy=mirrored
  python -m pixel_recursive.train --config=... --workdir=DIR --mode=eval   # continuous evaluator

Re-running the same command resumes from the newest checkpoint in `workdir/checkpoints`; SIGTERM
saves a checkpoint and exits cleanly. The loop is `pixel_recursive.training.loop.run`, the model
function `pixel_recursive.task.SuperResolutionTask`, the input function `data.pipeline.input_fn`.
"""
if __name__ == '__main__':
  from pixel_recursive.training import command
  command.main('pixel_recursive.task.SuperResolutionTask', 'faces_tiny.py')
