"""`rating build`: pairs two folders' files by name, encodes both images of a pair alike, and writes
the rating page(s) (from templates/) and pairs.json. How the page keeps its secret: see __init__."""
import base64
import collections
import functools
import hashlib
import hmac
import html
import importlib.resources
import io
import json
import os
import secrets
import string
import sys

import numpy as np

from pixel_recursive import commands

PAIRS_FORMAT = 'pixel_recursive.rating/pairs'
ANSWERS_FORMAT = 'pixel_recursive.rating/answers'
# Version 2: the page and its answers carry no truth sides; score reads them from pairs.json.
VERSION = 2
SIDES = ('left', 'right')
SEED_BITS = 128
# A seed below this could be found by trying them all: build says so.
GUESSABLE_SEED = 2 ** 64
PRESETS = {
    'super_resolution': {
        'title': 'Which image is real?',
        'question': 'Which image, would you guess, is from a camera?',  # Dahl et al. 2017.
        'intro': ('In each pair, one image is a real photograph and the other was made by a '
                  'computer.'),
    },
    'colorization': {
        'title': 'Which colours are real?',
        'question': 'Which image, would you guess, has its true colours?',  # PixColor.
        'intro': ('Each pair shows the same picture twice: once in its real colours, once '
                  'coloured by a computer.'),
    },
}


# ----------------------------------------------------------------------------------------------
# Pairing files.
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
    problems.append(f'ignored {commands.counted(len(ignored), "file")} of {samples_dir} not named '
                    f'*{sample_suffix}.* (e.g. {ignored[0]})')
  matched = [(k, truth[k], samples[k]) for k in sorted(set(truth) & set(samples))]
  return matched, problems


def suggest_suffix(truth_dir, samples_dir):
  """The sample-name suffix (e.g. '_sample0') that would pair the most truth images, or None.

  For the error message when nothing pairs: `upsample` names its samples NAME_sample0.png.
  """
  truth = _keyed_files(truth_dir)[0]
  counts = collections.Counter()
  for stem in _keyed_files(samples_dir)[0]:
    for cut in range(1, len(stem)):
      if stem[:cut] in truth:
        counts[stem[cut:]] += 1
  return counts.most_common(1)[0][0] if counts else None


# ----------------------------------------------------------------------------------------------
# The secret: sides, order and ids from a keyed hash of the seed.
# ----------------------------------------------------------------------------------------------
def new_seed():
  """A seed nobody can guess: SEED_BITS random bits from the operating system."""
  return secrets.randbits(SEED_BITS)


def _prf(seed, *parts):
  """HMAC-SHA256 of `parts` keyed with the seed: unpredictable without the seed, same everywhere."""
  return hmac.new(str(seed).encode(), json.dumps(parts).encode(), hashlib.sha256).digest()


def assign_sides(num_pairs, seed):
  """(display order [pair index], truth sides [str], pair ids [str]) of `num_pairs` pairs.

  Each is an independent keyed hash of the seed, so the ids and the order shown on the page say
  nothing about the sides to whoever does not know the seed.
  """
  sides = [SIDES[_prf(seed, 'side', k)[0] & 1] for k in range(num_pairs)]
  order = sorted(range(num_pairs), key=lambda k: _prf(seed, 'order', k))
  for length in (16, 64):  # 64 bits; the whole digest on the (astronomical) chance of a collision.
    ids = [_prf(seed, 'id', k).hex()[:length] for k in range(num_pairs)]
    if len(set(ids)) == num_pairs:
      break
  return order, sides, ids


def study_id(matched, digests, seed, pairs_per_page):
  """A short id of the pairs, their contents, the seed and the paging: same inputs, same id."""
  return _prf(seed, 'study', matched, digests, pairs_per_page).hex()[:12]


def _file_digest(path):
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


