"""Grade submitted notebooks: run each in its own kernel, judge its values in a clean room, score.

For each submission (an .ipynb from Jupyter or downloaded from Colab):

1. read it; a file that is not a notebook still gets its row, with the reason;
2. tell which course notebook it is (exercise ids, then the notebook's metadata, then the file
   name);
3. drop every cell that looks like a test cell (the student's own test cells are never trusted) and
   insert, after the student's ``# Exercise <id>`` cell, a cell that hands the values the tests read
   over as plain data (:mod:`cnncourse.grading.plain`);
4. execute it with nbclient in a fresh process (``python -m cnncourse.grading.worker``) and a
   fresh temporary working directory, errors allowed, with a per-cell and a total time limit; after
   each exercise the instructor's complete test cell (visible and hidden tests, ending by printing a
   random per-run marker) runs in the clean room, a second fresh kernel that holds the instructor's
   context from the reference run (:mod:`cnncourse.grading.cleanroom`);
5. an exercise scores its points when its test cell ran to its end (marker printed) without error.

Before the submissions, each course notebook concerned runs once as the instructor wrote it (the
reference run). Submissions are graded in parallel (``-j``), with a progress bar; one that is
invalid, raises, hangs, kills its kernel or deletes its files gets its row and never stops the
others. The gradebook (grades.csv, its record grades.json, the feedback) is written by
:mod:`cnncourse.grading.gradebook`, which also merges the shards of a run spread over machines.
"""

from __future__ import annotations

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
    Exercise,
    format_points,
    imported_modules,
    solution_id,
    source_of,
    tests_header,
)
from cnncourse.grading.gradebook import (  # noqa: F401  (write_csv ... stay importable from here)
    ExerciseResult,
    Grade,
    Timings,
    feedback_text,
    safe_name,
    write_csv,
    write_feedback,
)
from cnncourse.grading.worker import MODULE, PROBE_TIMEOUT_S

#: A student cell whose first line reads like a test header (even edited) is dropped before grading.
STUDENT_TEST_CELL = re.compile(r"^\s*#\s*tests?\s*:?\s*(for\s+)?exercise\b", re.IGNORECASE)
#: Extra seconds the grader allows the worker beyond the total limit (kernel start, shutdown).
WORKER_GRACE_S = 180
ASSET_LIMIT_BYTES = 200 * 1024 * 1024
#: Time limit of one call of a student's function from the clean room (capped by --timeout).
CALL_LIMIT_S = 60
_SKIP_ASSETS = {".ipynb_checkpoints", "__pycache__"}
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


@dataclass
class GradeSettings:
    cell_timeout: float = 600
    total_timeout: float = 3600
    fast: bool = True  #: the kernels run with CNNCOURSE_FAST=1 (False: full mode, =0)
    isolate_cache: bool = False
    executed_dir: Path | None = None  #: keep the executed notebooks (they contain the hidden tests)
    threads: int | None = None  #: CPU threads per kernel, TensorFlow/OpenMP (None: their default)


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
        raise ValueError(f"not a notebook: invalid JSON ({exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno})") from exc
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
            cell["id"] = f"submitted-{index}"  # Colab saves no cell ids; editors duplicate some
        seen_ids.add(cell["id"])
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    nb.cells = cells
    return nb


def identify(nb, filename: str, course: dict[str, CourseNotebook]) -> CourseNotebook | None:
    """Which course notebook a submission is: most exercise ids in common, then metadata, then
    file name."""
    ids = {solution_id(c) for c in nb.cells} - {None}
    meta = str(nb.metadata.get("cnncourse", {}).get("notebook", "")) if isinstance(
        nb.metadata.get("cnncourse"), dict) else ""
    stem = Path(filename).stem

    def rank(item: CourseNotebook):
        common = len(ids & {e.id for e in item.exercises})
        named = item.name in stem
        return (common, item.name == meta, named, len(item.name) if named else 0)

    best = max(course.values(), key=rank, default=None)
    if best is None or rank(best)[:3] == (0, False, False):
        return None
    return best


@dataclass
class Prepared:
    nb: object  #: what the student's kernel runs: the submission, a capture cell per exercise
    captures: dict[int, str]  # cell index -> exercise id
    solutions: dict[int, str]
    missing: dict[str, str]  # exercise id -> why its tests could not be placed
    notes: list[str]
    #: index of the cell pickling the context before any student code (``check``: a list, one
    #: before each exercise cell)
    snapshot: int | list[int] | None = None
    own_context: set[str] = field(default_factory=set)  #: exercises judged with that context


