"""Build the example notebooks: ``notebooks/src/NN_name.py`` -> executed ``notebooks/NN_name.ipynb``.

The sources are jupytext percent-format scripts (edit those, not the .ipynb).
Each is executed top to bottom in a fresh ``python3`` kernel of the running
interpreter, with ``notebooks/`` as the working directory, and saved with its
outputs so that it renders on GitHub.

    python notebooks/build.py                 # build every notebook
    python notebooks/build.py 01 03           # build the ones whose name starts with 01 or 03
    python notebooks/build.py --check         # execute and compare with the committed files (as the test does)

Stale outputs. A code cell tagged ``check`` (``# %% tags=["check"]``) must print
the same text (stdout and its result) when re-executed as what is committed.
Numbers in it are compared exactly unless the cell has ``check_atol=X``
metadata, then to within X (for results that may move across CPUs, such as a
short training run). ``check_needs="fashion-mnist-train"`` compares a cell only
where that data is installed (see ``NEEDS``).

Figures. While a notebook runs, every matplotlib figure it shows is inspected:
each axes with data needs an x label, a y label (or a shared axis that has
one) and a title (its own or the figure's), each colorbar a label. A figure
without them fails the build and the test.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat

NB_DIR = Path(__file__).resolve().parent
SRC_DIR = NB_DIR / "src"
CELL_TIMEOUT_S = 600  # generous: a hang, not a slow shared machine, should fail
CHECK_TAG = "check"
_INJECTED = "mfp-notebook-build"


def _fashion_mnist_train_installed() -> bool:
    from mfp_plugin.data import find_fashion_mnist_files

    return find_fashion_mnist_files(train=True) is not None


#: ``check_needs`` values: a check cell with one is compared only where the condition holds.
NEEDS = {"fashion-mnist-train": _fashion_mnist_train_installed}


# --------------------------------------------------------------------------- sources
def sources() -> list[Path]:
    return sorted(SRC_DIR.glob("[0-9][0-9]_*.py"))


def notebook_for(source: Path) -> Path:
    return NB_DIR / (source.stem + ".ipynb")


def source_for(notebook: Path) -> Path:
    return SRC_DIR / (Path(notebook).stem + ".py")


def read_source(source: Path) -> nbformat.NotebookNode:
    """The unexecuted notebook of a jupytext percent-format source."""
    import jupytext

    nb = jupytext.read(source, fmt="py:percent")
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, cell in enumerate(nb.cells):
        cell.id = f"c{i:02d}"  # stable ids: rebuilding does not churn the diff
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


# --------------------------------------------------------------------------- figure check (runs in the kernel)
_PRELUDE = r'''
def _mfp_track_figures():
    import matplotlib.figure

    created = []
    init = matplotlib.figure.Figure.__init__

    def tracking_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        created.append(self)

    matplotlib.figure.Figure.__init__ = tracking_init
    return created

_mfp_figures = _mfp_track_figures()
del _mfp_track_figures
'''
# Run after the last cell: inspects every figure the notebook created (shown figures are closed, not deleted).
_EPILOGUE = r'''
def _mfp_figure_report(figures):
    def problems_of(fig):
        found = []
        axes = fig.get_axes()
        colorbar_axes = set()
        for ax in axes:
            for artist in list(ax.images) + list(ax.collections):
                cb = getattr(artist, "colorbar", None)
                if cb is not None:
                    colorbar_axes.add(cb.ax)
        suptitle = fig.get_suptitle()
        for i, ax in enumerate(axes):
            if not ax.get_visible():
                continue
            name = f"axes {i} ({ax.get_title() or 'untitled'})"
            if ax in colorbar_axes:
                if not (ax.get_ylabel() or ax.get_xlabel()):
                    found.append(f"{name}: colorbar without a label")
                continue
            if not ax.has_data():
                continue
            if not (ax.get_title() or ax.get_title("left") or ax.get_title("right") or suptitle):
                found.append(f"{name}: no title")
            if not ax.axison:
                continue
            if not any(a.get_xlabel() for a in ax.get_shared_x_axes().get_siblings(ax)):
                found.append(f"{name}: no x label")
            if not any(a.get_ylabel() for a in ax.get_shared_y_axes().get_siblings(ax)):
                found.append(f"{name}: no y label")
        return found

    problems = [f"figure {k + 1} ({f.get_suptitle() or 'no suptitle'}): {p}"
                for k, f in enumerate(figures) for p in problems_of(f)]
    return {"checked": len(figures), "problems": problems}

import json as _mfp_json, resource as _mfp_resource
_mfp_report = _mfp_figure_report(_mfp_figures)
_mfp_report["cpu_s"] = sum(r.ru_utime + r.ru_stime for r in (_mfp_resource.getrusage(_mfp_resource.RUSAGE_SELF),
                                                            _mfp_resource.getrusage(_mfp_resource.RUSAGE_CHILDREN)))
print(_mfp_json.dumps(_mfp_report))
'''




def _kernel_manager(kernel_dir: Path):
    """A ``python3`` kernel that runs this interpreter, whatever other kernelspecs the machine has."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_dir = kernel_dir / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec_dir / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
    ksm = KernelSpecManager(kernel_dirs=[str(kernel_dir)], ensure_native_kernel=False)
    return KernelManager(kernel_name="python3", kernel_spec_manager=ksm)


