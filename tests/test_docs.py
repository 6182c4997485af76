"""The docs match the code: every command line written in the README, WORKSPACE.md, docs/, the
config docstrings, the notebooks and the modules' docstrings runs one of our commands, passes only
flags that command defines, and overrides only config keys that exist.

A renamed or removed flag, or a config key that moved, fails here instead of in a reader's shell.
The flags of each command are what its own `--help` lists (run in process, helpers.py): a flag
the docs give must be one a user finds there, not only under `--helpfull`.
"""
import functools
import glob
import importlib.util
import json
import os
import re
import shlex

import pytest

from experiments import configs
import helpers

OURS = ('pixel_recursive', 'pixcolor', 'experiments', 'data')
COMMAND = re.compile(r'python3? (?:-m ([\w.]+)|((?:\./)?(?:' + '|'.join(OURS) + r')/[\w/]+\.py))'
                     r'((?:(?!python3? ).)*)')


def _text_spans(path):
  """The code of a file a reader copies commands from: code blocks and inline code of Markdown,
  the code cells and Markdown of notebooks (their inline code too), the whole of a Python file
  (commands live in its docstrings). Line continuations are joined."""
  with open(os.path.join(helpers.ROOT, path)) as f:
    text = f.read()
  if path.endswith('.py'):
    return [text.replace('\\\n', ' ')]
  if path.endswith('.ipynb'):
    text = '\n'.join(''.join(cell['source']) for cell in json.loads(text)['cells'])
  spans = [m.group(1) for m in re.finditer(r'```[\w-]*\n(.*?)```', text, re.S)]
  prose = re.sub(r'```.*?```', '', text, flags=re.S)
  spans += [m.group(1).replace('\n', ' ') for m in re.finditer(r'`([^`]+)`', prose)]
  return [s.replace('\\\n', ' ') for s in spans]


def documented_commands():
  """[(file, module, [flag names], {--config.KEY}, --config file or None)] of every command line of
  ours the docs write."""
  files = ['README.md', 'WORKSPACE.md'] + sorted(
      glob.glob('docs/*.md', root_dir=helpers.ROOT) +
      glob.glob('experiments/**/*.py', root_dir=helpers.ROOT, recursive=True) +
      glob.glob('experiments/*.ipynb', root_dir=helpers.ROOT) +
      glob.glob('pixel_recursive/**/*.py', root_dir=helpers.ROOT, recursive=True) +
      glob.glob('pixcolor/*.py', root_dir=helpers.ROOT) +
      glob.glob('data/*.py', root_dir=helpers.ROOT))
  found = []
  for path in files:
    for span in _text_spans(path):
      for line in span.split('\n'):
        for m in COMMAND.finditer(line):
          module = m.group(1) or m.group(2).removeprefix('./')[:-len('.py')].replace('/', '.')
          if not module.startswith(OURS) or not re.fullmatch(r'\w+(\.\w+)+', module):
            continue  # Another tool's (pip, pytest) or a pattern (`python -m pixcolor.<command>`).
          flags, keys, config = [], set(), None
          for token in re.findall(r'(?<![\w$-])--[a-z_][\w.]*(?:=\S*)?', m.group(3)):
            name, _, value = token[2:].partition('=')
            if name.startswith('config.'):
              keys.add(name[len('config.'):])
            else:
              flags.append(name)
              if name == 'config' and value:
                config = shlex.split(value)[0] if value[0] in '"\'' else value
          found.append((path, module, flags, keys, config))
  return found


COMMANDS = documented_commands()


@functools.lru_cache(maxsize=None)
def flags_of(module):
  """The flag names `python -m module --help` lists (absl prints them, then exits 1)."""
  out = helpers.run_in_process(module, '--help')
  names = set(re.findall(r'^\s+--(?:\[no\])?([\w.]+)', out.stdout + out.stderr, re.M))
  assert names, f'{module} --help listed no flags:\n{out.stderr[-2000:]}'
  return frozenset(names)


@functools.lru_cache(maxsize=None)
def config_of(path):
  spec = importlib.util.spec_from_file_location('documented_config',
                                                os.path.join(helpers.ROOT, path))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def has_key(config, key):
  for part in key.split('.'):
    if not hasattr(config, 'keys') or part not in config.keys():
      return False
    config = config[part]
  return True


def all_configs():
  """Every config file's config (base.py holds shared pieces, no get_config)."""
  return [config_of(f'experiments/configs/{name}.py') for name in configs.names()]


def test_the_docs_write_command_lines_of_every_kind():
  # The extraction itself: it must see the quick start, a config override, a script by path.
  modules = {m for _, m, _, _, _ in COMMANDS}
  assert {'experiments.demo', 'pixel_recursive.train', 'pixcolor.colorize',
          'experiments.benchmarks.training'} <= modules
  assert any(keys for _, _, _, keys, _ in COMMANDS)
  assert any(config for _, _, _, _, config in COMMANDS)


