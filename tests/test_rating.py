"""The "% fooled" rating page pairs files by name, needs no network, and `score` turns the answers
and pairs.json into % fooled with standard errors. Its secret and a rater in a real browser:
test_rating_page.py."""
import base64
import io
import json
import math
import os
import re
import struct

import numpy as np
from PIL import Image
import pytest

import helpers
from pixel_recursive import commands
from pixel_recursive import rating

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Asymmetric so that a swapped H and W cannot pass.
H, W = 6, 10
PNG_PREFIX = 'data:image/png;base64,'
QUIET = lambda line: None  # pylint: disable=unnecessary-lambda-assignment


def write_image(path, seed, h=H, w=W):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  image = np.random.default_rng(seed).integers(0, 256, [h, w, 3], dtype=np.uint8)
  Image.fromarray(image).save(path)
  return image


def make_folders(tmp_path, names, h=H, w=W):
  """truth/NAME.png and samples/NAME.png for each name; returns (truth dir, samples dir)."""
  truth, samples = str(tmp_path / 'truth'), str(tmp_path / 'samples')
  for k, name in enumerate(names):
    write_image(os.path.join(truth, name + '.png'), 2 * k, h, w)
    write_image(os.path.join(samples, name + '.png'), 2 * k + 1, h, w)
  return truth, samples


def run_cli(*args):
  """`python -m pixel_recursive.rating args`, run in this process (test_commands.py runs the command
  in a real one)."""
  return helpers.run_in_process('pixel_recursive.rating', *args)


def page_data(path):
  """The STUDY object embedded in a rating page."""
  with open(path, encoding='utf-8') as f:
    text = f.read()
  return json.loads(re.search(r'const STUDY = (.*?);</script>', text, re.S).group(1))


def png_bytes(uri):
  assert uri.startswith(PNG_PREFIX), uri[:40]
  return base64.b64decode(uri[len(PNG_PREFIX):])


def decode_data_uri(uri):
  return np.asarray(Image.open(io.BytesIO(png_bytes(uri))).convert('RGB'))


def png_chunks(data):
  """The chunk types of a PNG file, in order."""
  assert data[:8] == b'\x89PNG\r\n\x1a\n'
  chunks, at = [], 8
  while at < len(data):
    length, kind = struct.unpack('>I4s', data[at:at + 8])
    chunks.append(kind.decode('ascii'))
    at += 12 + length
  return chunks


def fake_study(truth_sides, study='abc'):
  """A pairs.json as `build` writes it: one page; pair k has id pk, file imgk, truth_sides[k]."""
  page = f'{study}-1'
  return {'format': rating.PAIRS_FORMAT, 'version': 2, 'study_id': study,
          'pages': [{'page_id': page, 'file': 'index.html',
                     'pair_ids': [f'p{k}' for k in range(len(truth_sides))]}],
          'pairs': [{'pair_id': f'p{k}', 'file': f'img{k}', 'truth_side': side, 'page_id': page,
                     'position': k} for k, side in enumerate(truth_sides)]}


def write_json(path, value):
  with open(path, 'w') as f:
    json.dump(value, f)
  return str(path)


def answers_file(path, chosen, rater='', session='s', study='abc', page=None):
  """An answers file as the page writes it; `chosen` is {pair id: side clicked}."""
  data = {'format': rating.ANSWERS_FORMAT, 'version': 2, 'study_id': study,
          'page_id': page or f'{study}-1', 'rater': rater, 'session_id': session,
          'answers': [{'pair_id': i, 'chosen_side': c, 'response_ms': 1000}
                      for i, c in chosen.items()]}
  return write_json(path, data)


