r"""Human evaluation, "% fooled": raters pick the real image out of a (truth, model sample) pair.

The human study of both papers (Dahl et al. 2017; Guadarrama et al. 2017): a rater sees the true
image and a model's sample side by side, in random order, and picks the one that is real. A sample's
"% fooled" is how often raters picked the sample: 50% means raters cannot tell samples from photos.

1. Build the rating page from a folder of true images and a folder of samples:

  python -m pixel_recursive.rating build --truth=photos/ --samples=out/ --output=study/ \
      [--sample_suffix=_sample0] [--pairs_per_page=N] [--seed=0] [--title="Which is real?"]

   Pairs files by their relative name under each folder, the extension left out (truth a.jpg pairs
   with sample a.png; with --sample_suffix=_sample0, `upsample`'s a_sample0.png pairs with a.jpg).
   Unmatched and unreadable files are named on stderr. It writes:

     study/index.html  the rating page to send to raters: one self-contained HTML file (images
                       embedded, no network needed) showing one pair at a time, left/right order
                       randomised per pair from --seed. Raters click an image or press the left /
                       right arrow key, and at the end click "Download answers" to save a JSON file
                       they send back. Answers survive a reload (kept in localStorage).
                       With --pairs_per_page=N and more than N pairs: page_01.html, page_02.html ...
                       of N pairs each, and index.html links to them.
     study/pairs.json  the ground truth for scoring: every pair, its files, its page and which side
                       holds the true image. Keep it; raters do not need it.

   Exit status 1 if some files could not be read (the page is still written), 2 on a usage error.

2. Score the answer files raters sent back:

  python -m pixel_recursive.rating score answers_alice.json answers_bob.json \
      [--pairs=study/pairs.json] [--output=scores.json]

   Prints and writes (--output) % fooled over all answers with its binomial standard error
   sqrt(p (1 - p) / n), per rater, and, with two or more raters, the mean over raters with the
   standard error across raters. With --pairs, every answer is checked against pairs.json and scored
   from its sides (so a page edited by hand cannot change the result).
"""
import base64
import collections
import hashlib
import html
import io
import json
import math
import os
import random
import re
import sys

from absl import flags
import numpy as np

from pixel_recursive import cli

flags.DEFINE_string('truth', None, 'build: folder of the true images (PNG, JPG, ...; any size).')
flags.DEFINE_string('samples', None, 'build: folder of the model samples, named like the truth.')
flags.DEFINE_string('sample_suffix', '', 'build: suffix of the sample file names before the '
                    'extension, removed before pairing (e.g. _sample0 for the files `upsample` '
                    'writes); samples without it are ignored.')
flags.DEFINE_string('output', None, 'build: folder for index.html (the rating page) and pairs.json '
                    '(the ground truth). score: path of the scores JSON file (optional).')
flags.DEFINE_integer('pairs_per_page', 0, 'build: split the pairs over pages of at most this many '
                     'pairs (one page per rater session); 0: all pairs on index.html.',
                     lower_bound=0)
flags.DEFINE_integer('seed', 0, 'build: seed of the pair order and of the left/right sides.')
flags.DEFINE_string('title', 'Which image is real?', 'build: title of the rating page.')
flags.DEFINE_string('question', 'Which image, would you guess, is from a camera?',
                    "build: the question raters answer (Dahl et al. 2017's wording).")
flags.DEFINE_integer('display_size', 256, 'build: on-screen size in CSS pixels of the longer '
                     'side of each image; images of half this size or less are scaled up with '
                     'sharp pixels.', lower_bound=16)
flags.DEFINE_integer('max_side', 512, 'build: images with a longer side are downscaled to it '
                     'before embedding, to keep the page small.', lower_bound=16)
flags.DEFINE_string('pairs', None, 'score: the pairs.json that `build` wrote, to check and score '
                    'the answers against.')
FLAGS = flags.FLAGS

PAIRS_FORMAT = 'pixel_recursive.rating/pairs'
ANSWERS_FORMAT = 'pixel_recursive.rating/answers'
SIDES = ('left', 'right')
_FLAGS_OF = {
    'build': ('truth', 'samples', 'sample_suffix', 'output', 'pairs_per_page', 'seed', 'title',
              'question', 'display_size', 'max_side'),
    'score': ('pairs', 'output'),
}