def _same_code(a: str, b: str) -> bool:
    def lines(code: str) -> list[str]:
        return [line.rstrip() for line in code.strip().split("\n")]

    return lines(a) == lines(b)


def untouched_prefix(cells: list, course_nb: CourseNotebook) -> tuple[int, set[str]]:
    """Where to snapshot the context in a submission, and for which exercises it is complete.

    The snapshot goes before the submission's first exercise cell if every code cell before it is
    the instructor's, unchanged (only instructor code has run there); else before the first changed
    or added cell, and then it serves no exercise (their context comes from the reference run).
    """
    source = course_nb.instructor_notebook()
    if source is None:
        return 0, set()
    theirs = [c for c in source.cells if c.get("cell_type") == "code" and not tests_header(c)]
    position = 0
    for count, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        if solution_id(cell) is not None:
            clean = position < len(theirs) and solution_id(theirs[position]) is not None
            return count, _complete_at_first_exercise(source, course_nb) if clean else set()
        if position >= len(theirs) or not _same_code(source_of(cell), source_of(theirs[position])):
            return count, set()
        position += 1
    return len(cells), set()


def _complete_at_first_exercise(source, course_nb: CourseNotebook) -> set[str]:
    """Exercises with no instructor code cell between the first exercise cell and theirs."""
    exercise_cells = {e.solution_index for e in course_nb.exercises}
    first = min(exercise_cells)
    later = [i for i, c in enumerate(source.cells) if i > first and c.get("cell_type") == "code"
             and i not in exercise_cells and not tests_header(c)]
    return {e.id for e in course_nb.exercises if not any(i < e.solution_index for i in later)}


def _capture_cell(exercise: str, role: str, source: str):
    import nbformat

    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["cnncourse"] = {"role": role, "exercise": exercise}
    return cell


def _exercise_cells(cells: list, course_nb: CourseNotebook) -> tuple[dict, dict, list[str]]:
    """Which cell answers each exercise (cell index -> exercises), by its header, else by its
    cell id; the exercises not found (id -> why); notes."""
    notes, missing = [], {}
    by_header: dict[str, int] = {}
    by_cell_id: dict[str, int] = {}
    for index, cell in enumerate(cells):
        ex_id = solution_id(cell)
        if ex_id is not None:
            if ex_id in by_header:
                notes.append(f"several cells start with '# Exercise {ex_id}'; the last one is "
                             "graded")
            by_header[ex_id] = index
        if cell.get("id"):
            by_cell_id[cell["id"]] = index
    insert_after: dict[int, list] = {}
    for exercise in course_nb.exercises:
        index = by_header.get(exercise.id)
        if index is None and exercise.solution_cell_id in by_cell_id:
            index = by_cell_id[exercise.solution_cell_id]
            notes.append(f"{exercise.id}: exercise cell found by its cell id (its first line was "
                         "changed)")
        if index is None:
            missing[exercise.id] = (f"no cell starting with '# Exercise {exercise.id}' (keep that "
                                    "first line in your answer cell)")
            continue
        insert_after.setdefault(index, []).append(exercise)
    return insert_after, missing, notes


def prepare(nb, course_nb: CourseNotebook) -> Prepared:
    """Drop the student's test cells; after each exercise cell, a cell that hands its values
    over (and, where only instructor code ran before, a cell that pickles the context)."""
    import nbformat

    cells = [c for c in nb.cells if not (c.get("cell_type") == "code"
                                         and STUDENT_TEST_CELL.match(source_of(c).lstrip("\n")))]
    insert_after, missing, notes = _exercise_cells(cells, course_nb)
    new_cells, captures, solutions, snapshot = [], {}, {}, None
    prefix, own_context = untouched_prefix(cells, course_nb)
    names = sorted({n for e in course_nb.exercises if e.id in own_context for n in e.context})
    for index, cell in enumerate(cells):
        if index == prefix and names:
            snapshot = len(new_cells)
            new_cells.append(_capture_cell("", "context",
                                           f"{MODULE}.capture_reference('context', {names!r})"))
        new_cells.append(cell)
        for exercise in insert_after.get(index, []):
            solutions[len(new_cells) - 1] = exercise.id
            captures[len(new_cells)] = exercise.id
            code = f"{MODULE}.capture({exercise.id!r}, {exercise.values!r})"
            new_cells.append(_capture_cell(exercise.id, "capture", code))
    graded = nbformat.v4.new_notebook(cells=new_cells, metadata=nb.metadata)
    graded.metadata["kernelspec"] = dict(KERNELSPEC)
    return Prepared(nb=graded, captures=captures, solutions=solutions, missing=missing, notes=notes,
                    snapshot=snapshot, own_context=own_context if names else set())


