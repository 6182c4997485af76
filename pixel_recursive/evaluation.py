"""The evaluate-command skeleton both papers share: flags, the run to evaluate, every requested eval
example in fixed-size batches, and the JSON / Markdown / plot / TensorBoard outputs.

A paper's `evaluate.py` supplies what to measure; this module makes the two commands behave alike:
  --workdir=DIR --output=metrics.json [--num_examples=N] [--seed=S] [--batch_size=B]
  --model=NAME                    instead of --workdir: a shipped demo model (super-resolution:
                                  faces or bedrooms; PixColor: photos)
  [--config.data.source=SOURCE]   evaluate on another source than the run's (e.g. `samples` from a
                                  fresh clone, to re-run a model card's numbers)
writing metrics.json, metrics.md (the table) and metrics.png (the plot) beside each other, and the
same numbers to TensorBoard under the workdir's `evaluate` run (a shipped demo's: an `evaluate`
folder beside --output instead, never inside the installed package; a run that cannot be written
to, e.g. read-only, gets a warning instead). A --workdir of another model's run is a usage error
that names the command for it.
"""
import json
import os
import sys

from absl import flags
from absl import logging
import numpy as np

from pixel_recursive import checkpoint_files
from pixel_recursive import commands
from pixel_recursive import workdir as workdir_lib

FLAGS = flags.FLAGS


@commands.command_flags()
def define_flags(what):
  """The flags every evaluate command has; `what` names the run kind (a key of DEMOS)."""
  import ml_collections
  from ml_collections import config_flags
  flags.DEFINE_string('workdir', None, f'Training workdir of a {what} run.')
  commands.define_model_flag(list(DEMOS[what]), default_text='none: give it or --workdir')
  flags.DEFINE_string('output', None, 'Path of the metrics JSON file; the table (.md) and the plot '
                      '(.png) are written beside it.')
  flags.DEFINE_integer('num_examples', None, 'Eval examples to score, all of them, the last batch '
                       "included (default: the config's eval_examples, else 1000).", lower_bound=1)
  flags.DEFINE_integer('seed', 0, 'Sampling seed; example i, sample k is seeded '
                       'sampling.derive_seed(seed, i, k).')
  flags.DEFINE_integer('batch_size', 32, 'Examples sampled at once.', lower_bound=1)
  flags.DEFINE_float('top_p', None, 'Nucleus of every sampling setting: draw each value from the '
                     "smallest set of values holding this much probability (default: the model's "
                     'sampling.top_p, else 1: the whole distribution).')
  flags.DEFINE_integer('candidates', None, 'Draws per sample, of which the one nearest to their '
                       "mean is kept (default: the model's sampling.candidates, else 1: one plain "
                       'draw).', lower_bound=1)
  commands.register_two_candidates_check()
  try:  # A config dict flag reads its overrides from sys.argv here, when it is defined.
    config_flags.DEFINE_config_dict(
        'config', ml_collections.ConfigDict({'data': {'source': ''}}),
        "Overrides of the run's config.json: --config.data.source=SOURCE evaluates on another "
        'data source (see WORKSPACE.md), e.g. samples for the photos that ship with the '
        'dependencies.')
  except commands.CONFIG_OVERRIDE_ERRORS as e:
    commands.fail(commands.config_override_message(e, sys.argv))


def check_top_p_flag():
  """Checks --top_p before the slow work (a value outside (0, 1] is a usage error)."""
  if FLAGS.top_p is not None:
    commands.check_top_p(FLAGS.top_p)


def top_p(config):
  """--top_p, else the model's `sampling.top_p`, else 1."""
  return commands.sampling_setting(config, 'top_p', FLAGS.top_p)


def candidates(config):
  """--candidates, else the model's `sampling.candidates`, else 1."""
  return commands.sampling_setting(config, 'candidates', FLAGS.candidates)


