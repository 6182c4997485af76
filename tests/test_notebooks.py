"""The Colab demo notebooks run top to bottom, offline, on their smallest settings.

Each notebook runs in a fresh kernel of the interpreter running the tests (sys.executable: the project's
virtual environment, wherever it is), with NOTEBOOK_SMOKE_TEST=1, which the first cell reads to shrink
every section.
Every cell tagged `figure` must show a matplotlib figure (an image/png output).
"""
import json
import os
import sys

import nbclient
import nbformat
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNEL = 'pixel-recursive-notebook-test'
NOTEBOOKS = ['super_resolution_demo.ipynb', 'pixcolor_demo.ipynb']
# What each notebook's demo model was trained on (its TERMS.md), not its config.json's `samples`.
TRAINED_ON = {'super_resolution_demo.ipynb': 'trained on CelebA, batch',
              'pixcolor_demo.ipynb': 'trained on Tiny ImageNet, batch'}


@pytest.fixture
def kernel(tmp_path, monkeypatch):
  """A kernelspec for this interpreter, found through JUPYTER_PATH whatever kernels are installed."""
  spec_dir = tmp_path / 'jupyter' / 'kernels' / KERNEL
  spec_dir.mkdir(parents=True)
  spec = {
      'argv': [sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
      'display_name': 'notebook test',
      'language': 'python',
      'env': {'NOTEBOOK_SMOKE_TEST': '1', 'TF_CPP_MIN_LOG_LEVEL': '2'},
  }
  (spec_dir / 'kernel.json').write_text(json.dumps(spec))
  monkeypatch.setenv('JUPYTER_PATH', str(tmp_path / 'jupyter'))
  # A backend set for scripts (e.g. Agg) would hide the figures; the notebooks select inline.
  monkeypatch.delenv('MPLBACKEND', raising=False)
  return KERNEL


def errors(nb):
  return [f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
          for i, cell in enumerate(nb.cells) if cell.cell_type == 'code'
          for out in cell.get('outputs', []) if out.get('output_type') == 'error']


@pytest.mark.parametrize('name', NOTEBOOKS)
def test_notebook_runs_and_draws(name, kernel):
  path = os.path.join(ROOT, 'experiments', name)
  nb = nbformat.read(path, as_version=4)
  assert not any(cell.get('outputs') for cell in nb.cells if cell.cell_type == 'code'), (
      f'{name} is committed with outputs; clear them')
  client = nbclient.NotebookClient(
      nb, timeout=300, kernel_name=kernel,
      resources={'metadata': {'path': os.path.join(ROOT, 'experiments')}})
  client.execute()  # Raises CellExecutionError, naming the cell, if any cell fails.
  assert not errors(nb)

  figure_cells = [cell for cell in nb.cells if 'figure' in cell.metadata.get('tags', [])]
  assert len(figure_cells) >= 3
  for cell in figure_cells:
    pngs = [out for out in cell.outputs
            if out.get('output_type') == 'display_data' and 'image/png' in out.get('data', {})]
    assert pngs, f'no figure from the cell starting {cell.source.splitlines()[0]!r}'
  text = ''.join(out.get('text', '') for cell in nb.cells if cell.cell_type == 'code'
                 for out in cell.outputs if out.get('output_type') == 'stream')
  assert 'smoke test: True' in text  # The first cell saw NOTEBOOK_SMOKE_TEST.
  assert 'demo checkpoint:' in text
  assert TRAINED_ON[name] in text