def execute(nb: nbformat.NotebookNode, timeout: int = CELL_TIMEOUT_S, stats: dict | None = None):
    """Run ``nb`` in a fresh kernel (cwd ``notebooks/``); return ``(executed copy, seconds, figures checked)``.

    ``stats``, if given, receives ``wall_s`` and ``cpu_s`` (the kernel's CPU time, all threads and child
    processes: a load-independent measure of the notebook's cost).

    Raises ``nbclient.exceptions.CellExecutionError`` on the first failing cell and
    ``RuntimeError`` when a figure lacks labels or a title.
    """
    from nbclient import NotebookClient

    nb = copy.deepcopy(nb)
    meta = {"tags": [_INJECTED]}
    nb.cells.insert(0, nbformat.v4.new_code_cell(_PRELUDE, metadata=meta, id="mfp-prelude"))
    nb.cells.append(nbformat.v4.new_code_cell(_EPILOGUE, metadata=meta, id="mfp-epilogue"))
    env_backup = os.environ.get("PYDEVD_DISABLE_FILE_VALIDATION")
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # quiets a debugpy warning on stderr
    try:
        with tempfile.TemporaryDirectory() as tmp:
            client = NotebookClient(nb, km=_kernel_manager(Path(tmp)), timeout=timeout, record_timing=False,
                                    resources={"metadata": {"path": str(NB_DIR)}})
            t0 = time.perf_counter()
            client.execute()
            seconds = time.perf_counter() - t0
    finally:
        if env_backup is None:
            os.environ.pop("PYDEVD_DISABLE_FILE_VALIDATION", None)
        else:
            os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = env_backup
    report = json.loads(check_text(nb.cells[-1]))
    if stats is not None:
        stats.update(wall_s=seconds, cpu_s=report["cpu_s"])
    nb.cells = [c for c in nb.cells if _INJECTED not in c.metadata.get("tags", [])]
    for cell in nb.cells:  # the prelude took execution count 1
        if cell.cell_type == "code" and cell.execution_count is not None:
            cell.execution_count -= 1
            for out in cell.outputs:
                if "execution_count" in out:
                    out.execution_count = cell.execution_count
    shown = sum("image/png" in out.get("data", {}) for c in nb.cells if c.cell_type == "code" for out in c.outputs)
    if report["problems"]:
        raise RuntimeError("figures without labels or a title:\n  " + "\n  ".join(report["problems"]))
    if report["checked"] < shown:
        raise RuntimeError(f"{shown} figures were shown but only {report['checked']} could be inspected")
    nb.metadata.pop("widgets", None)
    return nb, seconds, report["checked"]


