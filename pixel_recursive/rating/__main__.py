"""The command line, `python -m pixel_recursive.rating build|score ...`: see the package doc."""
import os
import sys

from absl import flags

from pixel_recursive import commands
from pixel_recursive import rating

__doc__ = rating.__doc__  # pylint: disable=redefined-builtin  (absl's --help prints it)

FLAGS = flags.FLAGS
_FLAGS_OF = {
    'build': ('truth', 'samples', 'sample_suffix', 'output', 'pairs_per_page', 'seed', 'preset',
              'title', 'question', 'display_size', 'max_side'),
    'score': ('pairs', 'output'),
}


def define_flags():
  flags.DEFINE_string('truth', None, 'build: folder of the true images (PNG, JPG, ...; any size).')
  flags.DEFINE_string('samples', None, 'build: folder of the model samples, named like the truth.')
  flags.DEFINE_string('sample_suffix', '', 'build: suffix of the sample file names before the '
                      'extension, removed before pairing (e.g. _sample0 for the files `upsample` '
                      'writes); samples without it are ignored.')
  flags.DEFINE_string('output', None, 'build: folder for index.html (the rating page) and '
                      'pairs.json (the ground truth). score: path of the scores JSON file '
                      '(optional).')
  flags.DEFINE_integer('pairs_per_page', 0, 'build: split the pairs over pages of at most this '
                       'many pairs (one page per rater session); 0: all pairs on index.html.',
                       lower_bound=0)
  flags.DEFINE_integer('seed', None, 'build: the secret the left/right sides, the order and the '
                       'pair ids follow from. Default: 128 random bits, recorded in pairs.json. '
                       'Anyone who knows or guesses the seed can tell which images are real.',
                       lower_bound=0)
  flags.DEFINE_enum('preset', 'super_resolution', list(rating.PRESETS),
                    'build: the study, which sets the default --title and --question: '
                    'super_resolution ("Which image, would you guess, is from a camera?", Dahl '
                    'et al. 2017) or colorization ("Which image, would you guess, has its true '
                    'colours?", Guadarrama et al. 2017).')
  flags.DEFINE_string('title', None, "build: title of the rating page (default: the --preset's).")
  flags.DEFINE_string('question', None, "build: the question raters answer (default: the "
                      "--preset's).")
  flags.DEFINE_integer('display_size', 256, 'build: on-screen size in CSS pixels of the longer '
                       'side of each image; images of half this size or less are scaled up with '
                       'sharp pixels.', lower_bound=16)
  flags.DEFINE_integer('max_side', 512, 'build: images with a longer side are downscaled to it '
                       'before embedding, to keep the page small.', lower_bound=16)
  flags.DEFINE_string('pairs', None, 'score (required): the pairs.json that `build` wrote, which '
                      'holds the true sides the answers are scored against.')


def _check_flags(command):
  wrong = [f'--{name}' for name in sorted(set(n for v in _FLAGS_OF.values() for n in v))
           if FLAGS[name].present and name not in _FLAGS_OF[command]]
  if wrong:
    raise commands.UsageError(f'{", ".join(wrong)} '
                              f'{"is not a flag" if len(wrong) == 1 else "are not flags"} of '
                              f'`rating {command}`')


def _build(rest):
  if rest:
    raise commands.UsageError(f'unexpected arguments: {" ".join(rest)}')
  study, skipped = rating.build(
      FLAGS.truth, FLAGS.samples, FLAGS.output, FLAGS.sample_suffix, FLAGS.pairs_per_page,
      FLAGS.seed, FLAGS.title, FLAGS.question, FLAGS.display_size, FLAGS.max_side,
      preset=FLAGS.preset)
  num_pages = len(study['pages'])
  pages = os.path.join(FLAGS.output, 'index.html') + (
      f' and {num_pages} pages it links to' if num_pages > 1 else '')
  print(f'wrote {commands.counted(len(study["pairs"]), "pair")} to {pages} (send to raters) and '
        f'{os.path.join(FLAGS.output, "pairs.json")} (keep to yourself, for scoring); study '
        f'{study["study_id"]}', flush=True)
  if skipped:
    print(f'{len(skipped)} of {len(skipped) + len(study["pairs"])} pairs could not be read',
          file=sys.stderr)
    sys.exit(commands.EXIT_PARTIAL)


def _score(rest):
  if not rest:
    raise commands.UsageError('score needs the answers files: rating score ANSWERS.json [...] '
                              '--pairs=pairs.json')
  if not FLAGS.pairs:
    raise commands.UsageError('score needs --pairs=PATH, the pairs.json `rating build` wrote: the '
                              'answers do not say which side was real')
  result = rating.score(rest, rating.load_pairs(FLAGS.pairs))
  print(rating.format_table(result), flush=True)
  if FLAGS.output:
    rating.write_scores(result, FLAGS.output)
    print(f'wrote {FLAGS.output}', flush=True)


def main(argv):
  if len(argv) < 2 or argv[1] not in _FLAGS_OF:
    raise commands.UsageError('say `build` (make the rating page) or `score ANSWERS.json ... '
                              '--pairs=pairs.json` (score the answers); see --help')
  command, rest = argv[1], argv[2:]
  _check_flags(command)
  if command == 'build':
    _build(rest)
  else:
    _score(rest)


if __name__ == '__main__':
  define_flags()
  commands.run(main, positional=True)
