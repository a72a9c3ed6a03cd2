"""Run the whole course: execute every notebook and lab in a fresh kernel, top to bottom.

``python -m cnncourse course`` (``make course``) writes the executed notebooks, one HTML page
per notebook and an index to ``build/course/``, shows a progress bar over notebooks and ends
with a summary table: notebook, status, seconds, and the key figure each notebook reports
with :func:`key_figure`. A failing notebook is reported with its cell and error; the others
still run, and the exit code is non-zero.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cnncourse import config

KEY_FIGURE_PREFIX = "Key figure:"
TARGET_PREFIX = "Target:"
COURSE_FOLDERS = ("notebooks", "labs")


def key_figure(label: str, value, note: str = "") -> str:
    """Print the notebook's headline number in the form the course summary collects.

    >>> key_figure("convnet test accuracy", "98.1%", "MNIST sample") and None
    Key figure: convnet test accuracy = 98.1% (MNIST sample)
    """
    line = f"{KEY_FIGURE_PREFIX} {label} = {value}" + (f" ({note})" if note else "")
    print(line)
    return line


def target(label: str, value: float, goal: float, *, enforce: bool = False, note: str = "",
           fmt: str = "{:.1%}") -> bool:
    """Print a result against its target and return whether it was met (``value >= goal``).

    ``enforce=True`` is for results that were measured in this mode on this data (the offline
    sample): missing the target there means something broke, so it raises AssertionError. A target
    nobody measured here (full MNIST, CIFAR-10, IMDB, ImageNet weights, a GPU) is only printed, so
    it never stops "Run all".

    >>> target("convnet test accuracy", 0.9912, 0.993, note="full MNIST")
    Target: convnet test accuracy = 99.1% (target >= 99.3%): NOT met (full MNIST)
    False
    """
    met = bool(value >= goal)
    shown, wanted = fmt.format(value), fmt.format(goal)
    print(f"{TARGET_PREFIX} {label} = {shown} (target >= {wanted}): {'met' if met else 'NOT met'}"
          + (f" ({note})" if note else ""))
    if enforce and not met:
        raise AssertionError(f"{label} = {shown}, below {wanted}, which was measured to be reached in this "
                             f"mode on this data" + (f" ({note})" if note else "") + ": something is broken")
    return met


@dataclass
class NotebookResult:
    name: str
    status: str
    seconds: float
    key_figure: str = ""
    error: str = ""


def course_notebooks(root: Path | None = None) -> list[Path]:
    """The course's notebooks in order: notebooks/NN_*.ipynb, then labs/*.ipynb."""
    root = Path(root) if root is not None else config.REPO_ROOT
    if root is None:
        raise FileNotFoundError("The course notebooks live in the repository checkout: clone it first.")
    return [p for folder in COURSE_FOLDERS for p in sorted((root / folder).glob("*.ipynb"))]


def _key_figure_of(nb) -> str:
    found = ""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in str(output.get("text", "")).splitlines():
                if line.startswith(KEY_FIGURE_PREFIX):
                    found = line[len(KEY_FIGURE_PREFIX):].strip()
    return found


def _failing_cell(nb) -> str:
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"cell {index}: {output.get('ename')}: {output.get('evalue')}"
    return ""


CHECK_MARK = "NBVAL_CHECK_OUTPUT"


def _quiet_kernel_environment(plotly_renderer: str) -> None:
    """Environment inherited by the kernels we start: no TensorFlow log noise, the plotly renderer."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # its start-up notice ignores the log level
    os.environ.setdefault("PLOTLY_RENDERER", plotly_renderer)


def strip_outputs(nb) -> None:
    """Clear outputs in place, except cells marked ``# NBVAL_CHECK_OUTPUT`` (nbval compares those)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if CHECK_MARK not in cell.source:
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)


