"""read_image accepts every image a user may hand us and names what is wrong with the rest; and what
the commands make of a photo: `colorize` its luminance, `upsample` its 8 x 8 input."""
import os
import re
import struct
import weakref
import zlib

import numpy as np
from PIL import Image
import pytest

import helpers
from data import image_files

# Asymmetric so that a swapped H and W cannot pass.
H, W = 6, 10


def random_rgb(h=H, w=W, seed=0):
  return np.random.default_rng(seed).integers(0, 256, [h, w, 3], dtype=np.uint8)


def png_with_header(path, width, height):
  """A valid-looking PNG whose IHDR claims width x height, with almost no pixel data."""

  def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))

  ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)  # 8-bit RGB.
  with open(path, 'wb') as f:
    f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(b'\0' * 31))
            + chunk(b'IEND', b''))
  return path


def real_jpeg_bytes():
  """A real photograph's JPEG file: matplotlib's grace_hopper.jpg."""
  from matplotlib import cbook  # pylint: disable=g-import-not-at-top
  with open(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False), 'rb') as f:
    return f.read()


# ----------------------------------------------------------------------------------------------
# Files that convert to uint8 [H, W, 3].
# ----------------------------------------------------------------------------------------------
def test_rgb_png_is_read_exactly(tmp_path):
  rgb = random_rgb()
  Image.fromarray(rgb).save(tmp_path / 'a.png')
  out = image_files.read_image(str(tmp_path / 'a.png'))
  assert out.dtype == np.uint8
  np.testing.assert_array_equal(out, rgb)


def test_rgb_jpeg_is_close_to_its_source(tmp_path):
  rgb = np.zeros([H * 8, W * 8, 3], np.uint8)
  rgb[..., 0] = 200  # Flat colours: JPEG reproduces them to within a few levels.
  rgb[:, W * 4:, 2] = 100
  Image.fromarray(rgb).save(tmp_path / 'a.jpg', quality=95)
  out = image_files.read_image(str(tmp_path / 'a.jpg'))
  assert out.shape == (H * 8, W * 8, 3) and out.dtype == np.uint8
  assert np.abs(out.astype(int) - rgb).mean() < 3


def test_rgba_png_is_composited_on_white(tmp_path):
  rgba = np.zeros([H, W, 4], np.uint8)
  rgba[..., 0] = 255  # Red everywhere ...
  rgba[0, 0, 3] = 255  # ... opaque at (0, 0) only,
  rgba[0, 1, 3] = 128  # half transparent at (0, 1), transparent elsewhere.
  Image.fromarray(rgba, 'RGBA').save(tmp_path / 'a.png')
  out = image_files.read_image(str(tmp_path / 'a.png'))
  assert out.shape == (H, W, 3)
  np.testing.assert_array_equal(out[0, 0], [255, 0, 0])
  np.testing.assert_allclose(out[0, 1], [255, 127, 127], atol=1)
  np.testing.assert_array_equal(out[1:], np.full([H - 1, W, 3], 255))


def test_gray_png_with_alpha_is_composited_on_white(tmp_path):
  """'LA' (gray + alpha): its transparent pixels are white, not the gray stored under them."""
  la = np.zeros([H, W, 2], np.uint8)
  la[..., 0] = 40
  la[0, 0, 1] = 255  # Opaque dark gray at (0, 0), transparent elsewhere.
  Image.fromarray(la, 'LA').save(tmp_path / 'la.png')
  out = image_files.read_image(str(tmp_path / 'la.png'))
  np.testing.assert_array_equal(out[0, 0], [40, 40, 40])
  np.testing.assert_array_equal(out[1:], np.full([H - 1, W, 3], 255))


