"""Experiment configs: `get_config()` in each file returns an ml_collections.ConfigDict."""
import importlib
import os


FOLDER = os.path.dirname(os.path.abspath(__file__))


def names():
  """The configs' names: the files of this folder that define get_config(), without `.py`."""

  def is_config(file):
    with open(os.path.join(FOLDER, file)) as f:
      return 'def get_config' in f.read()

  return sorted(f[:-3] for f in os.listdir(FOLDER)
                if f.endswith('.py') and not f.startswith('_') and is_config(f))


def path(name):
  """The file of config `name`: experiments/configs/<name>.py, as an absolute path."""
  return os.path.join(FOLDER, f'{name}.py')


def load(name):
  """get_config() of experiments/configs/<name>.py, e.g. load('faces_tiny')."""
  return importlib.import_module(f'{__name__}.{name}').get_config()