# ----------------------------------------------------------------------------------------------
# build
# ----------------------------------------------------------------------------------------------
def test_match_files_pairs_by_relative_name_and_reports_the_rest(tmp_path):
  truth, samples = str(tmp_path / 'truth'), str(tmp_path / 'samples')
  for name in ('a.png', 'b.jpg', 'sub/c.png', 'only_truth.png', 'twice.png', 'twice.jpg'):
    write_image(os.path.join(truth, name), 0)
  for name in ('a.png', 'b.png', 'sub/c.png', 'c.png', 'only_sample.png', 'twice.png'):
    write_image(os.path.join(samples, name), 1)
  write_image(os.path.join(truth, 'dup.png'), 0)  # Ambiguous on the samples' side this time.
  for name in ('dup.png', 'dup.jpg'):
    write_image(os.path.join(samples, name), 1)
  matched, problems = rating.match_files(truth, samples)
  # The extension does not count: truth b.jpg pairs with sample b.png; sub/c is not c.
  assert matched == [('a', 'a.png', 'a.png'), ('b', 'b.jpg', 'b.png'),
                     ('sub/c', 'sub/c.png', 'sub/c.png')]
  text = '\n'.join(problems)
  assert 'truth only_truth.png has no sample' in text
  assert 'sample only_sample.png has no true image' in text
  assert 'sample c.png has no true image' in text
  assert 'twice.jpg and twice.png' in text  # Ambiguous, so neither is paired.
  assert 'samples has dup.jpg and dup.png' in text
  # Each file is named once: the sample twice.png is not also 'unmatched' for the ambiguous truth,
  # nor the truth dup.png for the ambiguous samples.
  assert 'twice.png has no' not in text and 'dup.png has no' not in text and len(problems) == 5


def test_sample_suffix_matches_the_files_upsample_writes(tmp_path):
  truth, samples = str(tmp_path / 'truth'), str(tmp_path / 'samples')
  write_image(os.path.join(truth, 'face.jpg'), 0)
  write_image(os.path.join(samples, 'face_sample0.png'), 1)
  write_image(os.path.join(samples, 'face_input.png'), 2)
  matched, problems = rating.match_files(truth, samples, '_sample0')
  assert matched == [('face', 'face.jpg', 'face_sample0.png')]
  assert any(p.startswith(f'ignored 1 file of {samples} not named *_sample0.*') for p in problems)


def test_nothing_paired_suggests_the_suffix_of_the_sample_names(tmp_path):
  truth, samples = str(tmp_path / 'truth'), str(tmp_path / 'samples')
  for k, name in enumerate(['face', 'cat']):
    write_image(os.path.join(truth, f'{name}.png'), k)
    write_image(os.path.join(samples, f'{name}_sample0.png'), k + 2)
  write_image(os.path.join(samples, 'face_input.png'), 4)
  for suffix in ('', '_sample1'):
    with pytest.raises(commands.UsageError, match=r'ignored\); try --sample_suffix=_sample0$'):
      rating.build(truth, samples, str(tmp_path / 'out'), sample_suffix=suffix, log=print)
  write_image(os.path.join(samples, 'other.png'), 5)
  for name in ('face_sample0', 'cat_sample0', 'face_input'):
    os.remove(os.path.join(samples, f'{name}.png'))
  with pytest.raises(commands.UsageError, match=r'or ignored\)$'):  # No name to suggest.
    rating.build(truth, samples, str(tmp_path / 'out'), log=print)


def test_build_writes_a_self_contained_page_and_the_ground_truth(tmp_path):
  names = [f'img{k}' for k in range(6)]
  truth, samples = make_folders(tmp_path, names)
  write_image(os.path.join(truth, 'lonely.png'), 99)
  out = str(tmp_path / 'study')
  result = run_cli('build', f'--truth={truth}', f'--samples={samples}', f'--output={out}',
                   '--title=Faces <study>')
  assert result.returncode == 0, result.stderr
  assert 'truth lonely.png has no sample' in result.stderr
  with open(os.path.join(out, 'pairs.json')) as f:
    study = json.load(f)
  assert [p['file'] for p in study['pairs']] == names
  assert [p['page_id'] for p in study['pages']] == [study['study_id'] + '-1']
  assert study['preset'] == 'super_resolution' and study['seed'] >= 2 ** 64  # Drawn at random.

  with open(os.path.join(out, 'index.html'), encoding='utf-8') as f:
    page = f.read()
  # Nothing is fetched: no address with a scheme anywhere, and every src is a data URI.
  assert not re.search(r'https?://', page)
  assert not re.search(r'<(script|link)[^>]+(src|href)=', page)
  assert 'Faces &lt;study&gt;' in page and '<study>' not in page
  assert 'is from a camera?' in page  # The super_resolution preset's question.
  data = page_data(os.path.join(out, 'index.html'))
  assert data['page_id'] == study['pages'][0]['page_id']
  # Shown in pairs.json's order, and the truth is on the side pairs.json says.
  assert [p['id'] for p in data['pairs']] == study['pages'][0]['pair_ids']
  by_id = {p['pair_id']: p for p in study['pairs']}
  for shown in data['pairs']:
    pair = by_id[shown['id']]
    truth_image = np.asarray(Image.open(os.path.join(truth, pair['truth'])))
    sample_image = np.asarray(Image.open(os.path.join(samples, pair['sample'])))
    other = 'right' if pair['truth_side'] == 'left' else 'left'
    np.testing.assert_array_equal(decode_data_uri(shown[pair['truth_side']]['src']), truth_image)
    np.testing.assert_array_equal(decode_data_uri(shown[other]['src']), sample_image)
    assert (shown['left']['width'], shown['left']['height']) == (W, H)


