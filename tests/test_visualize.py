"""The pictures every table and grid is made of (pixel_recursive/visualize.py): the nearest and
bicubic baselines of the super-resolution tables and the grid PNGs of the commands and TensorBoard."""
import numpy as np
import pytest

from pixel_recursive import visualize


def test_nearest_repeats_each_pixel_as_a_factor_by_factor_block():
  images = np.arange(2 * 2 * 3 * 3, dtype=np.uint8).reshape(2, 2, 3, 3)  # [B, H, W, C], H != W.
  out = visualize.nearest_upsample(images, 4)
  assert out.shape == (2, 8, 12, 3)
  for i in range(2):
    for j in range(3):
      assert (out[:, 4 * i:4 * i + 4, 4 * j:4 * j + 4] == images[:, i:i + 1, j:j + 1]).all()


def test_bicubic_is_cubic_interpolation_with_its_overshoot():
  """A cubic kernel (Pillow's: Keys, a = -0.5) keeps a flat image flat and a ramp a ramp, and
  overshoots a step edge (which bilinear, area and nearest never do)."""
  flat = np.full([1, 8, 8, 3], 77, np.uint8)
  assert (visualize.bicubic_upsample(flat, 32) == 77).all()
  step = np.full([1, 8, 8, 3], 60, np.uint8)
  step[:, :, 4:] = 190
  out = visualize.bicubic_upsample(step, 32).astype(int)
  assert out.shape == (1, 32, 32, 3)
  assert out.min() < 60 and out.max() > 190  # Ringing on both sides of the edge.
  assert (out[:, :, :8] == 60).all() and (out[:, :, 24:] == 190).all()  # Far from it: unchanged.


def test_grid_places_each_image_top_left_in_cells_as_large_as_their_row_and_column():
  a = np.full([2, 3], 10, np.uint8)  # Gray: shown in three equal channels.
  b = np.full([4, 6, 3], 20, np.uint8)
  c = np.full([5, 2, 1], 30, np.uint8)
  d = np.full([1, 4, 3], 40, np.uint8)
  out = visualize.grid([[a, b], [c, d]], pad=1, background=255)
  # Columns 3 and 6 wide, rows 4 and 5 high (the largest of each), 1 pixel of padding around each.
  assert out.shape == (1 + 4 + 1 + 5 + 1, 1 + 3 + 1 + 6 + 1, 3)
  assert (out[1:3, 1:4] == 10).all() and (out[3:5, 1:4] == 255).all()
  assert (out[1:5, 5:11] == 20).all()
  assert (out[6:11, 1:3] == 30).all() and (out[6:11, 3:5] == 255).all()
  assert (out[6:7, 5:9] == 40).all() and (out[7:11, 5:11] == 255).all() and (out[6, 9:] == 255).all()
  assert (out[0] == 255).all() and (out[:, 0] == 255).all() and (out[5] == 255).all()


def test_grids_are_padded_in_white_and_by_two_pixels_unless_told():
  """The defaults every grid PNG and TensorBoard grid uses (the README's figures show white gaps)."""
  out = visualize.grid([[np.zeros([3, 3, 3], np.uint8)]])
  assert out.shape == (2 + 3 + 2, 2 + 3 + 2, 3)
  assert (out[2:5, 2:5] == 0).all() and (out[:2] == 255).all() and (out[5:] == 255).all()
  assert (out[:, :2] == 255).all() and (out[:, 5:] == 255).all()


