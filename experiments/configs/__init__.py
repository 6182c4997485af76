"""Experiment configs: `get_config()` in each file returns an ml_collections.ConfigDict."""
import importlib
import os


def names():
  """The configs' names: the files of this folder that define get_config(), without `.py`."""
  folder = os.path.dirname(os.path.abspath(__file__))

  def is_config(file):
    with open(os.path.join(folder, file)) as f:
      return 'def get_config' in f.read()

  return sorted(f[:-3] for f in os.listdir(folder)
                if f.endswith('.py') and not f.startswith('_') and is_config(f))


def load(name):
  """get_config() of experiments/configs/<name>.py, e.g. load('faces_tiny')."""
  return importlib.import_module(f'{__name__}.{name}').get_config()