def test_palette_png(tmp_path):
  rgb = np.zeros([H, W, 3], np.uint8)
  rgb[:, :W // 2] = [10, 200, 30]
  rgb[:, W // 2:] = [250, 5, 90]
  im = Image.fromarray(rgb).convert('P', palette=Image.Palette.ADAPTIVE, colors=4)
  im.save(tmp_path / 'p.png')
  assert Image.open(tmp_path / 'p.png').mode == 'P'
  np.testing.assert_array_equal(image_files.read_image(str(tmp_path / 'p.png')), rgb)


def test_palette_png_with_transparency_is_composited_on_white(tmp_path):
  im = Image.new('P', (W, H), 0)
  im.putpalette([0, 0, 255] + [0, 0, 0] * 255)
  im.info['transparency'] = 0
  im.save(tmp_path / 'p.png', transparency=0)
  np.testing.assert_array_equal(image_files.read_image(str(tmp_path / 'p.png')),
                                np.full([H, W, 3], 255))


def test_16_bit_grayscale_png_is_scaled_to_8_bits(tmp_path):
  gray = np.linspace(0, 65535, H * W).reshape(H, W).astype(np.uint16)
  Image.fromarray(gray).save(tmp_path / 'g16.png')
  assert Image.open(tmp_path / 'g16.png').mode in ('I;16', 'I')
  out = image_files.read_image(str(tmp_path / 'g16.png'))
  assert out.shape == (H, W, 3) and out.dtype == np.uint8
  np.testing.assert_allclose(out[..., 0], gray / 257.0, atol=1)
  np.testing.assert_array_equal(out[..., 0], out[..., 2])
  assert out.max() == 255 and out.min() == 0


def test_32_bit_integer_image_is_scaled_to_8_bits(tmp_path):
  gray = np.linspace(0, 65535, H * W).reshape(H, W).astype(np.int32)
  Image.fromarray(gray, 'I').save(tmp_path / 'i32.tif')
  out = image_files.read_image(str(tmp_path / 'i32.tif'))
  np.testing.assert_allclose(out[..., 1], gray / 257.0, atol=1)


@pytest.mark.parametrize('name, dtype, mode', [('i8.tif', np.int32, 'I'),
                                               ('g8.png', np.uint16, None)])
def test_an_integer_image_holding_8_bit_values_keeps_them(tmp_path, name, dtype, mode):
  # 32-bit ('I') and 16-bit files written from 8-bit data: values up to 255 are read as they are,
  # not divided by 257 into a black picture, whichever mode Pillow opens the 16-bit PNG in.
  gray = np.linspace(0, 255, H * W).reshape(H, W).round().astype(dtype)
  Image.fromarray(gray, mode).save(tmp_path / name)
  np.testing.assert_array_equal(image_files.read_image(str(tmp_path / name))[..., 0], gray)


@pytest.mark.parametrize('peak', [1.0, 255.0])
def test_a_float_image_is_read_on_its_own_range(tmp_path, peak):
  # Float TIFFs (mode 'F') hold [0, 1] (scientific and HDR tools) or [0, 255]: both become 0..255.
  levels = np.linspace(0, 255, H * W).reshape(H, W).round()
  Image.fromarray((levels * peak / 255).astype(np.float32), 'F').save(tmp_path / 'f.tif')
  read = image_files.read_image(str(tmp_path / 'f.tif'))[..., 0]
  np.testing.assert_allclose(read, levels, atol=1)
  assert (read.min(), read.max()) == (0, 255)  # Black stays black, white white.


def test_8_bit_grayscale_becomes_three_equal_channels(tmp_path):
  gray = random_rgb()[..., 0]
  Image.fromarray(gray).save(tmp_path / 'g.png')
  out = image_files.read_image(str(tmp_path / 'g.png'))
  assert out.shape == (H, W, 3)
  for c in range(3):
    np.testing.assert_array_equal(out[..., c], gray)
  np.testing.assert_array_equal(image_files.read_image(str(tmp_path / 'g.png'), mode='L'), gray)


def test_one_pixel_image(tmp_path):
  Image.fromarray(np.array([[[1, 2, 3]]], np.uint8)).save(tmp_path / 'one.png')
  np.testing.assert_array_equal(image_files.read_image(str(tmp_path / 'one.png')), [[[1, 2, 3]]])


def test_exif_orientation_is_applied(tmp_path):
  # Phones store photos sideways and say so in EXIF; users expect the upright picture.
  rgb = random_rgb()
  exif = Image.Exif()
  exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display.
  Image.fromarray(rgb).save(tmp_path / 'phone.png', exif=exif)
  out = image_files.read_image(str(tmp_path / 'phone.png'))
  np.testing.assert_array_equal(out, np.rot90(rgb, k=-1))


def test_image_between_pillows_warning_and_error_limits_is_read(tmp_path, monkeypatch):
  # Pillow warns above Image.MAX_IMAGE_PIXELS and refuses above twice that. A warning is not a
  # reason to refuse a photograph (nor, in a folder source, to stop an epoch).
  Image.fromarray(random_rgb()).save(tmp_path / 'a.png')
  monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', H * W - 1)
  np.testing.assert_array_equal(image_files.read_image(str(tmp_path / 'a.png')), random_rgb())


# ----------------------------------------------------------------------------------------------
# Files that cannot be used: ImageReadError naming the path and a reason.
# ----------------------------------------------------------------------------------------------
def assert_read_error(path, *reason_words):
  with pytest.raises(image_files.ImageReadError) as info:
    image_files.read_image(str(path))
  message = str(info.value)
  assert message.startswith(f'{path}: '), message
  assert info.value.path == str(path)
  for word in reason_words:
    assert word in info.value.reason.lower(), message
  return message


def test_header_claiming_too_many_pixels(tmp_path):
  path = png_with_header(tmp_path / 'bomb.png', 20000, 20000)
  assert os.path.getsize(path) < 200
  assert 20000 * 20000 > image_files.MAX_PIXELS
  assert_read_error(path, 'too large')


def test_our_pixel_limit_holds_where_pillows_is_lifted(tmp_path, monkeypatch):
  monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', None)
  monkeypatch.setattr(image_files, 'MAX_PIXELS', 1000)
  path = png_with_header(tmp_path / 'big.png', 50, 40)
  assert_read_error(path, 'too large', '50x40')


def test_empty_file(tmp_path):
  (tmp_path / 'empty.jpg').write_bytes(b'')
  assert_read_error(tmp_path / 'empty.jpg', 'empty')


def test_text_file_with_an_image_extension(tmp_path):
  (tmp_path / 'notes.png').write_text('not a picture\n')
  assert_read_error(tmp_path / 'notes.png', 'not an image')


def test_truncated_jpeg(tmp_path):
  data = real_jpeg_bytes()
  (tmp_path / 'half.jpg').write_bytes(data[:len(data) // 2])
  assert_read_error(tmp_path / 'half.jpg', 'truncated or corrupt image data (')


@pytest.mark.parametrize('error', [EOFError(), SyntaxError('broken chunk'), IndexError('bad')])
def test_any_decoder_failure_is_a_read_error(tmp_path, monkeypatch, error):
  # Malformed files make Pillow's decoders raise many exception types, not only OSError.
  Image.fromarray(random_rgb()).save(tmp_path / 'a.png')

  def fail(self):
    raise error

  monkeypatch.setattr(Image.Image, 'load', fail)
  message = assert_read_error(tmp_path / 'a.png')
  assert str(error) in message or type(error).__name__ in message


def test_missing_path(tmp_path):
  assert_read_error(tmp_path / 'nowhere.jpg', 'no such file')


def test_directory(tmp_path):
  (tmp_path / 'photos.jpg').mkdir()
  assert_read_error(tmp_path / 'photos.jpg', 'directory')


# ----------------------------------------------------------------------------------------------
# list_images and write_png.
# ----------------------------------------------------------------------------------------------
def test_list_images_is_recursive_sorted_and_skips_hidden_and_other_files(tmp_path):
  for name in ['b.png', 'a.JPG', 'sub/c.jpeg', 'sub/deeper/d.webp', 'a0/e.bmp', 'z.tif',
               '.hidden.png', 'notes.txt', 'sub/README', '.cache/f.png', 'sub/.git/g.jpg']:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'x')
  found = image_files.list_images(str(tmp_path))
  expected = ['a.JPG', 'a0/e.bmp', 'b.png', 'sub/c.jpeg', 'sub/deeper/d.webp', 'z.tif']
  assert found == [str(tmp_path / name) for name in expected]


def test_list_images_follows_links_to_folders_and_lists_each_folder_once(tmp_path):
  """A dataset made of links (train/cats -> /data/cats) was listed without the linked photos."""
  for name in ('photos/a.png', 'photos/sub/b.png', 'elsewhere/c.png', 'top/d.png',
               'top/zzz/e.png'):  # Reached after the loop and the folder seen twice: still listed.
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_bytes(b'x')
  (tmp_path / 'top' / 'linked').symlink_to(tmp_path / 'elsewhere')
  (tmp_path / 'top' / 'photos').symlink_to(tmp_path / 'photos')
  (tmp_path / 'top' / 'zz_again').symlink_to(tmp_path / 'photos')  # Listed already, as photos.
  (tmp_path / 'photos' / 'sub' / 'up').symlink_to(tmp_path / 'top')  # A loop.
  found = image_files.list_images(str(tmp_path / 'top'))
  expected = ['d.png', 'linked/c.png', 'photos/a.png', 'photos/sub/b.png', 'zzz/e.png']
  assert found == [str(tmp_path / 'top' / name) for name in expected]


def test_a_folder_that_cannot_be_listed_is_named_in_a_warning(tmp_path, monkeypatch, caplog):
  """A sub-folder without read permission (faked: root reads every folder) was skipped in
  silence: its photos were missing from a batch command's outputs or a folder source."""
  for name in ('a.png', 'locked/b.png', 'open/c.png'):
    (tmp_path / name).parent.mkdir(exist_ok=True)
    (tmp_path / name).write_bytes(b'x')
  real_scandir, locked = os.scandir, str(tmp_path / 'locked')

  def scandir(path):
    if os.fspath(path) == locked:
      raise PermissionError(13, 'Permission denied', locked)
    return real_scandir(path)

  monkeypatch.setattr(os, 'scandir', scandir)
  with caplog.at_level('WARNING'):
    found = image_files.list_images(str(tmp_path))
  assert found == [str(tmp_path / 'a.png'), str(tmp_path / 'open' / 'c.png')]
  assert [r.getMessage() for r in caplog.records] == [
      f'cannot list {locked} (Permission denied): the images in it are left out']


def test_list_images_of_a_file_is_that_file(tmp_path):
  (tmp_path / 'a.png').write_bytes(b'x')
  assert image_files.list_images(str(tmp_path / 'a.png')) == [str(tmp_path / 'a.png')]


def test_list_images_of_a_missing_path(tmp_path):
  with pytest.raises(FileNotFoundError, match='nowhere'):
    image_files.list_images(str(tmp_path / 'nowhere'))


def test_list_images_of_an_empty_folder(tmp_path):
  assert image_files.list_images(str(tmp_path)) == []


@pytest.mark.parametrize('shape', [(H, W, 3), (H, W, 1), (H, W)])
def test_write_png_round_trip_creates_folders(tmp_path, shape):
  image = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
  path = str(tmp_path / 'new' / 'folder' / 'out.png')
  image_files.write_png(path, image)
  if shape[-1] == 3:
    np.testing.assert_array_equal(image_files.read_image(path), image)
  else:
    np.testing.assert_array_equal(image_files.read_image(path, mode='L'), image.reshape(H, W))
    assert Image.open(path).mode == 'L'  # A gray image is written as a gray file.


def test_write_png_keeps_its_text_in_any_script(tmp_path):
  """The commands' outputs say how they were made (`batch_command.provenance`), inputs named in
  any script included; without text, a PNG has none."""
  image = np.zeros([2, 3, 3], np.uint8)
  text = {'Software': 'pixel_recursive', 'pixel_recursive': '{"input": "照片/café.jpg"}'}
  image_files.write_png(str(tmp_path / 'a.png'), image, text)
  assert Image.open(tmp_path / 'a.png').text == text
  np.testing.assert_array_equal(image_files.read_image(str(tmp_path / 'a.png')), image)
  image_files.write_png(str(tmp_path / 'b.png'), image)
  assert Image.open(tmp_path / 'b.png').text == {}


def test_colorize_reads_a_photo_as_its_bt601_luminance(tmp_path):
  """What `colorize` feeds the model: Y = 0.299 R + 0.587 G + 0.114 B, rounded (the training
  photos' luminance), not the channels' mean."""
  from pixcolor import colorize  # pylint: disable=g-import-not-at-top
  pixels = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [200, 100, 50]]], np.uint8)
  Image.fromarray(pixels).save(tmp_path / 'colours.png')
  np.testing.assert_array_equal(colorize.read_luminance(str(tmp_path / 'colours.png')),
                                [[76, 150, 29, 124]])