def test_preset_sets_the_title_and_question_and_flags_override_them(tmp_path):
  truth, samples = make_folders(tmp_path, ['a'])
  out = tmp_path / 'study'
  result = run_cli('build', f'--truth={truth}', f'--samples={samples}', f'--output={out}',
                   '--preset=colorization')
  assert result.returncode == 0, result.stderr
  page = (out / 'index.html').read_text()
  assert '<title>Which colours are real?</title>' in page
  assert 'Which image, would you guess, has its true colours?' in page
  assert 'real colours' in page and 'photograph' not in page
  assert json.loads((out / 'pairs.json').read_text())['preset'] == 'colorization'
  study, _ = rating.build(truth, samples, str(out), preset='colorization', title='Colours',
                          question='Real colours?', log=QUIET)
  assert (study['title'], study['question']) == ('Colours', 'Real colours?')
  page = (out / 'index.html').read_text()
  assert '<title>Colours</title>' in page and 'Real colours?' in page
  assert 'Which colours are real?' not in page
  assert set(rating.PRESETS) == {'super_resolution', 'colorization'}


def test_sides_are_deterministic_in_the_seed_and_secret_without_one(tmp_path):
  truth, samples = make_folders(tmp_path, [f'img{k:02d}' for k in range(24)])
  outputs = {}
  for run, seed in (('a', 0), ('b', 0), ('c', 1), ('d', None), ('e', None)):
    rating.build(truth, samples, str(tmp_path / run), seed=seed, log=QUIET)
    outputs[run] = (json.loads((tmp_path / run / 'pairs.json').read_text()),
                    (tmp_path / run / 'index.html').read_text())
  assert outputs['a'] == outputs['b']
  sides = {run: [p['truth_side'] for p in outputs[run][0]['pairs']] for run in 'acde'}
  assert sides['a'] != sides['c'] and sides['d'] != sides['e']
  assert outputs['a'][0]['study_id'] != outputs['c'][0]['study_id']
  for side in sides.values():
    assert 2 <= side.count('left') <= 22  # Random, not all on one side.
  # Without --seed, the seed is 128 random bits, kept in pairs.json: it rebuilds the same study.
  seed = outputs['d'][0]['seed']
  assert seed != outputs['e'][0]['seed'] and seed >= 2 ** 64
  rating.build(truth, samples, str(tmp_path / 'f'), seed=seed, log=QUIET)
  assert (tmp_path / 'f' / 'index.html').read_text() == outputs['d'][1]
  # A guessable --seed is named on stderr.
  lines = []
  rating.build(truth, samples, str(tmp_path / 'g'), seed=7, log=lines.append)
  assert any('--seed=7' in line for line in lines)


def test_pairs_per_page_splits_the_study(tmp_path):
  truth, samples = make_folders(tmp_path, [f'img{k}' for k in range(5)])
  out = tmp_path / 'study'
  study, _ = rating.build(truth, samples, str(out), pairs_per_page=2, log=QUIET)
  assert [p['file'] for p in study['pages']] == ['page_01.html', 'page_02.html', 'page_03.html']
  on_pages = sorted(i for p in study['pages'] for i in p['pair_ids'])
  assert on_pages == sorted(p['pair_id'] for p in study['pairs'])
  index = (out / 'index.html').read_text()
  assert all(f'href="{p["file"]}"' in index for p in study['pages'])
  assert len(page_data(out / 'page_03.html')['pairs']) == 1
  # A pair's position is its place on its own page; its embedded size is (width, height).
  pages = {p['page_id']: p for p in study['pages']}
  for pair in study['pairs']:
    assert pages[pair['page_id']]['pair_ids'][pair['position']] == pair['pair_id']
    assert pair['embedded_size'] == [W, H]
  assert '<title>Which image is real? (2/3)</title>' in (out / 'page_02.html').read_text()
  # Two pages have their index too.
  study, _ = rating.build(truth, samples, str(tmp_path / 'two'), pairs_per_page=3, log=QUIET)
  assert len(study['pages']) == 2 and (tmp_path / 'two' / 'index.html').is_file()


