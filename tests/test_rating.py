"""The "% fooled" rating page pairs files by name, needs no network, records what a rater clicked
in a real browser, and `score` turns the answers into % fooled with standard errors."""
import base64
import glob
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image
import pytest

from pixel_recursive import rating

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Asymmetric so that a swapped H and W cannot pass.
H, W = 6, 10


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
  return subprocess.run([sys.executable, '-m', 'pixel_recursive.rating', *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=120)


def page_data(path):
  """The STUDY object embedded in a rating page."""
  with open(path, encoding='utf-8') as f:
    text = f.read()
  return json.loads(re.search(r'const STUDY = (.*?);</script>', text, re.S).group(1))


def decode_data_uri(uri):
  prefix = 'data:image/png;base64,'
  assert uri.startswith(prefix)
  return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri[len(prefix):]))).convert('RGB'))


def answers_file(path, answers, rater='', session='s', study='abc', page='abc-1', files=None):
  """An answers file as the page writes it; `answers` are (truth side, chosen side) pairs."""
  files = files or [f'img{k}' for k in range(len(answers))]
  data = {'format': rating.ANSWERS_FORMAT, 'version': 1, 'study_id': study, 'page_id': page,
          'rater': rater, 'session_id': session,
          'answers': [{'pair_id': k, 'file': f, 'truth_side': t, 'chosen_side': c,
                       'chose_truth': t == c, 'response_ms': 1000} for k, (f, (t, c)) in
                      enumerate(zip(files, answers))]}
  with open(path, 'w') as f:
    json.dump(data, f)
  return str(path)


# ----------------------------------------------------------------------------------------------
# build
# ----------------------------------------------------------------------------------------------
def test_match_files_pairs_by_relative_name_and_reports_the_rest(tmp_path):
  truth, samples = str(tmp_path / 'truth'), str(tmp_path / 'samples')
  for name in ('a.png', 'b.jpg', 'sub/c.png', 'only_truth.png', 'twice.png', 'twice.jpg'):
    write_image(os.path.join(truth, name), 0)
  for name in ('a.png', 'b.png', 'sub/c.png', 'c.png', 'only_sample.png', 'twice.png'):
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


def test_sample_suffix_matches_the_files_upsample_writes(tmp_path):
  truth, samples = str(tmp_path / 'truth'), str(tmp_path / 'samples')
  write_image(os.path.join(truth, 'face.jpg'), 0)
  write_image(os.path.join(samples, 'face_sample0.png'), 1)
  write_image(os.path.join(samples, 'face_input.png'), 2)
  matched, problems = rating.match_files(truth, samples, '_sample0')
  assert matched == [('face', 'face.jpg', 'face_sample0.png')]
  assert any('ignored 1 files' in p for p in problems)


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

  with open(os.path.join(out, 'index.html'), encoding='utf-8') as f:
    page = f.read()
  # Nothing is fetched: no address with a scheme anywhere, and every src is a data URI.
  assert not re.search(r'https?://', page)
  assert not re.search(r'<(script|link)[^>]+(src|href)=', page)
  assert 'Faces &lt;study&gt;' in page and '<study>' not in page
  data = page_data(os.path.join(out, 'index.html'))
  assert data['page_id'] == study['pages'][0]['page_id']
  # Shown in pairs.json's order, and the truth is on the side pairs.json says.
  assert [p['pair_id'] for p in data['pairs']] == study['pages'][0]['pair_ids']
  for shown in data['pairs']:
    pair = study['pairs'][shown['pair_id']]
    truth_image = np.asarray(Image.open(os.path.join(truth, pair['truth'])))
    sample_image = np.asarray(Image.open(os.path.join(samples, pair['sample'])))
    other = 'right' if pair['truth_side'] == 'left' else 'left'
    np.testing.assert_array_equal(decode_data_uri(shown[pair['truth_side']]['src']), truth_image)
    np.testing.assert_array_equal(decode_data_uri(shown[other]['src']), sample_image)
    assert (shown['left']['width'], shown['left']['height']) == (W, H)


def test_sides_are_deterministic_in_the_seed(tmp_path):
  truth, samples = make_folders(tmp_path, [f'img{k:02d}' for k in range(24)])
  outputs = {}
  for run, seed in (('a', 0), ('b', 0), ('c', 1)):
    rating.build(truth, samples, str(tmp_path / run), seed=seed, log=lambda line: None)
    with open(tmp_path / run / 'pairs.json') as f:
      pairs = json.load(f)
    with open(tmp_path / run / 'index.html') as f:
      outputs[run] = (pairs, f.read())
  assert outputs['a'] == outputs['b']
  sides = [[p['truth_side'] for p in outputs[run][0]['pairs']] for run in 'ac']
  assert sides[0] != sides[1]
  assert outputs['a'][0]['study_id'] != outputs['c'][0]['study_id']
  for side in sides:
    assert 6 <= side.count('left') <= 18  # Random, not all on one side.


