"""PixColor: Pixel Recursive Colorization (Guadarrama et al. 2017), built on `pixel_recursive`.

Colour needs little resolution: a conditional gated PixelCNN samples a low-resolution chroma image
(28 x 28 x 2 bins of Cb then Cr in the paper setting) conditioned on a ResNet's features of the gray
input, and a feed-forward refinement network paints it back at full resolution; the final image is the
original luminance with the refined chroma, so several samples give several plausible colourings with
the input's detail intact.

  model.py             PixColor: adaptation network, chroma PixelCNN, the whole model; colorize
  backbones.py         the conditioning network, by `model.conditioning.backbone`: resnet,
                       resnet101 or mobilenet_v2, with pretrained weights from a file or Keras
  resnet.py            our ResNet v1 cut after its third stage (the `resnet` backbone)
  refinement.py        the refinement networks (the paper's encoder-decoder; our U-Net)
  color.py             chroma units, chroma on a luminance, resizing gray inputs
  task.py              PixColorTask: what the shared training loop needs (metrics, scalars, images)
  train.py             python -m pixcolor.train --config=experiments/configs/pixcolor_tiny.py --workdir=DIR
  colorize.py          python -m pixcolor.colorize --workdir=DIR --input=FILE_OR_DIR --output=DIR
  evaluate.py          python -m pixcolor.evaluate --workdir=DIR --output=metrics.json
  export.py            python -m pixcolor.export --workdir=DIR --output=DIR (a SavedModel)
  benchmark_target.py  PixColor's sampler for experiments/benchmarks/sampling.py

The PixelCNN layers and the cached sampler are `pixel_recursive.layers` and `pixel_recursive.sampling`,
the training loop and the commands' plumbing `pixel_recursive.training` and friends; the colorization
examples come from `data.pipeline.colorization_example`.
"""
import pixel_recursive  # pylint: disable=unused-import  (quiets TensorFlow for `python -m pixcolor.*`)