@pytest.mark.parametrize('module', sorted({m for _, m, _, _, _ in COMMANDS}))
def test_every_documented_flag_is_one_the_command_defines(module):
  defined = flags_of(module)
  unknown = sorted({f'{path}: --{flag}' for path, m, flags, _, _ in COMMANDS if m == module
                    for flag in flags if flag not in defined})
  assert not unknown, f'{module} --help lists no such flag:\n' + '\n'.join(unknown)


def test_every_documented_config_override_names_a_key_of_its_config():
  every = all_configs()
  unknown = []
  for path, module, _, keys, config_file in COMMANDS:
    if not keys:
      continue
    if config_file and not config_file.startswith('$') and os.path.exists(
        os.path.join(helpers.ROOT, config_file)):
      configs = [config_of(config_file)]
    else:  # A run's own config.json (evaluate) or an unnamed config: some config must have it.
      configs = every
    unknown += [f'{path}: {module} --config.{key}' for key in sorted(keys)
                if not any(has_key(c, key) for c in configs)]
  assert not unknown, 'no such config key:\n' + '\n'.join(sorted(set(unknown)))


def test_a_stale_flag_or_key_would_be_caught():
  # The checks above can fail: a flag and a key no command and no config has.
  assert 'no_such_flag' not in flags_of('pixel_recursive.upsample')
  assert not any(has_key(c, 'data.no_such_key') for c in all_configs())
  assert has_key(config_of('experiments/configs/faces_tiny.py'), 'data.source')


PACKAGES = ('pixel_recursive', 'pixel_recursive/training', 'pixcolor', 'data')


def undocumented_modules(package):
  """The modules and sub-packages of `package` (a folder) that its docstring's map does not name."""
  import ast  # pylint: disable=g-import-not-at-top
  folder = os.path.join(helpers.ROOT, package)
  docstring = ast.get_docstring(ast.parse(open(os.path.join(folder, '__init__.py')).read()))
  names = [n[:-3] for n in os.listdir(folder) if n.endswith('.py') and not n.startswith('_')]
  names += [n for n in os.listdir(folder)
            if os.path.isfile(os.path.join(folder, n, '__init__.py'))]
  # Named as a file (layers.py), a folder (rating/) or a dotted module (data.faces).
  spelled = lambda n: (f'{n}.py', f'{n}/', f'{package.split("/")[-1]}.{n}')
  return sorted(n for n in names if not any(
      re.search(rf'(?<![\w.]){re.escape(s)}(?!\w)', docstring) for s in spelled(n)))


@pytest.mark.parametrize('package', PACKAGES)
def test_each_package_docstring_maps_every_module(package):
  """A reader opens a package's __init__ to find which file holds what: every module is there."""
  assert undocumented_modules(package) == []


def readme_code_map_misses(package):
  """The modules of `package` that no row of the README's code map for it names (as `name.py`)."""
  text = open(os.path.join(helpers.ROOT, 'README.md')).read()
  section = text.split('\n## Code map\n', 1)[1].split('\n## ', 1)[0]
  rows = ' '.join(line for line in section.splitlines()
                  if line.startswith('| ') and f'`{package}/' in line.split(' | ')[0])
  folder = os.path.join(helpers.ROOT, package)
  names = [n for n in os.listdir(folder) if n.endswith('.py') and not n.startswith('_')]
  return sorted(n for n in names if not re.search(rf'(?<![\w.]){re.escape(n)}(?!\w)', rows))


@pytest.mark.parametrize('package', PACKAGES + ('experiments',))
def test_the_readme_code_map_names_every_module(package):
  assert readme_code_map_misses(package) == []


def test_a_module_missing_from_a_package_map_would_be_caught(tmp_path, monkeypatch):
  package = tmp_path / 'pkg'
  (package / 'sub').mkdir(parents=True)
  (package / '__init__.py').write_text(
      '"""A map.\n\n  layers.py  the layers\n  masked_conv.py  one conv\n  sub/  more\n"""\n')
  (package / 'sub' / '__init__.py').write_text('')
  (package / 'more').mkdir()
  (package / 'more' / '__init__.py').write_text('')
  for name in ('layers.py', 'masked_conv.py', 'conv.py', '_private.py'):
    (package / name).write_text('')
  monkeypatch.setattr(helpers, 'ROOT', str(tmp_path))
  # `conv` is not named by masked_conv.py; `layers`, `sub` and `_private` need no more.
  assert undocumented_modules('pkg') == ['conv', 'more']
  (tmp_path / 'README.md').write_text(
      '# P\n\n## Code map\n\n| Path | Role |\n|---|---|\n'
      '| `pkg/layers.py`, `masked_conv.py` | core |\n'
      '| `other/conv.py` | not pkg |\n\n## Next\n\n`pkg/conv.py`\n')
  assert readme_code_map_misses('pkg') == ['conv.py']  # Named only in another row and section.