def tests_with_marker(exercise: Exercise, marker: str) -> str:
    """The instructor's complete test cell, ending by printing the run's marker."""
    return exercise.tests_source.rstrip("\n") + f"\nprint({marker + ':' + exercise.id!r})"


# ----------------------------------------------------------------------------- the reference run

@dataclass
class Reference:
    """The instructor's context for each test cell, pickled once per grading run (see cleanroom)."""

    folder: Path | None
    exercises: dict[str, dict] = field(default_factory=dict)  #: id -> {"file", "sha256", "failed"}
    notes: list[str] = field(default_factory=list)


def needs_reference(course_nb: CourseNotebook, prepared: Prepared | None = None) -> bool:
    """Whether some exercise's context must come from a reference run (all of them, without
    ``prepared``)."""
    snapshot = prepared is not None and prepared.snapshot is not None
    covered = prepared.own_context if snapshot else set()
    return any(e.context and e.id not in covered for e in course_nb.exercises)


def reference_notebook(course_nb: CourseNotebook, folder: Path):
    """The instructor notebook without its test cells, each exercise cell preceded by a cell that
    pickles the context its tests read (before the solution runs, so no answer leaks into it)."""
    import nbformat

    source = course_nb.instructor_notebook()
    if source is None:
        raise FileNotFoundError(f"the instructor notebook {course_nb.path} is not available (grade "
                                "from a course checkout, or with a bundle written by this version "
                                "of assign)")
    by_solution = {e.solution_index: e for e in course_nb.exercises}
    cells = []
    for index, cell in enumerate(source.cells):
        if cell.get("cell_type") != "code" or tests_header(cell):
            continue
        exercise = by_solution.get(index)
        if exercise is not None and exercise.context:
            cells.append(_capture_cell(exercise.id, "reference", f"{MODULE}.capture_reference("
                                       f"{exercise.id!r}, {exercise.context!r}, {str(folder)!r})"))
        cells.append(nbformat.v4.new_code_cell(source_of(cell)))
    nb = nbformat.v4.new_notebook(cells=cells, metadata=source.metadata)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    return nb


def build_reference(course_nb: CourseNotebook, settings: GradeSettings, folder: Path) -> Reference:
    """Run the instructor notebook once; keep each context pickle's SHA-256 in memory."""
    reference = Reference(folder=Path(folder))
    if not needs_reference(course_nb):
        return reference
    reference.folder.mkdir(parents=True, exist_ok=True)
    try:
        nb = reference_notebook(course_nb, reference.folder)
        result = _run_worker({"mode": "reference"}, nb, course_nb, settings,
                             f"reference_{course_nb.name}")
    except (OSError, RuntimeError) as exc:
        result = {"notes": [f"could not run it ({type(exc).__name__}: {exc})"]}
    reference.exercises = {k: v for k, v in result.get("references", {}).items()
                           if isinstance(v, dict)}
    errors = [f"cell {i}: {c.get('ename')}" for i, c in result.get("cells", {}).items()
              if c.get("ename")]
    for exercise in course_nb.exercises:
        entry = reference.exercises.get(exercise.id)
        if exercise.context and entry is None:
            reference.notes.append("the instructor's reference run produced no context for "
                                   f"{exercise.id}")
        elif entry and entry.get("failed"):
            reference.notes.append(f"{exercise.id}: the reference context lacks "
                                   f"{', '.join(entry['failed'])} (cannot be pickled)")
    if errors or result.get("notes"):
        reference.notes.append(f"the instructor's reference run of {course_nb.path} had trouble: "
                               f"{'; '.join([*result.get('notes', []), *errors])[:400]}")
    return reference


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
        size = (sum(p.stat().st_size for p in item.rglob("*") if p.is_file()) if item.is_dir()
                else item.stat().st_size)
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
    except (ProcessLookupError, PermissionError, OSError, ValueError, TypeError):
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


