"""Grade submitted notebooks: re-insert the instructor's tests, execute, score, write CSV and feedback.

For each submission (an .ipynb from Jupyter or downloaded from Colab):

1. read it; a file that is not a notebook still gets its row, with the reason;
2. tell which course notebook it is (exercise ids, then the notebook's metadata, then the file name);
3. drop every cell that looks like a test cell and insert the instructor's complete test cell
   (visible and hidden tests) after the student's ``# Exercise <id>`` cell — the student's own
   test cells are never trusted; each inserted cell ends by printing a random per-run marker;
4. execute it with nbclient in a fresh process (``python -m cnncourse.grading.worker``) and a
   fresh temporary working directory, errors allowed, with a per-cell and a total time limit;
5. an exercise scores its points when its test cell ran to its end (marker printed) without error.

Submissions are graded in parallel (``-j``), with a progress bar; one that is invalid, raises,
hangs, kills its kernel or deletes its files gets its row and never stops the others.
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

from cnncourse.grading.course_tests import CourseNotebook
from cnncourse.grading.exercises import (
    BEGIN_HIDDEN,
    END_HIDDEN,
    format_points,
    solution_id,
    source_of,
)
from cnncourse.grading.worker import PROBE_TIMEOUT_S

#: A student cell whose first line reads like a test header (even edited) is dropped before grading.
STUDENT_TEST_CELL = re.compile(r"^\s*#\s*tests?\s*:?\s*(for\s+)?exercise\b", re.IGNORECASE)
#: Extra seconds the grader allows the worker beyond the total limit (kernel start, shutdown).
WORKER_GRACE_S = 180
ASSET_LIMIT_BYTES = 200 * 1024 * 1024
_SKIP_ASSETS = {".ipynb_checkpoints", "__pycache__"}


@dataclass
class GradeSettings:
    cell_timeout: float = 600
    total_timeout: float = 3600
    fast: bool | None = None  #: None: keep the caller's CNNCOURSE_FAST
    isolate_cache: bool = False
    executed_dir: Path | None = None  #: keep the executed notebooks (they contain the hidden tests)
    threads: int | None = None  #: CPU threads per kernel for TensorFlow/OpenMP (None: their default)


@dataclass
class ExerciseResult:
    id: str
    title: str
    points: float
    max_points: float
    reason: str
    exercise_cell_error: str = ""


@dataclass
class Grade:
    submission: str
    notebook: str = ""
    exercises: list[ExerciseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cell_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return sum(e.points for e in self.exercises)

    @property
    def max_total(self) -> float:
        return sum(e.max_points for e in self.exercises)


# ----------------------------------------------------------------------------- reading and matching

def read_submission(path: Path):
    """The submission as a v4 notebook, or a ValueError that says why it is not one."""
    import nbformat

    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the file ({exc.strerror or exc})") from exc
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ValueError("not a notebook: the file is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a notebook: invalid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ValueError("not a notebook: the JSON has no list of cells")
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as exc:
        raise ValueError(f"not a readable notebook ({type(exc).__name__}: {exc})") from exc
    cells, seen_ids = [], set()
    for index, cell in enumerate(nb.cells):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            continue
        cell["source"] = source_of(cell)
        cell.setdefault("metadata", {})
        if not isinstance(cell.get("id"), str) or not cell["id"] or cell["id"] in seen_ids:
            cell["id"] = f"submitted-{index}"  # Colab saves no cell ids; some editors duplicate them
        seen_ids.add(cell["id"])
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    nb.cells = cells
    return nb


def identify(nb, filename: str, course: dict[str, CourseNotebook]) -> CourseNotebook | None:
    """Which course notebook a submission is: most exercise ids in common, then metadata, then file name."""
    ids = {solution_id(c) for c in nb.cells} - {None}
    meta = str(nb.metadata.get("cnncourse", {}).get("notebook", "")) if isinstance(
        nb.metadata.get("cnncourse"), dict) else ""
    stem = Path(filename).stem

    def rank(item: CourseNotebook):
        common = len(ids & {e.id for e in item.exercises})
        return (common, item.name == meta, item.name in stem, len(item.name) if item.name in stem else 0)

    best = max(course.values(), key=rank, default=None)
    if best is None or rank(best)[:3] == (0, False, False):
        return None
    return best


@dataclass
class Prepared:
    nb: object
    tests: dict[int, str]  # cell index -> exercise id
    solutions: dict[int, str]
    missing: dict[str, str]  # exercise id -> why its tests could not be placed
    notes: list[str]


def prepare(nb, course_nb: CourseNotebook, marker: str) -> Prepared:
    """Drop the student's test cells and insert the instructor's after each exercise cell."""
    import nbformat

    notes, missing = [], {}
    cells = [c for c in nb.cells
             if not (c.get("cell_type") == "code" and STUDENT_TEST_CELL.match(source_of(c).lstrip("\n")))]
    by_header: dict[str, int] = {}
    by_cell_id: dict[str, int] = {}
    for index, cell in enumerate(cells):
        ex_id = solution_id(cell)
        if ex_id is not None:
            if ex_id in by_header:
                notes.append(f"several cells start with '# Exercise {ex_id}'; the last one is graded")
            by_header[ex_id] = index
        if cell.get("id"):
            by_cell_id[cell["id"]] = index
    insert_after: dict[int, list] = {}
    for exercise in course_nb.exercises:
        index = by_header.get(exercise.id)
        if index is None and exercise.solution_cell_id in by_cell_id:
            index = by_cell_id[exercise.solution_cell_id]
            notes.append(f"{exercise.id}: exercise cell found by its cell id (its first line was changed)")
        if index is None:
            missing[exercise.id] = (f"no cell starting with '# Exercise {exercise.id}' (keep that first line "
                                    "in your answer cell)")
            continue
        insert_after.setdefault(index, []).append(exercise)
    new_cells, tests, solutions = [], {}, {}
    for index, cell in enumerate(cells):
        new_cells.append(cell)
        for exercise in insert_after.get(index, []):
            solutions[len(new_cells) - 1] = exercise.id
            source = exercise.tests_source.rstrip("\n") + f"\nprint({marker + ':' + exercise.id!r})"
            test_cell = nbformat.v4.new_code_cell(source)
            test_cell.metadata["cnncourse"] = {"role": "tests", "exercise": exercise.id}
            tests[len(new_cells)] = exercise.id
            new_cells.append(test_cell)
    graded = nbformat.v4.new_notebook(cells=new_cells, metadata=nb.metadata)
    graded.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return Prepared(graded, tests, solutions, missing, notes)


# ----------------------------------------------------------------------------- execution

def _copy_assets(folder: Path | None, dest: Path) -> None:
    """Copy the instructor notebook's neighbours (data files, images), not other notebooks."""
    dest.mkdir(parents=True, exist_ok=True)
    if folder is None or not folder.is_dir():
        return
    budget = ASSET_LIMIT_BYTES
    for item in sorted(folder.iterdir()):
        if item.suffix == ".ipynb" or item.name in _SKIP_ASSETS or item.name.startswith("."):
            continue
        size = sum(p.stat().st_size for p in item.rglob("*") if p.is_file()) if item.is_dir() else item.stat().st_size
        if size > budget:
            continue
        budget -= size
        if item.is_dir():
            shutil.copytree(item, dest / item.name, symlinks=True)
        else:
            shutil.copy2(item, dest / item.name)