def test_pairs_per_page_splits_the_study(tmp_path):
  truth, samples = make_folders(tmp_path, [f'img{k}' for k in range(5)])
  out = tmp_path / 'study'
  study, _ = rating.build(truth, samples, str(out), pairs_per_page=2, log=lambda line: None)
  assert [p['file'] for p in study['pages']] == ['page_01.html', 'page_02.html', 'page_03.html']
  on_pages = sorted(i for p in study['pages'] for i in p['pair_ids'])
  assert on_pages == list(range(5))
  index = (out / 'index.html').read_text()
  assert all(f'href="{p["file"]}"' in index for p in study['pages'])
  assert len(page_data(out / 'page_03.html')['pairs']) == 1


def test_build_skips_unreadable_files_and_exits_1(tmp_path):
  truth, samples = make_folders(tmp_path, ['good', 'bad'])
  with open(os.path.join(samples, 'bad.png'), 'w') as f:
    f.write('not a png')
  out = str(tmp_path / 'study')
  result = run_cli('build', f'--truth={truth}', f'--samples={samples}', f'--output={out}')
  assert result.returncode == 1
  assert 'bad.png' in result.stderr and 'Traceback' not in result.stderr
  assert [p['file'] for p in page_data(os.path.join(out, 'index.html'))['pairs']] == ['good']


