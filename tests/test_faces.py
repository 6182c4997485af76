"""Faces found in any photo and framed as the training faces (data/faces.py), and `upsample --faces`."""
import json
import os
import shutil
import weakref

import numpy as np
from PIL import Image
import pytest

import helpers
from data import faces
from data import samples
from pixel_recursive import sampling


def test_framing_box_is_the_fitted_square_around_a_detection():
  top, left, side = faces.framing_box((100, 200, 40, 60), {'scale': 2.0, 'dy': -0.25, 'dx': 0.1})
  # Box side 50, centre (120, 230); the frame: side 100, centre (120 - 12.5, 230 + 5).
  assert (top, left, side) == pytest.approx((57.5, 185.0, 100.0))


def test_crop_resizes_and_repeats_the_edge_outside_the_photo():
  image = np.zeros((40, 60, 3), np.uint8)
  image[:, :30] = 200  # Left half bright.
  inside = faces.crop(image, (0, 0, 20), size=10)
  assert inside.shape == (10, 10, 3) and (inside == 200).all()
  outside = faces.crop(image, (-20, -20, 40), size=8)  # Three quarters lie outside the photo.
  assert outside.shape == (8, 8, 3) and (outside[:, :5] == 200).all()
  gray = faces.crop(image[..., 0], (10, 10, 20), size=4)
  assert gray.shape == (4, 4, 3)


@pytest.mark.parametrize('image', [
    np.zeros([64, 64, 3]), np.zeros([64, 64, 3], np.float32), np.zeros([64, 64, 2], np.uint8),
    np.zeros([2, 64, 64, 3], np.uint8)])
def test_find_names_an_image_it_cannot_read(image):
  """A float photo (0-1, as skimage.img_as_float makes) or a batch: one ValueError naming it, not
  Pillow's 'Cannot handle this data type' from inside the crop."""
  shape = ', '.join(map(str, image.shape))
  with pytest.raises(ValueError, match=r'image must be uint8 \(0-255\) \[H, W, 3\], \[H, W, 4\] '
                     rf'or \[H, W\], got {image.dtype.name} \[{shape}\]'):
    faces.find(image)


def test_find_names_an_image_without_pixels():
  with pytest.raises(ValueError, match=r'^image has no pixels: \[0, 10, 3\]$'):
    faces.find(np.zeros([0, 10, 3], np.uint8))  # Not the detector's ZeroDivisionError.
  with pytest.raises(ValueError, match=r'^size must be >= 1, got 0$'):  # Not Pillow's words.
    faces.crop(np.zeros([10, 10, 3], np.uint8), (0, 0, 10), size=0)


def test_crop_is_the_area_mean_of_its_box_the_right_way_up():
  """Each output pixel is the mean of the box's pixels under it, rows and columns in order."""
  rows, cols = np.meshgrid(np.arange(40), np.arange(60), indexing='ij')
  image = np.stack([rows * 4, cols * 4, np.full_like(rows, 7)], -1).astype(np.uint8)
  out = faces.crop(image, (8, 12, 16), size=4).astype(np.float64)  # 4 x 4 blocks of the box.
  centres = np.arange(4) * 4 + 1.5  # Mean index of each block within the box.
  np.testing.assert_allclose(out[..., 0], np.repeat(4 * (8 + centres)[:, None], 4, 1), atol=0.51)
  np.testing.assert_allclose(out[..., 1], np.repeat(4 * (12 + centres)[None, :], 4, 0), atol=0.51)
  assert (out[..., 2] == 7).all()


def test_a_box_past_the_photos_edge_repeats_the_edge_pixels():
  """A face at the border keeps its frame: the part of the box outside the photo is the photo's
  edge pixels repeated (not the opposite edge, not black)."""
  image = np.random.default_rng(0).integers(0, 256, [10, 12, 3]).astype(np.uint8)
  for box in ((-3, -4, 8), (5, 7, 8)):  # Past the top-left corner; past the bottom-right one.
    top, left, side = box
    padded = np.pad(image, ((8, 8), (8, 8), (0, 0)), mode='edge')
    want = padded[top + 8:top + 8 + side, left + 8:left + 8 + side]
    np.testing.assert_array_equal(faces.crop(image, box, size=side), want, err_msg=str(box))