def test_titles_sit_in_a_band_above_the_grid_each_within_its_own_column():
  """The command lines' grids say what each column is (they were bare: the README had to)."""
  rows = [[np.zeros([8, 30, 3], np.uint8), np.zeros([8, 50], np.uint8),
           np.zeros([8, 20, 3], np.uint8)]]
  plain = visualize.grid(rows, scale=2)
  np.testing.assert_array_equal(plain, visualize.nearest_upsample(visualize.grid(rows), 2))
  titled = visualize.grid(rows, titles=['a', 'bicubic', 'x'], scale=2)
  top = titled.shape[0] - plain.shape[0]
  np.testing.assert_array_equal(titled[top:], plain)  # The grid below is untouched.
  band = (titled[:top] < 200).any(axis=-1)  # Ink: dark gray text on white.
  assert visualize.TITLE_SIZE <= top < 2 * visualize.TITLE_SIZE  # One line.
  columns = [(4, 64), (68, 168), (172, 212)]  # (pad + cumulative widths + pads) x 2.
  for left, right in columns:
    ink = np.flatnonzero(band[:, left:right].any(axis=0))
    assert ink.size  # Written, and roughly centred.
    assert abs((ink.min() + ink.max()) / 2 - (right - left) / 2) < 3
  gaps = [(0, 4), (64, 68), (168, 172), (212, titled.shape[1])]
  assert not any(band[:, a:b].any() for a, b in gaps)  # Nothing across a column's edge.


def test_titles_break_into_lines_at_newlines_and_where_too_wide_but_never_cross_columns():
  rows = [[np.zeros([4, 40, 3], np.uint8), np.zeros([4, 40, 3], np.uint8)]]
  one = visualize.grid(rows, pad=0, titles=['a', 'b'])
  two = visualize.grid(rows, pad=0, titles=['a\nb', 'c'])
  three = visualize.grid(rows, pad=0, titles=['sample one two three', 'c'])
  line = two.shape[0] - one.shape[0]
  assert line >= visualize.TITLE_SIZE and three.shape[0] - two.shape[0] >= line
  ink = (three[:-4] < 200).any(axis=-1)
  assert ink[:, :40].any() and ink[:, 40:].any()
  word = 'Supercalifragilisticexpialidocious' * 2  # Wider than ROW_TITLE_WIDTH.
  unbreakable = visualize.grid(rows, pad=4, titles=[word, 'c'])
  assert unbreakable.shape[0] - 8 == one.shape[0]  # One word: one line (pad 4, not 0)...
  edge = 4 + visualize.ROW_TITLE_WIDTH  # ...its column widened to the most a title may ask...
  assert unbreakable.shape[1] == edge + 4 + 40 + 4
  ink = (unbreakable[:-12] < 200).any(axis=-1)  # (The band: above the 4 rows and 4 + 4 of pad.)
  assert ink[:, 4:edge].any() and not ink[:, edge:edge + 4].any()  # ...and cut at its edge.