def _allowed_writes(work_dir: Path, exchange: Path, env: dict) -> list[str]:
    """Where a submission's kernel may write without a note: its folders, the data caches, the
    tools' caches."""
    from cnncourse import config

    home = Path.home()
    cache = env.get("CNNCOURSE_CACHE_DIR") or str(config.cache_dir())
    tools = [home / ".keras", home / ".cache", home / ".config", home / ".nv",
             home / ".local" / "share" / "jupyter"]
    return [str(p) for p in (work_dir, exchange, Path(cache), config.data_dir(), *tools,
                             Path("/dev"), Path("/proc"))]


def _run_worker(job: dict, nb, course_nb: CourseNotebook, settings: GradeSettings,
                name: str) -> dict:
    """Run the worker on a job in fresh temporary folders; its result (partial if it had to be
    killed)."""
    import nbformat

    job_dir = Path(tempfile.mkdtemp(prefix="cnncourse-grade-job-"))
    work_dir = Path(tempfile.mkdtemp(prefix="cnncourse-grade-work-"))
    cwd = work_dir / (Path(course_nb.path).parent.name or "notebooks")
    result_path = job_dir / "result.json"
    try:
        _copy_assets(course_nb.folder, cwd)
        env = _kernel_environment(settings, work_dir / "cache" if settings.isolate_cache else None)
        nbformat.write(nb, str(job_dir / "prepared.ipynb"))
        job = {**job, "notebook": str(job_dir / "prepared.ipynb"), "result": str(result_path),
               "cwd": str(cwd), "scratch": str(job_dir), "exchange": str(job_dir / "exchange"),
               "socket": str(job_dir / "s"),
               "allowed": _allowed_writes(work_dir, job_dir / "exchange", env),
               "cell_timeout": settings.cell_timeout, "total_timeout": settings.total_timeout,
               "probe_timeout": max(3.0, min(PROBE_TIMEOUT_S, settings.cell_timeout)),
               "iopub_timeout": max(2, min(10, int(settings.cell_timeout)))}
        job_file = job_dir / "job.json"
        job_file.write_text(json.dumps(job), encoding="utf-8")
        result = _wait_for_worker(job_file, job_dir, work_dir, env, settings)
        if settings.executed_dir is not None and job.get("mode") != "reference":
            _save_executed(nb, result, settings.executed_dir, name)
        return result
    finally:
        _remove(job_dir)
        _remove(work_dir)


