"""The batch-command skeleton of `upsample` and `colorize`: their shared flags; read every input,
skipping and naming the unreadable ones; sample in padded batches with one seed per (input, sample);
write as results come; exit 1 when some input was skipped (`commands`' error contract).
"""
import collections
import glob
import json
import os
import sys

from absl import flags
import numpy as np

from pixel_recursive import commands


def has_glob_character(path):
  """Whether `path` has a character that makes it a glob pattern (`*`, `?`, `[`)."""
  return any(c in path for c in '*?[')


def is_pattern(path):
  """Whether --input `path` is a glob pattern: it names no file or folder and has a glob character
  (`*`, `?`, `[`). Quoted (`--input='photos/*.jpg'`), the command expands it, not the shell (which
  leaves `--input=photos/*.jpg` unexpanded: no file is named so)."""
  return not os.path.exists(path) and has_glob_character(path)


def pattern_root(pattern):
  """The folder a pattern's matches are named under: its path before the first part with a glob
  character ('photos/*/a.jpg' -> 'photos'; '*.jpg' -> '.')."""
  root = pattern
  while has_glob_character(root):
    root = os.path.dirname(root)
  return root or os.curdir


def read_inputs(path, output=None):
  """The image files under `path` (a file, a folder searched with its sub-folders, or a glob
  pattern whose matching folders are searched so and whose matching files with an image extension
  are kept; `**` matches any depth), or UsageError if there are none. Those under the command's
  `output` folder are left out, so that a second run does not read the first one's outputs;
  `output` = `path` is a UsageError, as there the outputs could not be told from the inputs; a URL
  is one too (the files are read from here)."""
  from data import image_files
  commands.check_local(path, '--input')
  pattern = is_pattern(path)
  if pattern:
    matches = sorted(glob.glob(path, recursive=True))
    if not matches:
      raise commands.UsageError(f'--input {path} matches no file or folder')
    files = sorted({f for match in matches for f in (
        image_files.list_images(match) if os.path.isdir(match)
        else [match] if image_files.is_image_name(match) else [])})
  else:
    try:
      files = image_files.list_images(path)
    except FileNotFoundError:
      raise commands.UsageError(f'--input {path} does not exist') from None
  if output:
    out = os.path.realpath(output)
    if out == os.path.realpath(path) and os.path.isdir(path):
      raise commands.UsageError(f'--output {output} is the --input folder: a later run would read '
                                'the outputs as inputs; choose another folder (a sub-folder will do)')
    if not os.path.isfile(out):  # A file is refused as --output later (check_output_dir).
      files = [f for f in files if os.path.commonpath([out, os.path.realpath(f)]) != out]
  if not files:
    holds = 'matches' if pattern else 'holds'
    raise commands.UsageError(f'--input {path} {holds} no image files (jpg, png, bmp, gif, webp, '
                              'tif)')
  return files


def output_names(files, root, output_dir):
  """A function (path, suffix) -> the output PNG of input `path` (one of `files`, read from
  --input `root`): its path under `root` (sub-folders kept; under `pattern_root` for a pattern; a
  single file: its base name) without the extension, then `suffix`. Inputs whose names differ only
  in the extension (photo.jpg, photo.png) keep it (photo.jpg_sample0.png, photo.png_sample0.png), so
  that no output overwrites another."""
  if is_pattern(root):
    root = pattern_root(root)

  def relative(path):
    return os.path.relpath(path, root) if os.path.isdir(root) else os.path.basename(path)

  stems = collections.Counter(os.path.splitext(relative(path))[0] for path in files)

  def name(path, suffix):
    stem = os.path.splitext(relative(path))[0]
    return os.path.join(output_dir, f'{relative(path) if stems[stem] > 1 else stem}{suffix}.png')

  return name


def row_title(output_name, path, output_dir, suffix=''):
  """grid.png's title for the row of input `path` (`output_name` from `output_names`): the NAME
  its output files start with (then `suffix`), so that a row and its PNGs are found by one name."""
  return os.path.relpath(output_name(path, suffix), output_dir).removesuffix('.png')


