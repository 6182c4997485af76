r"""The PixColor demo recipe: Tiny ImageNet photos at 64 x 64, an ImageNet-pretrained MobileNetV2
as conditioning network, sized for hours on a CPU. The shipped demo (pixcolor/demo/photos) is step
40,000 of this run (chosen on validation photos; docs/pixcolor_ablation.md, WORKSPACE.md).

  TINY=../shared/data/natural/tiny_imagenet   # the staged copy (WORKSPACE.md), or your own TFRecords
  python -m pixcolor.train --config=experiments/configs/pixcolor_demo.py --workdir=runs/pixcolor_demo \
      --config.data.source="tfrecord:$TINY/train-*.tfrecord,$TINY/validation-00000-of-00002.tfrecord" \
      --config.model.conditioning_weights=../shared/weights/mobilenet_v2_1.0_224_no_top_imagenet.h5 \
      --mode=train_and_eval

The layout of pixcolor_imagenet.py at CPU size: 64 x 64 photos and 16 x 16 chroma in 32 bins (the
paper: 224 and 28); the conditioning network is keras.applications' MobileNetV2 1.0, pretrained on
ImageNet (`conditioning_weights`: 'imagenet' downloads Keras' weights; offline, pass a local file as
above), seeing the gray photo enlarged to 128 x 128 and cut at output stride 8
(block_6_expand_relu, 192 channels, 16 x 16), fine-tuned from step 0 with its batch norm in
inference mode; adaptation of 64; a plain masked 7x7 convolution and 4 gated layers of 48, a 1x1 of
256; our U-Net refinement network (at this size it refines better than the paper's encoder-decoder:
L2 on 50 held-out photos after 2,000 steps 0.00130 against 0.00260; bilinear upsampling 0.00213).
Both networks train in one run. Chroma bins are dequantized uniformly within each bin for the
refinement network. Random crops (0.8-1 of the short side) and flips; no XLA and 'auto' precision
(experiments/benchmarks/training.py), batch 16, Adam 1e-3 after a 500-step warm-up, x0.3 at steps
18,000 and 40,000 (the demo's run: 24,000 steps, then resumed to 48,000 with this schedule).
Sampling defaults (`sampling`): T = 1.2, each colouring the most typical of 8 draws.
Why this conditioning: the ablation of docs/pixcolor_ablation.md (from scratch, frozen, fine-tuned,
several depths), on 1,000 validation photos after the same 3,000 steps. The run's wall time,
checkpoint choice and scores are in WORKSPACE.md ("Demo checkpoints");
`data.source` defaults to the sample photos so that the command runs from a fresh clone (too few to
learn colours from: train on Tiny ImageNet, ImageNet or your own photos).
"""
from experiments.configs import pixcolor_tiny


def get_config():
  c = pixcolor_tiny.get_config()
  c.train_steps = 48_000
  c.learning_rate = 1e-3
  c.learning_rate_drop_steps = (18_000, 40_000)
  c.learning_rate_drop_factor = 0.3
  c.warmup_steps = 500
  c.checkpoint_every_steps = 1000
  c.keep_checkpoints = 30  # The checkpoint is chosen among the last ones on validation photos.
  c.log_every_steps = 100
  c.image_every_steps = 2000
  c.histogram_every_steps = 5000
  c.eval_every_steps = 2000
  c.eval_examples = 500
  c.eval_batch_size = 100
  c.num_image_examples = 6
  c.model.conditioning.backbone = 'mobilenet_v2'
  c.model.conditioning.input_size = 128
  c.model.conditioning.features = 'stride'
  c.model.conditioning.frozen = False
  c.model.conditioning_weights = 'imagenet'
  c.data.random_crop = 0.8
  c.data.shuffle_buffer = 10_000
  # Kept for `backbone='resnet'` (the from-scratch row of the ablation).
  c.model.conditioning.blocks = (2, 2, 2)
  c.model.conditioning.width = 24
  c.model.adaptation.filters = 64
  c.model.pixelcnn.num_layers = 4
  c.model.pixelcnn.filters = 48
  # The shipped demo's sampling: each colouring the most typical of 8 draws at T = 1.2, chosen on
  # validation photos (WORKSPACE.md; T = 1 with one draw scored 0.2 dB lower on the test photos).
  c.sampling.temperature = 1.2
  c.sampling.candidates = 8
  c.model.pixelcnn.head_filters = 256
  # Our U-Net, not the paper's encoder-decoder: at this size it refines measurably better (L2 on 50
  # held-out photos after 2,000 steps: 0.00130 against 0.00260; bilinear upsampling 0.00213).
  c.model.refinement.name = 'unet'
  c.model.refinement.filters = (32, 64, 128)
  c.model.refinement.bottom_layers = 1
  return c
