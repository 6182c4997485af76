r"""How much colour a PixColor model's conditioning carries: an L2 regression on its features.

  python experiments/colour_regression_bound.py \
      --train=tfrecord:$TINY/train-*.tfrecord \
      --eval=tfrecord:$TINY/validation-00000-of-00002.tfrecord --num_examples=500 \
      --output=docs/pixcolor_regression_bound.json      # TINY=../shared/data/natural/tiny_imagenet

The samples' pSNR is the model mean's error plus the colourings' variance (WORKSPACE.md, the PixColor
card). This asks what mean the model's conditioning could give at best: a small convolutional head
(3x3 conv 128, ReLU, 3x3 conv 128, ReLU, 1x1 conv 2) is trained by mean squared error, on the frozen
conditioning features of the model (`PixColor.conditioning`, what its PixelCNN sees at each chroma
pixel), to predict the true low-resolution chroma (Cb, Cr area-downsampled to the chroma grid), on
the training photos with the model's crops and flips (Adam, --steps at --batch_size). On the eval
photos, the regressed chroma goes through the model's own refinement network onto the photo's
luminance, as a sample's chroma does, and is scored beside the gray input, one colouring at the
model's sampling defaults, and the per-pixel mean of --colourings colourings at T = 1 (one draw
each: about the model's own mean). The refined true chroma bounds them all from above. Prints the
table, writes the JSON (--output) and prints it as one line.
"""
import json
import os
import sys

from absl import flags
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string('workdir', None, 'PixColor workdir (default: the shipped demo model).')
  flags.DEFINE_string('train', None, 'Data source of the training photos (its train split).')
  flags.DEFINE_string('eval', None, 'Data source of the eval photos (its eval split).')
  flags.DEFINE_integer('num_examples', 500, 'Eval photos (the first colour ones).', lower_bound=1)
  flags.DEFINE_integer('steps', 3000, 'Training steps of the head.', lower_bound=1)
  flags.DEFINE_integer('batch_size', 64, 'Training batch.', lower_bound=1)
  flags.DEFINE_integer('eval_batch_size', 100, 'Eval photos scored at once (each photo is seeded '
                       'by its place among them all, whatever the batch).', lower_bound=1)
  flags.DEFINE_float('learning_rate', 1e-3, 'Adam learning rate of the head.')
  flags.register_validator('learning_rate', lambda rate: 0 < rate < float('inf'),
                           message='must be a positive number (0 trained nothing for 3000 steps)')
  flags.DEFINE_integer('colourings', 8, 'Colourings at T = 1 whose per-pixel mean is scored.',
                       lower_bound=1)
  flags.DEFINE_string('output', None, 'JSON file of the results.')
  flags.mark_flags_as_required(['train', 'eval'])


def make_head():
  import keras  # pylint: disable=g-import-not-at-top
  return keras.Sequential([
      keras.layers.Conv2D(128, 3, padding='same', activation='relu'),
      keras.layers.Conv2D(128, 3, padding='same', activation='relu'),
      keras.layers.Conv2D(2, 1),
  ], name='chroma_head')


def train_head(model, config, head):
  """Fits `head` (conditioning -> chroma in [-1, 1] units) on the training photos by L2; returns
  the mean L2 of its last 250 steps and the number of steps taken."""
  import keras  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from absl import logging  # pylint: disable=g-import-not-at-top
  from data import pipeline  # pylint: disable=g-import-not-at-top
  from data import transforms  # pylint: disable=g-import-not-at-top
  from pixcolor import color  # pylint: disable=g-import-not-at-top
  from pixel_recursive import commands  # pylint: disable=g-import-not-at-top
  data = config.data.copy_and_resolve_references()
  data.source = FLAGS.train
  ds = pipeline.make_dataset(data, 'colorization', 'train', FLAGS.batch_size, training=True)
  conditioning = model.compiled_network('conditioning')
  optimizer = keras.optimizers.Adam(FLAGS.learning_rate)
  size = model.chroma_size

  @tf.function
  def step(features, target):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(tf.square(head(features) - target))
    grads = tape.gradient(loss, head.trainable_variables)
    optimizer.apply_gradients(zip(grads, head.trainable_variables))
    return loss

  losses = []
  for n, batch in enumerate(ds.take(FLAGS.steps)):
    _, cbcr = transforms.split_luma_chroma(batch['image'], size)  # As the pipeline's 'chroma'.
    losses.append(float(step(conditioning(batch['gray']), color.scale_chroma(cbcr))))
    if (n + 1) % 250 == 0:
      logging.info('step %d: L2 %.5f (mean of the last 250)', n + 1, np.mean(losses[-250:]))
      commands.log_progress(n + 1, FLAGS.steps, 'trained')
  return float(np.mean(losses[-250:])), len(losses)


