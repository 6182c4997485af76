"""The error every data source raises when it cannot be used, and what a URL is (kept apart from
`data.sources`, which imports TensorFlow, so that a command can use them before TensorFlow is
imported)."""
import re

_URL = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*://')


def is_url(path):
  """Whether `path` is a URL (`gs://bucket/run`, `https://...`): a scheme, then `://`."""
  return bool(_URL.match(path or ''))


class DataSourceError(Exception):
  """A data source that cannot be used, with a message that says what to do about it."""
