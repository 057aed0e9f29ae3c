"""The example notebooks run top to bottom and their committed outputs are not stale.

Every ``notebooks/NN_*.ipynb`` is executed in a fresh ``python3`` kernel of this
interpreter (cwd ``notebooks/``, a per-cell timeout) by ``notebooks/build.py``,
the same code that builds them. A test fails when

* a cell raises, or a figure lacks axis labels or a title;
* the committed notebook does not match its source ``notebooks/src/NN_*.py``
  (the source was edited without rebuilding) or was not executed top to bottom;
* a cell tagged ``check`` prints something else than what is committed (numbers
  within the cell's ``check_atol``; cells with ``check_needs`` are compared only
  where that data is installed).

Rebuild with ``python notebooks/build.py`` after changing a notebook or what it shows.
"""
from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="pip install -e '.[notebooks]' to test the notebooks")
pytest.importorskip("nbclient", reason="pip install -e '.[notebooks]' to test the notebooks")
pytest.importorskip("ipykernel", reason="pip install -e '.[notebooks]' to test the notebooks")
pytest.importorskip("jupytext", reason="pip install -e '.[notebooks]' to test the notebooks")

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("notebooks_build", ROOT / "notebooks" / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_every_source_has_its_notebook_and_back():
    assert NOTEBOOKS, "no notebooks found"
    assert [s.stem for s in build.sources()] == [n.stem for n in NOTEBOOKS]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_outputs_are_current(path):
    committed = nbformat.read(path, as_version=4)
    source = build.read_source(build.source_for(path))
    problems = build.source_mismatches(committed, source) + build.unexecuted_cells(committed)
    assert not problems, f"{path.name} is out of date with its source; run `python notebooks/build.py {path.stem[:2]}`: {problems}"
    assert any(build.CHECK_TAG in c.metadata.get("tags", []) for c in committed.cells), "no check cell"

    fresh, seconds, _ = build.execute(source)  # raises on a failing cell or an unlabelled figure

    problems, skipped = build.stale_outputs(committed, fresh)
    for s in skipped:
        warnings.warn(f"{path.name}: not compared: {s}")
    assert not problems, (f"{path.name}: committed outputs are stale (rebuild with `python notebooks/build.py "
                          f"{path.stem[:2]}`):\n  " + "\n  ".join(problems))


# --- the stale-output comparison itself ------------------------------------------------------------
def _cell(text, **metadata):
    cell = nbformat.v4.new_code_cell("print(...)", metadata=metadata)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    return cell


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def test_check_cells_compare_exactly_by_default():
    old = _nb(_cell("accuracy 92.80 %\n", tags=["check"]), _cell("took 3 s\n"))
    same = _nb(_cell("accuracy 92.80 %\n", tags=["check"]), _cell("took 9 s\n"))  # untagged cells are free
    moved = _nb(_cell("accuracy 92.85 %\n", tags=["check"]), _cell("took 3 s\n"))
    assert build.stale_outputs(old, same) == ([], [])
    problems, _ = build.stale_outputs(old, moved)
    assert len(problems) == 1 and "92.85" in problems[0]


def test_check_atol_allows_small_numeric_moves_only():
    old = _nb(_cell("test accuracy: 78.2 % on 2,000 images\n", tags=["check"], check_atol=3.0))
    near = _nb(_cell("test accuracy: 80.9 % on 2,000 images\n", tags=["check"], check_atol=3.0))
    far = _nb(_cell("test accuracy: 71.0 % on 2,000 images\n", tags=["check"], check_atol=3.0))
    reworded = _nb(_cell("test accuracy: 78.2 % on 2,000 test images\n", tags=["check"], check_atol=3.0))
    assert build.stale_outputs(old, near)[0] == []
    assert build.stale_outputs(old, far)[0] and build.stale_outputs(old, reworded)[0]


def test_check_needs_skips_only_when_the_data_is_absent(monkeypatch):
    old = _nb(_cell("a 1\n", tags=["check"], check_needs="fashion-mnist-train"))
    new = _nb(_cell("a 2\n", tags=["check"], check_needs="fashion-mnist-train"))
    monkeypatch.setitem(build.NEEDS, "fashion-mnist-train", lambda: False)
    assert build.stale_outputs(old, new) == ([], ["cell 0 (print(...)): needs fashion-mnist-train"])
    monkeypatch.setitem(build.NEEDS, "fashion-mnist-train", lambda: True)
    assert build.stale_outputs(old, new)[0]
    unknown = _nb(_cell("a 1\n", tags=["check"], check_needs="no-such-data"))
    assert "unknown check_needs" in build.stale_outputs(unknown, unknown)[0][0]


def test_edited_source_and_unexecuted_notebooks_are_detected():
    a = _nb(_cell("x\n"))
    a.cells[0].execution_count = 1
    b = _nb(_cell("x\n"))
    b.cells[0].source = "print(2)"
    assert build.source_mismatches(a, a) == [] and build.source_mismatches(a, b)
    assert build.unexecuted_cells(a) == []
    a.cells[0].execution_count = None
    assert build.unexecuted_cells(a)


# --- the execution harness itself (one small kernel run each) --------------------------------------
def _code_nb(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def test_a_figure_without_labels_fails_and_a_labelled_one_passes():
    unlabelled = _code_nb("import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2])\nax.set_title('t')\nplt.show()")
    with pytest.raises(RuntimeError, match="no x label"):
        build.execute(unlabelled)
    labelled = _code_nb("import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2])\n"
                        "ax.set(title='t', xlabel='x', ylabel='y')\nplt.show()", "print(1 + 1)")
    fresh, _, figures = build.execute(labelled)
    assert figures == 1 and [c.execution_count for c in fresh.cells] == [1, 2]
    assert build.check_text(fresh.cells[1]) == "2\n" and len(fresh.cells) == 2


def test_a_failing_cell_fails():
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        build.execute(_code_nb("1 / 0"))