class _FakeCascade:
  """Stands in for scikit-image's cascade: returns fixed raw detections (r, c, height, width)."""

  def __init__(self, boxes):
    self.boxes = boxes

  def detect_multi_scale(self, **unused):
    return [dict(r=r, c=c, height=h, width=w) for r, c, h, w in self.boxes]


def test_detections_of_one_face_at_two_scales_and_small_background_ones_are_thinned(monkeypatch):
  image = np.zeros((200, 300, 3), np.uint8)  # Small enough to be searched at its own size.
  boxes = [(20, 20, 60, 60),     # A face.
           (25, 25, 33, 33),     # The same face at another scale: inside the first (a third of
                                 # its area, all of its own).
           (100, 200, 50, 46),   # A second face, elsewhere, 5/6 of the first's height.
           (150, 20, 25, 25),    # Under half the largest side: a pattern in the background,
           (152, 22, 20, 20)]    # found again at another scale (dropped, not counted twice).
  monkeypatch.setattr(faces, '_detector', lambda: _FakeCascade(boxes))
  assert faces.detect(image) == [(20, 20, 60, 60), (100, 200, 50, 46)]
  # The small one is there to be counted or kept: by_size splits what detect_all found.
  assert faces.detect_all(image) == [(20, 20, 60, 60), (100, 200, 50, 46), (150, 20, 25, 25)]
  assert faces.by_size(faces.detect_all(image)) == (
      [(20, 20, 60, 60), (100, 200, 50, 46)], [(150, 20, 25, 25)])
  assert faces.detect(image, min_relative_side=0) == faces.detect_all(image)
  assert faces.detect(image, min_relative_side=0.9) == [(20, 20, 60, 60)]  # 46/60 < 0.9.
  assert faces.detect(image, min_relative_side=1) == [(20, 20, 60, 60)]  # The largest stays.
  assert faces.by_size([]) == ([], [])
  with pytest.raises(ValueError, match=r'min_relative_side must be in \[0, 1\], got 1.5'):
    faces.by_size(boxes, 1.5)


def test_a_detection_is_the_same_face_when_it_covers_a_third_of_the_smaller_box(monkeypatch):
  """`_overlap` is the intersection over the smaller box's area; the thinning keeps a detection
  that overlaps a kept one by less than a third. The test above has only overlaps of 0 and 1."""
  assert faces._overlap((2, 30, 10, 20), (4, 40, 10, 20)) == pytest.approx(80 / 200)
  assert faces._overlap((0, 0, 10, 40), (5, 10, 4, 4)) == 1  # Inside: all of the smaller one.
  assert faces._overlap((0, 0, 10, 10), (0, 10, 10, 10)) == 0  # Side by side.
  image = np.zeros((200, 300, 3), np.uint8)
  boxes = [(20, 20, 60, 60),
           (20, 58, 60, 60),   # 22 of its 60 columns over the first: 0.37 of it, the same face.
           (20, 62, 60, 60)]   # 18 columns: 0.3, another face (beside it, overlapping).
  monkeypatch.setattr(faces, '_detector', lambda: _FakeCascade(boxes))
  assert faces.detect_all(image) == [(20, 20, 60, 60), (20, 62, 60, 60)]


def test_the_portraits_faces_are_found_where_they_are():
  (collins,) = faces.find(samples.photo('astronaut'))
  top, left, side = collins.box
  assert 0 < top < 40 and 120 < left < 160 and 150 < side < 200, collins.box  # Her face, not the flag.
  (hopper,) = faces.find(samples.photo('grace_hopper'))
  assert hopper.crop.shape == (32, 32, 3)
  assert 250 < hopper.box[1] + hopper.box[2] / 2 < 320  # Horizontally centred on her face.