def test_the_order_shown_and_the_ids_say_nothing_about_the_sides():
  order, sides, ids = rating.assign_sides(400, seed=2 ** 100 + 5)
  assert sorted(order) == list(range(400)) and order != sorted(order)  # Not in the files' order.
  left = np.array([side == 'left' for side in sides])
  assert 0.4 < left.mean() < 0.6
  # No hex digit of the ids shown on the page predicts the side (each is an independent hash).
  for digit in range(len(ids[0])):
    parity = np.array([int(i[digit], 16) & 1 for i in ids])
    assert 0.4 < np.mean(parity == left) < 0.6, digit


def test_the_study_id_follows_the_images_and_a_replaced_study_is_named(tmp_path):
  truth, samples = make_folders(tmp_path, ['a', 'b'])
  out, seed = str(tmp_path / 'study'), 2 ** 100
  first, _ = rating.build(truth, samples, out, seed=seed, log=QUIET)
  lines = []
  again, _ = rating.build(truth, samples, out, seed=seed, log=lines.append)
  assert again['study_id'] == first['study_id'] and not any('replacing' in l for l in lines)
  write_image(os.path.join(samples, 'b.png'), 77)  # Same names, other pixels: another study.
  changed, _ = rating.build(truth, samples, out, seed=seed, log=lines.append)
  assert changed['study_id'] != first['study_id']
  assert any(f'replacing study {first["study_id"]}' in l for l in lines)


def test_the_larger_image_is_centre_cropped_to_the_pairs_shape_and_resized_by_lanczos():
  rng = np.random.default_rng(0)
  small = rng.integers(0, 256, [6, 10, 3], dtype=np.uint8)
  wide = rng.integers(0, 256, [6, 20, 3], dtype=np.uint8)
  tall = rng.integers(0, 256, [30, 10, 3], dtype=np.uint8)
  for image, crop in ((wide, wide[:, 5:15]), (tall, tall[12:18])):
    entry, _, note = rating.encode_pair(image, small, max_side=512)
    np.testing.assert_array_equal(decode_data_uri(entry['src']), crop)
    assert note
  big = rng.integers(0, 256, [64, 64, 3], dtype=np.uint8)
  entry, _, note = rating.encode_pair(big, big, max_side=32)
  lanczos = np.asarray(Image.fromarray(big).resize((32, 32), Image.LANCZOS))
  np.testing.assert_array_equal(decode_data_uri(entry['src']), lanczos)
  assert note is None


def test_pairs_of_two_sizes_are_noted_once_per_kind_of_mismatch(tmp_path):
  """Upsampled 32 x 32 samples beside 64 x 64 photos: one note for all such pairs, not one each."""
  truth, samples = make_folders(tmp_path, ['a', 'b', 'c', 'd', 'e', 'same'])
  for k, name in enumerate('abcd'):
    write_image(os.path.join(truth, name + '.png'), k, 2 * H, 2 * W)
  write_image(os.path.join(truth, 'e.png'), 9, H, 2 * W)
  lines = []
  rating.build(truth, samples, str(tmp_path / 'study'), seed=1, log=lines.append)
  notes = [l for l in lines if l.startswith('note: ') and 'embedded' in l]
  assert notes == [
      f'note: 4 pairs (a, b, c and 1 more): truth is {2 * W}x{2 * H}, sample {W}x{H}: both are '
      f'embedded at {W}x{H} (the larger centre-cropped to the same shape and resized), but raters '
      'may tell them apart by sharpness',
      f'note: e: truth is {2 * W}x{H}, sample {W}x{H}: both are embedded at {W}x{H} (the larger '
      'centre-cropped to the same shape and resized), but raters may tell them apart by sharpness']


def test_a_title_cannot_end_the_pages_script(tmp_path):
  truth, samples = make_folders(tmp_path, ['a'])
  title = 'Faces </script><!-- & more'
  rating.build(truth, samples, str(tmp_path / 'study'), title=title, log=QUIET)
  page = (tmp_path / 'study' / 'index.html').read_text()
  assert page.count('</script>') == page.count('<script') and '<!--' not in page
  assert page_data(tmp_path / 'study' / 'index.html')['title'] == title


