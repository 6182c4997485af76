"""The export command line of both papers (`python -m pixel_recursive.export`, `python -m
pixcolor.export`): its flags and main. It imports no TensorFlow until its flags are read, so a
mistyped flag is reported in a tenth of a second, as by the other commands; the SavedModel itself is
`pixel_recursive.serving` and each paper's `export.serving_function`.
"""
import importlib
import os

from absl import flags

from pixel_recursive import commands
from pixel_recursive import workdir as workdir_lib

DEFAULT_BATCH_SIZE = 8
# What a folder may hold for --output to replace it (what tf.saved_model.save writes).
_SAVED_MODEL_FILES = {'saved_model.pb', 'fingerprint.pb', 'variables', 'assets'}
# model.name -> (the paper's export module, its model module); its shipped workdirs are
# workdir.DEMO_WORKDIRS[model.name].
_PAPERS = {
    'super_resolution': ('pixel_recursive.export', 'pixel_recursive.model'),
    'pixcolor': ('pixcolor.export', 'pixcolor.model'),
}


def check_export_dir(path):
  """Creates --output, or raises UsageError if it holds anything but an earlier SavedModel."""
  if os.path.isdir(path):
    entries = set(os.listdir(path))
    if entries and not (entries <= _SAVED_MODEL_FILES and 'saved_model.pb' in entries):
      raise commands.UsageError(f'--output {path} is not empty and holds no SavedModel: give a new '
                                'or empty folder (an earlier export there is replaced)')
  commands.check_output_dir(path)


@commands.command_flags()
def define_flags(demo_text, models):
  """The export flags; `models`: the shipped models' names --model picks from."""
  flags.DEFINE_string('workdir', None, 'Training workdir to export (config.json + '
                      f'checkpoints/). Default: the demo checkpoint {demo_text}.')
  commands.define_model_flag(list(models))
  flags.DEFINE_string('output', None, 'Folder for the SavedModel (created if missing; must be '
                      'empty or hold an earlier export, which is replaced).')
  flags.DEFINE_integer('batch_size', DEFAULT_BATCH_SIZE, 'Largest batch the sampler is compiled '
                       'for: requests are sampled in chunks of it, the remainder padded to a power '
                       'of two (see pixel_recursive/serving.py).', lower_bound=1)
  flags.DEFINE_boolean('verify', True, 'Load the written SavedModel and check that it samples '
                       'what the model samples (compiles the sampler once more).')


def run(model_name, demo_text, signature_text):
  """Runs a paper's export command: its flags (--model picks one of
  `workdir.DEMO_WORKDIRS[model_name]`), then `main`.

  Args:
    model_name: the `model.name` the workdir must hold ('super_resolution' or 'pixcolor').
    demo_text: where the shipped checkpoint(s) are, for --help.
    signature_text: the signature's inputs and outputs, for the final line.
  """
  define_flags(demo_text, workdir_lib.DEMO_WORKDIRS[model_name])
  commands.run(main_of(model_name, signature_text))


def main_of(model_name, signature_text):
  """The main() of a paper's export command (see `run`)."""

  def main(argv):
    del argv
    FLAGS = flags.FLAGS
    if not FLAGS.output:
      raise commands.UsageError('--output is required')
    export_module, model_module = _PAPERS[model_name]
    workdir = workdir_lib.resolve(FLAGS.workdir, workdir_lib.DEMO_WORKDIRS[model_name],
                                  FLAGS.model)
    workdir_lib.check_model_name(
        workdir, model_name, lambda name: f'export it with python -m {_PAPERS[name][0]}'
        if name in _PAPERS else 'only sampling models can be exported')
    check_export_dir(FLAGS.output)
    from pixel_recursive import serving  # TensorFlow from here on: the mistakes above came first.
    export_lib = importlib.import_module(export_module)
    model_lib = importlib.import_module(model_module)
    model, config, step = workdir_lib.restore(workdir, model_lib.build_model)
    serving.save(export_lib.serving_function(model, config, FLAGS.batch_size), FLAGS.output,
                 FLAGS.batch_size)
    if FLAGS.verify:
      export_lib.verify(FLAGS.output, model, config)
    print(f'exported the step-{step} model from {workdir} to {FLAGS.output} '
          f'(signature {serving.SIGNATURE}: {signature_text})', flush=True)

  return main