def test_the_no_face_line_says_how_small_a_face_is_looked_for_and_it_is_so():
  """Big photos are searched shrunk (faces.MAX_SIDE): the line naming a photo without a face gives
  the smallest face looked for, which is where detection stops (a row of n astronauts: her face
  box, 96 px, is found up to n = 5, where the smallest is 96 px, and not at 6)."""
  from pixel_recursive import upsample  # pylint: disable=g-import-not-at-top
  astronaut = samples.photo('astronaut')
  assert [round(side) for _, _, side, _ in faces.detect(astronaut)] == [96]
  row = lambda n: np.concatenate([astronaut] * n, axis=1)
  assert faces.smallest_face(512, 5 * 512) == pytest.approx(96)
  assert len(faces.detect(row(5))) == 5
  assert faces.smallest_face(512, 6 * 512) > 96 and faces.detect(row(6)) == []
  assert upsample.no_face_line('row.png', row(6).shape) == (
      'no face found in row.png (scikit-image\'s frontal-face detector, which looks for faces at '
      'least 116 px across in this 3072x512 photo; crop it to find smaller ones)')
  # 24 / (640 / 12880) is 483.00000000000006 in floating point: still 483 px.
  assert 'at least 483 px across in this 12880x1000 photo' in upsample.no_face_line(
      'p', (1000, 12880))
  # Photos searched at their own size or enlarged: no hint to crop.
  assert upsample.no_face_line('coffee.png', (400, 600, 3)).endswith(
      'at least 24 px across in this 600x400 photo)')
  assert upsample.no_face_line('cup.png', (100, 150)).endswith(
      'at least 15 px across in this 150x100 photo)')


def test_framing_on_celeba_faces_whose_framing_is_known():
  """On validation-id CelebA faces (never used to fit FRAMING), a face is found in most, and the crop
  lies close to the true frame (the whole 64 x 64 image): measured 90.6% found, median IoU 0.90 over
  500 (experiments/face_framing.py); here the first 100."""
  images = np.load(helpers.shared_file('faces', 'celeba_64_008501_010000.npz'))['images'][:100]
  ious = []
  for image in images:
    found = faces.detect(image)
    if found:
      top, left, side = faces.framing_box(found[0])
      h = max(0, min(top + side, 64) - max(top, 0))
      w = max(0, min(left + side, 64) - max(left, 0))
      ious.append(h * w / (side * side + 64 * 64 - h * w))
  assert len(ious) >= 85, len(ious)
  assert np.median(ious) > 0.85, np.median(ious)


