"""Image grids for TensorBoard, the command lines' grid PNGs and the notebooks (numpy in, numpy out)."""
import functools
import os

import numpy as np
from PIL import Image


def nearest_upsample(images, factor):
  """uint8 [..., H, W, C] -> [..., H * factor, W * factor, C] by pixel replication."""
  images = np.asarray(images)
  return images.repeat(factor, axis=-3).repeat(factor, axis=-2)


def bicubic_upsample(images, size):
  """uint8 [B, h, w, 3] -> uint8 [B, size, size, 3] with Pillow's bicubic filter."""
  return np.stack([np.asarray(Image.fromarray(np.asarray(im)).resize((size, size), Image.BICUBIC))
                   for im in np.asarray(images)])


def to_rgb(image):
  image = np.asarray(image)
  if image.ndim == 2:
    image = image[..., None]
  if image.shape[-1] == 1:
    image = np.repeat(image, 3, axis=-1)
  return image.astype(np.uint8)


TITLE_SIZE = 11  # Pixels: the font of the column titles over the command lines' grids.
TITLE_COLOUR = (40, 40, 40)
LINE_HEIGHT = TITLE_SIZE + 3
ROW_TITLE_WIDTH = 120  # Pixels at most: the column of row titles at the left of a grid.


def setting_title(temperature, guidance=None, top_p=1.0, candidates=1):
  """A grid title's lines for a sampling setting: 'T 2, w 5', then 'top-p 0.9' and 'typical of 4'
  (the most typical of 4 draws) where they apply; `guidance` None: a model without one."""
  lines = [f'T {temperature:g}' + ('' if guidance is None else f', w {guidance:g}')]
  if top_p < 1:
    lines.append(f'top-p {top_p:g}')
  if candidates > 1:
    lines.append(f'typical of {candidates}')
  return '\n'.join(lines)