def test_colorizes_grid_thumbnails_keep_the_aspect_with_the_longest_side_128():
  from pixcolor import colorize  # pylint: disable=g-import-not-at-top
  assert colorize.thumbnail(np.zeros([45, 31, 3], np.uint8)).shape == (128, 88, 3)
  assert colorize.thumbnail(np.zeros([300, 600], np.uint8)).shape == (64, 128)
  assert colorize.thumbnail(np.zeros([1, 1, 1], np.uint8)).shape == (128, 128)
  assert colorize.thumbnail(np.zeros([2, 600], np.uint8)).shape == (1, 128)  # Never 0 rows.


class FakeColorizer:
  """A PixColor whose colourings are their input's gray level (seeds: `refined_with`)."""

  def __init__(self):
    self.refined_with = []

  def network_gray(self, gray):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return tf.cast(tf.fill([len(gray), 4, 4, 1], gray[0, 0, 0]), tf.uint8)

  def sample_chroma(self, gray, seeds, temperature, method, top_p, candidates):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return tf.cast(gray[..., :1], tf.int32)

  def refine(self, gray, bins, seeds):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    self.refined_with.append(list(seeds))
    return tf.cast(tf.concat([bins, bins], -1), tf.float32)

  def combine(self, gray, chroma):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    chroma = tf.image.resize(chroma, tf.shape(gray)[1:3], 'nearest')
    return tf.concat([tf.cast(gray, tf.uint8)[..., None], tf.cast(chroma, tf.uint8)], -1)