def test_build_embeds_images_at_most_max_side_shown_at_display_size(tmp_path):
  truth, samples = make_folders(tmp_path, ['a', 'b'], h=20, w=40)
  out = str(tmp_path / 'study')
  result = run_cli('build', f'--truth={truth}', f'--samples={samples}', f'--output={out}',
                   '--display_size=96', '--max_side=16')
  assert result.returncode == 0, result.stderr
  assert result.stdout.startswith(f'wrote 2 pairs to {out}/index.html (send to raters) and ')
  data = page_data(os.path.join(out, 'index.html'))
  assert data['display_size'] == 96
  for pair in data['pairs']:
    for side in ('left', 'right'):
      assert decode_data_uri(pair[side]['src']).shape == (8, 16, 3)


def test_build_skips_unreadable_files_and_exits_1(tmp_path):
  truth, samples = make_folders(tmp_path, ['good', 'bad'])
  with open(os.path.join(samples, 'bad.png'), 'w') as f:
    f.write('not a png')
  out = str(tmp_path / 'study')
  result = run_cli('build', f'--truth={truth}', f'--samples={samples}', f'--output={out}')
  assert result.returncode == 1
  assert 'bad.png' in result.stderr and 'Traceback' not in result.stderr
  assert '1 of 2 pairs could not be read' in result.stderr
  assert result.stdout.startswith(f'wrote 1 pair to {out}/index.html (send to raters)')
  with open(os.path.join(out, 'pairs.json')) as f:
    study = json.load(f)
  assert [p['file'] for p in study['pairs']] == ['good']
  assert len(page_data(os.path.join(out, 'index.html'))['pairs']) == 1


def test_build_errors_name_the_problem(tmp_path):
  truth, samples = make_folders(tmp_path, ['a'])
  os.makedirs(tmp_path / 'empty')
  write_image(str(tmp_path / 'other' / 'b.png'), 7)  # Images, none named as a true one.
  out = str(tmp_path / 'out')
  cases = {'is not a folder': ('/no/such/dir', samples, out),
           f'^--samples folder {tmp_path}/empty holds no image files': (
               truth, str(tmp_path / 'empty'), out),
           f'^--truth folder {tmp_path}/empty holds no image files': (
               str(tmp_path / 'empty'), samples, out),
           'has a sample of the same name': (truth, str(tmp_path / 'other'), out),
           '--output .a folder. is required': (truth, samples, None),
           'must not be the --truth or --samples folder': (truth, samples, samples)}
  for message, args in cases.items():
    with pytest.raises(commands.UsageError, match=message):
      rating.build(*args, log=QUIET)
  with pytest.raises(commands.UsageError, match='--preset must be one of'):
    rating.build(truth, samples, out, preset='faces', log=QUIET)
  with pytest.raises(commands.UsageError, match='--seed must be >= 0'):
    rating.build(truth, samples, out, seed=-1, log=QUIET)


# One line on stderr and exit status 2 (the cases above go through the same commands.run).
@pytest.mark.parametrize('args, message', [
    (['build', '--samples=S', '--output=O'], '--truth is required'),
    (['build', '--truth=T', '--samples=S', '--output=O', '--pairs=x.json'],
     '--pairs is not a flag of `rating build`'),
    (['score', 'a.json', '--pairs=x.json', '--seed=3', '--title=T'],
     '--seed, --title are not flags of `rating score`'),
    (['build', '--truth=T', '--samples=S', '--output=O', '--preset=faces'], 'should be one of'),
    (['frobnicate'], 'say `build`'),
    (['build', 'stray', '--truth=T', '--samples=S', '--output=O'], 'unexpected arguments: stray'),
])
def test_build_usage_errors_exit_2(tmp_path, args, message):
  truth, samples = make_folders(tmp_path, ['a'])
  os.makedirs(tmp_path / 'empty')
  paths = {'T': truth, 'S': samples, 'O': str(tmp_path / 'out'), 'EMPTY': str(tmp_path / 'empty')}
  args = [re.sub(r'=(T|S|O|EMPTY)$', lambda m: '=' + paths[m.group(1)], a) for a in args]
  result = run_cli(*args)
  assert result.returncode == 2, result.stderr
  assert message in result.stderr
  assert len(result.stderr.strip().splitlines()) == 1 and 'Traceback' not in result.stderr
  assert result.stderr.startswith('pixel_recursive.rating: error: ')


