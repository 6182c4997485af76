r"""Human evaluation, "% fooled": raters pick the real image out of a (truth, model sample) pair.

The human study of both papers (Dahl et al. 2017; Guadarrama et al. 2017): a rater sees the true
image and a model's sample side by side, in random order, and picks the one that is real (for
PixColor: the one with its true colours). A sample's "% fooled" is how often raters picked the
sample: 50% means raters cannot tell samples from the truth.

1. Build the rating page from a folder of true images and a folder of samples:

  python -m pixel_recursive.rating build --truth=photos/ --samples=out/ --output=study/ \
      [--sample_suffix=_sample0] [--pairs_per_page=N] [--preset=super_resolution|colorization] \
      [--title="Which image is real?"] [--question="..."] [--seed=N]

   Pairs files by their relative name under each folder, the extension left out (truth a.jpg pairs
   with sample a.png; with --sample_suffix=_sample0, `upsample`'s a_sample0.png pairs with a.jpg).
   Unmatched and unreadable files are named on stderr. --preset sets the page's title and question:
   super_resolution (the default) asks "Which image, would you guess, is from a camera?" (Dahl et
   al.), colorization asks "Which image, would you guess, has its true colours?" (PixColor);
   --title and --question override them. It writes:

     study/index.html  the rating page to send to raters: one self-contained HTML file (images
                       embedded, no network needed) showing one pair at a time, left/right order
                       random per pair. Raters click an image or press the left / right arrow key,
                       and at the end click "Download answers" to save a JSON file they send back.
                       Answers survive a reload (kept in localStorage and the tab's sessionStorage).
                       With --pairs_per_page=N and more than N pairs: page_01.html, page_02.html ...
                       of N pairs each, and index.html links to them.
     study/pairs.json  the ground truth, for scoring: every pair, its files, its page and which side
                       holds the true image. Keep it to yourself: do not send it to raters.

   Exit status 1 if some files could not be read (the page is still written), 2 on a usage error.

2. Score the answer files raters sent back:

  python -m pixel_recursive.rating score answers_alice.json answers_bob.json \
      --pairs=study/pairs.json [--output=scores.json]

   --pairs is required: answers hold only which side a rater clicked, pairs.json which side was
   true. Prints and writes (--output) % fooled over all answers with its binomial standard error
   sqrt(p (1 - p) / n), per rater, and, with two or more raters, the mean over raters with the
   standard error across raters.

How the page keeps its secret. A rater who reads the page's source, or the answers file, must not
learn which image of a pair is the true one. The page holds, per pair, only an opaque pair id and
the two images in display order (left, right); answers hold only pair ids, the side clicked and
response times. Which side is true lives in pairs.json alone. In detail:
  - Sides, display order, pair ids and the study id come from HMAC-SHA256 keyed with the seed, so
    seeing ids and order tells nothing about the sides (a plain generator such as Python's Mersenne
    Twister could be reconstructed from its outputs). Without --seed the seed is 128 random bits
    from `secrets`, recorded in pairs.json (rebuild the same study with --seed=<that value>). A
    --seed someone can guess (0, 1, 42) gives the sides away to anyone with this code: use --seed
    for tests and reproducible rebuilds, or a long random number kept as secret as pairs.json.
  - No file name, folder, 'truth'/'sample' label, per-pair field or comment reaches the page.
  - Both images of a pair are re-encoded the same way, so the embedded bytes differ only as the
    pixels do: decoded to 8-bit RGB (alpha composited on white, EXIF orientation applied), brought
    to one common size (when the two differ, the larger is centre-cropped to the smaller's aspect
    ratio and resized to the smaller's size with Lanczos; a note names the pair), downscaled
    together to --max_side if larger (Lanczos), then written by the same PNG encoder with the same
    settings and no metadata (no EXIF, ICC profile, gamma or text chunks). The original formats
    (JPEG truth, PNG sample) and sizes are therefore not visible; only the pixels are.
"""
from pixel_recursive.rating.build import ANSWERS_FORMAT
from pixel_recursive.rating.build import assign_sides
from pixel_recursive.rating.build import build
from pixel_recursive.rating.build import common_shape
from pixel_recursive.rating.build import encode_pair
from pixel_recursive.rating.build import match_files
from pixel_recursive.rating.build import new_seed
from pixel_recursive.rating.build import PAIRS_FORMAT
from pixel_recursive.rating.build import PRESETS
from pixel_recursive.rating.build import SIDES
from pixel_recursive.rating.score import format_table
from pixel_recursive.rating.score import load_answers
from pixel_recursive.rating.score import load_pairs
from pixel_recursive.rating.score import percent_fooled
from pixel_recursive.rating.score import score
from pixel_recursive.rating.score import write_scores

__all__ = ['ANSWERS_FORMAT', 'PAIRS_FORMAT', 'PRESETS', 'SIDES', 'assign_sides', 'build',
           'common_shape', 'encode_pair', 'format_table', 'load_answers', 'load_pairs',
           'match_files', 'new_seed', 'percent_fooled', 'score', 'write_scores']
