"""Student versions of the course notebooks and the instructor's test bundle.

``python -m cnncourse assign [--out build/student]`` (``make student``) writes, for every notebook
in notebooks/ and labs/, a student version under the same relative path (``build/student/notebooks/
00_setup_and_tools.ipynb`` ...) and the instructor bundle ``build/instructor/hidden_tests.json``
(next to the student folder, never inside it). Before it finishes it scans every file it wrote
for solution and hidden-test lines and fails loudly if one is found.

``python -m cnncourse assign --sync-nbgrader [NOTEBOOK ...]`` writes nothing under ``--out``: it
brings the ``metadata.nbgrader`` of every exercise and test cell of the instructor notebooks in
step with the cells (:func:`cnncourse.grading.exercises.sync_nbgrader`), in place, for
instructors who run nbgrader (docs/instructors.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cnncourse.grading.course_tests import (
    BUNDLE_NAME,
    CourseNotebook,
    check_unique_ids,
    write_bundle,
)
from cnncourse.grading.exercises import (
    ExerciseFormatError,
    check_format,
    find_exercises,
    find_leaks,
    format_points,
    make_student_version,
    sync_nbgrader,
)


@dataclass
class Assigned:
    student_files: list[Path]
    bundle: Path | None
    problems: list[str]  #: notebooks refused (broken markers) and leaks found
    warnings: list[str]
    table: list[tuple[str, int, float]]  #: (notebook, exercises, points)


def default_instructor_dir(out: Path) -> Path:
    """Where the bundle goes: a sibling folder ``instructor`` next to the student folder."""
    out = Path(out).resolve()
    return out.parent / "instructor"


def assign(notebooks: list[Path], root: Path, out: Path,
           instructor_out: Path | None = None) -> Assigned:
    """Write student versions of ``notebooks`` (paths under ``root``) to ``out``; the bundle to
    ``instructor_out``."""
    import nbformat

    out = Path(out)
    if instructor_out is None:
        instructor_out = default_instructor_dir(out)
    instructor_out = Path(instructor_out)
    if (instructor_out.resolve() == out.resolve()
            or out.resolve() in instructor_out.resolve().parents):
        raise ValueError(f"the instructor bundle must not go inside the student folder {out}, "
                         f"got {instructor_out}")
    written, problems, warnings, table = [], [], [], []
    course: dict[str, CourseNotebook] = {}
    instructor_nbs = {}
    for path in notebooks:
        path = Path(path)
        rel = path.resolve().relative_to(Path(root).resolve())
        nb = nbformat.read(str(path), as_version=4)
        report = check_format(nb, rel.as_posix())
        warnings += report.warnings
        if report.errors:
            problems += report.errors
            continue
        try:
            student = make_student_version(nb, path.stem)
            exercises = find_exercises(nb, path.stem)
        except ExerciseFormatError as exc:
            problems.append(str(exc))
            continue
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(student, str(target))
        written.append(target)
        instructor_nbs[target] = nb
        table.append((rel.as_posix(), len(exercises), sum(e.points for e in exercises)))
        if exercises:
            course[path.stem] = CourseNotebook(
                path.stem, rel.as_posix(), exercises, path.parent,
                hashlib.sha256(path.read_bytes()).hexdigest())
    # Leak scan: each student notebook against its instructor notebook; any other file under out
    # against all of them (a line may be a solution in one notebook and shown in another).
    texts = {p: p.read_text(encoding="utf-8", errors="replace")
             for p in Path(out).rglob("*") if p.is_file()}
    for p, text in texts.items():
        sources = [instructor_nbs[p]] if p in instructor_nbs else list(instructor_nbs.values())
        leaks = [line for nb in sources for line in find_leaks(nb, text)]
        if leaks:
            p.unlink()
            written = [w for w in written if w != p]
            problems.append(f"{p} contained {len(leaks)} solution/hidden-test line(s), "
                            f"e.g. {leaks[0]!r}; removed")
    try:
        check_unique_ids(course)
    except ValueError as exc:
        problems.append(str(exc))
    bundle = write_bundle(course, instructor_out / BUNDLE_NAME) if course else None
    return Assigned(written, bundle, problems, warnings, table)


def sync_notebooks(paths: list[Path]) -> dict[Path, list[int]]:
    """:func:`sync_nbgrader` on each instructor notebook, rewritten in place where it changed;
    returns the changed cell indices by notebook (the others are left byte for byte)."""
    import nbformat

    changed = {}
    for path in map(Path, paths):
        nb = nbformat.read(str(path), as_version=4)
        cells = sync_nbgrader(nb)
        if cells:
            nbformat.write(nb, str(path))
            changed[path] = cells
    return changed


def _sync_command(paths: list[Path]) -> int:
    changed = sync_notebooks(paths)
    for path, cells in changed.items():
        print(f"{path}: nbgrader metadata written in {len(cells)} cell(s)")
    print(f"nbgrader metadata in step in {len(paths)} notebook(s); {len(changed)} changed")
    return 0


def assign_command(args) -> int:
    """``python -m cnncourse assign [--out DIR] [--instructor-out DIR] [--sync-nbgrader]
    [NOTEBOOK ...]``."""
    from cnncourse import config, course

    root = config.REPO_ROOT
    if root is None:
        print("assign reads the instructor notebooks of a course checkout; run it from a clone "
              "installed with pip install -e .")
        return 2
    paths = [Path(p) for p in getattr(args, "notebooks", None) or []]
    paths = paths or course.course_notebooks(root)
    outside = [str(p) for p in paths if not Path(p).resolve().is_relative_to(root.resolve())]
    if outside:
        print(f"assign works on the course's notebooks under {root}; these are outside it: "
              f"{', '.join(outside)}")
        return 2
    if getattr(args, "sync_nbgrader", False):
        return _sync_command(paths)
    result = assign(paths, root, args.out, getattr(args, "instructor_out", None))
    for warning in result.warnings:
        print(f"warning: {warning}")
    width = max((len(name) for name, _, _ in result.table), default=8)
    print(f"{'notebook':<{width}}  exercises  points")
    for name, count, points in result.table:
        print(f"{name:<{width}}  {count:>9}  {format_points(points):>6}")
    print(f"\nStudent notebooks: {len(result.student_files)} in {args.out}/")
    if result.bundle is not None:
        print(f"Instructor test bundle (keep it private): {result.bundle}")
    if result.problems:
        print(f"\n{len(result.problems)} problem(s); the notebooks concerned were not written:")
        for problem in result.problems:
            print(f"  {problem}")
        return 1
    return 0