# ----------------------------------------------------------------------------------------------
# build: pairing, sides, the page.
# ----------------------------------------------------------------------------------------------
def _keyed_files(root, suffix=''):
  """{pairing key: relative path} of the images under `root`, plus the ambiguous and ignored.

  The key is the relative path without its extension (and without `suffix`), '/'-separated.
  Returns (files, ambiguous: {key: [relative paths]}, ignored: [relative paths without suffix]).
  """
  from data import image_files
  found = collections.defaultdict(list)
  ignored = []
  for path in image_files.list_images(root):
    rel = os.path.relpath(path, root).replace(os.sep, '/')
    stem = os.path.splitext(rel)[0]
    if suffix:
      if not stem.endswith(suffix):
        ignored.append(rel)
        continue
      stem = stem[:-len(suffix)]
    found[stem].append(rel)
  files = {k: v[0] for k, v in found.items() if len(v) == 1}
  ambiguous = {k: sorted(v) for k, v in found.items() if len(v) > 1}
  return files, ambiguous, ignored


def match_files(truth_dir, samples_dir, sample_suffix=''):
  """Pairs the images of two folders by relative name.

  Returns:
    (matched: sorted [(key, truth relative path, sample relative path)],
     problems: [one line per unmatched, ambiguous or ignored file], for stderr).
  """
  truth, truth_ambiguous, _ = _keyed_files(truth_dir)
  samples, samples_ambiguous, ignored = _keyed_files(samples_dir, sample_suffix)
  problems = []
  for where, ambiguous in (('truth', truth_ambiguous), ('samples', samples_ambiguous)):
    for key, names in sorted(ambiguous.items()):
      problems.append(f'ambiguous: {where} has {" and ".join(names)}; skipped')
  for key in sorted(set(truth) - set(samples) - set(samples_ambiguous)):
    problems.append(f'unmatched: truth {truth[key]} has no sample in {samples_dir}')
  for key in sorted(set(samples) - set(truth) - set(truth_ambiguous)):
    problems.append(f'unmatched: sample {samples[key]} has no true image in {truth_dir}')
  if ignored:
    problems.append(f'ignored {len(ignored)} files of {samples_dir} not named *{sample_suffix}.* '
                    f'(e.g. {ignored[0]})')
  matched = [(k, truth[k], samples[k]) for k in sorted(set(truth) & set(samples))]
  return matched, problems


def assign_sides(num_pairs, seed):
  """Deterministic presentation order and truth sides: (order [pair index], sides [str])."""
  rng = random.Random(seed)  # Python's Mersenne Twister: the same on every platform and version.
  sides = [SIDES[rng.random() < 0.5] for _ in range(num_pairs)]
  order = list(range(num_pairs))
  rng.shuffle(order)
  return order, sides


def encode_image(image, max_side):
  """uint8 [H, W, 3] -> (data URI of a PNG, width, height), downscaled to `max_side` if larger.

  Re-encoding every image as PNG hides the files' formats and metadata (EXIF, encoder tags) from
  raters who look at the page source.
  """
  from PIL import Image
  im = Image.fromarray(np.asarray(image, np.uint8))
  if max(im.size) > max_side:
    scale = max_side / max(im.size)
    im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))),
                   Image.LANCZOS)
  buffer = io.BytesIO()
  im.save(buffer, format='PNG', optimize=True)
  data = base64.b64encode(buffer.getvalue()).decode('ascii')
  return f'data:image/png;base64,{data}', im.width, im.height


def study_id(matched, digests, seed, pairs_per_page):
  """A short id of the pairs, their contents, the seed and the paging: same inputs, same id."""
  h = hashlib.sha256(json.dumps([matched, digests, seed, pairs_per_page]).encode())
  return h.hexdigest()[:12]


def _file_digest(path):
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


def page_file_names(num_pages):
  return ['index.html'] if num_pages == 1 else [f'page_{k:02d}.html' for k in
                                                 range(1, num_pages + 1)]


