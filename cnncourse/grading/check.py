"""``python -m cnncourse check NOTEBOOK``: a student checks their own work before handing it in.

The notebook runs from the top in a fresh kernel, exactly as the grader runs a submission
(:mod:`cnncourse.grading.grade`: the student's kernel, a clean room, values handed over as plain
data), but with the tests the notebook itself shows: its visible tests. A student's copy has no
hidden tests and no instructor bundle is needed; given an instructor notebook, its hidden tests
are dropped. The context a test reads besides the exercise's own values (data, helpers defined
earlier) comes from the student's kernel, pickled right before each exercise cell: there is no
instructor run to take it from.

Each exercise is printed as passed or failed, with the first failing line of its tests and the
error, and the error its exercise cell raised (an unfilled exercise raises
``NotImplementedError("Exercise <id>: ...")``).
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from cnncourse.grading import grade
from cnncourse.grading.course_tests import CourseNotebook
from cnncourse.grading.exercises import (
    Exercise,
    format_points,
    judged_names,
    solution_id,
    student_source,
    tests_header,
)
from cnncourse.grading.worker import MODULE


class NotCheckable(ValueError):
    """The file cannot be checked: missing, not a notebook, not a course notebook, no exercises."""


@dataclass
class Checked:
    """The outcome of :func:`check_notebook`: one result per exercise, as the grader reports it."""

    grade: grade.Grade

    @property
    def passed(self) -> bool:
        return all(e.points == e.max_points for e in self.grade.exercises)


def visible_exercises(nb, name: str) -> list[Exercise]:
    """The exercises of a notebook as its own cells define them, tests without hidden blocks.

    Works on a student version (whose exercise cells hold the student's code, no markers) as on
    an instructor notebook. NotCheckable when the notebook is not a course notebook or has no
    test cell.
    """
    tests = [(i, tests_header(c)) for i, c in enumerate(nb.cells) if tests_header(c)]
    course_meta = isinstance(nb.metadata.get("cnncourse"), dict)
    if not tests:
        if course_meta or any(solution_id(c) for c in nb.cells):
            raise NotCheckable(f"{name} has no exercises to check: no cell starts with "
                               "'# Tests: exercise <id> (<n> points)'")
        raise NotCheckable(f"{name} is not a course notebook: it has no '# Exercise <id>' or "
                           "'# Tests: exercise <id> (<n> points)' cells")
    exercise_cells = {solution_id(c): i for i, c in enumerate(nb.cells) if solution_id(c)}
    exercises = []
    for index, (ex_id, points) in tests:
        source = student_source(nb.cells[index])
        solution = exercise_cells.get(ex_id, -1)
        values, context = judged_names(nb, solution, source) if solution >= 0 else ([], [])
        cell_id = nb.cells[solution].get("id") if solution >= 0 else None
        exercises.append(Exercise(ex_id, points, name, solution, index, source, cell_id, ex_id,
                                  values, context))
    return exercises


def prepare(nb, course_nb: CourseNotebook) -> grade.Prepared:
    """The grader's preparation, with the context pickled in the student's kernel right before
    each exercise cell (the grader takes it from the instructor's run)."""
    prepared = grade.prepare(nb, course_nb)
    by_id = {e.id: e for e in course_nb.exercises}
    cells, captures, solutions, snapshots = [], {}, {}, []
    for index, cell in enumerate(prepared.nb.cells):
        if index == prepared.snapshot:
            continue  # the grader's single snapshot: replaced by one per exercise
        ex_id = prepared.solutions.get(index)
        if ex_id is not None and by_id[ex_id].context:
            snapshots.append(len(cells))
            cells.append(grade._capture_cell(ex_id, "context", f"{MODULE}.capture_reference("
                                             f"'context', {by_id[ex_id].context!r})"))
        if ex_id is not None:
            solutions[len(cells)] = ex_id
        if index in prepared.captures:
            captures[len(cells)] = prepared.captures[index]
        cells.append(cell)
    prepared.nb.cells = cells
    return dataclasses.replace(prepared, captures=captures, solutions=solutions,
                               snapshot=snapshots, own_context={e.id for e in course_nb.exercises})


def check_notebook(path: Path, settings: grade.GradeSettings) -> Checked:
    """Run a notebook's visible tests as the grader would; NotCheckable if it cannot be checked."""
    path = Path(path)
    if not path.is_file():
        raise NotCheckable(f"no such file: {path}")
    try:
        nb = grade.read_submission(path)
    except ValueError as exc:
        raise NotCheckable(f"{path}: {exc}") from None
    meta = nb.metadata.get("cnncourse")
    name = str(meta.get("notebook") or path.stem) if isinstance(meta, dict) else path.stem
    exercises = visible_exercises(nb, path.name)
    course_nb = CourseNotebook(name, f"{path.resolve().parent.name}/{path.name}", exercises,
                               path.resolve().parent, instructor=nb)
    start = time.monotonic()
    prepared = prepare(nb, course_nb)
    result = grade.execute(prepared, course_nb, f"cnncourse-check-{secrets.token_hex(12)}",
                           settings, grade.safe_name(path.name), grade.Reference(None))
    scored = grade.score(str(path), course_nb, prepared, result)
    scored.seconds = time.monotonic() - start
    return Checked(scored)


def report_lines(checked: Checked) -> list[str]:
    """What the command prints: one line per exercise, the reasons indented below it."""
    g = checked.grade
    lines = []
    width = max(len(e.id) for e in g.exercises)
    for e in g.exercises:
        ok = e.points == e.max_points
        lines.append(f"{e.id:<{width}}  {'passed' if ok else 'FAILED'}  "
                     f"({format_points(e.max_points)} point{'s' if e.max_points != 1 else ''})")
        if e.exercise_cell_error:
            lines.append(f"{'':<{width}}  your exercise cell raised {e.exercise_cell_error}")
        if not ok:
            lines.append(f"{'':<{width}}  {e.reason}")
    for note in g.notes:
        lines.append(f"note: {note}")
    if g.cell_errors:
        lines.append("other cells that raised an error:")
        lines += [f"  {c}" for c in g.cell_errors[:10]]
    passed = sum(e.points == e.max_points for e in g.exercises)
    lines.append(f"\n{passed} of {len(g.exercises)} exercises passed their visible tests "
                 f"({g.seconds:.0f} s). The grader also runs hidden tests: passing here is "
                 "necessary, not sufficient.")
    return lines


def check_command(args) -> int:
    """``python -m cnncourse check NOTEBOOK [--timeout S] [--fast]``: 0 when every exercise
    passed, 1 when one failed, 2 when the notebook cannot be checked."""
    if args.timeout <= 0:
        print(f"--timeout must be positive, got {args.timeout}")
        return 2
    settings = grade.GradeSettings(cell_timeout=args.timeout, total_timeout=args.total_timeout,
                                   fast=True if args.fast else None)
    try:
        checked = check_notebook(args.notebook, settings)
    except NotCheckable as exc:
        print(f"cannot check: {exc}")
        return 2
    print("\n".join(report_lines(checked)))
    return 0 if checked.passed else 1
