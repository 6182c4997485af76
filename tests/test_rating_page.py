"""The rating page keeps its secret (nothing in the HTML tells which image is real, whatever the
sides and whichever folder is the truth), embeds both images of a pair as PNGs of one size, and
records what a rater clicked in a real (headless) browser."""
import glob
import json
import os
import re
import shutil
import sys
import tempfile
import time

import numpy as np
from PIL import Image
import pytest

from pixel_recursive import rating
from test_rating import H, W, PNG_PREFIX, QUIET, make_folders, page_data, png_bytes
from test_rating import decode_data_uri, png_chunks, run_cli, write_image


# ----------------------------------------------------------------------------------------------
# The secret: nothing in the HTML tells which image is the true one.
# ----------------------------------------------------------------------------------------------
def _twin_folders(tmp_path, num_pairs):
  """Pairs whose two images have the same pixels, the truth a JPEG with EXIF, the sample a PNG.

  Only the files differ (format, size, metadata), so a page built from them must embed the same
  bytes on both sides: anything else in it that differs between the sides, or any part of it that
  follows the sides, gives the truth away.
  """
  from data import image_files  # pylint: disable=g-import-not-at-top
  truth, samples = tmp_path / 'truth', tmp_path / 'samples'
  truth.mkdir()
  samples.mkdir()
  names = [f'photo_{k:02d}' for k in range(num_pairs)]
  for k, name in enumerate(names):
    image = np.random.default_rng(k).integers(0, 256, [H, W, 3], dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0110] = 'Camera'  # Model.
    Image.fromarray(image).save(truth / f'{name}.jpg', quality=90, exif=exif.tobytes())
    pixels = image_files.read_image(str(truth / f'{name}.jpg'))
    Image.fromarray(pixels).save(samples / f'{name}.png')
  return str(truth), str(samples), names


def _html_files(out):
  files = sorted(glob.glob(os.path.join(out, '*.html')))
  assert files
  return files


def _without_images(text):
  return re.sub(re.escape(PNG_PREFIX) + r'[A-Za-z0-9+/=]*', PNG_PREFIX, text)


def test_no_html_file_tells_which_image_is_real(tmp_path):
  num_pairs = 40
  truth, samples, names = _twin_folders(tmp_path, num_pairs)
  out = str(tmp_path / 'study')
  study, _ = rating.build(truth, samples, out, pairs_per_page=16, log=QUIET)
  pairs = {p['pair_id']: p for p in study['pairs']}
  assert len(pairs) == num_pairs
  shown = []  # (page position, pair as the page holds it, truth side from pairs.json)
  for path in _html_files(out):
    with open(path, encoding='utf-8') as f:
      text = f.read()
    plain = _without_images(text)
    # No label, file name, folder, seed or truth-side field anywhere outside the image bytes.
    words = ['truth', 'sample', 'photo_', '.jpg', '.png', str(tmp_path)]
    if study['seed'] >= 2 ** 64:  # Drawn at random, so long enough to search for.
      words.append(str(study['seed']))
    for word in words:
      assert word not in plain.lower(), (path, word)
    if os.path.basename(path) == 'index.html' and len(study['pages']) > 1:
      assert PNG_PREFIX not in text
      continue
    data = page_data(path)
    assert set(data) <= {'format', 'version', 'study_id', 'page_id', 'title', 'question',
                         'page_number', 'num_pages', 'display_size', 'pairs'}, set(data)
    for position, pair in enumerate(data['pairs']):
      # Per pair: an id and the two images in display order, always in that key order.
      assert list(pair) == ['id', 'left', 'right'], list(pair)
      assert list(pair['left']) == list(pair['right']) == ['src', 'width', 'height']
      # Same pixels, so the same bytes: the encoding does not depend on the file's role.
      assert pair['left'] == pair['right']
      chunks = png_chunks(png_bytes(pair['left']['src']))
      assert set(chunks) <= {'IHDR', 'IDAT', 'IEND'}, chunks  # No metadata of the files.
      assert decode_data_uri(pair['left']['src']).shape == (H, W, 3)
      truth_side = pairs[pair['id']]['truth_side']
      shown.append((position, pair, truth_side))
      # The id is opaque: not the file's name or its index in pairs.json.
      assert pair['id'] not in names and pair['id'] not in {str(k) for k in range(num_pairs)}
  assert len(shown) == num_pairs
  left = [side == 'left' for _, _, side in shown]
  assert 5 <= sum(left) <= num_pairs - 5
  # Nothing simple on the page follows the sides: each feature agrees with them on some pairs and
  # disagrees on others (by chance for all 40 pairs: 2 in 2^40).
  ids = sorted(pair['id'] for _, pair, _ in shown)
  features = {
      'position on the page is even': [position % 2 == 0 for position, _, _ in shown],
      'position in the study is even': [k % 2 == 0 for k in range(num_pairs)],
      'id ends in an odd character': [ord(pair['id'][-1]) % 2 == 1 for _, pair, _ in shown],
      'id starts with an odd character': [ord(pair['id'][0]) % 2 == 1 for _, pair, _ in shown],
      'id rank is even': [ids.index(pair['id']) % 2 == 0 for _, pair, _ in shown],
      'id is even as a number': [int(re.sub(r'\D', '', pair['id']) or '0') % 2 == 0
                                 for _, pair, _ in shown],
  }  # The images' bytes cannot follow the sides: both sides are the same bytes (asserted above).
  for name, feature in features.items():
    agree = sum(f == l for f, l in zip(feature, left))
    assert 0 < agree < num_pairs, name