def refresh_notebook(path: Path, fast: bool = True) -> NotebookResult:
    """Execute a notebook (fast mode by default) and save it back with only its checked outputs.

    This is how the reference outputs of ``# NBVAL_CHECK_OUTPUT`` cells are (re)recorded.
    """
    import nbformat

    path = Path(path)
    os.environ["CNNCOURSE_FAST"] = "1" if fast else "0"
    _quiet_kernel_environment(plotly_renderer="plotly_mimetype")
    with tempfile.TemporaryDirectory() as tmp:
        result = run_notebook(path, Path(tmp))
        if result.status != "ok":
            raise RuntimeError(f"{path.name} failed at {result.error}; nothing written")
        nb = nbformat.read(Path(tmp) / path.name, as_version=4)
    strip_outputs(nb)
    nbformat.write(nb, path)
    return result


def run_notebook(path: Path, out_dir: Path, cell_timeout: int = 1800) -> NotebookResult:
    """Execute one notebook in a fresh kernel, save it and its HTML page into ``out_dir``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    status, error = "ok", ""
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        status = "FAILED"
        error = _failing_cell(nb) or str(exc).strip().splitlines()[-1][:300]
    seconds = time.perf_counter() - start
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_dir / path.name)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    (out_dir / path.with_suffix(".html").name).write_text(body, encoding="utf-8")
    return NotebookResult(path.stem, status, seconds, _key_figure_of(nb), error)


def _write_index(results: list[NotebookResult], out_dir: Path) -> Path:
    rows = "\n".join(
        f"<tr><td><a href='{html.escape(r.name)}.html'>{html.escape(r.name)}</a></td>"
        f"<td>{html.escape(r.status)}</td><td>{r.seconds:.0f}</td>"
        f"<td>{html.escape(r.key_figure or r.error)}</td></tr>"
        for r in results
    )
    page = (
        "<!doctype html><meta charset='utf-8'><title>cnncourse</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 12px;text-align:left}</style>"
        f"<h1>cnncourse - executed notebooks ({config.mode_name()} mode)</h1>"
        "<table><tr><th>notebook</th><th>status</th><th>seconds</th><th>key figure / error</th></tr>"
        f"{rows}</table>"
    )
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def format_summary(results: list[NotebookResult]) -> str:
    """The summary table printed at the end of a course run."""
    header = ("notebook", "status", "seconds", "key figure")
    rows = [(r.name, r.status, f"{r.seconds:.0f}", r.key_figure or r.error) for r in results]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(3)]
    lines = ["  ".join(f"{cell:<{w}}" for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3]
             for row in [header, *rows]]
    lines.insert(1, "-" * min(120, max(map(len, lines))))
    return "\n".join(lines)


def run_course(only: list[str] | None = None, out: str | Path = "build/course", fast: bool | None = None) -> int:
    """Execute the course notebooks (all, or those whose name contains one of ``only``); 0 if all pass."""
    from tqdm.auto import tqdm

    if fast is not None:
        os.environ["CNNCOURSE_FAST"] = "1" if fast else "0"
    # plotly.js embedded once per notebook, so the HTML pages render offline too.
    _quiet_kernel_environment(plotly_renderer="plotly_mimetype+notebook")
    paths = course_notebooks()
    if only:
        paths = [p for p in paths if any(re.search(pattern, p.name) for pattern in only)]
        if not paths:
            raise ValueError(f"no course notebook matches {only}")
    out_dir = Path(out)
    print(f"Running {len(paths)} notebooks in {config.mode_name()} mode; output in {out_dir}/")
    results = []
    bar = tqdm(paths, unit="notebook")
    for path in bar:
        bar.set_description(path.stem)
        result = run_notebook(path, out_dir)
        if result.status != "ok":
            tqdm.write(f"{path.name} FAILED at {result.error}")
        results.append(result)
    index = _write_index(results, out_dir)
    print()
    print(format_summary(results))
    print(f"\nHTML pages: {index}")
    failed = [r.name for r in results if r.status != "ok"]
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}")
    return 1 if failed else 0