def sampled_from(top_p):
  """The tables' note of what the samples were drawn from."""
  if top_p >= 1.0:
    return 'samples drawn from the whole distribution (top_p 1)'
  return f'samples drawn from the top-{top_p:g} nucleus'


def run(define_command_flags, main):
  """Defines a paper's evaluate flags and runs its main with the error contract (a data source
  that cannot be read is a usage error too)."""
  from data import errors
  define_command_flags()
  commands.run(main, user_errors=(errors.DataSourceError,))


# The shipped demo models --model names, per model.name (`evaluate` has no default: it needs
# --workdir or --model).
DEMOS = workdir_lib.DEMO_WORKDIRS
# How a run of each model (config.json's model.name) is evaluated.
_EVALUATE = {'super_resolution': 'evaluate it with python -m pixel_recursive.evaluate',
             'pixcolor': 'evaluate it with python -m pixcolor.evaluate',
             'l2_regression': "it is the baseline: give it as --l2_workdir beside a "
                              "super_resolution run's --workdir"}


def check_run(model_name):
  """The checks of --workdir and --output that need no TensorFlow: a command calls it before it
  imports its model (and TensorFlow with it), so that these mistakes are named in a fraction of a
  second; a wrong --workdir leaves no folder behind. The run must hold a `model_name` model.
  --model sets --workdir to the shipped model's folder."""
  if not (FLAGS.workdir or FLAGS.model) or not FLAGS.output:
    raise commands.UsageError(f'--output and --workdir (or --model={"|".join(DEMOS[model_name])}'
                              ', a shipped model) are required')
  FLAGS.workdir = workdir_lib.resolve(FLAGS.workdir, DEMOS[model_name], FLAGS.model)
  # Missing, a file, without a config.json, or another model's run.
  workdir_lib.check_model_name(FLAGS.workdir, model_name, lambda name: _EVALUATE.get(
      name, 'the evaluate commands evaluate super_resolution and pixcolor runs'))
  commands.check_output_file(FLAGS.output)


def load_run(build_model):
  """Restores the run --workdir names (checked by `check_run` before: a run of the command's
  model), with --config overrides applied: (model, config, step)."""
  model, config, step = workdir_lib.restore(FLAGS.workdir, build_model)
  if FLAGS.config.data.source:
    config.data.source = FLAGS.config.data.source
  return model, config, step


def batches(config, data_task, num_examples, batch_size, what='evaluated'):
  """Yields (numpy batch of exactly `batch_size`, number of real examples in it) over the first
  `num_examples` eval examples, every one of them: the last batch is padded by repeating its last
  example, so compiled samplers see one batch size, and callers keep only the first n rows.

  Logs `what done/total` once the caller is through with each batch; the total is what the split
  can give where its size is known (a 100-photo split asked for 1,000 counts to 100)."""
  from data import pipeline
  ds, size = pipeline.make_dataset_and_size(config.data, data_task, 'eval', 1, training=False,
                                            num_examples=num_examples)
  ds = ds.unbatch().batch(batch_size)
  expected = min(num_examples, size) if num_examples and size else num_examples or size
  total = 0
  for batch in ds:
    batch = {k: v.numpy() for k, v in batch.items()}
    n = len(next(iter(batch.values())))
    total += n
    if n < batch_size:
      batch = {k: np.concatenate([v, np.repeat(v[-1:], batch_size - n, axis=0)])
               for k, v in batch.items()}
    yield batch, n
    commands.log_progress(total, expected, what)
  if num_examples and total < num_examples:
    logging.warning('%d eval examples were asked for, but the eval split of %s holds %d: the '
                    'tables score %s', num_examples, config.data.source, total,
                    'that one' if total == 1 else f'those {total}')


