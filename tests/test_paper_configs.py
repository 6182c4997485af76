"""Every paper config builds the model it describes: celeba_8x32, bedrooms_8x32, celeba_8x32_l2
(Dahl et al. 2017) and pixcolor_imagenet (Guadarrama et al. 2017). Each is built as training builds
it, runs one forward pass on a tiny batch, and its weights have the shapes the config states."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers
from pixcolor import model as pixcolor_model
from pixcolor import refinement as refinement_lib
from pixcolor import task as pixcolor_task
from pixel_recursive import layers
from pixel_recursive import model as sr_model
from pixel_recursive import task as sr_task

SR_CONFIGS = ['celeba_8x32', 'bedrooms_8x32', 'celeba_8x32_l2']


def shapes(model):
  """(path below the model's own name, shape) of every weight."""
  return [(v.path.split('/', 1)[1], tuple(v.shape)) for v in model.weights]


def sr_batch(n=2, seed=0):
  rng = np.random.default_rng(seed)
  return {'lowres': rng.integers(0, 256, [n, 8, 8, 3]).astype(np.uint8),
          'highres': rng.integers(0, 256, [n, 32, 32, 3]).astype(np.uint8)}


@pytest.fixture(scope='module')
def sr_models():
  built = {}
  for name in SR_CONFIGS:
    config = helpers.load_config(name)
    keras.utils.set_random_seed(config.seed)
    built[name] = (sr_task.SuperResolutionTask(config).build_model(config.model), config)
  return built


def check_conditioning_network(net, c, out_width):
  """The conditioning ResNet of Sec. 3.2: a 3x3 stem, c.blocks residual blocks of c.filters at 8x8,
  16x16 and 32x32 joined by stride-2 transposed convolutions, a 1x1 to `out_width` outputs."""
  f = c.filters
  assert tuple(net.stem.kernel.shape) == (3, 3, 3, f)
  assert len(net.stages) == len(c.blocks) == 3
  for level, (stage, count) in enumerate(zip(net.stages, c.blocks)):
    blocks = [l for l in stage if isinstance(l, sr_model.ResidualBlock)]
    ups = [l for l in stage if isinstance(l, keras.layers.Conv2DTranspose)]
    assert len(blocks) == count
    for block in blocks:
      assert tuple(block.conv1.kernel.shape) == tuple(block.conv2.kernel.shape) == (3, 3, f, f)
    assert len(ups) == (level < 2)
    for up in ups:
      assert tuple(up.kernel.shape) == (3, 3, f, f) and tuple(up.strides) == (2, 2)
  assert tuple(net.out.kernel.shape) == (1, 1, f, out_width)


@pytest.mark.parametrize('name', ['celeba_8x32', 'bedrooms_8x32'])
def test_super_resolution_configs_build_the_papers_model(sr_models, name):
  model, config = sr_models[name]
  c = config.model
  assert isinstance(model, sr_model.SuperResolution) and model.num_values == c.num_values == 256
  check_conditioning_network(model.conditioning, c.conditioning, 3 * 256)
  assert tuple(c.conditioning.blocks) == (6, 6, 6) and c.conditioning.filters == 32
  # The prior: 20 gated layers of 32 (Sec. 3.1), the first 7x7 through mask A, then 5x5.
  p, prior = c.prior, model.prior
  assert (p.num_layers, p.filters, p.kernel_size, p.first_kernel_size) == (20, 32, 5, 7)
  assert [type(b) for b in prior.blocks] == [layers.GatedBlock] * p.num_layers
  for i, block in enumerate(prior.blocks):
    k = p.first_kernel_size if i == 0 else p.kernel_size
    channels = 3 if i == 0 else p.filters
    assert block.kernel_size == k and block.first == (i == 0)
    assert tuple(block.v_conv.kernel.shape) == (k // 2 + 1, k, channels, 2 * p.filters)
    assert tuple(block.h_conv.kernel.shape) == (1, k // 2 + 1, channels, 2 * p.filters)
    assert block.h_conv.mask_type == ('A' if i == 0 else 'B')
  assert tuple(prior.head.hidden.kernel.shape) == (1, 1, p.filters, p.head_filters)
  assert tuple(prior.head.logits.kernel.shape) == (1, 1, p.head_filters, 3 * 256)

  logits, aux = model(sr_batch())
  assert logits.shape == (2, 32, 32, 3, 256) and aux['conditioning_logits'].shape == logits.shape
  for key in ('loss', 'nats', 'nats_conditioning', 'nats_prior'):
    assert aux[key].shape == (2,) and np.all(np.isfinite(aux[key])) and np.all(aux[key] > 0), key
  np.testing.assert_allclose(aux['loss'], aux['nats'] + aux['nats_conditioning'], rtol=1e-5)


def test_bedrooms_differ_from_celeba_only_in_the_data(sr_models):
  celeba, bedrooms = helpers.load_config('celeba_8x32'), helpers.load_config('bedrooms_8x32')
  assert bedrooms.data.source == 'tfds:lsun/bedroom' and celeba.data.source == 'tfds:celeb_a'
  assert bedrooms.model.to_dict() == celeba.model.to_dict()
  assert shapes(sr_models['bedrooms_8x32'][0]) == shapes(sr_models['celeba_8x32'][0])
  for key in ('learning_rate', 'batch_size', 'optimizer', 'train_steps'):
    assert bedrooms[key] == celeba[key], key


def test_l2_config_builds_the_regression_baseline_on_the_same_conditioning_network(sr_models):
  model, config = sr_models['celeba_8x32_l2']
  assert isinstance(model, sr_model.L2Regression) and config.model.name == 'l2_regression'
  assert tuple(config.sample_temperatures) == ()  # Nothing to sample.
  check_conditioning_network(model.conditioning, config.model.conditioning, 3)
  # Its conditioning network is the super-resolution model's but for the output layer.
  sr = sr_models['celeba_8x32'][0].conditioning
  assert shapes(model.conditioning)[:-2] == shapes(sr)[:-2]
  prediction, aux = model(sr_batch())
  assert prediction.shape == (2, 32, 32, 3)
  assert aux['mse'].shape == (2,) and np.all(np.isfinite(aux['mse']))
  images = model.predict_images(sr_batch()['lowres'])
  assert images.dtype == tf.uint8 and images.shape == (2, 32, 32, 3)


# ----------------------------------------------------------------------------------------------
# pixcolor_imagenet: ResNet-101 to conv4, the adaptation network, the PixelCNN, the refinement.
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def pixcolor():
  config = helpers.load_config('pixcolor_imagenet')
  keras.utils.set_random_seed(config.seed)
  pixcolor_task.PixColorTask(config)  # The config passes the task's checks.
  # Random weights: the ImageNet ones the config names need internet (test_backbones.py loads files).
  model = pixcolor_model.build_model(config.model)
  return model, config


def test_pixcolor_config_sizes_and_a_forward_pass(pixcolor):
  model, config = pixcolor
  c = config.model
  assert isinstance(model, pixcolor_model.PixColor)
  assert (model.image_size, model.chroma_size, model.num_bins) == (224, 28, 32)
  assert (c.image_size, c.chroma_size, c.num_bins) == (224, 28, 32)
  assert config.data.image_size == 224 and config.data.chroma_size == 28  # Linked to the model's.
  assert model.dequantization == c.dequantization
  rng = np.random.default_rng(0)
  image = rng.integers(0, 256, [1, 224, 224, 3]).astype(np.uint8)
  batch = {'gray': image[..., :1], 'image': image,
           'chroma': rng.integers(0, 32, [1, 28, 28, 2]).astype(np.int32)}
  logits, aux = model(batch)
  assert logits.shape == (1, 28, 28, 2, 32)
  assert aux['conditioning'].shape == (1, 28, 28, c.adaptation.filters)
  assert aux['refined'].shape == (1, 224, 224, 2)
  for key in ('loss', 'nats', 'refinement_mse'):
    assert aux[key].shape == (1,) and np.all(np.isfinite(aux[key])), key
  # Untrained: about uniform over 32 bins, 5 bits.
  assert 3.0 < float(aux['nats'][0]) / np.log(2) < 8.0


def test_paper_resnet101_gives_28x28x1024_from_224(pixcolor):
  model, config = pixcolor
  cond = config.model.conditioning
  # The paper's choice: ResNet-101, ImageNet-pretrained (Keras downloads the weights online).
  assert cond.backbone == 'resnet101' and config.model.conditioning_weights == 'imagenet'
  resnet = model.backbone
  features = resnet(tf.zeros([1, 224, 224, 1], tf.uint8))
  assert features.shape == (1, 28, 28, 1024) and resnet.output_stride == 8
  assert resnet.count_params() > 27_000_000  # ResNet-101 up to conv4: 27.7M weights.
  assert [len(s) for s in resnet.stages] == [3, 4, 23]
  conv4 = resnet.stages[2]
  assert all(b.conv2.dilation_rate == (2, 2) for b in conv4)
  assert conv4[0].stride == 1
  # The adaptation network: three 3x3 convolutions of 64 on [features, Y at 28 x 28].
  a = config.model.adaptation
  assert (a.num_layers, a.filters) == (3, 64)
  assert [tuple(conv.kernel.shape) for conv in model.adaptation.convs] == [
      (3, 3, 1024 + 1, 64), (3, 3, 64, 64), (3, 3, 64, 64)]


def test_refinement_layer_table_matches_the_config(pixcolor):
  model, config = pixcolor
  refinement = model.refinement
  assert isinstance(refinement, refinement_lib.EncoderDecoderRefinement)
  out = refinement(tf.zeros([1, 224, 224, 1], tf.uint8), tf.fill([1, 28, 28, 2], 128.0))
  assert out.shape == (1, 224, 224, 2)
  want = [refinement_lib.parse_refinement_layer(spec) for spec in config.model.refinement.layers]
  assert refinement.layer_table() == want + [('conv', 1, 2, 1)]
  # The spatial sizes the table promises: stride-2 convolutions 224 -> 7, then x4 and x4 to 112.
  sizes, size = [], 224
  for entry in want:
    size = size // entry[3] if entry[0] == 'conv' else size * entry[1]
    sizes.append(size)
  assert sizes == [112, 112, 56, 56, 28, 28, 14, 7, 7, 28, 28, 112, 112]
  assert ('conv', 5, 1024, 1) in want  # The 5x5 of 1024 at 7 x 7.
  assert not refinement.residual  # The paper's network predicts the chroma outright.
  params = sum(int(np.prod(v.shape)) for v in refinement.trainable_variables)
  assert 15e6 < params < 50e6, params  # "Tens of millions of weights."


def test_paper_pixelcnn_is_a_masked_7x7_convolution_then_10_gated_layers(pixcolor):
  model, config = pixcolor
  p, net = config.model.pixelcnn, model.pixelcnn
  assert isinstance(net.blocks[0], layers.MaskedStem) and net.blocks[0].kernel_size == 7
  assert tuple(net.blocks[0].v_conv.kernel.shape) == (3, 7, 2, 64)
  assert net.blocks[0].h_conv.mask_type == 'A'
  assert [type(b) for b in net.blocks[1:]] == [layers.GatedBlock] * 10
  assert all(b.kernel_size == 5 and b.filters == 64 and b.conditional for b in net.blocks[1:])
  assert all(tuple(b.cond_h.kernel.shape) == (64, 128) for b in net.blocks[1:])
  assert net.head.hidden_filters == 1024 == p.head_filters
  assert tuple(net.head.logits.kernel.shape) == (1, 1, 1024, 2 * 32)


@pytest.mark.parametrize('name,kind', [('faces_tiny', 'faces'), ('pixcolor_tiny', 'photos')])
def test_tiny_configs_fit_the_sample_images_they_train_on_from_a_fresh_clone(name, kind):
  """The tiny configs' default source is `samples:...`: its eval split must hold the image grid's
  examples (the training loop draws them from there and stops when there are fewer)."""
  from data import samples  # pylint: disable=g-import-not-at-top
  config = helpers.load_config(name)
  assert config.data.source == f'samples:{kind}'
  assert len(samples.load(kind, 'eval')) >= config.num_image_examples


# ----------------------------------------------------------------------------------------------
# How the paper configs train: the optimisation each paper states, and nothing of ours switched on.
# ----------------------------------------------------------------------------------------------
PAPERS_TRAINING = {
    # Dahl et al. 2017, Sec. 4: RMSProp, lr 4e-4, decay 0.95, momentum 0.9, eps 1e-8, batch 32.
    'celeba_8x32': dict(optimizer=dict(name='rmsprop', decay=0.95, momentum=0.9, epsilon=1e-8,
                                       weight_decay=0.0),
                        learning_rate=4e-4, batch_size=32, train_steps=200_000),
    # Guadarrama et al. 2017: Adam, lr 3e-4, global batch 64 (8 GPUs x 8), 360k steps (betas and
    # epsilon: Adam's usual defaults, which the paper does not change).
    'pixcolor_imagenet': dict(optimizer=dict(name='adam', beta1=0.9, beta2=0.999, epsilon=1e-7,
                                             weight_decay=0.0),
                              learning_rate=3e-4, batch_size=64, train_steps=360_000),
}
PLAIN_TRAINING = dict(dtype_policy='float32', ema_decay=0.0, grad_clip_norm=0.0, warmup_steps=0,
                      learning_rate_drop_steps=(), learning_rate_drop_factor=1.0, init_from='')


@pytest.mark.parametrize('name', SR_CONFIGS + ['pixcolor_imagenet'])
def test_paper_configs_train_as_the_paper_states_with_none_of_our_extensions(name):
  """The README and the configs' docstrings promise the papers' optimisation; the models' shapes
  were pinned, these were not (a learning rate of 3e-4 in base.py passed every test). Our additions
  (mixed precision, weight averaging, clipping, warm-up, a schedule, guidance, several draws, the
  nucleus) stay off, so that a run of a paper config is the paper's."""
  config = helpers.load_config(name)
  paper = PAPERS_TRAINING['pixcolor_imagenet' if name == 'pixcolor_imagenet' else 'celeba_8x32']
  got = {key: config[key].to_dict() if key == 'optimizer' else config[key] for key in paper}
  assert got == paper
  assert {key: config[key] for key in PLAIN_TRAINING} == PLAIN_TRAINING
  sampling = config.sampling.to_dict()
  assert sampling.pop('temperature') == 1.0 and sampling.pop('candidates') == 1
  assert sampling.pop('guidance', 1.0) == 1.0 and sampling.pop('top_p', 1.0) == 1.0
  assert not sampling  # Nothing else changes how the commands sample.
  if name == 'pixcolor_imagenet':  # A pretrained network, no gradient for its first 100k steps.
    c = config.model.conditioning
    assert config.model.conditioning_weights == 'imagenet'
    assert (c.backbone, c.frozen, c.gradient_start_step) == ('resnet101', False, 100_000)
    assert (config.data.source, config.data.crop) == ('tfds:imagenet2012', 'center')
  else:  # The central 138 x 138 of CelebA's aligned faces; LSUN's bedrooms: the central square.
    assert config.data.crop == ('center' if name.startswith('bedrooms') else 'celeba')
    assert config.data.resize_method == 'area'
    assert not config.data.random_flip and config.data.random_zoom == 0
    assert config.data.random_grayscale == 0
