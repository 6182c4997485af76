"""Experiment configs: `get_config()` in each file returns an ml_collections.ConfigDict."""
import importlib


def load(name):
  """get_config() of experiments/configs/<name>.py, e.g. load('faces_tiny')."""
  return importlib.import_module(f'{__name__}.{name}').get_config()