def test_upsample_faces_writes_each_face_and_names_a_photo_without_one(tmp_path, monkeypatch):
  from matplotlib import cbook  # pylint: disable=g-import-not-at-top
  from data import image_files  # pylint: disable=g-import-not-at-top
  read_image, photos, held = image_files.read_image, [], []

  def read_one_at_a_time(*args, **kwargs):
    held.append(sum(photo() is not None for photo in photos))  # Photos read before, still held.
    photo = read_image(*args, **kwargs)
    photos.append(weakref.ref(photo))
    return photo

  monkeypatch.setattr(image_files, 'read_image', read_one_at_a_time)
  inputs = tmp_path / 'in'
  inputs.mkdir()
  shutil.copy(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False), inputs / 'grace_hopper.jpg')
  Image.fromarray(samples.photo('astronaut')).save(inputs / 'astronaut.png')
  Image.fromarray(samples.photo('coffee')).save(inputs / 'coffee.png')
  Image.fromarray(samples.photo('coffee')[::4, ::4]).save(inputs / 'cup.png')
  Image.fromarray(samples.photo('astronaut')).save(inputs / 'twin.png')  # Sorted last.
  out = tmp_path / 'out'
  from pixel_recursive import batch_command  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(batch_command, 'GRID_ROWS', 2)  # The grid: the first 2 of the 3 faces.
  result = helpers.run_in_process('pixel_recursive.upsample', '--faces', f'--input={inputs}',
                                  f'--output={out}', '--num_samples=2', '--batch_size=2')
  assert result.returncode == 1, result.stderr[-3000:]
  assert 'grid.png shows the first 2 of 3 faces (GRID_ROWS)' in result.stderr
  # A folder of 1,000 phone photos was held at once (36 GB): each photo is let go once searched.
  assert held == [0, 0, 0, 0, 0]
  about_coffee = [l for l in helpers.stderr_lines(result) if 'coffee.png' in l]
  from pixel_recursive import upsample  # pylint: disable=g-import-not-at-top
  assert about_coffee == [upsample.no_face_line(f'{inputs}/coffee.png', (400, 600))], (
      result.stderr[-3000:])
  # Two photos without a face: named each, then counted, last.
  assert helpers.stderr_lines(result)[-1] == 'no face found in 2 of 5 photos'
  written = sorted(os.listdir(out))
  for photo in ('astronaut', 'grace_hopper', 'twin'):  # One face each: crop, input, two samples.
    assert [f for f in written if f.startswith(photo)] == [
        f'{photo}_face0_{k}.png' for k in ('crop', 'input', 'sample0', 'sample1')], written
  assert np.asarray(Image.open(out / 'astronaut_face0_sample1.png')).shape == (32, 32, 3)
  assert np.asarray(Image.open(out / 'astronaut_face0_input.png')).shape == (8, 8, 3)
  crop = np.asarray(Image.open(out / 'astronaut_face0_crop.png'))  # The face as framed, whose
  np.testing.assert_array_equal(  # 4 x 4 block means are the model's input.
      np.asarray(Image.open(out / 'astronaut_face0_input.png')), np.round(helpers.block_means(crop, 4)))
  assert 'grid.png' in written
  assert result.stdout.strip().splitlines()[-1] == f'wrote 12 PNGs of 3 faces and {out}/grid.png'
  # The grid: per face, its input enlarged, bicubic, the samples, the crop; titled so, each row
  # with the name its files start with.
  from pixel_recursive import model as sr_model  # pylint: disable=g-import-not-at-top
  from pixel_recursive import visualize  # pylint: disable=g-import-not-at-top
  shipped = json.load(open(os.path.join(sr_model.demo_workdir('faces'), 'config.json')))['sampling']
  face = lambda photo, kind: np.asarray(Image.open(out / f'{photo}_face0_{kind}.png'))
  cells = [[visualize.nearest_upsample(face(photo, 'input'), 4),
            visualize.bicubic_upsample(face(photo, 'input')[None], 32)[0]]
           + [face(photo, kind) for kind in ('sample0', 'sample1', 'crop')]
           for photo in ('astronaut', 'grace_hopper', 'twin')]
  titles = upsample.grid_titles(2, shipped['temperature'], shipped['guidance'],
                                shipped.get('top_p', 1), shipped.get('candidates', 1), 'crop')
  np.testing.assert_array_equal(np.asarray(Image.open(out / 'grid.png')),
                                visualize.grid(cells[:2], titles=titles, scale=2, row_titles=[
                                    'astronaut_face0', 'grace_hopper_face0']))
  made = json.loads(Image.open(out / 'twin_face0_sample1.png').text['pixel_recursive'])
  assert {k: made[k] for k in ('input', 'face', 'sample', 'seed')} == {  # How it was made.
      'input': str(inputs / 'twin.png'), 'face': 0, 'sample': 1,
      'seed': sampling.derive_seed(sampling.derive_seed(0, 4), 0, 1)}  # The fifth photo read.
  # Each photo's faces are seeded by the photo's place: the same face in two photos, two draws.
  read = lambda name: np.asarray(Image.open(out / name))
  np.testing.assert_array_equal(read('twin_face0_input.png'), read('astronaut_face0_input.png'))
  assert not np.array_equal(read('twin_face0_sample0.png'), read('astronaut_face0_sample0.png'))
  assert 'Traceback' not in result.stderr
  assert 'not on faces' not in result.stderr  # The faces model is the default.
  # One photo without a face: its one line, and no count after it.
  result = helpers.run_in_process('pixel_recursive.upsample', '--faces',
                                  f'--input={inputs}/coffee.png', f'--output={tmp_path}/one')
  assert result.returncode == 1, result.stderr[-3000:]
  assert [l for l in helpers.stderr_lines(result) if 'no face found' in l] == [
      f'no face found in {inputs}/coffee.png (scikit-image\'s frontal-face detector, which looks '
      'for faces at least 24 px across in this 600x400 photo)']