# --------------------------------------------------------------------------- stale outputs
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def check_text(cell) -> str:
    """What a cell printed (stdout) and returned (text/plain); stderr (warnings) is ignored."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream" and out.name == "stdout":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data") and "text/plain" in out.get("data", {}):
            parts.append(out.data["text/plain"] + "\n")
    return "".join(parts)


def texts_differ(committed: str, fresh: str, atol: float = 0.0) -> str | None:
    """``None`` when equal (numbers to within ``atol``), else a short description of the first difference."""
    if atol == 0.0:
        if committed == fresh:
            return None
    else:
        if _NUMBER.sub("#", committed) == _NUMBER.sub("#", fresh):
            for a, b in zip(_NUMBER.findall(committed), _NUMBER.findall(fresh)):
                if abs(float(a) - float(b)) > atol:
                    return f"{a} became {b} (tolerance {atol})"
            return None
    for i, (a, b) in enumerate(zip(committed.splitlines() + [""], fresh.splitlines() + [""])):
        if a != b:
            return f"line {i + 1}: committed {a!r}, now {b!r}"
    return "texts differ"


def source_mismatches(committed: nbformat.NotebookNode, source: nbformat.NotebookNode) -> list[str]:
    """Cells of the committed notebook that do not match its source (edited without rebuilding)."""
    if len(committed.cells) != len(source.cells):
        return [f"{len(committed.cells)} cells committed, {len(source.cells)} in the source"]
    return [f"cell {i}: source differs" for i, (a, b) in enumerate(zip(committed.cells, source.cells))
            if a.cell_type != b.cell_type or a.source != b.source or a.metadata != b.metadata]


def unexecuted_cells(nb: nbformat.NotebookNode) -> list[str]:
    """Code cells without a run recorded, or run out of order."""
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    if counts != list(range(1, len(counts) + 1)):
        return [f"execution counts are {counts}, expected 1..{len(counts)} (build with notebooks/build.py)"]
    return []


def stale_outputs(committed: nbformat.NotebookNode, fresh: nbformat.NotebookNode) -> tuple[list[str], list[str]]:
    """``(problems, not compared)`` for the ``check`` cells of two runs of the same source."""
    problems, skipped = [], []
    for i, (a, b) in enumerate(zip(committed.cells, fresh.cells)):
        if CHECK_TAG not in a.metadata.get("tags", []):
            continue
        first_line = a.source.splitlines()[0] if a.source else ""
        need = a.metadata.get("check_needs")
        if need is not None:
            if need not in NEEDS:
                problems.append(f"cell {i}: unknown check_needs {need!r}; known: {sorted(NEEDS)}")
                continue
            if not NEEDS[need]():
                skipped.append(f"cell {i} ({first_line}): needs {need}")
                continue
        diff = texts_differ(check_text(a), check_text(b), float(a.metadata.get("check_atol", 0.0)))
        if diff:
            problems.append(f"cell {i} ({first_line}): {diff}")
    return problems, skipped


# --------------------------------------------------------------------------- command line
def strip_ansi(text: str) -> str:
    """Tracebacks from the kernel carry terminal colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _selected(names: list[str]) -> list[Path]:
    chosen = [s for s in sources() if not names or any(s.stem.startswith(n) for n in names)]
    if not chosen:
        raise SystemExit(f"no source in {SRC_DIR} matches {names}")
    return chosen


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help="notebook name prefixes (default: all)")
    p.add_argument("--check", action="store_true", help="execute and compare with the committed notebooks; write nothing")
    args = p.parse_args(argv)
    failed = False
    for src in _selected(args.names):
        target = notebook_for(src)
        nb = read_source(src)
        try:
            stats = {}
            executed, seconds, figures = execute(nb, stats=stats)
        except Exception as exc:  # a failing cell (CellExecutionError) or an unlabelled figure
            print(f"{target.name}: FAILED\n{strip_ansi(str(exc))}")
            failed = True
            continue
        if args.check:
            committed = nbformat.read(target, as_version=4) if target.exists() else None
            if committed is None:
                problems, skipped = [f"{target.name} is not committed"], []
            else:
                problems = source_mismatches(committed, nb) + unexecuted_cells(committed)
                more, skipped = stale_outputs(committed, executed)
                problems += more
                for i, (a, b) in enumerate(zip(committed.cells, executed.cells)):
                    if CHECK_TAG in a.metadata.get("tags", []) and check_text(a) != check_text(b):
                        print(f"  cell {i} moved: {texts_differ(check_text(a), check_text(b))}")
            failed |= bool(problems)
            print(f"{target.name}: {seconds:.0f} s ({stats['cpu_s']:.0f} CPU s), {figures} figures, "
                  + ("stale: " + "; ".join(problems) if problems else "up to date")
                  + ("".join(f"\n  not compared: {s}" for s in skipped)))
        else:
            nbformat.validate(executed)
            nbformat.write(executed, target)
            print(f"{target.name}: executed in {seconds:.0f} s ({stats['cpu_s']:.0f} CPU s), {figures} figures, written")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