def _kill_group(pgid) -> None:
    if not pgid or not hasattr(os, "killpg"):
        return
    try:
        os.killpg(int(pgid), signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _remove(path: Path) -> None:
    """Remove a folder the submission may have made read-only."""
    def retry(func, target, _exc):
        try:
            os.chmod(os.path.dirname(target) or ".", 0o700)
            os.chmod(target, 0o700)
            func(target)
        except OSError:
            pass
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:
        shutil.rmtree(path, onerror=lambda f, p, e: retry(f, p, e))


def _kernel_environment(settings: GradeSettings, cache: Path | None) -> dict:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("PLOTLY_RENDERER", "plotly_mimetype")
    env["PYTHONUNBUFFERED"] = "1"
    if settings.fast is not None:
        env["CNNCOURSE_FAST"] = "1" if settings.fast else "0"
    if cache is not None:
        env["CNNCOURSE_CACHE_DIR"] = str(cache)
    if settings.threads:
        # Parallel kernels each sized for the whole machine would fight over the cores.
        for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
            env.setdefault(name, str(settings.threads))
        env.setdefault("TF_NUM_INTEROP_THREADS", "2")
    # The kernel runs in a temporary folder: make sure it imports this same cnncourse.
    package_parent = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([package_parent, *filter(None, [env.get("PYTHONPATH")])])
    return env


def execute(prepared: Prepared, course_nb: CourseNotebook, marker: str,
            settings: GradeSettings, name: str) -> dict:
    """Run the worker on a prepared notebook; returns its result (partial if it had to be killed)."""
    import nbformat

    job_dir = Path(tempfile.mkdtemp(prefix="cnncourse-grade-job-"))
    work_dir = Path(tempfile.mkdtemp(prefix="cnncourse-grade-work-"))
    folder = Path(course_nb.path).parent.name or "notebooks"
    cwd = work_dir / folder
    result_path = job_dir / "result.json"
    try:
        _copy_assets(course_nb.folder, cwd)
        cache = work_dir / "cache" if settings.isolate_cache else None
        nbformat.write(prepared.nb, str(job_dir / "prepared.ipynb"))
        job = {"notebook": str(job_dir / "prepared.ipynb"), "result": str(result_path), "cwd": str(cwd),
               "tests": prepared.tests, "solutions": prepared.solutions, "marker": marker,
               "cell_timeout": settings.cell_timeout, "total_timeout": settings.total_timeout,
               "probe_timeout": max(3.0, min(PROBE_TIMEOUT_S, settings.cell_timeout)),
               "iopub_timeout": max(2, min(10, int(settings.cell_timeout)))}
        job_file = job_dir / "job.json"
        job_file.write_text(json.dumps(job), encoding="utf-8")
        log_path = job_dir / "worker.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "cnncourse.grading.worker", str(job_file)],
                                    cwd=work_dir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=_kernel_environment(settings, cache), start_new_session=True)
            limit = settings.total_timeout + WORKER_GRACE_S + PROBE_TIMEOUT_S
            try:
                proc.wait(timeout=limit)
                killed = False
            except subprocess.TimeoutExpired:
                killed = True
                _kill_group(proc.pid)
                proc.wait()
        result = {}
        if result_path.exists():
            try:
                result = json.loads(result_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                result = {}
        if killed:
            _kill_group(result.get("kernel_pgid"))
            result.setdefault("notes", []).append(f"the grader stopped this submission after {limit:g} s")
        elif not result.get("finished"):
            tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
            result.setdefault("notes", []).append(
                f"the grading process ended early (exit code {proc.returncode}): {' | '.join(tail)[:400]}")
            _kill_group(result.get("kernel_pgid"))
        if settings.executed_dir is not None:
            _save_executed(prepared, result, settings.executed_dir, name)
        return result
    finally:
        _remove(job_dir)
        _remove(work_dir)


def _save_executed(prepared: Prepared, result: dict, folder: Path, name: str) -> None:
    """The graded notebook with each cell's status in its metadata (for the instructor's eyes only)."""
    import nbformat

    folder.mkdir(parents=True, exist_ok=True)
    nb = prepared.nb
    for index, entry in result.get("cells", {}).items():
        cell = nb.cells[int(index)]
        cell.metadata.setdefault("cnncourse", {})["grading"] = {k: entry.get(k) for k in ("status", "ename", "evalue")}
    nbformat.write(nb, str(folder / f"{name}.graded.ipynb"))


# ----------------------------------------------------------------------------- scoring

def _hidden_lines(tests_source: str) -> set[int]:
    hidden, inside = set(), False
    for number, line in enumerate(tests_source.split("\n"), start=1):
        if line.strip() == BEGIN_HIDDEN:
            inside = True
        if inside:
            hidden.add(number)
        if line.strip() == END_HIDDEN:
            inside = False
    return hidden


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure_reason(entry: dict, tests_source: str) -> str:
    """Why a test cell failed, without showing the text of a hidden test."""
    status = entry.get("status")
    if status == "timeout":
        return "the tests did not finish within the time limit (does your code end for every input?)"
    if status == "kernel died":
        return "the kernel died while the tests ran"
    ename, evalue = entry.get("ename", ""), entry.get("evalue", "")
    if not ename:
        if status == "ok":
            return "the test cell did not run to its end (something changed the code that was run)"
        return f"the tests did not run ({status})"
    count = entry.get("execution_count")
    match = re.search(rf"Cell In\[{count}\], line (\d+)", entry.get("traceback", "")) if count else None
    if match:
        line = int(match.group(1))
        if line in _hidden_lines(tests_source):
            return f"a hidden test failed ({ename})"
        lines = tests_source.split("\n")
        code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        detail = f": {_short(evalue)}" if evalue else ""
        return f"visible test failed, line {line}: `{_short(code, 120)}` -> {ename}{detail}"
    return f"{ename}: {_short(evalue)}" if ename != "KeyboardInterrupt" else "interrupted at the time limit"


def score(name: str, course_nb: CourseNotebook, prepared: Prepared, result: dict) -> Grade:
    grade = Grade(name, course_nb.name, notes=[*prepared.notes, *result.get("notes", [])],
                  seconds=float(result.get("seconds", 0.0)))
    cells = result.get("cells", {})
    test_index = {ex_id: index for index, ex_id in prepared.tests.items()}
    solution_index = {ex_id: index for index, ex_id in prepared.solutions.items()}
    for exercise in course_nb.exercises:
        res = ExerciseResult(exercise.id, exercise.title, 0.0, exercise.points, "")
        if exercise.id in prepared.missing:
            res.reason = prepared.missing[exercise.id]
        else:
            entry = cells.get(str(test_index[exercise.id]))
            if entry is None:
                res.reason = "not run: the notebook stopped before these tests (see the notes)"
            elif entry.get("status") == "ok" and not entry.get("ename") and entry.get("marker_seen"):
                res.points, res.reason = exercise.points, "passed"
            else:
                res.reason = failure_reason(entry, exercise.tests_source)
            sol = cells.get(str(solution_index[exercise.id]), {})
            if sol.get("ename"):
                res.exercise_cell_error = f"{sol['ename']}: {_short(sol.get('evalue', ''), 160)}".rstrip(": ")
        grade.exercises.append(res)
    graded = set(prepared.tests) | set(prepared.solutions)
    for index, entry in sorted(cells.items(), key=lambda kv: int(kv[0])):
        if int(index) not in graded and entry.get("ename"):
            grade.cell_errors.append(f"cell {index}: {entry['ename']}: {_short(entry.get('evalue', ''), 160)}")
    return grade


def grade_submission(path: Path, course: dict[str, CourseNotebook], settings: GradeSettings,
                     name: str | None = None) -> Grade:
    """Grade one submission; never raises for anything the submission does."""
    name = name or str(path)
    start = time.monotonic()
    try:
        nb = read_submission(path)
    except ValueError as exc:
        return Grade(name, notes=[str(exc)])
    course_nb = identify(nb, Path(path).name, course)
    if course_nb is None:
        return Grade(name, notes=["not one of the course notebooks: no '# Exercise <id>' cell of any course "
                                  "notebook, and neither its metadata nor its file name names one"])
    marker = f"cnncourse-grader-{secrets.token_hex(12)}"
    prepared = prepare(nb, course_nb, marker)
    try:
        result = execute(prepared, course_nb, marker, settings, _safe_name(name))
    except Exception as exc:  # the grader's own trouble (disk full, no kernel): still a row
        result = {"notes": [f"could not execute the notebook ({type(exc).__name__}: {exc})"]}
    grade = score(name, course_nb, prepared, result)
    grade.seconds = time.monotonic() - start
    return grade


# ----------------------------------------------------------------------------- reports

def _safe_name(submission: str) -> str:
    name = re.sub(r"\.ipynb$", "", submission.replace("\\", "/").lstrip("./"))
    return re.sub(r"[^\w.-]+", "_", name.replace("/", "__")).strip("_") or "submission"


def write_csv(grades: list[Grade], course: dict[str, CourseNotebook], path: Path) -> Path:
    """grades.csv: submission, one column per exercise (points scored), total, notes."""
    used = {g.notebook for g in grades if g.notebook}
    ids = [e.id for nb in course.values() if nb.name in used for e in nb.exercises]
    path = Path(path)
    if path.parent != Path(""):
        path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", *ids, "total", "notes"])
        for g in grades:
            scores = {e.id: format_points(e.points) for e in g.exercises}
            writer.writerow([g.submission, *(scores.get(i, "") for i in ids), format_points(g.total),
                             "; ".join(g.notes)])
    return path


def feedback_text(grade: Grade) -> str:
    lines = [f"# Feedback: {grade.submission}", ""]
    if grade.notebook:
        lines += [f"Notebook: `{grade.notebook}` · score **{format_points(grade.total)} / "
                  f"{format_points(grade.max_total)}** points", "",
                  "| exercise | points | result |", "|---|---|---|"]
        for e in grade.exercises:
            result = e.reason.replace("|", "\\|")
            if e.exercise_cell_error and e.points == 0:
                result += f" (your exercise cell raised {e.exercise_cell_error.replace('|', '/')})"
            lines.append(f"| {e.title or e.id} | {format_points(e.points)} / {format_points(e.max_points)} | {result} |")
        lines.append("")
        lines.append("Each exercise scores its points when its test cell (the tests you saw plus hidden "
                     "tests) runs without error after your notebook has run from the top in a fresh kernel.")
    else:
        lines += ["This submission could not be graded; score 0.", ""]
    if grade.notes:
        lines += ["", "## Notes", "", *[f"- {n}" for n in grade.notes]]
    if grade.cell_errors:
        lines += ["", "## Other cells that raised an error", "", *[f"- {c}" for c in grade.cell_errors[:20]]]
    return "\n".join(lines) + "\n"


def write_feedback(grades: list[Grade], folder: Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written, used = [], set()
    for g in grades:
        stem = _safe_name(g.submission)
        candidate, n = stem, 1
        while candidate in used:
            n += 1
            candidate = f"{stem}_{n}"
        used.add(candidate)
        path = folder / f"{candidate}.feedback.md"
        path.write_text(feedback_text(g), encoding="utf-8")
        written.append(path)
    return written


# ----------------------------------------------------------------------------- the command

def expand_submissions(paths: list[Path]) -> list[Path]:
    """Files as given; folders expand to the notebooks inside them (checkpoints excluded)."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        else:
            found.append(path)
    return found


def grade_submissions(paths: list[Path], course: dict[str, CourseNotebook], settings: GradeSettings,
                      jobs: int = 1, progress: bool = True) -> list[Grade]:
    """Grade submissions, ``jobs`` at a time; returns one Grade per path, in the given order."""
    from tqdm.auto import tqdm

    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    if jobs > 1 and settings.threads is None:
        settings = replace(settings, threads=max(1, (os.cpu_count() or 1) // jobs))
    results: list[Grade | None] = [None] * len(paths)
    bar = tqdm(total=len(paths), unit="submission", desc="grading", disable=not progress)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(grade_submission, p, course, settings): i for i, p in enumerate(paths)}
        for future in as_completed(futures):
            i = futures[future]
            try:
                results[i] = future.result()
            except Exception as exc:  # a bug of ours must not lose the other rows
                results[i] = Grade(str(paths[i]), notes=[f"grader error: {type(exc).__name__}: {exc}"])
            g = results[i]
            bar.set_postfix_str(f"{Path(g.submission).name}: {format_points(g.total)}/{format_points(g.max_total)}")
            bar.update()
    bar.close()
    return [g for g in results if g is not None]