def crowd():
  """Eileen Collins's face twice on a gray ground, the second 0.4 times as large (a face at the back
  of a crowd): uint8 [560, 800, 3]."""
  face = Image.fromarray(samples.photo('astronaut')[0:260, 100:330])
  photo = np.full((560, 800, 3), 200, np.uint8)
  photo[20:540, 20:480] = np.asarray(face.resize((460, 520)))
  photo[200:408, 560:744] = np.asarray(face.resize((184, 208)))
  return photo


def test_a_face_under_half_the_largest_is_counted_on_the_log_and_kept_when_asked(tmp_path):
  """--faces took a detection under half the side of the photo's largest face for a pattern in
  the background and dropped it without a word: the faces at the back of a crowd went missing.
  The photo's log line now counts them, and --min_face_fraction=0 upsamples them too."""
  Image.fromarray(crowd()).save(tmp_path / 'crowd.png')
  (top, left, side, _), (small_top, small_left, small_side, _) = faces.detect_all(crowd())
  assert small_side < 0.5 * side  # Each face where it is pasted: the large one, then the small.
  assert 20 < top < top + side < 540 and 20 < left < left + side < 480
  assert 200 < small_top < small_top + small_side < 408
  assert 560 < small_left < small_left + small_side < 744
  args = ['--faces', f'--input={tmp_path}/crowd.png', '--num_samples=1']
  result = helpers.run_in_process('pixel_recursive.upsample', *args, f'--output={tmp_path}/half')
  assert result.returncode == 0, result.stderr[-3000:]
  assert (f"{tmp_path}/crowd.png: 1 face; 1 smaller detection ignored (under 0.5 of the largest "
          "face's side: taken for patterns in the background; --min_face_fraction=0 upsamples "
          'them too)') in result.stderr
  assert sorted(os.listdir(tmp_path / 'half')) == [
      'crowd_face0_crop.png', 'crowd_face0_input.png', 'crowd_face0_sample0.png', 'grid.png']
  result = helpers.run_in_process('pixel_recursive.upsample', *args, '--min_face_fraction=0',
                                  f'--output={tmp_path}/all')
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'{tmp_path}/crowd.png: 2 faces\n' in result.stderr + '\n'  # Nothing ignored.
  assert 'crowd_face1_sample0.png' in os.listdir(tmp_path / 'all')
  # Out of [0, 1]: one line, exit 2; without --faces: a warning that it does nothing.
  helpers.assert_usage_error(helpers.run_in_process(
      'pixel_recursive.upsample', *args, '--min_face_fraction=1.5', f'--output={tmp_path}/no'),
      'flag --min_face_fraction=1.5: 1.5 is not', prog='pixel_recursive.upsample')
  result = helpers.run_in_process('pixel_recursive.upsample', f'--input={tmp_path}/crowd.png',
                                  '--min_face_fraction=0', f'--output={tmp_path}/plain')
  assert result.returncode == 0 and '--min_face_fraction=0 does nothing without --faces' in (
      result.stderr)


def test_faces_with_a_model_not_trained_on_faces_says_which_model_is(tmp_path, monkeypatch):
  """`--faces --model=bedrooms` (or its folder as --workdir) samples faces from a scene model:
  it runs, with one warning."""
  from pixel_recursive import commands  # pylint: disable=g-import-not-at-top
  from pixel_recursive import workdir as workdir_lib  # pylint: disable=g-import-not-at-top

  def restore(*args, **kwargs):
    raise commands.UsageError('restored')

  monkeypatch.setattr(workdir_lib, 'restore', restore)
  Image.fromarray(samples.photo('astronaut')).save(tmp_path / 'astronaut.png')
  for model in ('--model=bedrooms', f'--workdir={workdir_lib.SR_DEMO_WORKDIRS["bedrooms"]}/'):
    result = helpers.run_in_process('pixel_recursive.upsample', '--faces', model,
                                    f'--input={tmp_path}/astronaut.png', f'--output={tmp_path}/o')
    warning = [l for l in helpers.stderr_lines(result) if 'not on faces' in l]
    assert len(warning) == 1 and warning[0].endswith(
        '--faces with the bedrooms model, trained on Tiny ImageNet and Places365, not on faces: '
        'the faces model is --model=faces (the default)'), result.stderr[-3000:]