def test_colorize_samples_each_input_from_its_own_gray():
  """colorize_all, with a fake model whose colourings are their input's gray level: colouring k of
  input i is made from input i's gray at network size, refined with its own seed and put on input
  i's full-size gray."""
  from pixcolor import colorize  # pylint: disable=g-import-not-at-top
  from pixel_recursive import sampling  # pylint: disable=g-import-not-at-top
  fake = FakeColorizer()
  refined_with = fake.refined_with
  grays = [np.full([6, 5], 10, np.uint8), np.full([9, 7], 20, np.uint8), np.full([3, 3], 30, np.uint8)]
  written = {}
  colorize.colorize_all(fake, grays, 2, 1.0, 5, 4, 'cached',
                        lambda i, k, rgb: written.__setitem__((i, k), np.asarray(rgb)))
  for (i, k), rgb in written.items():
    assert rgb.shape == grays[i].shape + (3,) and np.all(rgb == 10 * (i + 1)), (i, k)
  jobs = [(i, k) for i in range(3) for k in range(2)]
  assert sorted(written) == jobs
  assert [s for batch in refined_with for s in batch][:6] == [
      sampling.derive_seed(5, i, k) for i, k in jobs]


def test_colorize_reads_each_input_again_to_colour_it_holding_one_at_a_time():
  """The command kept every input's full-size luminance while sampling (12 GB for 1,000 phone
  photos): it keeps each one's network-size copy and reads the file once more to put its
  colourings on (`Reread`), never holding two, and makes the same colourings."""
  from pixcolor import colorize  # pylint: disable=g-import-not-at-top
  shapes = {'a': (6, 5), 'b': (9, 7), 'c': (3, 3)}
  reads, grays = [], []

  def read(path):
    reads.append((path, sum(gray() is not None for gray in grays)))  # Grays read before, held.
    gray = np.full(shapes[path], 10 * 'abc'.index(path) + 10, np.uint8)
    grays.append(weakref.ref(gray))
    return gray

  held = [read(path) for path in shapes]
  small = [FakeColorizer().network_gray(gray[None])[0].numpy() for gray in held]
  want, written = {}, {}
  colorize.colorize_all(FakeColorizer(), held, 2, 1.0, 5, 4, 'cached',
                        lambda i, k, rgb: want.__setitem__((i, k), np.asarray(rgb)))
  del held
  reads.clear()
  reread = colorize.Reread(list(shapes), read)
  assert len(reread) == 3
  colorize.colorize_all(FakeColorizer(), reread, 2, 1.0, 5, 4, 'cached',
                        lambda i, k, rgb: written.__setitem__((i, k), np.asarray(rgb)), small=small)
  assert reads == [('a', 0), ('b', 0), ('c', 0)]  # Each once more, and alone.
  assert sorted(written) == sorted(want)
  for job, rgb in want.items():
    np.testing.assert_array_equal(written[job], rgb)

  def gone(path):
    raise image_files.ImageReadError(path, 'does not exist')

  from pixel_recursive import commands  # pylint: disable=g-import-not-at-top
  with pytest.raises(commands.Failure, match=r'^x\.png: does not exist, though it was read before: '
                     r'was it changed or removed while its colourings were made\?$'):
    colorize.Reread(['x.png'], gone)[0]  # One line, exit 1, not a traceback.