def finish(results, config, step, markdown, plot, scalars, image_tag, **extra):
  """Ends an evaluate command: records the run in `results`, writes the JSON, the table (from
  `markdown(results)`), the plot (`plot(results)`, a figure) and TensorBoard (`scalars(results)`,
  and the plot as `image_tag`), and prints the table."""
  results.update(workdir=FLAGS.workdir, step=step, data=config.data.source, seed=FLAGS.seed,
                 **extra)
  table = markdown(results)
  image = write(results, table, plot(results))
  write_tensorboard(tensorboard_dir(FLAGS.workdir, FLAGS.output), scalars(results),
                    {image_tag: image}, step)
  print(table, flush=True)


def tensorboard_dir(workdir, output):
  """Where the evaluation's TensorBoard run goes: the workdir's `evaluate` folder, or for a
  shipped demo model (--model, or --workdir naming its folder) an `evaluate` folder beside
  `output`: an installed package is not written to (pip uninstall would leave it behind)."""
  shipped = {os.path.realpath(folder) for demos in DEMOS.values() for folder in demos.values()}
  if os.path.realpath(workdir) in shipped:
    logdir = os.path.join(os.path.dirname(os.path.abspath(output)), 'evaluate')
    logging.info('TensorBoard summaries of the shipped model go to %s', logdir)
    return logdir
  return os.path.join(workdir, 'evaluate')


def write(results, table, figure):
  """Writes --output (JSON), its .md table and its .png plot; returns the plot as uint8 [H, W, 3]."""
  from PIL import Image
  stem = os.path.splitext(FLAGS.output)[0]
  with open(FLAGS.output, 'w') as f:
    json.dump(results, f, indent=2)
    f.write('\n')
  with open(stem + '.md', 'w') as f:
    f.write(table)
  figure.savefig(stem + '.png', dpi=100)
  import matplotlib.pyplot as plt
  plt.close(figure)
  with Image.open(stem + '.png') as im:
    image = np.asarray(im.convert('RGB'))
  logging.info('wrote %s, %s.md and %s.png', FLAGS.output, stem, stem)
  return image


def write_tensorboard(logdir, scalars, images, step):
  """Scalars {tag: float} and images {tag: uint8 [H, W, 3]} in `logdir` (the workdir's `evaluate`
  run). A run that cannot be written to (a read-only folder, a shipped model installed read-only)
  gets a warning instead: the command's own outputs are written by then."""
  import tensorflow as tf
  try:
    writer = tf.summary.create_file_writer(logdir)
    with writer.as_default():
      for tag, value in scalars.items():
        tf.summary.scalar(tag, value, step=step)
      for tag, image in images.items():
        tf.summary.image(tag, image[None], step=step)
    writer.flush()
  except (tf.errors.OpError, OSError) as e:
    logging.warning('wrote no TensorBoard summaries: cannot write to %s (%s)', logdir,
                    checkpoint_files.one_line(e))


def figure(columns, width=13, height=4):
  """A matplotlib figure of `columns` side-by-side axes (Agg backend: no display needed)."""
  import matplotlib
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt
  fig, axes = plt.subplots(1, columns, figsize=(width, height))
  return fig, np.atleast_1d(axes)


def parse_floats(values, flag, check):
  """A list flag of numbers, each passed through `check` (UsageError for anything else); None
  when the flag was not given (the caller then uses the model's defaults)."""
  if values is None:
    return None
  try:
    numbers = [float(v) for v in values]
  except ValueError:
    raise commands.UsageError(f'{flag} must be numbers, got {",".join(values)}') from None
  if not numbers:
    raise commands.UsageError(f'{flag} is empty')
  return [check(v, flag) for v in numbers]


def titled(fig, noun, results, about=''):
  """Puts the eval set and the step over a plot ('12 eval faces, step 3000': `noun` 'eval face',
  counted; `about` follows it) and lays it out."""
  fig.suptitle(f"{commands.counted(results['num_examples'], noun)}{about}, step "
               f"{results.get('step', '?')}", fontsize=10)
  fig.tight_layout()
  return fig
