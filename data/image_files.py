"""Reading and writing image files the way users hand them to us.

Used by the folder source of the input pipeline and by the batch commands (`upsample`, `colorize`).
Pillow does the decoding: it converts palette, RGBA, 16-bit and grayscale files to 8-bit RGB, and its
errors name what is wrong with a file, which we pass on to the user.
"""
import io
import os

from absl import logging
import numpy as np
from PIL import Image
from PIL import ImageOps

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.gif', '.webp', '.tif', '.tiff')

# A decompression bomb guard, checked on the header before any decoding. Pillow has its own: it warns
# above Image.MAX_IMAGE_PIXELS (~89 MP) and refuses twice that (~179 MP), which we also report as
# 'too large'; this bound still holds where a program has lifted Pillow's.
MAX_PIXELS = 200_000_000


def is_image_name(path):
  """Whether `path` ends in one of IMAGE_EXTENSIONS (any case): the files listed as images."""
  return path.lower().endswith(IMAGE_EXTENSIONS)


class ImageReadError(Exception):
  """A file that cannot be used as an image; `str()` is `'<path>: <reason>'`."""

  def __init__(self, path, reason):
    super().__init__(f'{path}: {reason}')
    self.path = path
    self.reason = reason


def list_images(path):
  """The image files under `path`, sorted: the file itself, or a folder searched recursively.

  Hidden files and folders (`.name`) are skipped. The order is `sorted()` of the full paths, so the
  split a folder source makes (the last 10% are `eval`) does not depend on the file system. A
  sub-folder that cannot be listed (no permission) is left out with a warning naming it. Links to
  folders are followed (datasets are often put together from links), each folder listed once: a
  link back up the tree, or a second link to a folder already listed, adds nothing.

  Raises:
    FileNotFoundError: `path` does not exist.
  """
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path} does not exist')
  if os.path.isfile(path):
    return [path]
  found = []

  def unlisted(error):
    logging.warning('cannot list %s (%s): the images in it are left out', error.filename,
                    error.strerror or error)

  listed = set()
  for root, dirs, files in os.walk(path, onerror=unlisted, followlinks=True):
    real = os.path.realpath(root)
    if real in listed:  # Reached again through a link: no second copy, and no endless loop.
      dirs[:] = []
      continue
    listed.add(real)
    # In place: os.walk skips the others, and visits these in order (the first path to a folder
    # reached twice is the one kept).
    dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
    found.extend(os.path.join(root, f) for f in files
                 if is_image_name(f) and not f.startswith('.'))
  return sorted(found)


def _to_8bit(im):
  """16-bit and 32-bit integer / float modes -> 8-bit 'L': integers by 0..65535 (or as they are
  when all are <= 255), floats by [0, 1] (or [0, 255] when any is above 1)."""
  arr = np.asarray(im)
  if arr.dtype == np.uint16 or im.mode.startswith('I;16') or im.mode == 'I':
    # 16-bit files (Pillow opens 16-bit grayscale PNGs as 'I;16', older versions as 'I') and 32-bit
    # integer ones span 0..65535; one whose values are all <= 255 was written from 8-bit data, and
    # keeps them rather than being divided by 257 into a black picture.
    scale = 257.0 if arr.max(initial=0) > 255 else 1.0
    return Image.fromarray(np.clip(arr / scale, 0, 255).round().astype(np.uint8))
  if im.mode == 'F':
    peak = 1.0 if arr.max(initial=0) <= 1.0 else 255.0
    return Image.fromarray(np.clip(arr * (255.0 / peak), 0, 255).round().astype(np.uint8))
  return im


def read_image(path, mode='RGB'):
  """Reads an image file as uint8 `[H, W, 3]` (mode 'RGB') or `[H, W]` (mode 'L').

  Transparent images are composited on white; palette, 16-bit and grayscale images are converted;
  an EXIF orientation (phone photos) is applied, so the result is the picture as viewers show it.

  Raises:
    ImageReadError: the file is missing, empty, not an image, truncated or otherwise unreadable.
  """
  return _decode(path, path, mode)


def decode_image(data, name, mode='RGB'):
  """`read_image` of encoded bytes (a TFRecord's `image/encoded`); errors name `name`."""
  if not data:
    raise ImageReadError(name, 'empty image data')
  return _decode(io.BytesIO(data), name, mode)


def _decode(source, path, mode):
  """Decodes `source` (a path or a file object) as `read_image` says; errors name `path`."""
  try:
    if isinstance(source, str) and os.path.getsize(source) == 0:
      raise ImageReadError(path, 'empty file')
    # No warnings.catch_warnings() here: it edits process-wide state and folder sources call this
    # from several threads at once. Pillow's DecompressionBombWarning is only printed.
    with Image.open(source) as im:
      if im.width * im.height > MAX_PIXELS:
        raise ImageReadError(path, f'too large ({im.width}x{im.height} pixels)')
      im.load()  # Decodes now, so a truncated file fails here and not later.
      im = ImageOps.exif_transpose(im)
      if im.mode in ('P', 'PA', 'LA', 'RGBA', 'La'):
        im = im.convert('RGBA')
        background = Image.new('RGBA', im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im)
      im = _to_8bit(im).convert(mode)
      return np.asarray(im, dtype=np.uint8)
  except ImageReadError:
    raise
  except FileNotFoundError:
    raise ImageReadError(path, 'no such file') from None
  except IsADirectoryError:
    raise ImageReadError(path, 'is a directory') from None
  except PermissionError:
    raise ImageReadError(path, 'permission denied') from None
  except Image.UnidentifiedImageError:
    raise ImageReadError(path, 'not an image file (unrecognised format)') from None
  except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
    # The warning arrives as an exception only where warnings are errors (python -W error).
    raise ImageReadError(path, f'too large ({e})') from None
  except Exception as e:  # pylint: disable=broad-except
    # Pillow's decoders raise many types on malformed files (OSError, SyntaxError, EOFError,
    # struct.error, ...); every one means this file is unusable, never that the caller has a bug.
    reason = str(e) or type(e).__name__
    if 'truncated' in reason.lower():
      reason = f'truncated or corrupt image data ({reason})'
    raise ImageReadError(path, reason) from None


def write_png(path, image, text=None):
  """Writes uint8 `[H, W, 3]`, `[H, W, 1]` or `[H, W]` as PNG, creating the folder; `text`
  ({keyword: str}) goes into its text chunks (`Image.open(path).text` reads them back)."""
  from PIL import PngImagePlugin
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  image = np.asarray(image, dtype=np.uint8)
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]  # Pillow has no [H, W, 1] mode.
  info = None
  if text:
    info = PngImagePlugin.PngInfo()
    for keyword, value in text.items():
      info.add_text(keyword, value)  # Latin-1 as tEXt, anything else as UTF-8 iTXt.
  Image.fromarray(image).save(path, format='PNG', pnginfo=info)