def score(model, config, head):
  """pSNR (dB, mean over photos) of each way of colouring the eval photos."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from pixcolor import color  # pylint: disable=g-import-not-at-top
  from pixcolor import evaluate  # pylint: disable=g-import-not-at-top
  from pixel_recursive import commands  # pylint: disable=g-import-not-at-top
  from pixel_recursive import evaluation  # pylint: disable=g-import-not-at-top
  from pixel_recursive import metrics  # pylint: disable=g-import-not-at-top
  from pixel_recursive import sampling  # pylint: disable=g-import-not-at-top
  data = config.data.copy_and_resolve_references()
  data.source = FLAGS.eval
  eval_config = config.copy_and_resolve_references()
  eval_config.data = data
  temperature = commands.sampling_setting(config, 'temperature', None)
  candidates = commands.sampling_setting(config, 'candidates', None)
  top_p = commands.sampling_setting(config, 'top_p', None)
  refine = model.compiled_network('refine')
  values = {k: [] for k in ('gray_input', 'regression', 'one_colouring_at_defaults',
                            'mean_of_colourings_t1', 'refined_true_chroma')}
  count = 0
  for batch, n in evaluation.batches(eval_config, 'colorization', FLAGS.num_examples,
                                     FLAGS.eval_batch_size, what='scored'):
    gray, truth = batch['gray'], batch['image']
    chroma = color.unscale_chroma(head(model.compiled_network('conditioning')(gray)))
    outputs = {'gray_input': np.repeat(gray, 3, axis=-1),
               'regression': model.combine(gray, refine(gray, chroma)),
               'refined_true_chroma': model.combine(gray, model.refine(
                   gray, batch['chroma'], evaluate.true_chroma_seeds(0, count, len(gray))))}
    seeds = [sampling.derive_seed(0, count + b, 0) for b in range(len(gray))]
    bins = model.sample_chroma(gray, seeds, temperature, top_p=top_p, candidates=candidates)
    outputs['one_colouring_at_defaults'] = model.combine(gray, model.refine(gray, bins, seeds))
    total = np.zeros(truth.shape, np.float64)
    for k in range(FLAGS.colourings):
      seeds = [sampling.derive_seed(1, count + b, k) for b in range(len(gray))]
      bins = model.sample_chroma(gray, seeds, 1.0)
      total += model.combine(gray, model.refine(gray, bins, seeds)).numpy()
    outputs['mean_of_colourings_t1'] = tf.constant(total / FLAGS.colourings, tf.float32)
    for name, out in outputs.items():
      values[name].extend(metrics.psnr(out, truth).numpy()[:n].tolist())
    count += n
  defaults = {'temperature': temperature, 'top_p': top_p, 'candidates': candidates}
  return {name: metrics.finite_mean(v) for name, v in values.items()}, count, defaults


def main(argv):
  del argv
  from pixcolor import model as model_lib  # pylint: disable=g-import-not-at-top
  from pixel_recursive import commands  # pylint: disable=g-import-not-at-top
  from pixel_recursive import workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  # Before the head's 3,000 steps: a wrong source or --output ended the run after them.
  for flag in ('train', 'eval'):
    commands.check_source(FLAGS[flag].value, f'--{flag}')
  if FLAGS.output:
    commands.check_output_file(FLAGS.output)
  workdir = workdir_lib.resolve(FLAGS.workdir, model_lib.DEMO_WORKDIR)
  model, config, step = workdir_lib.restore(workdir, model_lib.build_model)
  head = make_head()
  final_l2, head_steps = train_head(model, config, head)
  psnr, count, defaults = score(model, config, head)
  results = {'workdir': workdir, 'step': step, 'train': FLAGS.train, 'eval': FLAGS.eval,
             'num_examples': count, 'head_steps': head_steps, 'batch_size': FLAGS.batch_size,
             'learning_rate': FLAGS.learning_rate, 'head_train_l2_last_250': final_l2,
             'colourings_in_mean': FLAGS.colourings,
             'defaults': defaults, 'psnr': psnr}
  print('| colouring | pSNR (dB) | minus the gray input\'s |\n|---|---|---|')
  for name, value in psnr.items():
    print(f'| {name} | {value:.2f} | {value - psnr["gray_input"]:+.2f} |')
  if FLAGS.output:
    with open(FLAGS.output, 'w') as f:
      json.dump(results, f, indent=2)
      f.write('\n')
  print(json.dumps(results), flush=True)


if __name__ == '__main__':
  from data import errors  # pylint: disable=g-import-not-at-top
  from pixel_recursive import commands  # pylint: disable=g-import-not-at-top
  define_flags()
  commands.run(main, user_errors=(errors.DataSourceError,))  # A source named but unreadable.