def test_upsample_faces_samples_with_the_sampler_it_is_given(monkeypatch):
  """--method reaches the faces' sampling (it was dropped there: every face was drawn cached)."""
  from pixel_recursive import upsample
  seen = []

  def upsample_all(model, lowres, num_samples, temperature, seed, batch_size, method='cached',
                   **unused):
    seen.append(method)
    return np.zeros([len(lowres), num_samples, 32, 32, 3], np.uint8)

  monkeypatch.setattr(upsample, 'upsample_all', upsample_all)
  found = upsample.upsample_faces(None, samples.photo('astronaut'), method='naive')
  assert seen == ['naive'] and len(found) == 1
  # The face's 8 x 8 input is made from its 32 x 32 crop as training inputs are: 4 x 4 block means.
  np.testing.assert_array_equal(found[0]['lowres'],
                                np.round(helpers.block_means(found[0]['crop'], 4)))


def test_the_framing_test_takes_its_block_of_ids_in_colour_or_in_gray():
  from experiments import framing
  faces = helpers.smooth_images(1600, size=8, seed=4)
  np.testing.assert_array_equal(framing.faces_block(faces, 'choice'), faces[:500])
  np.testing.assert_array_equal(framing.faces_block(faces, 'report', 3), faces[500:503])
  gray = framing.faces_block(faces, 'choice', 2, gray=True)
  assert gray.dtype == np.uint8 and np.all(gray == gray[..., :1])
  np.testing.assert_allclose(gray[..., 0], np.round(helpers.bt601_luma(faces[:2])), atol=1)
  # A zoom's square side is rounded, not truncated: 0.7 x 64 = 44.8 -> 45, from row and column 9.
  images = helpers.smooth_images(2, size=64, seed=1)
  np.testing.assert_allclose(framing.zoomed(images, 0.7, size=15),
                             helpers.block_means(images[:, 9:54, 9:54], 3), atol=0.51)


def fake_detector(monkeypatch, detections):
  """faces.detect answering detections[k] for an image whose first value is k."""
  monkeypatch.setattr(faces, 'detect', lambda image, *a, **k: detections[int(image[0, 0, 0])])
  images = np.zeros((len(detections), 64, 64, 3), np.uint8)
  images[:, 0, 0, 0] = np.arange(len(detections))
  return images


def test_the_fitted_framing_is_the_median_frame_around_the_detections(monkeypatch):
  from experiments import face_framing
  images = fake_detector(monkeypatch, [
      [(16, 20, 30, 34)],  # Side 32 (30, 34's mean), centre (31, 37): scale 2, dy .031, dx -.156.
      [(10, 12, 40, 40)],  # Side 40, centre (30, 32): scale 1.6, dy 0.05, dx 0.
      [],  # No face: not counted.
      [(20, 16, 20, 24)]])  # Side 22, centre (30, 28): scale 2.909, dy 0.091, dx 0.182.
  framing, used = face_framing.fit(images)
  assert used == 3
  assert framing == {'scale': 2.0, 'dy': 0.05, 'dx': 0.0}  # The medians (the means: 2.17, ...).


def test_the_framing_check_measures_the_crops_against_the_true_frame(monkeypatch):
  from experiments import face_framing
  images = fake_detector(monkeypatch, [
      [(16, 16, 32, 32)],  # The frame exactly: IoU 1.
      [(16, 32, 32, 32), (0, 0, 10, 10)],  # Two faces; the largest framed 16 px right: IoU 0.6.
      [],
      [(24, 24, 16, 16)]])  # Framed at half the side, centred: IoU 0.25.
  result = face_framing.check(images, {'scale': 2.0, 'dy': 0.0, 'dx': 0.0})
  assert result == {  # Rounded to 3 decimals, as the JSON line shows them.
      'faces': 4, 'found': 3, 'found_fraction': 0.75, 'more_than_one_fraction': 0.25,
      'iou_median': 0.6, 'iou_p10': 0.32, 'centre_error_median_of_frame': 0.0,
      'side_ratio_median': 1.0, 'side_ratio_p10_p90': [0.6, 1.0]}
  assert face_framing.iou((0, 0, 64), 64) == 1 and face_framing.iou((64, 0, 64), 64) == 0
  # A crop past the top-left corner: its 32 x 32 inside the frame over the union's 7 x 32 x 32.
  assert face_framing.iou((-32, -32, 64), 64) == pytest.approx(1 / 7)