@pytest.mark.parametrize('args, message', [
    (['build', '--samples=S', '--output=O'], '--truth is required'),
    (['build', '--truth=/no/such/dir', '--samples=S', '--output=O'], 'is not a folder'),
    (['build', '--truth=T', '--samples=EMPTY', '--output=O'], 'has a sample of the same name'),
    (['build', '--truth=T', '--samples=S', '--output=O', '--pairs=x.json'], 'not a flag of'),
    (['frobnicate'], 'say `build`'),
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


# ----------------------------------------------------------------------------------------------
# score
# ----------------------------------------------------------------------------------------------
def test_score_by_hand(tmp_path):
  # Alice is fooled once in 4, Bob twice in 2: 3 fooled in 6 answers.
  alice = answers_file(tmp_path / 'a.json', [('left', 'left'), ('left', 'right'),
                                             ('right', 'right'), ('right', 'right')],
                       rater='alice', session='1')
  bob = answers_file(tmp_path / 'b.json', [('left', 'right'), ('right', 'left')], rater='bob',
                     session='2')
  result = rating.score([alice, bob])
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


def test_score_one_rater_has_no_across_rater_error_and_anonymous_sessions_count_apart(tmp_path):
  one = answers_file(tmp_path / 'a.json', [('left', 'right')], session='1')
  assert rating.score([one])['stderr_across_raters'] is None
  two = answers_file(tmp_path / 'b.json', [('left', 'left')], session='2')
  assert rating.score([one, two])['n_raters'] == 2


def test_score_cli_writes_json(tmp_path):
  path = answers_file(tmp_path / 'a.json', [('left', 'right'), ('left', 'left'),
                                            ('right', 'right'), ('right', 'left')], rater='ann')
  out = tmp_path / 'scores.json'
  result = run_cli('score', path, f'--output={out}')
  assert result.returncode == 0, result.stderr
  assert 'ann' in result.stdout and '50.0' in result.stdout and '25.0' in result.stdout
  scores = json.loads(out.read_text())
  assert scores['percent_fooled'] == pytest.approx(50.0)
  assert scores['stderr'] == pytest.approx(25.0)


def test_score_error_cases_exit_2(tmp_path):
  truth, samples = make_folders(tmp_path, ['a', 'b'])
  study, _ = rating.build(truth, samples, str(tmp_path / 'study'), log=lambda line: None)
  pairs = str(tmp_path / 'study' / 'pairs.json')
  sid, page = study['study_id'], study['pages'][0]['page_id']
  good_sides = [(p['truth_side'], 'left') for p in study['pairs']]
  names = [p['file'] for p in study['pairs']]
  good = answers_file(tmp_path / 'good.json', good_sides, study=sid, page=page, files=names)
  assert run_cli('score', good, f'--pairs={pairs}').returncode == 0
  (tmp_path / 'bad.json').write_text('{"format": ')
  flipped = [('right' if t == 'left' else 'left', c) for t, c in good_sides]
  cases = {
      'does not exist': [str(tmp_path / 'missing.json')],
      'is not valid JSON': [str(tmp_path / 'bad.json')],
      'not an answers file': [pairs],
      'not a page of the --pairs study': [
          answers_file(tmp_path / 'other.json', good_sides, study='0123456789ab',
                       page='0123456789ab-1'), f'--pairs={pairs}'],
      'does not match pairs.json': [
          answers_file(tmp_path / 'flipped.json', flipped, study=sid, page=page, files=names),
          f'--pairs={pairs}'],
      'different studies': [good, answers_file(tmp_path / 'x.json', good_sides, study='x',
                                               page='x-1', session='other')],
      'same rating session': [good, good],
      'score needs the answers files': [],
      'is not a flag of': [good, '--truth=x'],
  }
  for message, args in cases.items():
    result = run_cli('score', *args)
    assert result.returncode == 2, (message, result.stdout, result.stderr)
    assert message in result.stderr, (message, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1 and 'Traceback' not in result.stderr


# ----------------------------------------------------------------------------------------------
# A rater in a real (headless) browser.
# ----------------------------------------------------------------------------------------------
def _browser_paths():
  browser = next((shutil.which(b) for b in ('chromium', 'chromium-browser', 'google-chrome')
                  if shutil.which(b)), None)
  return browser, shutil.which('chromedriver')


@pytest.fixture
def browser(tmp_path):
  binary, driver_path = _browser_paths()
  if not binary or not driver_path:
    pytest.skip('needs chromium and chromedriver (Debian: apt-get install chromium '
                'chromium-driver)')
  # pylint: disable=g-import-not-at-top
  from selenium import webdriver
  from selenium.webdriver.chrome.service import Service
  downloads = tmp_path / 'downloads'
  downloads.mkdir()
  options = webdriver.ChromeOptions()
  options.binary_location = binary
  # This machine may be offline: without these, chromium waits on the network it cannot reach.
  for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic',
              '--no-first-run', '--disable-background-networking', '--disable-component-update',
              '--disable-sync', '--window-size=1100,800',
              f'--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}'):
    options.add_argument(arg)
  options.add_experimental_option('prefs', {'download.default_directory': str(downloads),
                                            'download.prompt_for_download': False})
  options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
  driver = webdriver.Chrome(options=options, service=Service(driver_path))
  driver.downloads = downloads
  yield driver
  driver.quit()


def test_a_rater_in_a_browser(tmp_path, browser):
  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.common.action_chains import ActionChains
  from selenium.webdriver.common.by import By
  from selenium.webdriver.common.keys import Keys
  from selenium.webdriver.support.ui import WebDriverWait
  truth, samples = make_folders(tmp_path, ['a', 'b', 'c', 'd'], h=32, w=32)
  study, _ = rating.build(truth, samples, str(tmp_path / 'study'), seed=3, log=lambda line: None)
  wait = WebDriverWait(browser, 10, poll_frequency=0.02)
  element = lambda name: browser.find_element(By.ID, name)

  def answer(k, side, keyboard=False):
    wait.until(lambda d: element('stage').get_attribute('data-index') == str(k)
               and element('stage').get_attribute('data-ready') == '1')
    if keyboard:
      ActionChains(browser).send_keys(Keys.ARROW_LEFT if side == 'left' else
                                      Keys.ARROW_RIGHT).perform()
    else:
      element(side).click()

  browser.get('file://' + str(tmp_path / 'study' / 'index.html'))
  assert element('start').is_displayed() and not element('progress').is_displayed()
  element('rater').send_keys('ada')
  element('start-button').click()
  # 32x32 images fill a 256 px box with sharp pixels.
  answer(0, 'right')
  image = element('left-img')
  assert image.size['width'] == 256
  assert image.value_of_css_property('image-rendering') == 'pixelated'
  answer(1, 'left')
  wait.until(lambda d: element('counter').text == '3 / 4')

  # A reload keeps the answers (localStorage) and the name, and goes on at the third pair.
  browser.refresh()
  assert element('resume').is_displayed() and element('resume-count').text == '2'
  assert element('rater').get_attribute('value') == 'ada'
  element('start-button').click()
  answer(2, 'left', keyboard=True)
  answer(3, 'right')
  wait.until(lambda d: element('done').is_displayed())
  browser.save_screenshot(str(tmp_path / 'done.png'))
  element('download').click()
  deadline = time.time() + 10
  while not glob.glob(str(browser.downloads / '*.json')) and time.time() < deadline:
    time.sleep(0.05)
  (path,) = glob.glob(str(browser.downloads / '*.json'))
  assert os.path.basename(path) == f'answers_{study["pages"][0]["page_id"]}_ada.json'
  with open(path) as f:
    answers = json.load(f)
  assert (answers['rater'], answers['page_id'], answers['complete']) == (
      'ada', study['pages'][0]['page_id'], True)
  clicks = ['right', 'left', 'left', 'right']
  order = study['pages'][0]['pair_ids']
  assert [a['pair_id'] for a in answers['answers']] == order
  assert [a['chosen_side'] for a in answers['answers']] == clicks
  for a, click in zip(answers['answers'], clicks):
    pair = study['pairs'][a['pair_id']]
    assert (a['file'], a['truth_side']) == (pair['file'], pair['truth_side'])
    assert a['chose_truth'] == (click == pair['truth_side'])
    assert isinstance(a['response_ms'], int) and a['response_ms'] >= 0
  errors = [e for e in browser.get_log('browser') if e['level'] == 'SEVERE']
  assert not errors, errors

  fooled = sum(click != study['pairs'][i]['truth_side'] for i, click in zip(order, clicks))
  out = tmp_path / 'scores.json'
  result = run_cli('score', path, f'--pairs={tmp_path / "study" / "pairs.json"}',
                   f'--output={out}')
  assert result.returncode == 0, result.stderr
  scores = json.loads(out.read_text())
  assert (scores['n_answers'], scores['n_fooled']) == (4, fooled)
  assert scores['percent_fooled'] == pytest.approx(100 * fooled / 4)