def test_flipping_every_truth_side_changes_nothing_in_the_html(tmp_path, monkeypatch):
  # The same pixels on both sides of each pair: whichever side is true, the page must be the same
  # byte for byte, or it would tell the sides.
  truth, samples, _ = _twin_folders(tmp_path, 12)
  module = sys.modules[rating.build.__module__]
  real = module.assign_sides

  def flipped(*args, **kwargs):
    result = list(real(*args, **kwargs))
    result[1] = ['right' if side == 'left' else 'left' for side in result[1]]
    return tuple(result)

  seed = 2 ** 100 + 5
  study_a, _ = rating.build(truth, samples, str(tmp_path / 'a'), seed=seed, log=QUIET)
  monkeypatch.setattr(module, 'assign_sides', flipped)
  study_b, _ = rating.build(truth, samples, str(tmp_path / 'b'), seed=seed, log=QUIET)
  assert all(a['truth_side'] != b['truth_side']
             for a, b in zip(study_a['pairs'], study_b['pairs']))
  pages = {run: [open(path, encoding='utf-8').read() for path in _html_files(tmp_path / run)]
           for run in 'ab'}
  assert pages['a'] == pages['b']


def test_swapping_truth_and_samples_changes_nothing_but_the_study_id(tmp_path):
  # Same seed, so the same sides; the true files become the samples and the other way round.
  truth, samples, _ = _twin_folders(tmp_path, 12)
  pages = {}
  for run, (t, s) in (('a', (truth, samples)), ('b', (samples, truth))):
    study, _ = rating.build(t, s, str(tmp_path / run), seed=2 ** 100 + 3, log=QUIET)
    pages[run] = [open(path, encoding='utf-8').read().replace(study['study_id'], 'STUDY')
                  for path in _html_files(tmp_path / run)]
  assert pages['a'] == pages['b']