def test_the_framing_command_fits_on_its_first_faces_and_checks_with_what_it_fitted(
    tmp_path, monkeypatch):
  """experiments/face_framing.py's JSON line: the framing fitted on the first --fit_count faces of
  --fit, the check of the first --check_count of --check made with that framing (not FRAMING), and
  the faces the detector finds in each sample photo."""
  from experiments import face_framing
  images = fake_detector(monkeypatch, [
      [(16, 20, 30, 34)], [(10, 12, 40, 40)], [(20, 16, 20, 24)], [(0, 0, 8, 8)]])
  on_faces = faces.detect

  def detect(image, *args, **kwargs):  # The test's 64 x 64 faces as above; no sample photo is.
    if image.shape == (64, 64, 3):
      return on_faces(image, *args, **kwargs)
    return [(0, 0, 8, 8)] * (image.shape[1] % 3)  # A sample photo: 0 to 2 faces.
  monkeypatch.setattr(faces, 'detect', detect)
  np.savez(tmp_path / 'fit.npz', images=images)
  np.savez(tmp_path / 'check.npz', images=images[::-1])
  result = helpers.run_in_process('experiments.face_framing', f'--fit={tmp_path}/fit.npz',
                                  f'--check={tmp_path}/check.npz', '--fit_count=3',
                                  '--check_count=2')
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(result.stdout.strip().splitlines()[-1])
  fitted, used = face_framing.fit(images[:3])
  assert used == 3 and fitted != face_framing.fit(images)[0]  # The 4th face would move it.
  assert report['fitted_framing'] == fitted and report['fitted_on'] == 3
  assert report['check'] == face_framing.check(images[::-1][:2], fitted)
  assert report['check'] != face_framing.check(images[::-1][:2], faces.FRAMING)
  assert report['framing_in_code'] == faces.FRAMING
  photos = {name: len(detect(image)) for name, image in samples.photos()}
  assert report['sample_photos'] == photos and len(set(photos.values())) == 3