def test_upsample_makes_the_8x8_input_as_the_training_inputs_are_made():
  """A larger photo: its central square, each input pixel the mean of the block it covers (area,
  as training inputs are made from their 32 x 32 truth); the 8 x 8 itself as it is; a smaller
  photo resized up, with a notice."""
  from pixel_recursive import upsample  # pylint: disable=g-import-not-at-top
  photo = random_rgb(40, 56, seed=3)  # The central square: columns 8-47, blocks of 5 x 5.
  lowres, notice = upsample.to_lowres(photo)
  np.testing.assert_allclose(lowres, helpers.block_means(photo[:, 8:48], 5), atol=0.51)
  assert notice == 'is 56x40: cropped to the central 40x40 and area-downsampled to 8x8'
  small = random_rgb(8, 8)
  assert upsample.to_lowres(small)[0] is small and upsample.to_lowres(small)[1] is None
  up, notice = upsample.to_lowres(random_rgb(6, 6))
  assert up.shape == (8, 8, 3) and notice.startswith('is only 6x6: resized up to 8x8')
  strip = random_rgb(3, 20, seed=4)  # Its central 3 x 3 (columns 8-10), resized up.
  up, notice = upsample.to_lowres(strip)
  assert notice.startswith('is only 20x3: cropped to the central 3x3 and resized up to 8x8')
  np.testing.assert_array_equal(up, upsample.to_lowres(strip[:, 8:11])[0])
  tiny = random_rgb(4, 4, seed=5)  # Resized up smoothly (bicubic), not by repeating pixels.
  up = upsample.to_lowres(tiny)[0].astype(int)
  assert np.abs(up - np.repeat(np.repeat(tiny, 2, 0), 2, 1)).max() > 20
  # Gray, as [H, W] or [H, W, 1]: the same as its three equal channels.
  gray = photo[..., 0]
  for same in (gray, gray[..., None]):
    np.testing.assert_array_equal(upsample.to_lowres(same)[0],
                                  upsample.to_lowres(np.repeat(gray[..., None], 3, -1))[0])
  # What it cannot read, named (a float photo in [0, 1] became a black 8 x 8).
  for image, says in ((photo / 255.0, 'float64 [40, 56, 3]'),
                      (np.dstack([photo, photo[..., :1]]), 'uint8 [40, 56, 4]: drop or composite'),
                      (photo[None], 'uint8 [1, 40, 56, 3]')):
    with pytest.raises(ValueError, match=re.escape(
        f'image must be uint8 (0-255) [H, W, 3] or gray [H, W], got {says}')):
      upsample.to_lowres(image)
  with pytest.raises(ValueError, match=re.escape('image has no pixels: [0, 56, 3]')):
    upsample.to_lowres(photo[:0])  # Not a division by zero in the crop.


