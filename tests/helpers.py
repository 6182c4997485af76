"""What several test files share: configs by name, config overrides, strategies, command lines."""
import importlib.util
import os
import subprocess
import sys

from pixel_recursive import distribute

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_config(name):
  """get_config() of experiments/configs/<name>.py."""
  path = os.path.join(ROOT, 'experiments', 'configs', f'{name}.py')
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def override(config, overrides):
  """Sets dotted keys, e.g. {'data.source': 'bundled'}, as --config.KEY=VALUE would."""
  for key, value in overrides.items():
    target = config
    *path, last = key.split('.')
    for p in path:
      target = target[p]
    target[last] = value
  return config


def strategy_named(name):
  """The strategy the trainers' --strategy flag makes (conftest gives two logical CPUs)."""
  return distribute.make_strategy(name)


def run_cli(module, *args, timeout=300):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=ROOT)
  return subprocess.run([sys.executable, '-m', module, *args], capture_output=True, text=True,
                        timeout=timeout, cwd=ROOT, env=env)
