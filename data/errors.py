"""The error every data source raises when it cannot be used (kept apart from `data.sources`, which
imports TensorFlow, so that a command can name it before TensorFlow is imported)."""


class DataSourceError(Exception):
  """A data source that cannot be used, with a message that says what to do about it."""
