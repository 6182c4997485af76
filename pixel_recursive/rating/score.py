"""`rating score`: checks answers files against pairs.json; % fooled with standard errors.

Answers hold which side a rater clicked; pairs.json which side was true. Answers of pages built by
version 1 of `rating build` (which also carried the sides) score too: only their pair_id and
chosen_side are read.
"""
import collections
import json
import math
import os

import numpy as np

from pixel_recursive import commands
from pixel_recursive.rating.build import ANSWERS_FORMAT
from pixel_recursive.rating.build import PAIRS_FORMAT
from pixel_recursive.rating.build import SIDES

VERSIONS = (1, 2)


def _load_json(path, what):
  if not os.path.exists(path):
    raise commands.UsageError(f'{what} {path} does not exist')
  try:
    with open(path, encoding='utf-8') as f:
      return json.load(f)
  except IsADirectoryError:
    raise commands.UsageError(f'{what} {path} is a folder, not a JSON file') from None
  except UnicodeDecodeError:
    raise commands.UsageError(f'{what} {path} is not a text (JSON) file') from None
  except json.JSONDecodeError as e:
    raise commands.UsageError(f'{what} {path} is not valid JSON: {e}') from None
  except OSError as e:
    raise commands.UsageError(f'cannot read {what} {path}: {e.strerror or e}') from None


def _is_pair_id(value):
  """Pair ids are strings (version 2) or integers (version 1), never booleans."""
  return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def load_pairs(path):
  """The pairs.json `build` wrote, checked for shape; UsageError names what is wrong."""
  study = _load_json(path, '--pairs file')
  if not isinstance(study, dict) or study.get('format') != PAIRS_FORMAT:
    raise commands.UsageError(f'{path} is not a pairs.json written by `rating build`')
  if study.get('version') not in VERSIONS:
    raise commands.UsageError(f'{path} is pairs.json version {study.get("version")}; this scorer '
                              f'reads versions {", ".join(map(str, VERSIONS))}')
  pages, pairs = study.get('pages'), study.get('pairs')
  if (not isinstance(study.get('study_id'), str) or not isinstance(pages, list)
      or not isinstance(pairs, list)
      or not all(isinstance(p, dict) and isinstance(p.get('page_id'), str) for p in pages)):
    raise commands.UsageError(f'{path} is damaged: it needs a study_id, pages and pairs')
  for k, pair in enumerate(pairs):
    if (not isinstance(pair, dict) or not _is_pair_id(pair.get('pair_id'))
        or pair.get('truth_side') not in SIDES or not isinstance(pair.get('page_id'), str)):
      raise commands.UsageError(f'{path} is damaged: pair {k} needs a pair_id, a page_id and a '
                                'truth_side of left or right')
  return study


def load_answers(path):
  """One rater session's answers file, checked for shape; UsageError names what is wrong."""
  data = _load_json(path, 'answers file')
  if not isinstance(data, dict) or data.get('format') != ANSWERS_FORMAT:
    raise commands.UsageError(f'{path} is not an answers file downloaded from a rating page')
  answers = data.get('answers')
  if not isinstance(answers, list):
    raise commands.UsageError(f'{path} has no list of answers')
  for field in ('study_id', 'page_id'):
    if not isinstance(data.get(field), str):
      raise commands.UsageError(f'{path} has no {field}')
  seen = set()
  for k, a in enumerate(answers):
    if (not isinstance(a, dict) or not _is_pair_id(a.get('pair_id'))
        or a.get('chosen_side') not in SIDES):
      raise commands.UsageError(f'{path}: answer {k} needs a pair_id and a chosen_side of left or '
                                'right')
    if a['pair_id'] in seen:
      raise commands.UsageError(f'{path}: pair {a["pair_id"]} is answered twice')
    seen.add(a['pair_id'])
  return data


def percent_fooled(fooled, n):
  """(% fooled, binomial standard error in percentage points) of `fooled` out of `n` answers."""
  p = fooled / n
  return 100.0 * p, 100.0 * math.sqrt(p * (1.0 - p) / n)


def score(answer_files, pairs):
  """% fooled over the answers of `answer_files` (paths), scored against `pairs` (load_pairs).

  A rater is the rater name typed on the page, or one session (answers file) when it is empty.
  """
  if not isinstance(pairs, dict):
    raise commands.UsageError('scoring needs the pairs.json of the study (--pairs)')
  sessions = [(path, load_answers(path)) for path in answer_files]
  by_id = {p['pair_id']: p for p in pairs['pairs']}
  pages = {p['page_id'] for p in pairs['pages']}
  seen_sessions = {}
  raters = collections.OrderedDict()
  per_file = collections.OrderedDict()
  anonymous = 0
  for path, data in sessions:
    if data['study_id'] != pairs['study_id'] or data['page_id'] not in pages:
      raise commands.UsageError(f'{path} answers page {data["page_id"]}, which is not a page of '
                                f'the --pairs study {pairs["study_id"]}')
    session = data.get('session_id')
    if session:
      if session in seen_sessions:
        raise commands.UsageError(
            f'{path} and {seen_sessions[session]} hold the same rating session')
      seen_sessions[session] = path
    rater = str(data.get('rater') or '').strip()
    if not rater:
      anonymous += 1
      rater = f'(anonymous {anonymous})'
    for a in data['answers']:
      pair = by_id.get(a['pair_id'])
      if pair is None or pair['page_id'] != data['page_id']:
        raise commands.UsageError(f'{path}: pair {a["pair_id"]} is not on page {data["page_id"]}')
      fooled = a['chosen_side'] != pair['truth_side']
      raters.setdefault(rater, []).append(fooled)
      per_file.setdefault(str(pair.get('file', pair['pair_id'])), []).append(fooled)
  answers = [f for v in raters.values() for f in v]
  if not answers:
    raise commands.UsageError('the answers files hold no answers')
  pct, se = percent_fooled(sum(answers), len(answers))
  rows = []
  for rater, fooled in raters.items():
    r_pct, r_se = percent_fooled(sum(fooled), len(fooled))
    rows.append({'rater': rater, 'n_answers': len(fooled), 'n_fooled': sum(fooled),
                 'percent_fooled': r_pct, 'stderr': r_se})
  result = {
      'study_id': pairs['study_id'],
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
  lines = [f'study {result["study_id"]}: {commands.counted(result["n_answers"], "answer")} from '
           f'{commands.counted(result["n_raters"], "rater")}',
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


def write_scores(result, path):
  """Writes `score`'s result as JSON to `path`; UsageError if that is impossible."""
  parent = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(parent):
    raise commands.UsageError(f'folder of --output {path} does not exist')
  tmp = path + '.tmp'
  try:
    with open(tmp, 'w', encoding='utf-8') as f:
      f.write(json.dumps(result, indent=1) + '\n')
    os.replace(tmp, path)
  except OSError as e:
    raise commands.UsageError(f'cannot write --output {path}: {e.strerror or e}') from None