def build(truth_dir, samples_dir, output, sample_suffix='', pairs_per_page=0, seed=0,
          title='Which image is real?', question='', display_size=256, max_side=512, log=None):
  """Writes the rating page(s) and pairs.json; returns (pairs.json dict, skipped [str]).

  Raises:
    cli.UsageError: a folder is missing, or no readable pair is left.
  """
  from data import image_files
  log = log or (lambda line: print(line, file=sys.stderr, flush=True))
  for flag, path in (('--truth', truth_dir), ('--samples', samples_dir)):
    if not path:
      raise cli.UsageError(f'{flag} is required')
    if not os.path.isdir(path):
      raise cli.UsageError(f'{flag} {path} is not a folder')
  if not output:
    raise cli.UsageError('--output (a folder) is required')
  if os.path.abspath(output) in (os.path.abspath(truth_dir), os.path.abspath(samples_dir)):
    raise cli.UsageError('--output must not be the --truth or --samples folder')

  matched, problems = match_files(truth_dir, samples_dir, sample_suffix)
  if not matched:
    suffix = f' (ending in {sample_suffix})' if sample_suffix else ''
    raise cli.UsageError(f'no image of {truth_dir} has a sample of the same name{suffix} in '
                         f'{samples_dir} ({len(problems)} unmatched, ambiguous or ignored)')
  for line in problems:
    log(line)
  cli.check_output_dir(output)

  # --- read and embed every pair; skip (and name) the unreadable ones ---
  good, skipped = [], []
  for n, (key, truth_rel, sample_rel) in enumerate(matched, 1):
    try:
      truth = image_files.read_image(os.path.join(truth_dir, truth_rel))
      sample = image_files.read_image(os.path.join(samples_dir, sample_rel))
    except image_files.ImageReadError as e:
      skipped.append(str(e))
      log(f'skipped {e}')
      continue
    if truth.shape != sample.shape:
      log(f'note: {key}: truth is {truth.shape[1]}x{truth.shape[0]}, sample '
          f'{sample.shape[1]}x{sample.shape[0]}; both are shown at the same size, but raters may '
          'tell them apart by sharpness')
    good.append((key, truth_rel, sample_rel, encode_image(truth, max_side),
                 encode_image(sample, max_side)))
    cli.log_progress(n, len(matched), 'read pairs', every=max(50, len(matched) // 10))
  if not good:
    raise cli.UsageError('none of the matched pairs could be read')

  # --- sides, order, pages ---
  names = [(key, t, s) for key, t, s, _, _ in good]
  digests = [(_file_digest(os.path.join(truth_dir, t)), _file_digest(os.path.join(samples_dir, s)))
             for _, t, s in names]
  sid = study_id(names, digests, seed, pairs_per_page)
  order, sides = assign_sides(len(good), seed)
  per_page = pairs_per_page or len(good)
  chunks = [order[i:i + per_page] for i in range(0, len(order), per_page)]
  files = page_file_names(len(chunks))
  pages, pairs = [], [None] * len(good)
  for number, (chunk, file) in enumerate(zip(chunks, files), 1):
    page_id = f'{sid}-{number}'
    pages.append({'page_id': page_id, 'file': file, 'pair_ids': chunk})
    for position, index in enumerate(chunk):
      key, truth_rel, sample_rel, _, _ = good[index]
      pairs[index] = {'pair_id': index, 'file': key, 'truth': truth_rel, 'sample': sample_rel,
                      'truth_side': sides[index], 'page_id': page_id, 'position': position}
  study = {
      'format': PAIRS_FORMAT, 'version': 1, 'study_id': sid, 'seed': seed, 'title': title,
      'question': question, 'truth_dir': os.path.abspath(truth_dir),
      'samples_dir': os.path.abspath(samples_dir), 'sample_suffix': sample_suffix,
      'pairs_per_page': pairs_per_page, 'pages': pages, 'pairs': pairs,
  }

  # --- write ---
  old = os.path.join(output, 'pairs.json')
  if os.path.isfile(old):
    try:
      with open(old) as f:
        old_id = json.load(f).get('study_id')
    except (OSError, ValueError, AttributeError):
      old_id = None
    if old_id and old_id != sid:
      log(f'note: replacing study {old_id} in {output}: answers to its pages will no longer '
          'score against the new pairs.json')
  for page in pages:
    page_pairs = []
    for index in page['pair_ids']:
      key, _, _, truth_img, sample_img = good[index]
      truth_left = pairs[index]['truth_side'] == 'left'
      left, right = (truth_img, sample_img) if truth_left else (sample_img, truth_img)
      page_pairs.append({'pair_id': index, 'file': key, 'truth_side': pairs[index]['truth_side'],
                         'left': _image_entry(left), 'right': _image_entry(right)})
    data = {'study_id': sid, 'page_id': page['page_id'], 'title': title, 'question': question,
            'page_number': pages.index(page) + 1, 'num_pages': len(pages),
            'display_size': display_size, 'pairs': page_pairs}
    _write_text(os.path.join(output, page['file']), render_page(data))
  if len(pages) > 1:
    _write_text(os.path.join(output, 'index.html'), render_index(study))
  _write_text(old, json.dumps(study, indent=1) + '\n')
  return study, skipped


def _image_entry(encoded):
  uri, width, height = encoded
  return {'src': uri, 'width': width, 'height': height}


def _write_text(path, text):
  tmp = path + '.tmp'
  with open(tmp, 'w', encoding='utf-8') as f:
    f.write(text)
  os.replace(tmp, path)


def _script_json(value):
  """JSON that is safe inside <script>: no `</script>` or `<!--` can end the element early."""
  return (json.dumps(value, separators=(',', ':')).replace('<', '\\u003c')
          .replace('>', '\\u003e').replace('&', '\\u0026'))


def render_page(data):
  """The self-contained rating page for one page's `data` (pairs with embedded images)."""
  title = html.escape(data['title'])
  if data['num_pages'] > 1:
    title += f' ({data["page_number"]}/{data["num_pages"]})'
  return _fill(PAGE_TEMPLATE, TITLE=title, QUESTION=html.escape(data['question']),
               NUM_PAIRS=str(len(data['pairs'])), SIZE=str(data['display_size']),
               DATA=_script_json(data))


def _fill(template, **values):
  """Replaces each __NAME__ in one pass, so a value holding `__DATA__` stays as it is."""
  return re.sub(r'__([A-Z_]+?)__', lambda m: values.get(m.group(1), m.group(0)), template)


def render_index(study):
  """index.html of a study split over several pages: one link per page."""
  items = '\n'.join(
      f'  <li><a href="{html.escape(p["file"])}">Page {k}</a> ({len(p["pair_ids"])} pairs)</li>'
      for k, p in enumerate(study['pages'], 1))
  return _fill(INDEX_TEMPLATE, TITLE=html.escape(study['title']), ITEMS=items)


# ----------------------------------------------------------------------------------------------
# score: % fooled with standard errors.
# ----------------------------------------------------------------------------------------------
def _load_json(path, what):
  if not os.path.exists(path):
    raise cli.UsageError(f'{what} {path} does not exist')
  try:
    with open(path, encoding='utf-8') as f:
      return json.load(f)
  except IsADirectoryError:
    raise cli.UsageError(f'{what} {path} is a folder, not a JSON file') from None
  except UnicodeDecodeError:
    raise cli.UsageError(f'{what} {path} is not a text (JSON) file') from None
  except json.JSONDecodeError as e:
    raise cli.UsageError(f'{what} {path} is not valid JSON: {e}') from None
  except OSError as e:
    raise cli.UsageError(f'cannot read {what} {path}: {e.strerror or e}') from None


def load_pairs(path):
  study = _load_json(path, '--pairs file')
  if not isinstance(study, dict) or study.get('format') != PAIRS_FORMAT:
    raise cli.UsageError(f'{path} is not a pairs.json written by `rating build`')
  return study


def load_answers(path):
  """One rater session's answers file, checked for shape; UsageError names what is wrong."""
  data = _load_json(path, 'answers file')
  if not isinstance(data, dict) or data.get('format') != ANSWERS_FORMAT:
    raise cli.UsageError(f'{path} is not an answers file downloaded from a rating page')
  answers = data.get('answers')
  if not isinstance(answers, list):
    raise cli.UsageError(f'{path} has no list of answers')
  for field in ('study_id', 'page_id'):
    if not isinstance(data.get(field), str):
      raise cli.UsageError(f'{path} has no {field}')
  seen = set()
  for k, a in enumerate(answers):
    if (not isinstance(a, dict) or a.get('truth_side') not in SIDES
        or a.get('chosen_side') not in SIDES or not isinstance(a.get('pair_id'), int)):
      raise cli.UsageError(f'{path}: answer {k} needs an integer pair_id and truth_side and '
                           'chosen_side of left or right')
    if a['pair_id'] in seen:
      raise cli.UsageError(f'{path}: pair {a["pair_id"]} is answered twice')
    seen.add(a['pair_id'])
    if 'chose_truth' in a and a['chose_truth'] != (a['chosen_side'] == a['truth_side']):
      raise cli.UsageError(f'{path}: answer {k} says chose_truth={a["chose_truth"]} but chose '
                           f'{a["chosen_side"]} with the truth on the {a["truth_side"]}')
  return data


def percent_fooled(fooled, n):
  """(% fooled, binomial standard error in percentage points) of `fooled` out of `n` answers."""
  p = fooled / n
  return 100.0 * p, 100.0 * math.sqrt(p * (1.0 - p) / n)


def score(answer_files, pairs=None):
  """% fooled over the answers of `answer_files` (paths); `pairs` a loaded pairs.json or None.

  A rater is the rater name typed on the page, or one session (answers file) when it is empty.
  """
  sessions = [(path, load_answers(path)) for path in answer_files]
  if pairs is not None:
    by_id = {p['pair_id']: p for p in pairs['pairs']}
    pages = {p['page_id'] for p in pairs['pages']}
  else:
    studies = {data['study_id'] for _, data in sessions}
    if len(studies) > 1:
      raise cli.UsageError(f'the answers come from {len(studies)} different studies ('
                           f'{", ".join(sorted(studies))}); score each study on its own')
  seen_sessions = {}
  raters = collections.OrderedDict()
  per_file = collections.OrderedDict()
  anonymous = 0
  for path, data in sessions:
    if pairs is not None:
      if data['study_id'] != pairs['study_id'] or data['page_id'] not in pages:
        raise cli.UsageError(f'{path} answers page {data["page_id"]}, which is not a page of the '
                             f'--pairs study {pairs["study_id"]}')
    session = data.get('session_id')
    if session:
      if session in seen_sessions:
        raise cli.UsageError(f'{path} and {seen_sessions[session]} hold the same rating session')
      seen_sessions[session] = path
    rater = str(data.get('rater') or '').strip()
    if not rater:
      anonymous += 1
      rater = f'(anonymous {anonymous})'
    for a in data['answers']:
      truth_side = a['truth_side']
      if pairs is not None:
        pair = by_id.get(a['pair_id'])
        if pair is None or pair['page_id'] != data['page_id']:
          raise cli.UsageError(f'{path}: pair {a["pair_id"]} is not on page {data["page_id"]}')
        if pair['truth_side'] != truth_side or a.get('file', pair['file']) != pair['file']:
          raise cli.UsageError(f'{path}: pair {a["pair_id"]} does not match pairs.json '
                               f'(file {a.get("file")}, truth on the {truth_side})')
      fooled = a['chosen_side'] != truth_side
      raters.setdefault(rater, []).append(fooled)
      per_file.setdefault(a.get('file', str(a['pair_id'])), []).append(fooled)
  answers = [f for v in raters.values() for f in v]
  if not answers:
    raise cli.UsageError('the answers files hold no answers')
  pct, se = percent_fooled(sum(answers), len(answers))
  rows = []
  for rater, fooled in raters.items():
    r_pct, r_se = percent_fooled(sum(fooled), len(fooled))
    rows.append({'rater': rater, 'n_answers': len(fooled), 'n_fooled': sum(fooled),
                 'percent_fooled': r_pct, 'stderr': r_se})
  result = {
      'study_id': pairs['study_id'] if pairs else sessions[0][1]['study_id'],
      'percent_fooled': pct, 'stderr': se, 'n_answers': len(answers), 'n_fooled': sum(answers),
      'n_raters': len(rows), 'raters': rows,
      'mean_over_raters': None, 'stderr_across_raters': None,
      'answer_files': [os.path.abspath(p) for p in answer_files],
      'per_image': [{'file': f, 'n_answers': len(v), 'n_fooled': sum(v)}
                    for f, v in sorted(per_file.items())],
  }
  if len(rows) >= 2:
    values = np.array([r['percent_fooled'] for r in rows])
    result['mean_over_raters'] = float(values.mean())
    result['stderr_across_raters'] = float(values.std(ddof=1) / math.sqrt(len(values)))
  return result


def format_table(result):
  """A short plain-text table of `score`'s result."""
  width = max([len('all raters')] + [len(r['rater']) for r in result['raters']])
  lines = [f'study {result["study_id"]}: {result["n_answers"]} answers from '
           f'{result["n_raters"]} rater{"s" if result["n_raters"] != 1 else ""}',
           f'{"rater":<{width}}  {"answers":>7}  {"% fooled":>8}  {"s.e.":>5}']
  for r in result['raters']:
    lines.append(f'{r["rater"]:<{width}}  {r["n_answers"]:>7}  {r["percent_fooled"]:>8.1f}  '
                 f'{r["stderr"]:>5.1f}')
  lines.append(f'{"all raters":<{width}}  {result["n_answers"]:>7}  '
               f'{result["percent_fooled"]:>8.1f}  {result["stderr"]:>5.1f}  (binomial)')
  if result['stderr_across_raters'] is not None:
    lines.append(f'{"rater mean":<{width}}  {result["n_raters"]:>7}  '
                 f'{result["mean_over_raters"]:>8.1f}  {result["stderr_across_raters"]:>5.1f}  '
                 '(across raters)')
  return '\n'.join(lines)


# ----------------------------------------------------------------------------------------------
# Command line.
# ----------------------------------------------------------------------------------------------
def _check_flags(command):
  wrong = [f'--{name}' for name in sorted(set(n for v in _FLAGS_OF.values() for n in v))
           if FLAGS[name].present and name not in _FLAGS_OF[command]]
  if wrong:
    raise cli.UsageError(f'{", ".join(wrong)} {"is" if len(wrong) == 1 else "are"} not a flag of '
                         f'`rating {command}`')


def main(argv):
  if len(argv) < 2 or argv[1] not in _FLAGS_OF:
    raise cli.UsageError('say `build` (make the rating page) or `score ANSWERS.json ...` (score '
                         'the answers); see --help')
  command, rest = argv[1], argv[2:]
  _check_flags(command)
  if command == 'build':
    if rest:
      raise cli.UsageError(f'unexpected arguments: {" ".join(rest)}')
    study, skipped = build(FLAGS.truth, FLAGS.samples, FLAGS.output, FLAGS.sample_suffix,
                           FLAGS.pairs_per_page, FLAGS.seed, FLAGS.title, FLAGS.question,
                           FLAGS.display_size, FLAGS.max_side)
    num_pages = len(study['pages'])
    pages = os.path.join(FLAGS.output, 'index.html') + (
        f' and {num_pages} pages it links to' if num_pages > 1 else '')
    print(f'wrote {len(study["pairs"])} pairs to {pages} (send to raters) and '
          f'{os.path.join(FLAGS.output, "pairs.json")} (keep, for scoring); study '
          f'{study["study_id"]}', flush=True)
    if skipped:
      print(f'{len(skipped)} of {len(skipped) + len(study["pairs"])} pairs could not be read',
            file=sys.stderr)
      sys.exit(cli.EXIT_PARTIAL)
    return
  if not rest:
    raise cli.UsageError('score needs the answers files: rating score ANSWERS.json [...]')
  pairs = load_pairs(FLAGS.pairs) if FLAGS.pairs else None
  result = score(rest, pairs)
  print(format_table(result), flush=True)
  if FLAGS.output:
    parent = os.path.dirname(os.path.abspath(FLAGS.output))
    if not os.path.isdir(parent):
      raise cli.UsageError(f'folder of --output {FLAGS.output} does not exist')
    try:
      _write_text(FLAGS.output, json.dumps(result, indent=1) + '\n')
    except OSError as e:
      raise cli.UsageError(f'cannot write --output {FLAGS.output}: {e.strerror or e}') from None
    print(f'wrote {FLAGS.output}', flush=True)


# ----------------------------------------------------------------------------------------------
# The page. Plain HTML, CSS and JavaScript, no network: it must open from file:// on any machine.
# ----------------------------------------------------------------------------------------------
PAGE_TEMPLATE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
  :root { --size: min(__SIZE__px, 40vw); --accent: #2563eb; }
  * { box-sizing: border-box; }
  [hidden] { display: none !important; }
  body { margin: 0; background: #f1f1ef; color: #1f2328;
         font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
  main { max-width: 980px; margin: 0 auto; padding: 28px 16px 40px; text-align: center; }
  h1 { font-size: 1.5rem; font-weight: 650; margin: 0 0 6px; }
  h2 { font-size: 1.3rem; margin: 8px 0; }
  .card { background: #fff; border-radius: 12px; box-shadow: 0 1px 4px rgba(0, 0, 0, .08);
          padding: 24px 28px; margin: 18px auto; max-width: 620px; }
  .card p { margin: 10px 0; }
  .question { font-size: 1.15rem; font-weight: 600; margin: 14px 0 18px; }
  kbd { display: inline-block; min-width: 1.6em; padding: 0 .35em; border: 1px solid #c9c9c9;
        border-bottom-width: 2px; border-radius: 4px; background: #fafafa; font: inherit;
        font-size: .9em; line-height: 1.4; }
  label { display: block; margin: 18px 0 6px; color: #555; }
  input[type=text] { display: block; margin: 0 auto; font: inherit; padding: 8px 10px;
                     width: min(320px, 90%); border: 1px solid #c9c9c9; border-radius: 8px;
                     text-align: center; }
  .primary { display: inline-block; margin-top: 18px; padding: 10px 28px; border: 0;
             border-radius: 8px; background: var(--accent); color: #fff; font: inherit;
             font-weight: 600;
             text-decoration: none; cursor: pointer; }
  .primary:hover { filter: brightness(1.1); }
  .link { border: 0; background: none; color: var(--accent); font: inherit; cursor: pointer;
          text-decoration: underline; padding: 0; }
  .muted { color: #6b6f76; font-size: .92rem; }
  #progress { display: flex; align-items: center; justify-content: center; gap: 12px;
              margin: 4px 0 0; color: #555; font-variant-numeric: tabular-nums; }
  .bar { width: 220px; height: 6px; background: #dcdcd8; border-radius: 3px; overflow: hidden; }
  #bar-fill { height: 100%; width: 0; background: var(--accent); transition: width .2s; }
  .pair { display: flex; justify-content: center; gap: 28px; margin: 8px 0 10px; }
  .choice { display: flex; flex-direction: column; align-items: center; gap: 10px; padding: 12px;
            border: 3px solid transparent; border-radius: 12px; background: #fff; cursor: pointer;
            box-shadow: 0 1px 4px rgba(0, 0, 0, .1); font: inherit; color: #555; }
  .choice:hover { border-color: #93b4f5; }
  .choice:focus { outline: none; }
  .choice:focus-visible { border-color: #93b4f5; }
  .choice.chosen { border-color: var(--accent); background: #eaf0fe; }
  .frame { width: var(--size); height: var(--size); display: flex; align-items: center;
           justify-content: center; }
  .frame img { display: block; }
  img.pixelated { image-rendering: pixelated; }
  #stage { visibility: hidden; }
  #stage[data-shown="1"] { visibility: visible; }
  footer { margin-top: 14px; }
  textarea { width: 100%; height: 140px; font: 12px/1.4 ui-monospace, monospace; }
  details { margin-top: 18px; text-align: left; }
  summary { cursor: pointer; color: #6b6f76; }
</style>
</head>
<body>
<main>
  <h1>__TITLE__</h1>
  <div id="progress" hidden>
    <span id="counter"></span><div class="bar"><div id="bar-fill"></div></div>
  </div>

  <section id="start" class="card">
    <p>You will see <b>__NUM_PAIRS__</b> pairs of images. In each pair, one image is a real
      photograph and the other was made by a computer.</p>
    <p class="question">__QUESTION__</p>
    <p>Click the image you pick, or press <kbd>&larr;</kbd> for the left one and <kbd>&rarr;</kbd>
      for the right one. Go with your first impression.</p>
    <form id="start-form" autocomplete="off">
      <label for="rater">Your name (optional)</label>
      <input type="text" id="rater" maxlength="80">
      <p id="resume" class="muted" hidden>This browser has your answers to <b id="resume-count"></b>
        of __NUM_PAIRS__ pairs: you will continue where you stopped.
        <button type="button" id="restart" class="link">Start over</button></p>
      <button type="submit" id="start-button" class="primary">Start</button>
    </form>
  </section>

  <section id="rate" hidden>
    <p class="question">__QUESTION__</p>
    <div id="stage" class="pair">
      <button type="button" class="choice" id="left" data-side="left">
        <span class="frame"><img id="left-img" alt="left image"></span>
        <span><kbd>&larr;</kbd> left</span>
      </button>
      <button type="button" class="choice" id="right" data-side="right">
        <span class="frame"><img id="right-img" alt="right image"></span>
        <span>right <kbd>&rarr;</kbd></span>
      </button>
    </div>
    <footer>
      <button type="button" id="stop" class="link muted">Stop here and download my answers</button>
    </footer>
  </section>

  <section id="done" class="card" hidden>
    <h2>Thank you!</h2>
    <p>You answered <b id="done-count"></b> of __NUM_PAIRS__ pairs.</p>
    <p>Download your answers and send the file to the person who runs this study.</p>
    <a id="download" class="primary" href="#">Download answers</a>
    <p id="more" class="muted" hidden><button type="button" id="continue" class="link">Go back and
      answer the remaining pairs</button></p>
    <details>
      <summary>The download does not start?</summary>
      <p class="muted">Copy this text into a file named <code id="file-name"></code>:</p>
      <textarea id="answers-text" readonly></textarea>
    </details>
  </section>
</main>
<script>const STUDY = __DATA__;</script>
<script>
"use strict";
(function () {
  var KEY = "pixel_recursive.rating:" + STUDY.page_id;
  // Inputs this soon after a pair appears are double clicks meant for the previous pair.
  var GUARD_MS = 150;
  var N = STUDY.pairs.length;
  var $ = function (id) { return document.getElementById(id); };
  var state = load();
  var shownAt = 0, ready = false;

  function newSession() {
    var id = (window.crypto && crypto.randomUUID) ? crypto.randomUUID()
        : Math.random().toString(16).slice(2) + Date.now().toString(16);
    return {session_id: id, rater: "", started_at: null, answers: []};
  }
  function load() {
    try {
      var s = JSON.parse(localStorage.getItem(KEY));
      if (s && Array.isArray(s.answers) && s.session_id) return s;
    } catch (e) {}
    return newSession();
  }
  function save() {
    // Some private modes have no storage: the page still works, a reload just starts over.
    try { localStorage.setItem(KEY, JSON.stringify(state)); } catch (e) {}
  }
  function show(id) {
    ["start", "rate", "done"].forEach(function (s) { $(s).hidden = (s !== id); });
    $("progress").hidden = (id === "start");
  }
  function progress(finished) {
    var k = state.answers.length;
    // While rating: the pair on screen. At the end: how many were answered.
    $("counter").textContent = (finished ? k : Math.min(k + 1, N)) + " / " + N;
    $("bar-fill").style.width = (100 * k / N) + "%";
  }
  function place(img, entry) {
    var longer = Math.max(entry.width, entry.height);
    img.style.width = (100 * entry.width / longer) + "%";
    img.style.height = (100 * entry.height / longer) + "%";
    // A small image scaled up 2x or more: keep its pixels sharp, as the model produced them.
    img.classList.toggle("pixelated", 2 * longer <= STUDY.display_size);
    img.src = entry.src;
  }
  function next() {
    var stage = $("stage");
    ready = false;
    stage.dataset.shown = "0";
    stage.dataset.ready = "0";
    $("left").classList.remove("chosen");
    $("right").classList.remove("chosen");
    progress();
    if (state.answers.length >= N) return finish();
    var pair = STUDY.pairs[state.answers.length];
    var left = $("left-img"), right = $("right-img");
    place(left, pair.left);
    place(right, pair.right);
    stage.dataset.index = String(state.answers.length);
    var decoded = function (img) { return img.decode ? img.decode().catch(function () {}) : null; };
    Promise.all([decoded(left), decoded(right)]).then(function () {
      stage.dataset.shown = "1";
      requestAnimationFrame(function () {
        shownAt = performance.now();
        setTimeout(function () { ready = true; stage.dataset.ready = "1"; }, GUARD_MS);
      });
    });
  }
  function choose(side) {
    if (!ready || state.answers.length >= N) return;
    ready = false;
    var pair = STUDY.pairs[state.answers.length];
    state.answers.push({
      pair_id: pair.pair_id, file: pair.file, truth_side: pair.truth_side, chosen_side: side,
      chose_truth: side === pair.truth_side,
      response_ms: Math.round(performance.now() - shownAt),
      answered_at: new Date().toISOString()
    });
    save();
    $(side).classList.add("chosen");
    setTimeout(next, 180);
  }
  function answersJson() {
    return {
      format: "pixel_recursive.rating/answers", version: 1,
      study_id: STUDY.study_id, page_id: STUDY.page_id, title: STUDY.title,
      rater: state.rater, session_id: state.session_id,
      started_at: state.started_at, finished_at: new Date().toISOString(),
      num_pairs: N, complete: state.answers.length >= N,
      user_agent: navigator.userAgent, answers: state.answers
    };
  }
  function finish() {
    ready = false;
    show("done");
    progress(true);
    var text = JSON.stringify(answersJson(), null, 1);
    var slug = (state.rater || state.session_id.slice(0, 8)).replace(/[^A-Za-z0-9_-]+/g, "_");
    var name = "answers_" + STUDY.page_id + "_" + slug + ".json";
    var link = $("download");
    if (link.href && link.href.indexOf("blob:") === 0) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([text], {type: "application/json"}));
    link.download = name;
    $("file-name").textContent = name;
    $("answers-text").value = text;
    $("done-count").textContent = String(state.answers.length);
    $("more").hidden = state.answers.length >= N;
  }
  function begin() {
    state.rater = $("rater").value.trim();
    if (!state.started_at) state.started_at = new Date().toISOString();
    save();
    show("rate");
    next();
  }

  // --- wiring ---
  $("rater").value = state.rater || "";
  if (state.answers.length > 0) {
    $("resume").hidden = false;
    $("resume-count").textContent = String(state.answers.length);
    if (state.answers.length >= N) $("start-button").textContent = "Continue to the download";
  }
  $("restart").addEventListener("click", function () {
    state = newSession();
    save();
    $("resume").hidden = true;
    $("start-button").textContent = "Start";
  });
  $("start-form").addEventListener("submit", function (e) { e.preventDefault(); begin(); });
  $("left").addEventListener("click", function () { choose("left"); });
  $("right").addEventListener("click", function () { choose("right"); });
  $("stop").addEventListener("click", finish);
  $("continue").addEventListener("click", function () { show("rate"); next(); });
  document.addEventListener("keydown", function (e) {
    if ($("rate").hidden || e.repeat || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === "ArrowLeft") { e.preventDefault(); choose("left"); }
    if (e.key === "ArrowRight") { e.preventDefault(); choose("right"); }
  });
  progress();
  show("start");
  $("rater").focus();
})();
</script>
</body>
</html>
"""

INDEX_TEMPLATE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
  body { margin: 0; background: #f1f1ef; color: #1f2328;
         font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
  main { max-width: 620px; margin: 40px auto; padding: 24px 28px; background: #fff;
         border-radius: 12px; box-shadow: 0 1px 4px rgba(0, 0, 0, .08); }
  h1 { font-size: 1.5rem; margin: 0 0 8px; }
  a { color: #2563eb; }
</style>
</head>
<body>
<main>
<h1>__TITLE__</h1>
<p>This study is split over several pages. Open the page you were asked to rate; each page ends with
a button that downloads your answers.</p>
<ul>
__ITEMS__
</ul>
</main>
</body>
</html>
"""


if __name__ == '__main__':
  cli.run(main)
