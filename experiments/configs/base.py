"""Defaults shared by the super-resolution configs; each config file states what it changes."""
import ml_collections


def super_resolution():
  """Dahl et al. 2017's CelebA setting; the paper configs change only the data."""
  c = ml_collections.ConfigDict()
  c.seed = 0
  # -- optimisation (Sec. 4: RMSProp, lr 4e-4, decay 0.95, momentum 0.9, eps 1e-8; batch 32,
  #    synchronous across GPUs) --
  c.train_steps = 200_000
  c.batch_size = 32
  c.learning_rate = 4e-4
  c.optimizer = ml_collections.ConfigDict(
      dict(name='rmsprop', decay=0.95, momentum=0.9, epsilon=1e-8, weight_decay=0.0))
  c.grad_clip_norm = 0.0  # 0 = no clipping.
  # Exponential moving average of the weights for eval, samples and inference (0 = none, as the
  # paper; openai/pixel-cnn used 0.9995): pixel_recursive/training/averaging.py.
  c.ema_decay = 0.0
  c.warmup_steps = 0  # Learning rate ramped up linearly over these first steps (0 = none).
  # A workdir whose newest weights start the model ('' = none), e.g. to fine-tune a shipped model;
  # a resume restores this workdir's own checkpoint over them.
  c.init_from = ''
  c.learning_rate_drop_steps = ()  # At each of these steps the learning rate is multiplied by
  c.learning_rate_drop_factor = 1.0  # this factor (neither paper states a schedule).
  c.xla = True  # Compile the forward/backward pass (turned off automatically on logical CPUs).
  # 'float32' (the paper's), 'mixed_bfloat16' (float32 weights, bfloat16 maths; logits and losses stay
  # float32) or 'auto' (bfloat16 where the hardware computes it natively; training/precision.py).
  c.dtype_policy = 'float32'
  # -- bookkeeping --
  c.checkpoint_every_steps = 1000
  c.keep_checkpoints = 3
  c.log_every_steps = 100
  c.image_every_steps = 5000
  c.histogram_every_steps = 5000
  c.eval_every_steps = 5000  # Used by --mode=train_and_eval.
  c.eval_examples = 1000  # The first N of the eval split (all of a smaller one; 0: all), scored.
  c.eval_batch_size = 64
  c.eval_timeout_seconds = 3600  # --mode=eval gives up after this long without a new checkpoint.
  c.num_image_examples = 8
  c.sample_temperatures = (1.0, 0.9, 0.8)  # Columns of the TensorBoard sample grid.
  # What `upsample`, `evaluate`, `export`, the demo and the notebook sample with when no flag says
  # otherwise (recorded in config.json): draws from softmax((guidance * A + B) / temperature).
  # guidance = 1 is the paper's model; > 1 is our extension (README, "Guidance"). candidates = N > 1
  # keeps the most typical of N draws per sample (pixel_recursive/candidates.py); 1 is one draw.
  c.sampling = ml_collections.ConfigDict(dict(temperature=1.0, guidance=1.0, candidates=1))
  # -- data (data/pipeline.py) --
  c.data = ml_collections.ConfigDict(dict(
      source='tfds:celeb_a',
      crop='celeba',  # The central 138 x 138 of the aligned 178 x 218 images.
      highres_size=32,
      lowres_size=8,
      resize_method='area',
      shuffle_buffer=10_000,
      cache=False,
      random_flip=False,  # Training only: flip examples left-right with probability 1/2.
      # Training only: with random_zoom_probability, zoom into the central [random_zoom, 1] of the
      # (cropped) image, so that faces framed tighter than the data's are met too (0 = off).
      random_zoom=0.0,
      random_zoom_probability=1.0,
      # Training only, super-resolution: turn this fraction of the examples to gray (input and
      # truth), so that black-and-white photos are met too (0 = off).
      random_grayscale=0.0,
      tfds_data_dir='',
      tfds_manual_dir='',
      tfds_download=True,
      tfds_train_split='train',
      tfds_eval_split='validation',
  ))
  # -- model (pixel_recursive/model.py) --
  c.model = ml_collections.ConfigDict(dict(
      name='super_resolution',
      num_values=256,
      # Conditioning network: ResNet blocks of 32 channels at 8x8, 16x16 and 32x32 joined by two
      # stride-2 transposed convolutions, then a 1x1 convolution to 3 x 256 logits.
      conditioning=ml_collections.ConfigDict(dict(filters=32, blocks=(6, 6, 6))),
      # Prior: 20 gated PixelCNN layers of 32 channels.
      prior=ml_collections.ConfigDict(dict(
          num_layers=20, filters=32, kernel_size=5, first_kernel_size=7, head_filters=256)),
  ))
  return c