def test_the_framing_test_crops_each_zoom_and_reports_the_models_settings(tmp_path, monkeypatch):
  """experiments/framing.py's plumbing, with `evaluate` replaced: the faces it is given at each
  zoom (the central square, area-resized), the model's own sampling settings, the rows."""
  import shutil  # pylint: disable=g-import-not-at-top
  from pixel_recursive import evaluate  # pylint: disable=g-import-not-at-top
  from pixel_recursive import model as model_lib  # pylint: disable=g-import-not-at-top
  workdir = tmp_path / 'model'
  shutil.copytree(model_lib.DEMO_WORKDIRS['faces'], workdir)
  # A model trained on CelebA's own crop: the framing test's faces are framed already.
  helpers.edit_recorded_config(workdir, {'sampling.top_p': 0.9, 'sampling.candidates': 4,
                                         'data.crop': 'celeba'})
  faces64 = helpers.smooth_images(3, size=64, seed=5)
  np.savez(tmp_path / 'faces.npz', images=faces64)
  calls = []

  def fake_evaluate(model, config, num_examples, settings, batch_size, top_p, candidates):
    del model
    calls.append((np.load(config.data.source[len('npz:'):])['eval_images'], num_examples,
                  settings, top_p, candidates, config.data.crop))
    (t, w), = settings
    psnr = [21.25, 19.9][len(calls) - 1]
    return {'methods': {evaluate.method_name(t, w): {'psnr': psnr, 'consistency': 31.0,
                                                     'hf_ratio': 0.9},
                        'bicubic': {'psnr': 20.5, 'consistency': 33.0}},
            'bits_per_dim': 3.6, 'bits_per_dim_conditioning': 6.0, 'bits_per_dim_prior': 3.7}

  monkeypatch.setattr(evaluate, 'evaluate', fake_evaluate)
  result = helpers.run_in_process('experiments.framing', f'--faces={tmp_path}/faces.npz',
                                  f'--workdir={workdir}', '--zooms=0.5,1', '--num_examples=3')
  assert result.returncode == 0, result.stderr[-3000:]
  (half, _, *settings), (whole, *rest) = calls
  # Zoom 0.5: the central 32 x 32 of the 64 x 64 face as it is; zoom 1: the whole face, 2 x 2 means.
  np.testing.assert_array_equal(half, faces64[:, 16:48, 16:48])
  np.testing.assert_allclose(whole, helpers.block_means(faces64, 2), atol=0.51)
  assert settings == [[(1.5, 4.0)], 0.9, 4, 'none'] and rest[1:] == settings
  report = json.loads(result.stdout.strip().splitlines()[-1])
  assert (report['top_p'], report['candidates']) == (0.9, 4)
  assert report['zooms'] == {
      '0.5': {'samples': {'psnr': 21.25, 'consistency': 31.0, 'hf_ratio': 0.9},
              'bicubic': {'psnr': 20.5, 'consistency': 33.0}, 'psnr_minus_bicubic': 0.75,
              'bits_per_dim': 3.6},
      '1': {'samples': {'psnr': 19.9, 'consistency': 31.0, 'hf_ratio': 0.9},
            'bicubic': {'psnr': 20.5, 'consistency': 33.0}, 'psnr_minus_bicubic': -0.6,
            'bits_per_dim': 3.6}}
  assert '| 1 | 19.90 | 20.50 | -0.60 | 31.00 | 0.90 | 3.600 |' in result.stdout


def test_the_framing_test_runs_on_the_shipped_faces_model(tmp_path):
  """experiments/framing.py end to end, on two synthetic 64 x 64 pictures standing in for the
  CelebA block (its ids are ../shared's), one zoom."""
  np.savez(tmp_path / 'faces.npz', images=helpers.smooth_images(2, size=64, seed=4))
  result = helpers.run_in_process('experiments.framing', f'--faces={tmp_path}/faces.npz',
                                  '--zooms=0.6', '--num_examples=2', '--batch_size=2', '--gray')
  assert result.returncode == 0, result.stderr[-3000:]
  lines = result.stdout.strip().splitlines()
  assert lines[0].startswith('| zoom | samples pSNR | bicubic pSNR |')
  report = json.loads(lines[-1])
  assert report['gray'] is True and report['num_faces'] == 2 and set(report['zooms']) == {'0.6'}
  assert report['temperature'] == 1.5 and report['guidance'] == 4  # The shipped defaults.
  assert report['top_p'] == 1 and report['candidates'] == 1
  row = report['zooms']['0.6']
  assert row['samples']['consistency'] > 10 and row['bits_per_dim'] > 0


@pytest.mark.parametrize('module,flag', [('experiments.framing', '--faces'),
                                         ('experiments.face_framing', '--fit'),
                                         ('experiments.face_framing', '--check')])
def test_the_framing_scripts_name_a_missing_or_wrong_faces_file_in_one_line(tmp_path, module, flag):
  """Their faces are ../shared's CelebA arrays: without them, or with another npz, one line and exit
  2 (was a traceback)."""
  np.savez(tmp_path / 'other.npz', train_images=np.zeros([1, 4, 4, 3], np.uint8))
  result = helpers.run_in_process(module, f'{flag}={tmp_path}/none.npz')
  helpers.assert_usage_error(result, f"npz file '{tmp_path}/none.npz' does not exist", prog=module)
  result = helpers.run_in_process(module, f'{flag}={tmp_path}/other.npz')
  helpers.assert_usage_error(
      result, f"{tmp_path}/other.npz has no `images` (it has ['train_images'])", prog=module)
