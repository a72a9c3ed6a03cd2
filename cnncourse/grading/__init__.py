"""Exercises, student versions and instructor grading (see docs/instructors.md).

- :mod:`~cnncourse.grading.exercises`: the exercise format (nbgrader's markers), checks, student
  versions;
- :mod:`~cnncourse.grading.assign`: ``python -m cnncourse assign`` / ``make student``;
- :mod:`~cnncourse.grading.grade`: ``python -m cnncourse grade SUBMISSIONS... --out
  grades.csv``;
- :mod:`~cnncourse.grading.gradebook`: grades.csv, feedback, the record, shards and ``--merge``;
- :mod:`~cnncourse.grading.worker`: executes one submission in a process of its own;
- :mod:`~cnncourse.grading.check`: ``python -m cnncourse check NOTEBOOK``, the visible tests
  for students.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

from cnncourse.grading.assign import assign, assign_command
from cnncourse.grading.check import check_command, check_notebook
from cnncourse.grading.course_tests import CourseNotebook, load_course
from cnncourse.grading.exercises import (
    Exercise,
    ExerciseFormatError,
    check_format,
    find_exercises,
    find_leaks,
    make_student_version,
    untested_exercises,
)
from cnncourse.grading.grade import (
    GradeSettings,
    expand_submissions,
    grade_submission,
    grade_submissions,
)
from cnncourse.grading.gradebook import (
    Grade,
    Shard,
    exercise_ids,
    feedback_text,
    write_csv,
    write_feedback,
    write_merged,
    write_record,
)

__all__ = [
    "CourseNotebook", "Exercise", "ExerciseFormatError", "Grade", "GradeSettings", "Shard",
    "assign", "assign_command", "check_command", "check_format", "check_notebook",
    "expand_submissions", "feedback_text", "find_exercises", "find_leaks", "grade_command",
    "grade_submission", "grade_submissions", "load_course", "make_student_version",
    "untested_exercises", "write_csv", "write_feedback",
]


def _argument_problem(args) -> str:
    if args.timeout <= 0 or args.total_timeout <= 0:
        return (f"time limits must be positive, got --timeout {args.timeout} "
                f"--total-timeout {args.total_timeout}")
    if args.jobs < 1:
        return f"-j must be at least 1, got {args.jobs}"
    if args.merge and args.shard is not None:
        return "--merge joins the shards' gradebooks; it grades nothing, so it takes no --shard"
    return ""


def _feedback_dir(args) -> Path:
    return args.feedback if args.feedback is not None else Path(args.out).parent / "feedback"


def _summary(grades: list[Grade], csv_path: Path, feedback_dir: Path) -> None:
    width = max(len(g.submission) for g in grades)
    for g in grades:
        score = f"{g.total:g}/{g.max_total:g}" if g.notebook else "-"
        notes = "; ".join(g.notes)[:100]
        print(f"{g.submission:<{width}}  {score:>7}  {g.seconds:5.0f} s  {notes}")
    print(f"\n{len(grades)} submission(s) graded: {csv_path}; feedback for students in "
          f"{feedback_dir}/")


def _merge_command(args) -> int:
    """``grade --merge SHARDS... --out grades.csv``: one gradebook from the shards' records."""
    try:
        grades = write_merged(args.submissions, args.out, _feedback_dir(args))
    except ValueError as exc:
        print(f"cannot merge: {exc}")
        return 2
    _summary(grades, args.out, _feedback_dir(args))
    return 0


def grade_command(args) -> int:
    """``python -m cnncourse grade SUBMISSIONS... --out grades.csv [--shard I/N] [-j N] ...``,
    or ``grade --merge SHARD_GRADEBOOKS... --out grades.csv``."""
    problem = _argument_problem(args)
    if problem:
        print(problem)
        return 2
    if args.merge:
        return _merge_command(args)
    try:
        shard = Shard.parse(args.shard) if args.shard is not None else None
    except ValueError as exc:
        print(f"--shard: {exc}")
        return 2
    try:
        course = load_course(args.tests)
    except (FileNotFoundError, ValueError, ExerciseFormatError) as exc:
        print(f"cannot load the instructor's tests: {exc}")
        return 2
    every = expand_submissions(args.submissions)
    if not every:
        print("no submissions to grade")
        return 2
    positions = shard.positions(every) if shard else list(range(len(every)))
    settings = GradeSettings(cell_timeout=args.timeout, total_timeout=args.total_timeout,
                             fast=args.fast, isolate_cache=args.isolate_cache,
                             executed_dir=args.keep_executed)
    grades = grade_submissions([every[i] for i in positions], course, settings, jobs=args.jobs)
    csv_path = write_csv(grades, course, args.out)
    write_record(grades, positions, len(every), exercise_ids(course), csv_path, shard)
    write_feedback(grades, _feedback_dir(args))
    if grades:
        _summary(grades, csv_path, _feedback_dir(args))
    else:
        print(f"shard {shard} has no submissions (there are {len(every)}): {csv_path} has no rows")
    if args.keep_executed is not None:
        print("Executed notebooks (they contain the hidden tests; do not hand them out): "
              f"{args.keep_executed}/")
    return 0