# ----------------------------------------------------------------------------------------------
# Images: both of a pair to one size, one encoder.
# ----------------------------------------------------------------------------------------------
def common_shape(truth_shape, sample_shape, max_side):
  """(height, width) at which both images of a pair are embedded: the smaller image's size,
  downscaled so that its longer side is at most `max_side`."""
  h, w = min((tuple(truth_shape[:2]), tuple(sample_shape[:2])), key=lambda s: (s[0] * s[1], s))
  if max(h, w) > max_side:
    scale = max_side / max(h, w)
    h, w = max(1, round(h * scale)), max(1, round(w * scale))
  return h, w


def _fit(image, shape):
  """uint8 [H, W, 3] centre-cropped to the aspect ratio of `shape` and resized (Lanczos) to it."""
  from PIL import Image
  h, w = shape
  ih, iw = image.shape[:2]
  if (ih, iw) == (h, w):
    return image
  if iw * h > ih * w:  # Wider than the target.
    cw = min(iw, max(1, round(ih * w / h)))
    image = image[:, (iw - cw) // 2:(iw - cw) // 2 + cw]
  elif iw * h < ih * w:  # Taller.
    ch = min(ih, max(1, round(iw * h / w)))
    image = image[(ih - ch) // 2:(ih - ch) // 2 + ch]
  im = Image.fromarray(np.ascontiguousarray(image))
  if im.size != (w, h):
    im = im.resize((w, h), Image.LANCZOS)
  return np.asarray(im)


def _png_data_uri(image):
  """uint8 [H, W, 3] -> data URI of an 8-bit RGB PNG with no metadata chunks, always the same
  encoder settings: the bytes depend on the pixels only."""
  from PIL import Image
  buffer = io.BytesIO()
  Image.fromarray(np.ascontiguousarray(image, np.uint8)).save(buffer, format='PNG', optimize=True)
  return 'data:image/png;base64,' + base64.b64encode(buffer.getvalue()).decode('ascii')


def encode_pair(truth, sample, max_side):
  """Both images of a pair, uint8 [H, W, 3], the same way: (truth entry, sample entry, note).

  An entry is {'src': PNG data URI, 'width', 'height'}, the same size for both; `note` says what
  was done when the two sizes differ (None when they match).
  """
  h, w = common_shape(truth.shape, sample.shape, max_side)
  entries = [{'src': _png_data_uri(_fit(image, (h, w))), 'width': w, 'height': h}
             for image in (truth, sample)]
  note = None
  if truth.shape[:2] != sample.shape[:2]:
    note = (f'truth is {truth.shape[1]}x{truth.shape[0]}, sample {sample.shape[1]}x'
            f'{sample.shape[0]}: both are embedded at {w}x{h} (the larger centre-cropped to the '
            'same shape and resized), but raters may tell them apart by sharpness')
  return entries[0], entries[1], note


# ----------------------------------------------------------------------------------------------
# Templates.
# ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _resource(name):
  """The text of templates/`name` (package data)."""
  return (importlib.resources.files('pixel_recursive.rating') / 'templates' / name).read_text(
      encoding='utf-8')


def _template(name):
  return string.Template(_resource(name))


def _script_json(value):
  """JSON that is safe inside <script>: no `</script>` or `<!--` can end the element early."""
  return (json.dumps(value, separators=(',', ':')).replace('<', '\\u003c')
          .replace('>', '\\u003e').replace('&', '\\u0026'))


def render_page(data, intro):
  """The self-contained rating page for one page's `data` (pair ids and embedded images)."""
  title = html.escape(data['title'])
  if data['num_pages'] > 1:
    title += f' ({data["page_number"]}/{data["num_pages"]})'
  style = _template('page.css').substitute(size=data['display_size'])
  script = _resource('page.js')  # Inserted as it is: JavaScript is full of `$`.
  return _template('page.html').substitute(
      title=title, question=html.escape(data['question']), intro=html.escape(intro),
      num_pairs=len(data['pairs']), style=style, script=script, data=_script_json(data))


def render_index(study):
  """index.html of a study split over several pages: one link per page."""
  items = ''.join(_template('index_item.html').substitute(
      file=html.escape(p['file']), number=k, num_pairs=len(p['pair_ids']))
                  for k, p in enumerate(study['pages'], 1))
  return _template('index.html').substitute(title=html.escape(study['title']), items=items)


def page_file_names(num_pages):
  return ['index.html'] if num_pages == 1 else [f'page_{k:02d}.html' for k in
                                                range(1, num_pages + 1)]


def _write_text(path, text):
  tmp = path + '.tmp'
  with open(tmp, 'w', encoding='utf-8') as f:
    f.write(text)
  os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------
# build.
# ----------------------------------------------------------------------------------------------
def _check_args(truth_dir, samples_dir, output, preset, seed):
  if preset not in PRESETS:
    raise commands.UsageError(f'--preset must be one of {", ".join(PRESETS)}, got {preset!r}')
  if seed is not None and seed < 0:
    raise commands.UsageError(f'--seed must be >= 0, got {seed}')
  for flag, path in (('--truth', truth_dir), ('--samples', samples_dir)):
    if not path:
      raise commands.UsageError(f'{flag} is required')
    if not os.path.isdir(path):
      raise commands.UsageError(f'{flag} {path} is not a folder')
  if not output:
    raise commands.UsageError('--output (a folder) is required')
  if os.path.abspath(output) in (os.path.abspath(truth_dir), os.path.abspath(samples_dir)):
    raise commands.UsageError('--output must not be the --truth or --samples folder')


def _read_pairs(matched, truth_dir, samples_dir, max_side, log):
  """[(key, truth rel, sample rel, truth entry, sample entry)] of the readable pairs, and the
  unreadable files' messages."""
  from data import image_files
  good, skipped, notes = [], [], {}
  for n, (key, truth_rel, sample_rel) in enumerate(matched, 1):
    try:
      truth = image_files.read_image(os.path.join(truth_dir, truth_rel))
      sample = image_files.read_image(os.path.join(samples_dir, sample_rel))
    except image_files.ImageReadError as e:
      skipped.append(str(e))
      log(f'skipped {e}')
      continue
    truth_entry, sample_entry, note = encode_pair(truth, sample, max_side)
    if note:
      notes.setdefault(note, []).append(key)
    good.append((key, truth_rel, sample_rel, truth_entry, sample_entry))
    commands.log_progress(n, len(matched), 'read pairs', every=max(50, len(matched) // 10))
  for note, keys in notes.items():  # One line per kind of mismatch, not one per pair.
    if len(keys) == 1:
      log(f'note: {keys[0]}: {note}')
    else:
      named = ', '.join(keys[:3]) + (f' and {len(keys) - 3} more' if len(keys) > 3 else '')
      log(f'note: {len(keys)} pairs ({named}): {note}')
  return good, skipped


def build(truth_dir, samples_dir, output, sample_suffix='', pairs_per_page=0, seed=None,
          title=None, question=None, display_size=256, max_side=512, log=None,
          preset='super_resolution'):
  """Writes the rating page(s) and pairs.json; returns (pairs.json dict, skipped [str]).

  Args:
    seed: the secret the sides, order and ids follow from; None draws a random one (new_seed).
    title, question: the page's; None takes the `preset`'s (a key of PRESETS).
  Raises:
    commands.UsageError: a folder is missing, or no readable pair is left.
  """
  log = log or (lambda line: print(line, file=sys.stderr, flush=True))
  _check_args(truth_dir, samples_dir, output, preset, seed)
  title = PRESETS[preset]['title'] if title is None else title
  question = PRESETS[preset]['question'] if question is None else question
  matched, problems = match_files(truth_dir, samples_dir, sample_suffix)
  if not matched:
    from data import image_files
    for flag, folder in (('--truth', truth_dir), ('--samples', samples_dir)):
      if not image_files.list_images(folder):  # Not a matching problem: nothing to match.
        raise commands.UsageError(f'{flag} folder {folder} holds no image files (searched with '
                                  'its sub-folders)')
    suffix = f' (ending in {sample_suffix})' if sample_suffix else ''
    hint = suggest_suffix(truth_dir, samples_dir)
    hint = f'; try --sample_suffix={hint}' if hint and hint != sample_suffix else ''
    raise commands.UsageError(f'no image of {truth_dir} has a sample of the same name{suffix} in '
                              f'{samples_dir} ({len(problems)} unmatched, ambiguous or '
                              f'ignored){hint}')
  for line in problems:
    log(line)
  commands.check_output_dir(output)
  if seed is None:
    seed = new_seed()
  elif seed < GUESSABLE_SEED:
    log(f'note: the sides follow from --seed={seed}: whoever guesses it can tell which images are '
        'real. Keep it secret, or leave --seed out for a random one.')

  good, skipped = _read_pairs(matched, truth_dir, samples_dir, max_side, log)
  if not good:
    raise commands.UsageError('none of the matched pairs could be read')

  # --- sides, order, ids, pages ---
  names = [(key, t, s) for key, t, s, _, _ in good]
  digests = [(_file_digest(os.path.join(truth_dir, t)), _file_digest(os.path.join(samples_dir, s)))
             for _, t, s in names]
  sid = study_id(names, digests, seed, pairs_per_page)
  order, sides, ids = assign_sides(len(good), seed)
  per_page = pairs_per_page or len(good)
  chunks = [order[i:i + per_page] for i in range(0, len(order), per_page)]
  pages, pairs = [], [None] * len(good)
  for number, (chunk, file) in enumerate(zip(chunks, page_file_names(len(chunks))), 1):
    page_id = f'{sid}-{number}'
    pages.append({'page_id': page_id, 'file': file, 'pair_ids': [ids[k] for k in chunk]})
    for position, index in enumerate(chunk):
      key, truth_rel, sample_rel, truth_entry, _ = good[index]
      pairs[index] = {'pair_id': ids[index], 'file': key, 'truth': truth_rel,
                      'sample': sample_rel, 'truth_side': sides[index], 'page_id': page_id,
                      'position': position,
                      'embedded_size': [truth_entry['width'], truth_entry['height']]}
  study = {
      'format': PAIRS_FORMAT, 'version': VERSION, 'study_id': sid, 'seed': seed,
      'preset': preset, 'title': title, 'question': question,
      'truth_dir': os.path.abspath(truth_dir), 'samples_dir': os.path.abspath(samples_dir),
      'sample_suffix': sample_suffix, 'pairs_per_page': pairs_per_page, 'max_side': max_side,
      'pages': pages, 'pairs': pairs,
  }

  # --- write ---
  pairs_path = os.path.join(output, 'pairs.json')
  _note_replaced_study(pairs_path, sid, output, log)
  for number, (page, chunk) in enumerate(zip(pages, chunks), 1):
    shown = []
    for index in chunk:
      _, _, _, truth_entry, sample_entry = good[index]
      left, right = ((truth_entry, sample_entry) if sides[index] == 'left' else
                     (sample_entry, truth_entry))
      shown.append({'id': ids[index], 'left': left, 'right': right})
    data = {'format': 'pixel_recursive.rating/page', 'version': VERSION, 'study_id': sid,
            'page_id': page['page_id'], 'title': title, 'question': question,
            'page_number': number, 'num_pages': len(pages), 'display_size': display_size,
            'pairs': shown}
    _write_text(os.path.join(output, page['file']), render_page(data, PRESETS[preset]['intro']))
  if len(pages) > 1:
    _write_text(os.path.join(output, 'index.html'), render_index(study))
  _write_text(pairs_path, json.dumps(study, indent=1) + '\n')
  return study, skipped


def _note_replaced_study(pairs_path, sid, output, log):
  if not os.path.isfile(pairs_path):
    return
  try:
    with open(pairs_path) as f:
      old_id = json.load(f).get('study_id')
  except (OSError, ValueError, AttributeError):
    old_id = None
  if old_id and old_id != sid:
    log(f'note: replacing study {old_id} in {output}: answers to its pages will no longer '
        'score against the new pairs.json')