# ----------------------------------------------------------------------------------------------
# score
# ----------------------------------------------------------------------------------------------
def test_score_by_hand(tmp_path):
  study = fake_study(['left', 'left', 'right', 'right'])
  # Alice is fooled once in 4, Bob twice in 2: 3 fooled in 6 answers.
  alice = answers_file(tmp_path / 'a.json', {'p0': 'left', 'p1': 'right', 'p2': 'right',
                                             'p3': 'right'}, rater='alice', session='1')
  bob = answers_file(tmp_path / 'b.json', {'p0': 'right', 'p2': 'left'}, rater='bob', session='2')
  result = rating.score([alice, bob], study)
  assert (result['n_answers'], result['n_fooled'], result['n_raters']) == (6, 3, 2)
  assert result['percent_fooled'] == pytest.approx(50.0)
  assert result['stderr'] == pytest.approx(100 * math.sqrt(0.5 * 0.5 / 6))  # 20.41
  by_rater = {r['rater']: r for r in result['raters']}
  assert by_rater['alice']['percent_fooled'] == pytest.approx(25.0)
  assert by_rater['alice']['stderr'] == pytest.approx(100 * math.sqrt(0.25 * 0.75 / 4))  # 21.65
  assert by_rater['bob']['percent_fooled'] == pytest.approx(100.0)
  assert by_rater['bob']['stderr'] == pytest.approx(0.0)
  # Across raters: mean 62.5, sample standard deviation |100 - 25| / sqrt(2), over sqrt(2).
  assert result['mean_over_raters'] == pytest.approx(62.5)
  assert result['stderr_across_raters'] == pytest.approx(37.5)
  assert {r['file']: r['n_fooled'] for r in result['per_image']} == {
      'img0': 1, 'img1': 1, 'img2': 1, 'img3': 0}


def test_score_reads_the_sides_from_pairs_json_only(tmp_path):
  # An answers file that claims truth sides (as version 1 pages wrote them) cannot change the score.
  study = fake_study(['left', 'right'])
  path = answers_file(tmp_path / 'a.json', {'p0': 'right', 'p1': 'left'})
  data = json.loads(open(path).read())
  for a in data['answers']:
    a.update(truth_side=a['chosen_side'], chose_truth=True)
  write_json(path, data)
  assert rating.score([path], study)['percent_fooled'] == pytest.approx(100.0)
  with pytest.raises(TypeError):
    rating.score([path])  # pylint: disable=no-value-for-parameter


def test_score_one_rater_has_no_across_rater_error_and_anonymous_sessions_count_apart(tmp_path):
  study = fake_study(['left'])
  one = answers_file(tmp_path / 'a.json', {'p0': 'right'}, session='1')
  alone = rating.score([one], study)
  assert alone['stderr_across_raters'] is None
  assert rating.format_table(alone).splitlines()[0] == 'study abc: 1 answer from 1 rater'
  two = answers_file(tmp_path / 'b.json', {'p0': 'left'}, session='2')
  assert rating.score([one, two], study)['n_raters'] == 2
  # A name of blanks is no name; a name is read without its surrounding blanks.
  blank = answers_file(tmp_path / 'c.json', {'p0': 'left'}, rater='  ', session='3')
  ann = answers_file(tmp_path / 'd.json', {'p0': 'left'}, rater=' ann ', session='4')
  assert [r['rater'] for r in rating.score([blank, ann], study)['raters']] == [
      '(anonymous 1)', 'ann']


def test_score_cli_writes_json(tmp_path):
  pairs = write_json(tmp_path / 'pairs.json', fake_study(['left', 'left', 'right', 'right']))
  path = answers_file(tmp_path / 'a.json', {'p0': 'right', 'p1': 'left', 'p2': 'right',
                                            'p3': 'left'}, rater='ann')
  result = run_cli('score', path, f'--pairs={pairs}')  # The table only.
  assert result.returncode == 0, result.stderr
  assert 'ann' in result.stdout and 'wrote' not in result.stdout
  out = tmp_path / 'scores.json'
  result = run_cli('score', path, f'--pairs={pairs}', f'--output={out}')
  assert result.returncode == 0, result.stderr
  assert 'ann' in result.stdout and '50.0' in result.stdout and '25.0' in result.stdout
  scores = json.loads(out.read_text())
  assert scores['percent_fooled'] == pytest.approx(50.0)
  assert scores['stderr'] == pytest.approx(25.0)