def each_read(files, read, failures):
  """Yields (path, `read(path)`) for one file after another, holding none of them once the caller
  has moved on (a folder of 1,000 phone photos read at once took 36 GB); a file it cannot read is
  named on stderr, its message appended to `failures`, and skipped."""
  from data import image_files
  for n, path in enumerate(files, 1):
    try:
      item = read(path)
    except image_files.ImageReadError as e:
      failures.append(str(e))
      print(f'skipped {e}', file=sys.stderr, flush=True)
      continue
    if len(files) > 1:
      commands.log_progress(n, len(files), 'read', every=max(1, len(files) // 10))
    yield path, item
    del item  # Not kept while the next file is read.


# grid.png shows the first this many inputs (or faces): a preview of a folder of 10,000 inputs,
# whose grid would have been 1,300,000 pixels tall and held every thumbnail until the end.
GRID_ROWS = 100

PROVENANCE_KEY = 'pixel_recursive'


def provenance(command, workdir, step, settings, **made):
  """The PNG text chunks of a batch command's output: under 'pixel_recursive', JSON of how it was
  made (`python -m command` and its arguments, the folder it ran in, the model's workdir and step,
  the sampling `settings`, and `made`: its input, sample and the seed its sampler was given, with
  which the model draws it again), so a PNG copied elsewhere still says;
  `json.loads(PIL.Image.open(png).text['pixel_recursive'])`."""
  record = {'command': ['python', '-m', command] + sys.argv[1:], 'cwd': os.getcwd(),
            'model': os.path.abspath(workdir), 'step': int(step), **settings, **made}
  return {'Software': 'pixel_recursive', PROVENANCE_KEY: json.dumps(record)}


def read_each(files, read):
  """Applies `read(path)` to every file (`each_read`), keeping every result.

  Returns:
    (paths read, their `read` results, one message per skipped file).
  """
  failures = []
  pairs = list(each_read(files, read, failures))
  return [path for path, _ in pairs], [item for _, item in pairs], failures


def sample_in_batches(items, num_samples, seed, batch_size, sample, write, what='sampled'):
  """Samples `num_samples` outputs of each item, `batch_size` at a time.

  Sample k of item i is drawn with the seed `sampling.derive_seed(seed, i, k)`, so it does not depend
  on the batching; the last batch is padded to `batch_size` so that one compiled sampler serves
  every batch.

  Args:
    items: equally shaped numpy arrays, one per input.
    num_samples, seed, batch_size: as the flags.
    sample: function (stacked items [N, ...], seeds [N]) -> numpy outputs [N, ...].
    write: function (i, k, output) called for every output as soon as it exists.
    what: the word of the progress lines ("sampled 12/40 (30%)").
  """
  from pixel_recursive import sampling
  num_samples = commands.check_count('num_samples', num_samples, 0)
  batch_size = commands.check_count('batch_size', batch_size, 1)  # A negative one sampled nothing.
  jobs = [(i, k) for i in range(len(items)) for k in range(num_samples)]
  if not jobs:  # No input, or no sample asked for.
    return
  batch_size = min(batch_size, len(jobs))
  for start in range(0, len(jobs), batch_size):
    chunk = jobs[start:start + batch_size]
    padded = chunk + [chunk[-1]] * (batch_size - len(chunk))
    outputs = sample(np.stack([items[i] for i, _ in padded]),
                     np.array([sampling.derive_seed(seed, i, k) for i, k in padded]))
    for (i, k), output in zip(chunk, outputs):
      write(i, k, output)
    commands.log_progress(start + len(chunk), len(jobs), what)


def report_written(count, grid_path, what='', shown=None, total=None, rows='input'):
  """A batch command's last line on stdout: how many PNGs (of `what`) it wrote, and its grid;
  before it, on the log, that the grid shows only `shown` of `total` `rows` where it does."""
  from absl import logging
  if shown is not None and shown < total:
    logging.info('grid.png shows the first %d of %s (GRID_ROWS); the PNGs of all are written',
                 shown, commands.counted(total, rows))
  print(f'wrote {commands.counted(count, "PNG")}{what} and {grid_path}', flush=True)


def finish(failures, total):
  """Ends a batch command: exit status 1, with a count on stderr, if some inputs were skipped."""
  if failures:
    print(f'{len(failures)} of {total} inputs could not be read', file=sys.stderr)
    sys.exit(commands.EXIT_PARTIAL)


@commands.command_flags()
def define_batch_flags(demo, what, guidance=False, models=(), candidates=False):
  """The flags `upsample` and `colorize` share; `demo` names the shipped checkpoint's folder,
  `models` the shipped models --model picks from (none: no --model flag); `candidates` adds
  --candidates."""
  flags.DEFINE_string('workdir', None, 'Training workdir to load (config.json + checkpoints/). '
                      f'Default: the demo checkpoint shipped in {demo}.')
  if models:
    commands.define_model_flag(models)
  flags.DEFINE_string('input', None, 'An image file, a folder of images (searched recursively) '
                      "or a quoted glob pattern ('photos/*.jpg'; ** matches any depth).")
  flags.DEFINE_string('output', None, 'Folder for the PNGs (created if missing).')
  flags.DEFINE_float('temperature', None, 'Sampling temperature T > 0: values are drawn from '
                     'softmax(logits / T); lower is less diverse and less noisy. Default: the '
                     "model's sampling.temperature (config.json), else 1.0.")
  if guidance:
    flags.DEFINE_float('guidance', None, 'Weight w >= 0 of the conditioning logits A: samples are '
                       'drawn from softmax((w A + B) / T). 1 is the paper\'s model; larger follows '
                       "the input more closely. Default: the model's sampling.guidance, else 1.")
  flags.DEFINE_float('top_p', None, 'Nucleus p in (0, 1]: each value is drawn from the smallest '
                     'set of values holding this much probability, which cuts unlikely draws. '
                     "Default: the model's sampling.top_p, else 1 (the whole distribution, as "
                     'the papers sample).')
  if candidates:
    flags.DEFINE_integer('candidates', None, 'N >= 1: each output is the one of N draws nearest '
                         'to their mean, the most typical (N times the sampling; 1: one plain draw, '
                         "as the papers sample). Default: the model's sampling.candidates, else 1.",
                         lower_bound=1)
    commands.register_two_candidates_check()
  flags.DEFINE_integer('num_samples', 1, f'{what} per input.', lower_bound=1)
  flags.DEFINE_integer('seed', 0, 'Random seed; the same seed gives the same samples.')
  flags.DEFINE_integer('batch_size', 16, 'Samples drawn at once.', lower_bound=1)
  flags.DEFINE_enum('method', 'cached', ['cached', 'naive'], 'Sampler: cached (fast) or naive.')
