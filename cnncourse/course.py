"""Run the whole course: execute every notebook and lab in a fresh kernel, top to bottom.

``python -m cnncourse course`` (``make course``) writes the executed notebooks, one HTML page
per notebook and an index to ``build/course/``, shows a progress bar over notebooks and ends
with a summary table: notebook, status, seconds, and the key figure each notebook reports
with :func:`key_figure`. A failing notebook is reported with its cell and error; the others
still run, and the exit code is non-zero.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cnncourse import config, site

KEY_FIGURE_PREFIX = "Key figure:"
TARGET_PREFIX = "Target:"
COURSE_FOLDERS = ("notebooks", "labs")


def key_figure(label: str, value, note: str = "") -> None:
    """Print the notebook's headline number in the form the course summary collects.

    Returns nothing, so a cell that ends with it shows the line once (no ``Out[..]`` echo).

    >>> key_figure("convnet test accuracy", "98.1%", "MNIST sample")
    Key figure: convnet test accuracy = 98.1% (MNIST sample)
    """
    print(f"{KEY_FIGURE_PREFIX} {label} = {value}" + (f" ({note})" if note else ""))


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
    note = f" ({note})" if note else ""
    print(f"{TARGET_PREFIX} {label} = {shown} (target >= {wanted}): "
          f"{'met' if met else 'NOT met'}{note}")
    if enforce and not met:
        raise AssertionError(f"{label} = {shown}, below {wanted}, which was measured to be reached "
                             f"in this mode on this data{note}: something is broken")
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
        raise FileNotFoundError(
            "The course notebooks live in the repository checkout: clone it first."
        )
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


# Kernels the course starts leave C/C++ writes to file descriptors 1 and 2 (TensorFlow's oneDNN
# start-up notice, which ignores TF_CPP_MIN_LOG_LEVEL) on the kernel process's own stdout/stderr
# instead of forwarding them into cell outputs; Python's print, warnings and tracebacks still
# reach the cells. This keeps oneDNN on (1.2-2.3x faster CPU training) without the notice.
KERNEL_ARGUMENTS = ["--IPKernelApp.capture_fd_output=False"]


#: Where IPython looks for the environment's own config (``sys.prefix/etc/ipython``): every kernel
#: started with this Python reads it, whatever started the kernel.
KERNEL_CONFIG_FOLDER = Path(sys.prefix) / "etc" / "ipython"


def install_kernel_config(folder: str | Path = KERNEL_CONFIG_FOLDER) -> Path:
    """Write :data:`KERNEL_ARGUMENTS` as ``ipython_kernel_config.py`` into ``folder`` (default:
    the venv's).

    ``make venv`` runs this, so the kernels JupyterLab starts (``make jupyter``) keep oneDNN on and
    its start-up notice out of the first cell that imports TensorFlow, as the runner's kernels do;
    the notice goes to JupyterLab's terminal. A config file rather than the kernel spec's command
    line: the runner passes the same arguments on the command line, and a setting given twice
    there stops the kernel. Returns the file written.
    """
    lines = ["# Written by cnncourse.course.install_kernel_config (make venv): "
             "cnncourse.course.KERNEL_ARGUMENTS"]
    for argument in KERNEL_ARGUMENTS:
        name, value = argument.removeprefix("--").split("=", 1)
        lines.append(f"c.{name} = {value}")
    path = Path(folder) / "ipython_kernel_config.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def kernel_environment() -> dict[str, str]:
    """Environment of the kernels the runner starts: ours, quiet, and able to display figures.

    No TensorFlow log noise, the lab's fallback to labelled demo X-rays when the real data cannot
    be had (:func:`config.demo_fallback`), plotly's ``plotly_mimetype`` renderer (the figure as
    JSON; the HTML pages draw it with one shared plotly.js), and no ``MPLBACKEND``: ipykernel
    installs its inline backend only when that variable is unset, and a headless one (``Agg``, as
    test set-ups and graders use) would turn every matplotlib figure into the text
    ``<Figure size ...>``.
    """
    env = {name: value for name, value in os.environ.items() if name != "MPLBACKEND"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("PLOTLY_RENDERER", "plotly_mimetype")
    env.setdefault("CNNCOURSE_DEMO_FALLBACK", "1")  # no Kaggle credentials: the lab's demo X-rays
    return env


def strip_outputs(nb) -> None:
    """Clear outputs in place, except cells marked ``# NBVAL_CHECK_OUTPUT`` (nbval compares
    those)."""
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
    with tempfile.TemporaryDirectory() as tmp:
        result = run_notebook(path, Path(tmp))
        if result.status != "ok":
            raise RuntimeError(f"{path.name} failed at {result.error}; nothing written")
        nb = nbformat.read(Path(tmp) / path.name, as_version=4)
    strip_outputs(nb)
    nbformat.write(nb, path)
    return result


def run_notebook(path: Path, out_dir: Path, cell_timeout: int = 1800) -> NotebookResult:
    """Execute one notebook in a fresh kernel (:func:`kernel_environment`), save it into
    ``out_dir``.

    What the kernel process itself writes (its start-up warnings, C++ log lines) goes to
    ``out_dir/NAME.log``.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                            extra_arguments=KERNEL_ARGUMENTS,
                            resources={"metadata": {"path": str(path.parent)}})
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    status, error = "ok", ""
    try:
        with open(out_dir / f"{path.stem}.log", "wb") as kernel_log:
            client.execute(env=kernel_environment(), stdout=kernel_log, stderr=kernel_log)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        status = "FAILED"
        error = _failing_cell(nb) or str(exc).strip().splitlines()[-1][:300]
    seconds = time.perf_counter() - start
    nbformat.write(nb, out_dir / path.name)
    return NotebookResult(path.stem, status, seconds, _key_figure_of(nb), error)


def format_summary(results: list[NotebookResult]) -> str:
    """The summary table printed at the end of a course run."""
    header = ("notebook", "status", "seconds", "key figure")
    rows = [(r.name, r.status, f"{r.seconds:.0f}", r.key_figure or r.error) for r in results]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(3)]
    lines = ["  ".join(f"{cell:<{w}}" for cell, w in zip(row[:3], widths, strict=True))
             + "  " + row[3] for row in [header, *rows]]
    lines.insert(1, "-" * min(120, max(map(len, lines))))
    return "\n".join(lines)


def run_course(only: list[str] | None = None, out: str | Path = "build/course",
               fast: bool | None = None) -> int:
    """Execute the course notebooks (all, or those whose name contains one of ``only``); 0 if all
    pass."""
    from tqdm.auto import tqdm

    if fast is not None:
        os.environ["CNNCOURSE_FAST"] = "1" if fast else "0"
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
    index = site.write_site(results, out_dir)
    print()
    print(format_summary(results))
    print(f"\nHTML pages: {index}")
    failed = [r.name for r in results if r.status != "ok"]
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}")
    return 1 if failed else 0
