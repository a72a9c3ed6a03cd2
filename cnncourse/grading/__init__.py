"""Exercises, student versions and instructor grading (see docs/instructors.md).

- :mod:`~cnncourse.grading.exercises`: the exercise format (nbgrader's markers), checks, student versions;
- :mod:`~cnncourse.grading.assign`: ``python -m cnncourse assign`` / ``make student``;
- :mod:`~cnncourse.grading.grade`: ``python -m cnncourse grade SUBMISSIONS... --out grades.csv``;
- :mod:`~cnncourse.grading.worker`: executes one submission in a process of its own;
- :mod:`~cnncourse.grading.check`: ``python -m cnncourse check NOTEBOOK``, the visible tests for students.

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
    Grade,
    GradeSettings,
    expand_submissions,
    feedback_text,
    grade_submission,
    grade_submissions,
    write_csv,
    write_feedback,
)

__all__ = [
    "CourseNotebook", "Exercise", "ExerciseFormatError", "Grade", "GradeSettings", "assign",
    "assign_command", "check_command", "check_format", "check_notebook", "expand_submissions", "feedback_text", "find_exercises",
    "find_leaks", "grade_command", "grade_submission", "grade_submissions", "load_course",
    "make_student_version", "untested_exercises", "write_csv", "write_feedback",
]


def grade_command(args) -> int:
    """``python -m cnncourse grade SUBMISSIONS... --out grades.csv [--timeout S] [-j N] ...``."""
    if args.timeout <= 0 or args.total_timeout <= 0:
        print(f"time limits must be positive, got --timeout {args.timeout} --total-timeout {args.total_timeout}")
        return 2
    if args.jobs < 1:
        print(f"-j must be at least 1, got {args.jobs}")
        return 2
    try:
        course = load_course(args.tests)
    except (FileNotFoundError, ValueError, ExerciseFormatError) as exc:
        print(f"cannot load the instructor's tests: {exc}")
        return 2
    paths = expand_submissions(args.submissions)
    if not paths:
        print("no submissions to grade")
        return 2
    settings = GradeSettings(cell_timeout=args.timeout, total_timeout=args.total_timeout,
                             fast=True if args.fast else None, isolate_cache=args.isolate_cache,
                             executed_dir=args.keep_executed)
    feedback_dir = args.feedback if args.feedback is not None else Path(args.out).parent / "feedback"
    grades = grade_submissions(paths, course, settings, jobs=args.jobs)
    csv_path = write_csv(grades, course, args.out)
    write_feedback(grades, feedback_dir)
    width = max(len(g.submission) for g in grades)
    for g in grades:
        score = f"{g.total:g}/{g.max_total:g}" if g.notebook else "-"
        print(f"{g.submission:<{width}}  {score:>7}  {'; '.join(g.notes)[:100]}")
    print(f"\n{len(grades)} submission(s) graded: {csv_path}; feedback for students in {feedback_dir}/")
    if args.keep_executed is not None:
        print(f"Executed notebooks (they contain the hidden tests; do not hand them out): {args.keep_executed}/")
    return 0
