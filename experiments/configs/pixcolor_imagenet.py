r"""PixColor on ImageNet at the paper's size (Guadarrama et al. 2017, Sec. 3-4).

  python -m pixcolor.train --config=experiments/configs/pixcolor_imagenet.py \
      --workdir=~/runs/pixcolor_imagenet --strategy=mirrored
  python -m pixcolor.colorize --workdir=~/runs/pixcolor_imagenet --input=old_photos/ \
      --output=colorized/ --num_samples=4

Data: TFDS `imagenet2012` (a manual download; the data source error says how), the largest centred
square of each photo area-resized to 224 x 224; its BT.601 luminance Y is the input, its Cb, Cr
area-downsampled to 28 x 28 and quantized to 32 bins each are the PixelCNN's targets, and the full
224 x 224 colour image is the refinement network's target.

Model (pixcolor/model.py): ResNet-101 truncated after conv4 (blocks 3, 4, 23; 1024 channels), output
stride 8 with conv4 dilated (224 -> 28); adaptation network of three 3x3 convolutions of 64 channels
on [features, Y at 28 x 28]; conditional PixelCNN over the 28 x 28 x 2 chroma (a plain masked 7x7
convolution, then 10 gated 5x5 layers of 64, a 1x1 of 1024 and a 1x1 to 2 x 32 logits); chroma order
Cb then Cr within a pixel (the paper uses Cr then Cb). Refinement: an encoder-decoder without skips
from 224 down to 7 x 7 and back by bilinear upsampling (model.refinement.layers). The paper's
conditioning network was pretrained (for segmentation; ImageNet classification weights are what
Keras offers: `conditioning_weights='imagenet'`, the default, downloads them) and gets no gradient
for its first 100k steps. Offline, pass the file with --config.model.conditioning_weights=PATH
(Keras' resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5, or a .weights.h5 saved from this
network); to train from scratch set conditioning_weights='' and
--config.model.conditioning.gradient_start_step=0, or the random network stays frozen for 100k
steps.

Optimisation as the paper: Adam, lr 3e-4, global batch 64 (8 GPUs x 8), 360k steps; both networks
trained in the same loop, with no gradient between them. To train them one after the other, set
--config.train_refinement=False in a first workdir, then --config.train_pixelcnn=False
--config.init_from=FIRST_WORKDIR in a second (keep train_* fixed within a workdir).

Expect: this setting has not been run here (it needs ImageNet and GPUs). The paper reports colour
histogram intersections of .93 (a) and .93 (b) against the truth (Fig. 7) and most MS-SSIM values
between two samples of one input between .95 and .99 (Fig. 8); `python -m pixcolor.evaluate` computes
the same measures.
"""
import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.seed = 0
  # -- what to train: the PixelCNN (with its conditioning and adaptation networks) and/or the
  #    refinement network; they share no weights, so either can be trained alone. --
  c.train_pixelcnn = True
  c.train_refinement = True
  # A workdir whose newest weights initialise the model ('' = none): to train one network after
  # the other, train the second in a new workdir from the first (keep train_* fixed per workdir).
  c.init_from = ''
  # -- optimisation (Sec. 4: Adam, lr 3e-4, batch 64 as 8 GPUs x 8, 360k steps) --
  c.train_steps = 360_000
  c.batch_size = 64
  c.learning_rate = 3e-4
  c.optimizer = ml_collections.ConfigDict(dict(name='adam', beta1=0.9, beta2=0.999, epsilon=1e-7,
                                               weight_decay=0.0))
  c.grad_clip_norm = 0.0  # 0 = no clipping.
  # Exponential moving average of the weights for eval, samples and inference (0 = none, as the
  # paper; openai/pixel-cnn used 0.9995): pixel_recursive/training/averaging.py.
  c.ema_decay = 0.0
  c.warmup_steps = 0  # Learning rate ramped up linearly over these first steps (0 = none).
  c.learning_rate_drop_steps = ()  # At each of these steps the learning rate is multiplied by
  c.learning_rate_drop_factor = 1.0  # this factor (neither paper states a schedule).
  c.xla = True
  # -- bookkeeping --
  c.checkpoint_every_steps = 2000
  c.keep_checkpoints = 3
  c.log_every_steps = 100
  c.image_every_steps = 10_000
  c.histogram_every_steps = 10_000
  c.eval_every_steps = 10_000  # Used by --mode=train_and_eval.
  c.eval_examples = 1000
  c.eval_batch_size = 64
  c.eval_timeout_seconds = 3600 * 3
  c.num_image_examples = 8
  c.num_image_samples = 2  # Colourings per example in the image summaries.
  c.sample_temperature = 1.0  # Of the image summaries.
  # What `colorize`, `evaluate`, `export`, the demo and the notebook sample with when no flag says
  # otherwise (recorded in config.json). `candidates` N > 1 keeps the most typical of N draws per
  # colouring (pixel_recursive/candidates.py; our choice); the paper draws once.
  c.sampling = ml_collections.ConfigDict(dict(temperature=1.0, candidates=1))
  # 'float32' (the paper's), 'mixed_bfloat16' (float32 weights, bfloat16 maths; logits and losses stay
  # float32) or 'auto' (bfloat16 where the hardware computes it natively; training/precision.py).
  c.dtype_policy = 'float32'
  # -- model (pixcolor/model.py) --
  c.model = ml_collections.ConfigDict(dict(
      name='pixcolor',
      image_size=224,
      chroma_size=28,
      num_bins=32,
      # The conditioning backbone (pixcolor/backbones.py): 'resnet101' is the paper's, ResNet-101
      # conv1..conv4 in keras.applications' layout with conv4 dilated (output stride 8);
      # 'mobilenet_v2' the CPU-size pretrained one; 'resnet' ours, sized by blocks and width below.
      # input_size: the side a keras.applications backbone sees the gray photo at (0: image_size);
      # features: 'stride' (cut at the grid's stride) or 'multi' (several depths resized to the
      # grid); frozen: keep the backbone fixed (else fine-tuned, from gradient_start_step on).
      conditioning=ml_collections.ConfigDict(dict(
          backbone='resnet101', input_size=0, features='stride', frozen=False,
          blocks=(3, 4, 23), width=64, max_pool=True, dilate_last=True, bn_momentum=0.99,
          # The paper's gradient multiplier: the (pretrained) conditioning network gets no gradient
          # until gradient_start_step, then its gradients are scaled by gradient_multiplier. The
          # factor after that step is not known here (the paper was not at hand): 1.0. Training from
          # scratch (no conditioning_weights), set gradient_start_step=0.
          gradient_multiplier=1.0, gradient_start_step=100_000)),
      # A local weights file (Keras' resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5,
      # mobilenet_v2_1.0_224_no_top_imagenet.h5, ...), 'imagenet' (Keras downloads them: needs
      # internet) or '' (train from scratch). The paper's network is ImageNet-pretrained.
      conditioning_weights='imagenet',
      adaptation=ml_collections.ConfigDict(dict(filters=64, num_layers=3)),
      # A plain masked 7x7 convolution, then 10 gated layers of 5x5, a 1x1 of 1024, the logits.
      pixelcnn=ml_collections.ConfigDict(dict(
          num_layers=10, filters=64, kernel_size=5, first_kernel_size=7, head_filters=1024,
          first_layer='masked_conv')),
      # name='encoder_decoder' (pixcolor/refinement.py, EncoderDecoderRefinement), the paper's kind:
      # no skips; stride-2 convolutions 224 -> 28, further down to 7 x 7 and a 5x5 of 1024 there,
      # then bilinear upsampling stages of 64 and 32 filters, a 1x1 to Cb, Cr, resized to 224.
      # name='unet' (UNetRefinement, ours): `filters` per level, `bottom_layers` at the bottom.
      refinement=ml_collections.ConfigDict(dict(
          name='encoder_decoder',
          layers=('conv3x3-64-s2', 'conv3x3-128', 'conv3x3-128-s2', 'conv3x3-256',
                  'conv3x3-256-s2', 'conv3x3-512', 'conv3x3-512-s2', 'conv3x3-512-s2',
                  'conv5x5-1024', 'up4', 'conv3x3-64', 'up4', 'conv3x3-32'),
          residual=False,
          filters=(32, 64, 128, 256),
          bottom_layers=2)),
      # How sampled chroma bins become values for the refinement network: 'uniform' (ours) draws
      # each value within its bin, 'centre' takes the bin centre (pixcolor/model.py, dequantize).
      dequantization='uniform',
      pixelcnn_loss_weight=1.0,
      refinement_loss_weight=1.0,
  ))
  # -- data (data/pipeline.py); sizes are the model's, linked so one override changes both --
  c.data = ml_collections.ConfigDict(dict(
      source='tfds:imagenet2012',
      crop='center',
      image_size=c.model.get_ref('image_size'),
      chroma_size=c.model.get_ref('chroma_size'),
      num_bins=c.model.get_ref('num_bins'),
      shuffle_buffer=10_000,
      cache=False,
      # Training only: random squares of [random_crop, 1] x the short side (instead of `crop`) and
      # left-right flips. Never applied to eval.
      random_crop=0.6,
      random_flip=True,
      tfds_data_dir='',
      tfds_manual_dir='',
      tfds_download=True,
      tfds_train_split='train',
      tfds_eval_split='validation',
  ))
  return c