def test_both_images_of_a_pair_are_embedded_as_pngs_of_one_size(tmp_path):
  truth, samples = tmp_path / 'truth', tmp_path / 'samples'
  # (truth size, sample size, truth format) -> embedded size, as (height, width).
  cases = {'bigger_truth': ((12, 20), (6, 10), 'jpg', (6, 10)),
           'other_aspect': ((40, 40), (30, 20), 'jpg', (30, 20)),
           'bigger_sample': ((8, 8), (16, 16), 'png', (8, 8)),
           'too_big': ((80, 80), (80, 80), 'png', (32, 32))}
  for k, (name, (t_shape, s_shape, ext, _)) in enumerate(cases.items()):
    write_image(str(truth / f'{name}.{ext}'), k, *t_shape)
    write_image(str(samples / f'{name}.png'), k + 10, *s_shape)
  lines = []
  study, _ = rating.build(str(truth), str(samples), str(tmp_path / 'study'), max_side=32,
                          log=lines.append)
  by_id = {p['pair_id']: p for p in study['pairs']}
  for pair in page_data(tmp_path / 'study' / 'index.html')['pairs']:
    expected = cases[by_id[pair['id']]['file']][3]
    for side in ('left', 'right'):
      assert png_chunks(png_bytes(pair[side]['src']))[0] == 'IHDR'
      assert decode_data_uri(pair[side]['src']).shape[:2] == expected
      assert (pair[side]['height'], pair[side]['width']) == expected
  notes = '\n'.join(lines)
  assert 'bigger_truth: truth is 20x12, sample 10x6' in notes and 'too_big' not in notes


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
  # Chromium's own temporary files where they always were (conftest.py, which sets this variable,
  # gives the tests a folder of their own): its socket path must stay under 108 characters.
  env = dict(os.environ, TMPDIR=os.environ['PYTEST_DEBUG_TEMPROOT'])
  driver = webdriver.Chrome(options=options, service=Service(driver_path, env=env))
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
  study, _ = rating.build(truth, samples, str(tmp_path / 'study'), seed=2 ** 90 + 3, log=QUIET)
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

  # Both storages hold the answers so far: localStorage (kept when the browser closes) and the tab's
  # sessionStorage (which a reload keeps when Chromium reopens a file:// page's localStorage empty).
  for storage in ('localStorage', 'sessionStorage'):
    kept = browser.execute_script(f'return Object.values(Object.assign({{}}, {storage}))')
    assert len(kept) == 1 and len(json.loads(kept[0])['answers']) == 2, (storage, kept)
  # A reload keeps the answers and the name, and goes on at the third pair.
  browser.refresh()
  # The reloaded page's script runs after refresh() returns on a loaded machine: wait for it.
  wait.until(lambda d: element('resume').is_displayed())
  assert element('resume-count').text == '2'
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
    text = f.read()
  answers = json.loads(text)
  assert (answers['rater'], answers['page_id'], answers['complete']) == (
      'ada', study['pages'][0]['page_id'], True)
  # The answers say which side was clicked, never which was true.
  assert 'truth' not in text and 'file' not in text
  clicks = ['right', 'left', 'left', 'right']
  order = study['pages'][0]['pair_ids']
  assert [a['pair_id'] for a in answers['answers']] == order
  assert [a['chosen_side'] for a in answers['answers']] == clicks
  for a in answers['answers']:
    assert set(a) == {'pair_id', 'chosen_side', 'response_ms', 'answered_at'}
    assert isinstance(a['response_ms'], int) and a['response_ms'] >= 0
  errors = [e for e in browser.get_log('browser') if e['level'] == 'SEVERE']
  assert not errors, errors

  sides = {p['pair_id']: p['truth_side'] for p in study['pairs']}
  fooled = sum(click != sides[i] for i, click in zip(order, clicks))
  out = tmp_path / 'scores.json'
  result = run_cli('score', path, f'--pairs={tmp_path / "study" / "pairs.json"}',
                   f'--output={out}')
  assert result.returncode == 0, result.stderr
  scores = json.loads(out.read_text())
  assert (scores['n_answers'], scores['n_fooled']) == (4, fooled)
  assert scores['percent_fooled'] == pytest.approx(100 * fooled / 4)