def test_score_errors_name_the_problem(tmp_path):
  study = fake_study(['left', 'right'])
  pairs = write_json(tmp_path / 'pairs.json', study)
  good = answers_file(tmp_path / 'good.json', {'p0': 'left', 'p1': 'left'})
  assert rating.score([good], rating.load_pairs(pairs))['n_answers'] == 2
  (tmp_path / 'bad.json').write_text('{"format": ')
  cases = {
      'does not exist': [str(tmp_path / 'missing.json')],
      'is not valid JSON': [str(tmp_path / 'bad.json')],
      'not an answers file': [pairs],
      'not a page of the --pairs study': [
          answers_file(tmp_path / 'other.json', {'p0': 'left'}, study='0123456789ab')],
      'is not on page': [answers_file(tmp_path / 'unknown.json', {'p9': 'left'}, session='u')],
      'needs a pair_id and a chosen_side': [
          answers_file(tmp_path / 'middle.json', {'p0': 'middle'}, session='m')],
      'same rating session': [good, good],
      'hold no answers': [answers_file(tmp_path / 'none.json', {}, session='n')],
      'answers page abc-9, which is not a page': [
          answers_file(tmp_path / 'page9.json', {'p0': 'left'}, session='9', page='abc-9')],
      'answer 0 needs a pair_id': [answers_file(tmp_path / 'bool.json', {True: 'left'},
                                                session='b')],
  }
  for message, paths in cases.items():
    with pytest.raises(commands.UsageError, match=message):
      rating.score(paths, study)
  twice = json.loads(open(good).read())
  twice['answers'].append(twice['answers'][0])
  with pytest.raises(commands.UsageError, match='answered twice'):
    rating.load_answers(write_json(tmp_path / 'twice.json', twice))
  with pytest.raises(commands.UsageError, match='is not a pairs.json'):
    rating.load_pairs(good)
  # A pair of the study, but of another page than the one the answers file says it answers.
  two_pages = fake_study(['left', 'right'])
  two_pages['pages'] = [{'page_id': 'abc-1', 'file': 'page1.html', 'pair_ids': ['p0']},
                        {'page_id': 'abc-2', 'file': 'page2.html', 'pair_ids': ['p1']}]
  two_pages['pairs'][1]['page_id'] = 'abc-2'
  stray = answers_file(tmp_path / 'stray.json', {'p0': 'left', 'p1': 'left'}, session='x')
  with pytest.raises(commands.UsageError, match='pair p1 is not on page abc-1'):
    rating.score([stray], two_pages)
  broken = dict(study, pairs=[{'pair_id': 'p0', 'page_id': 'abc-1'}])
  with pytest.raises(commands.UsageError, match='is damaged'):
    rating.load_pairs(write_json(tmp_path / 'broken.json', broken))
  boolean = dict(study, pairs=[dict(study['pairs'][0], pair_id=True)])
  with pytest.raises(commands.UsageError, match='pair 0 needs a pair_id'):
    rating.load_pairs(write_json(tmp_path / 'boolean.json', boolean))
  with pytest.raises(commands.UsageError, match='version 3; this scorer reads versions 1, 2'):
    rating.load_pairs(write_json(tmp_path / 'v3.json', dict(study, version=3)))
  with pytest.raises(commands.UsageError, match='folder of --output .* does not exist'):
    rating.write_scores({}, str(tmp_path / 'no_such_folder' / 'scores.json'))


@pytest.mark.parametrize('args, message', [
    (['GOOD'], 'score needs --pairs'),
    (['--pairs=PAIRS'], 'score needs the answers files'),
])
def test_score_usage_errors_exit_2(tmp_path, args, message):
  paths = {'PAIRS': write_json(tmp_path / 'pairs.json', fake_study(['left'])),
           'GOOD': answers_file(tmp_path / 'good.json', {'p0': 'left'})}
  args = [re.sub(r'\b(PAIRS|GOOD)$', lambda m: paths[m.group(1)], a) for a in args]
  result = run_cli('score', *args)
  assert result.returncode == 2, (result.stdout, result.stderr)
  assert message in result.stderr
  assert len(result.stderr.strip().splitlines()) == 1 and 'Traceback' not in result.stderr