def test_a_titled_column_fits_its_widest_word_and_a_named_row_one_line_however_thin_the_image():
  """A panorama's 128-pixel thumbnail is 3 pixels high, a tall narrow photo's 3 wide: its name and
  its column's title were cut to nothing. The cells grow (the images stay top-left in them)."""
  pano, tall = np.zeros([3, 128, 3], np.uint8), np.zeros([128, 3, 3], np.uint8)
  named = visualize.grid([[pano]], pad=0, scale=2, row_titles=['pano'])
  left = named.shape[1] - 2 * 128
  assert named.shape[0] == visualize.LINE_HEIGHT + 2  # One line (a multiple of the scale).
  assert (named[:6, left:] == 0).all() and (named[6:, left:] == 255).all()  # Image top-left.
  ink = np.flatnonzero((named[:, :left] < 200).any(axis=(0, 2)))
  assert ink.max() - ink.min() >= visualize.name_font().getlength('pano') - 3  # Whole, not cut.
  titled = visualize.grid([[tall]], pad=0, scale=2, titles=['colouring 1'])
  font = visualize.title_font()
  assert titled.shape[1] == 2 * -(-visualize.widest_word('colouring 1') // 2)
  band = titled.shape[0] - 2 * 128
  assert (titled[band:, :6] == 0).all() and (titled[band:, 6:] == 255).all()
  ink = np.flatnonzero((titled[:band] < 200).any(axis=(0, 2)))
  assert ink.max() - ink.min() >= font.getlength('colouring') - 3  # Two lines, each whole.
  assert band >= 2 * visualize.LINE_HEIGHT
  assert visualize.widest_word('a b\nlongest') == round(font.getlength('longest'))


def test_titles_must_be_one_per_column():
  rows = [[np.zeros([4, 4, 3], np.uint8)] * 3]
  with pytest.raises(ValueError, match='2 titles for a grid of 3 columns'):
    visualize.grid(rows, titles=['a', 'b'])


def test_a_settings_title_names_the_nucleus_and_the_draws_only_where_they_apply():
  assert visualize.setting_title(1.5, 4) == 'T 1.5, w 4'
  assert visualize.setting_title(2, 5, 1.0, 4) == 'T 2, w 5\ntypical of 4'
  assert visualize.setting_title(1.2, None, 0.9, 8) == 'T 1.2\ntop-p 0.9\ntypical of 8'


def test_row_titles_sit_in_a_column_at_the_left_each_beside_its_own_row():
  """The command lines' grids say which input each row is (a folder of 50 photos was 50 unnamed
  rows): the name in a column at the left, the grid and its column titles shifted, not changed."""
  rows = [[np.zeros([20, 30, 3], np.uint8), np.zeros([20, 10, 3], np.uint8)],
          [np.zeros([30, 30, 3], np.uint8)]]
  plain = visualize.grid(rows, titles=['a', 'b'], scale=2)
  long = 'a name long enough to take three lines or more'  # The first row holds two lines.
  named = visualize.grid(rows, titles=['a', 'b'], scale=2, row_titles=[long, 'sub/two'])
  left = named.shape[1] - plain.shape[1]
  assert named.shape[0] == plain.shape[0] and left == visualize.ROW_TITLE_WIDTH  # At most...
  short = visualize.grid(rows, row_titles=['one', 'two']).shape[1] - visualize.grid(rows).shape[1]
  assert 20 < short < 40  # ...as wide as the widest name needs.
  np.testing.assert_array_equal(named[:, left:], plain)  # Grid and titles: as they were.
  top = plain.shape[0] - visualize.grid(rows, scale=2).shape[0]
  ink = (named[:, :left] < 200).any(axis=-1)
  assert not ink[:top].any()  # Nothing over the column of names...
  first, second = (top + 4, top + 44), (top + 48, top + 108)  # (pad + heights + pads) x 2.
  for a, _ in (first, second):  # Written from the top of its row.
    assert ink[a:a + visualize.LINE_HEIGHT].any()
  for a, b in ((top, first[0]), (first[1], second[0]), (second[1], named.shape[0])):
    assert not ink[a:b].any()  # ...and no name crosses its row's edge.
  with pytest.raises(ValueError, match='1 row titles for a grid of 2 rows'):
    visualize.grid(rows, row_titles=['one'])


def test_a_long_row_title_wraps_within_its_width_and_ends_with_dots_where_its_row_is_full():
  font = visualize.name_font()
  name = 'holiday_photos_from_the_summer_of_2019/IMG_20190712_153012'  # No space to break at.
  tall = visualize.grid([[np.zeros([200, 8, 3], np.uint8)]], row_titles=[name])
  width = tall.shape[1] - visualize.grid([[np.zeros([200, 8, 3], np.uint8)]]).shape[1]
  assert width == visualize.ROW_TITLE_WIDTH
  lines = visualize.title_lines(name, font, width - 8, 200)
  assert ''.join(lines) == name and len(lines) > 1  # Broken inside the word, nothing lost...
  assert all(font.getlength(line) <= width - 8 for line in lines)  # ...each line within the width.
  short = visualize.title_lines(name, font, width - 8, 30)  # Room for two lines of 14 pixels.
  assert len(short) == 2 and short[0] == lines[0] and short[1].endswith('...')
  assert font.getlength(short[1]) <= width - 8
  assert visualize.title_lines('a b', font, 100, 5) == ['a b']  # A row lower than a line: one.


def test_row_titles_draw_the_letters_of_names_in_other_scripts_not_boxes():
  """Pillow's default font draws 'café' as 'caf' and a box; file names are in any script."""
  font = visualize.name_font()
  box = np.asarray(font.getmask('\ue000'))  # A private-use character: no font has it.
  for letter in 'éßØЯжλΩ':
    assert not np.array_equal(np.asarray(font.getmask(letter)), box), letter
  cell = lambda name: visualize.grid([[np.zeros([16, 8, 3], np.uint8)]], row_titles=[name])
  assert not np.array_equal(cell('é'), cell('\ue000'))  # The grids use it.