def grid(rows, pad=2, background=255, titles=None, scale=1, row_titles=None):
  """Tiles a list of rows (each a list of uint8 images, gray or RGB, any sizes) into one image.

  Each cell is as large as the largest image in its column and row; smaller images sit top-left.
  `scale` > 1 enlarges the whole grid by pixel replication (`nearest_upsample`). `titles`, one per
  column ('\n' starts a new line; a line too wide for its column is wrapped at spaces), are written
  in a band above the grid, each centred over its column; the grid itself is unchanged below it.
  `row_titles`, one per row (the commands' file names), are written in a column at the left, at
  most ROW_TITLE_WIDTH pixels wide, each beside its row (`title_column`). So that no title is cut to
  nothing, a titled row is at least one line high and a titled column at least as wide as its
  title's widest word (up to ROW_TITLE_WIDTH): a panorama's thumbnail is a few pixels high.
  """
  rows = [[to_rgb(im) for im in row] for row in rows]
  n_cols = max(len(r) for r in rows)
  if titles is not None and len(titles) != n_cols:
    raise ValueError(f'{len(titles)} titles for a grid of {n_cols} columns')
  if row_titles is not None and len(row_titles) != len(rows):
    raise ValueError(f'{len(row_titles)} row titles for a grid of {len(rows)} rows')
  col_w = [max((r[c].shape[1] for r in rows if c < len(r)), default=0) for c in range(n_cols)]
  row_h = [max(im.shape[0] for im in r) for r in rows]
  if titles is not None:
    col_w = [max(w, -(-widest_word(t) // scale)) for w, t in zip(col_w, titles)]
  if row_titles is not None:
    row_h = [max(h, -(-(LINE_HEIGHT + 2) // scale)) for h in row_h]
  out = np.full((sum(row_h) + pad * (len(rows) + 1), sum(col_w) + pad * (n_cols + 1), 3),
                background, np.uint8)
  y = pad
  for r, h in zip(rows, row_h):
    x = pad
    for c, im in enumerate(r):
      out[y:y + im.shape[0], x:x + im.shape[1]] = im
      x += col_w[c] + pad
    y += h + pad
  if scale > 1:
    out = nearest_upsample(out, scale)
  offset = 0  # The width of the row titles' column, left of the grid.
  if row_titles is not None:
    tops = [(pad * (r + 1) + sum(row_h[:r])) * scale for r in range(len(rows))]
    column = title_column(row_titles, tops, [h * scale for h in row_h], out.shape[0], background)
    out = np.concatenate([column, out], axis=1)
    offset = column.shape[1]
  if titles is None:
    return out
  lefts = [offset + (pad * (c + 1) + sum(col_w[:c])) * scale for c in range(n_cols)]
  band = title_band(titles, lefts, [w * scale for w in col_w], out.shape[1], background)
  return np.concatenate([band, out])


def widest_word(title):
  """Pixels: the widest word of a column title in its font, at most ROW_TITLE_WIDTH."""
  font = title_font()
  words = str(title).replace('\n', ' ').split(' ')
  return min(ROW_TITLE_WIDTH, int(np.ceil(max(font.getlength(word) for word in words))))


def title_band(titles, lefts, widths, width, background=255):
  """A uint8 [h, width, 3] band with titles[i] centred over the column at lefts[i] that is
  widths[i] pixels wide; h fits the title with the most lines. Text never crosses its column."""
  font = title_font()
  columns = [wrap(str(title), font, w) for title, w in zip(titles, widths)]
  band = Image.new('RGB', (width, 4 + LINE_HEIGHT * max(len(lines) for lines in columns)),
                   (background,) * 3)
  for lines, left, w in zip(columns, lefts, widths):
    band.paste(text_cell(lines, font, w, band.height, background, centred=True), (left, 0))
  return np.asarray(band)


def text_cell(lines, font, width, height, background=255, centred=False):
  """A width x height PIL image with `lines` written one under another from its top, each centred
  or from a 4-pixel margin; what does not fit is cut at the cell's edges."""
  from PIL import ImageDraw
  cell = Image.new('RGB', (width, height), (background,) * 3)
  draw = ImageDraw.Draw(cell)
  for i, line in enumerate(lines):
    left = max(0, (width - font.getlength(line)) / 2) if centred else 4
    draw.text((left, 2 + i * LINE_HEIGHT), line, fill=TITLE_COLOUR, font=font)
  return cell


def title_column(titles, tops, heights, height, background=255):
  """A uint8 [height, w, 3] column with titles[i] written from the top of the row at tops[i] that is
  heights[i] pixels high (`title_lines`); w fits the widest title, up to ROW_TITLE_WIDTH. Text
  never crosses its row."""
  font = name_font()
  margin = 4  # Each side, as `text_cell` leaves.
  widest = max(font.getlength(line) for title in titles for line in str(title).split('\n'))
  width = int(min(ROW_TITLE_WIDTH, widest + 2 * margin + 1))
  column = Image.new('RGB', (width, height), (background,) * 3)
  for title, top, h in zip(titles, tops, heights):
    lines = title_lines(str(title), font, width - 2 * margin, h)
    column.paste(text_cell(lines, font, width, h, background), (0, top))
  return np.asarray(column)


@functools.lru_cache(maxsize=1)
def title_font():
  """The column titles' font: Pillow's default, at TITLE_SIZE."""
  from PIL import ImageFont
  return ImageFont.load_default(size=TITLE_SIZE)


@functools.lru_cache(maxsize=1)
def name_font():
  """The row titles' font: file names are the users', in any script. Pillow's default font (the
  column titles') draws only ASCII, a box for anything else ('caf\u25a1'); matplotlib's DejaVu Sans,
  at the same size, draws accented Latin, Greek and Cyrillic too (Chinese or Japanese: boxes)."""
  from PIL import ImageFont
  import matplotlib
  try:
    return ImageFont.truetype(
        os.path.join(matplotlib.get_data_path(), 'fonts', 'ttf', 'DejaVuSans.ttf'), TITLE_SIZE)
  except OSError:  # A matplotlib without its fonts: names in ASCII still read.
    return title_font()


def title_lines(title, font, width, height):
  """The lines of a row title `height` pixels high: wrapped at spaces and, within a word (a file
  name), anywhere, each no wider than `width`; where more lines than fit, the last that fits ends
  with '...'. At least one line."""
  lines = [piece for line in wrap(title, font, width) for piece in break_word(line, font, width)]
  fits = max(1, (height - 2) // LINE_HEIGHT)
  if len(lines) > fits:
    lines = lines[:fits]
    while lines[-1] and font.getlength(lines[-1] + '...') > width:
      lines[-1] = lines[-1][:-1]
    lines[-1] += '...'
  return lines


def break_word(line, font, width):
  """`line` in pieces no wider than `width` (each at least one character), broken anywhere."""
  pieces = ['']
  for char in line:
    if pieces[-1] and font.getlength(pieces[-1] + char) > width:
      pieces.append('')
    pieces[-1] += char
  return pieces


def wrap(title, font, width):
  """The lines of `title`: its own ('\n'), each broken at spaces where wider than `width`."""
  lines = []
  for text in title.split('\n'):
    line = ''
    for word in text.split(' '):
      if line and font.getlength(f'{line} {word}') > width:
        lines.append(line)
        line = word
      else:
        line = f'{line} {word}' if line else word
    lines.append(line)
  return lines