def test_upsample_shows_as_the_truth_what_the_input_was_made_from_where_it_can():
  """The grid's last column: the photo's central square area-resized to 32 x 32 (what its 8 x 8
  is the area mean of), none for a photo smaller than that."""
  from pixel_recursive import upsample  # pylint: disable=g-import-not-at-top
  photo = random_rgb(64, 80, seed=4)
  np.testing.assert_array_equal(upsample.reference(photo),
                                np.round(helpers.block_means(photo[:, 8:72], 2)))
  same = random_rgb(32, 32)
  np.testing.assert_array_equal(upsample.reference(same), same)
  assert upsample.reference(random_rgb(16, 16)) is None
  assert upsample.reference(random_rgb(31, 90)) is None


def test_upsample_says_once_what_it_did_to_many_inputs_of_one_size(tmp_path):
  """A folder of 32 x 32 photos (the usual input) got one notice line per photo."""
  from pixel_recursive import upsample  # pylint: disable=g-import-not-at-top
  assert upsample.notice_lines({'is 32x32: area-downsampled to 8x8': ['a.png', 'b.png', 'c.png'],
                                'is only 6x6: resized up to 8x8': ['d.png']}) == [
      '3 inputs are 32x32: area-downsampled to 8x8 (the first: a.png)',
      'd.png is only 6x6: resized up to 8x8']
  inputs = tmp_path / 'in'
  inputs.mkdir()
  for i in range(3):
    Image.fromarray(random_rgb(32, 32, seed=i)).save(inputs / f'{i}.png')
  Image.fromarray(random_rgb(8, 8)).save(inputs / 'small.png')  # Already 8 x 8: no notice.
  result = helpers.run_in_process('pixel_recursive.upsample', f'--input={inputs}',
                                  f'--output={tmp_path / "out"}')
  assert result.returncode == 0, result.stderr[-3000:]
  about = [line for line in helpers.stderr_lines(result) if 'area-downsampled' in line]
  assert len(about) == 1 and about[0].endswith(
      f'3 inputs are 32x32: area-downsampled to 8x8 (the first: {inputs}/0.png)'), about