def _wait_for_worker(job_file: Path, job_dir: Path, work_dir: Path, env: dict,
                     settings: GradeSettings) -> dict:
    log_path = job_dir / "worker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cnncourse.grading.worker", str(job_file)],
                                cwd=work_dir, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        limit = settings.total_timeout + WORKER_GRACE_S + PROBE_TIMEOUT_S
        try:
            proc.wait(timeout=limit)
            killed = False
        except subprocess.TimeoutExpired:
            killed = True
            _kill_group(proc.pid)
            proc.wait()
    result = {}
    try:
        result = json.loads((job_dir / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        result = {}
    result = result if isinstance(result, dict) else {}
    if killed:
        result.setdefault("notes", []).append(
            f"the grader stopped this submission after {limit:g} s")
    elif not result.get("finished"):
        tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
        result.setdefault("notes", []).append(
            f"the grading process ended early (exit code {proc.returncode}): "
            f"{' | '.join(tail)[:400]}")
    for pgid in result.get("kernel_pgids", []) if killed or not result.get("finished") else []:
        _kill_group(pgid)
    return result


def execute(prepared: Prepared, course_nb: CourseNotebook, marker: str, settings: GradeSettings,
            name: str, reference: Reference) -> dict:
    """Run the student's kernel and the clean room on a prepared submission; returns the
    worker's result."""
    judging = {}
    for exercise in course_nb.exercises:
        own = exercise.id in prepared.own_context
        entry = {} if own or not exercise.context else reference.exercises.get(exercise.id, {})
        context = "snapshot" if own and exercise.context else entry.get("file")
        judging[exercise.id] = {"tests": tests_with_marker(exercise, marker),
                                "names": exercise.values, "context": context,
                                "sha256": entry.get("sha256")}
    nb = course_nb.instructor_notebook()
    cells = nb.cells if nb is not None else []
    sources = [source_of(c) for c in cells if c.get("cell_type") == "code"]
    imports = imported_modules([*sources, *(e.tests_source for e in course_nb.exercises)])
    job = {"mode": "submission", "marker": marker, "judging": judging,
           "imports": ["numpy", *imports], "call_limit": CALL_LIMIT_S,
           "captures": {str(k): v for k, v in prepared.captures.items()},
           "snapshot": prepared.snapshot}
    return _run_worker(job, prepared.nb, course_nb, settings, name)


def _save_executed(nb, result: dict, folder: Path, name: str) -> None:
    """The student's notebook as run, each cell's status in its metadata, and the clean room's
    verdict per exercise in the capture cells' metadata (for the instructor's eyes only)."""
    import nbformat

    folder.mkdir(parents=True, exist_ok=True)
    for index, entry in result.get("cells", {}).items():
        cell = nb.cells[int(index)]
        meta = cell.metadata.setdefault("cnncourse", {})
        meta["grading"] = {k: entry.get(k) for k in ("status", "ename", "evalue")}
        exercise = meta.get("exercise")
        if exercise in result.get("tests", {}):
            test = result["tests"][exercise]
            meta["clean room"] = {k: test.get(k)
                                  for k in ("status", "ename", "evalue", "not_judged")}
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
        return ("the tests did not finish within the time limit (does your code end for every "
                "input?)")
    if status == "kernel died":
        return "the kernel died while the tests ran"
    ename, evalue = entry.get("ename", ""), entry.get("evalue", "")
    if not ename:
        if status == "ok":
            return "the test cell did not run to its end (something changed the code that was run)"
        return f"the tests did not run ({status})"
    count = entry.get("execution_count")
    traceback = entry.get("traceback", "")
    match = re.search(rf"Cell In\[{count}\], line (\d+)", traceback) if count else None
    if match:
        line = int(match.group(1))
        if line in _hidden_lines(tests_source):
            return f"a hidden test failed ({ename})"
        lines = tests_source.split("\n")
        code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        detail = f": {_short(evalue)}" if evalue else ""
        return f"visible test failed, line {line}: `{_short(code, 120)}` -> {ename}{detail}"
    if ename == "KeyboardInterrupt":
        return "interrupted at the time limit"
    return f"{ename}: {_short(evalue)}"


def _verdict(exercise: Exercise, prepared: Prepared, test: dict | None) -> tuple[float, str]:
    """Points and reason of one exercise, from the clean room's record of its test cell."""
    if exercise.id in prepared.missing:
        return 0.0, prepared.missing[exercise.id]
    if test is None:
        return 0.0, "not run: the notebook stopped before these tests (see the notes)"
    if test.get("status") == "not judged":
        return 0.0, f"not judged: {_short(test.get('not_judged', ''), 400)}"
    if test.get("status") == "ok" and not test.get("ename") and test.get("marker_seen"):
        return exercise.points, "passed"
    return 0.0, failure_reason(test, exercise.tests_source)


def _exercise_result(exercise: Exercise, prepared: Prepared, result: dict) -> ExerciseResult:
    points, reason = _verdict(exercise, prepared, result.get("tests", {}).get(exercise.id))
    solution_index = {ex_id: index for index, ex_id in prepared.solutions.items()}
    sol = result.get("cells", {}).get(str(solution_index.get(exercise.id)), {})
    error = f"{sol['ename']}: {_short(sol.get('evalue', ''), 160)}".rstrip(": ") if sol.get(
        "ename") else ""
    return ExerciseResult(id=exercise.id, title=exercise.title, points=points,
                          max_points=exercise.points, reason=reason, exercise_cell_error=error)


def _cell_errors(prepared: Prepared, result: dict) -> list[str]:
    """Errors of the cells that are neither exercise cells nor the grader's."""
    ours = {*prepared.solutions, *prepared.captures}
    return [f"cell {index}: {entry['ename']}: {_short(entry.get('evalue', ''), 160)}"
            for index, entry in sorted(result.get("cells", {}).items(), key=lambda kv: int(kv[0]))
            if int(index) not in ours and entry.get("ename")]


def score(name: str, course_nb: CourseNotebook, prepared: Prepared, result: dict,
          reference: Reference | None = None, mode: str = "") -> Grade:
    """The grade of a submission from the worker's result (``mode``: how it was executed)."""
    notes = [*prepared.notes, *(reference.notes if reference else []), *result.get("notes", [])]
    if result.get("tampering"):
        notes.append("tampering found in the student's kernel (the score comes from the clean room "
                     f"either way): {'; '.join(result['tampering'])}")
    exercises = [_exercise_result(exercise, prepared, result) for exercise in course_nb.exercises]
    notes += [f"{e.id}: {e.reason}" for e in exercises if e.reason.startswith("not judged")]
    timings = result.get("timings")
    return Grade(submission=name, notebook=course_nb.name, exercises=exercises, notes=notes,
                 cell_errors=_cell_errors(prepared, result), mode=mode,
                 seconds=float(result.get("seconds", 0.0)),
                 timings=Timings(**{k: round(v, 2) for k, v in timings.items()})
                 if isinstance(timings, dict) else None)


def _judge(nb, course_nb: CourseNotebook, settings: GradeSettings, name: str,
           references: dict[str, Reference] | None) -> Grade:
    """Prepare, execute (after a reference run of its own if needed) and score one notebook."""
    marker = f"cnncourse-grader-{secrets.token_hex(12)}"
    prepared = prepare(nb, course_nb)
    own = needs_reference(course_nb, prepared) and (references is None
                                                    or course_nb.name not in references)
    folder = Path(tempfile.mkdtemp(prefix="cnncourse-grade-reference-")) if own else None
    try:
        reference = build_reference(course_nb, settings, folder) if own else (
            references or {}).get(course_nb.name, Reference(folder=None))
        result = execute(prepared, course_nb, marker, settings, safe_name(name), reference)
    except Exception as exc:  # the grader's own trouble (disk full, no kernel): still a row
        reference = None
        result = {"notes": [f"could not execute the notebook ({type(exc).__name__}: {exc})"]}
    finally:
        if folder is not None:
            _remove(folder)
    return score(name, course_nb, prepared, result, reference,
                 mode="fast" if settings.fast else "full")


def grade_submission(path: Path, course: dict[str, CourseNotebook], settings: GradeSettings,
                     name: str | None = None,
                     references: dict[str, Reference] | None = None) -> Grade:
    """Grade one submission; never raises for anything the submission does.

    ``references`` (notebook name -> Reference) are built once per grading run by
    :func:`grade_submissions`; without them this runs the instructor notebook first.
    """
    name = name or str(path)
    start = time.monotonic()
    try:
        nb = read_submission(path)
    except ValueError as exc:
        return Grade(submission=name, notes=[str(exc)])
    course_nb = identify(nb, Path(path).name, course)
    if course_nb is None:
        return Grade(submission=name, notes=[
            "not one of the course notebooks: no '# Exercise <id>' cell of any course notebook, "
            "and neither its metadata nor its file name names one"])
    grade = _judge(nb, course_nb, settings, name, references)
    grade.seconds = time.monotonic() - start
    return grade


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


def _needed_notebooks(paths: list[Path], course: dict[str, CourseNotebook]) -> list[CourseNotebook]:
    needed = {}
    for path in paths:
        try:
            course_nb = identify(read_submission(path), Path(path).name, course)
        except ValueError:
            continue
        if course_nb is not None and needs_reference(course_nb,
                                                     prepare(read_submission(path), course_nb)):
            needed[course_nb.name] = course_nb
    return list(needed.values())


def grade_submissions(paths: list[Path], course: dict[str, CourseNotebook], settings: GradeSettings,
                      jobs: int = 1, progress: bool = True) -> list[Grade]:
    """Grade submissions, ``jobs`` at a time; returns one Grade per path, in the given order.

    First, before any submission runs, each course notebook concerned runs once as the
    instructor wrote it (the reference run that gives the clean room its context).
    """
    from tqdm.auto import tqdm

    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    if jobs > 1 and settings.threads is None:
        settings = replace(settings, threads=max(1, (os.cpu_count() or 1) // jobs))
    results: list[Grade | None] = [None] * len(paths)
    root = Path(tempfile.mkdtemp(prefix="cnncourse-grade-reference-"))
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            needed = _needed_notebooks(paths, course)
            built = pool.map(lambda nb: build_reference(nb, settings, root / nb.name), needed)
            references = {nb.name: ref for nb, ref in zip(needed, built, strict=True)}
            bar = tqdm(total=len(paths), unit="submission", desc="grading", disable=not progress)
            futures = {pool.submit(grade_submission, p, course, settings, None, references): i
                       for i, p in enumerate(paths)}
            for future in as_completed(futures):
                i = futures[future]
                try:
                    results[i] = future.result()
                except Exception as exc:  # a bug of ours must not lose the other rows
                    results[i] = Grade(submission=str(paths[i]),
                                       notes=[f"grader error: {type(exc).__name__}: {exc}"])
                g = results[i]
                score = f"{format_points(g.total)}/{format_points(g.max_total)}"
                bar.set_postfix_str(f"{Path(g.submission).name}: {score}")
                bar.update()
            bar.close()
    finally:
        _remove(root)
    return [g for g in results if g is not None]
