"""Where the grader gets the instructor's exercises: the repository's notebooks or a test bundle.

``python -m cnncourse assign`` writes the bundle (``build/instructor/hidden_tests.json`` next to
``build/student/``): for every course notebook its exercises with the complete instructor test
cells (visible and hidden tests), and the instructor notebook itself (the grader's reference run
rebuilds the tests' context from it). The grader reads the bundle or, by default, the instructor
notebooks of the checkout, which are the single source of truth.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from cnncourse.grading.exercises import Exercise, find_exercises

BUNDLE_FORMAT = 2
BUNDLE_NAME = "hidden_tests.json"


@dataclass
class CourseNotebook:
    """One instructor notebook as the grader needs it."""

    name: str  #: file stem, e.g. "lab3_pneumonia"
    path: str  #: relative to the course root, e.g. "labs/lab3_pneumonia.ipynb"
    exercises: list[Exercise] = field(default_factory=list)
    folder: Path | None = None  #: the instructor notebook's folder (its assets are copied)
    sha256: str = ""
    instructor: dict | None = None  #: the instructor notebook as JSON (from a bundle)

    @property
    def max_points(self) -> float:
        return sum(e.points for e in self.exercises)

    def instructor_notebook(self):
        """The instructor notebook (from the bundle, else from its folder), or None if neither
        has it."""
        import nbformat

        if self.instructor is not None:
            return nbformat.from_dict(self.instructor)
        path = self.folder / Path(self.path).name if self.folder is not None else None
        return read_notebook(path) if path is not None and path.exists() else None


def read_notebook(path: Path):
    import nbformat

    return nbformat.read(str(path), as_version=4)


def course_notebook(path: Path, root: Path | None = None) -> CourseNotebook:
    """Parse one instructor notebook (ExerciseFormatError if its markers are broken)."""
    path = Path(path)
    rel = path.relative_to(root).as_posix() if root is not None else path.name
    nb = read_notebook(path)
    return CourseNotebook(name=path.stem, path=rel, exercises=find_exercises(nb, path.stem),
                          folder=path.parent, sha256=hashlib.sha256(path.read_bytes()).hexdigest())


def _notebooks_in(folder: Path) -> list[Path]:
    found = [p for sub in ("notebooks", "labs") for p in sorted((folder / sub).glob("*.ipynb"))]
    return found or sorted(folder.glob("*.ipynb"))


def load_course(source: Path | None = None) -> dict[str, CourseNotebook]:
    """Instructor exercises by notebook name, from a bundle (.json), a folder, or the checkout
    (None)."""
    from cnncourse import config

    if source is None:
        if config.REPO_ROOT is None:
            raise FileNotFoundError("No course checkout here: pass --tests "
                                    "build/instructor/hidden_tests.json (written by `python -m "
                                    "cnncourse assign`) or a folder of instructor notebooks.")
        source = config.REPO_ROOT
    source = Path(source)
    if source.is_file() and source.suffix == ".json":
        return read_bundle(source)
    if source.is_dir():
        root = source
        paths = _notebooks_in(source)
    elif source.is_file() and source.suffix == ".ipynb":
        # the root above its folder keeps labs/ or notebooks/ in its path
        root, paths = source.resolve().parent.parent, [source.resolve()]
    else:
        raise FileNotFoundError(f"expected a {BUNDLE_NAME} bundle, a folder of notebooks or an "
                                ".ipynb file, "
                                f"got {str(source)!r}")
    course = {}
    for path in paths:
        item = course_notebook(path, root)
        if item.exercises:
            course[item.name] = item
    if not course:
        raise FileNotFoundError(f"no notebook with exercises under {source}")
    check_unique_ids(course)
    return course


def check_unique_ids(course: dict[str, CourseNotebook]) -> None:
    """Exercise ids name grade columns and match submissions: one notebook per id."""
    owner: dict[str, str] = {}
    for item in course.values():
        for exercise in item.exercises:
            if exercise.id in owner:
                raise ValueError(f"exercise id {exercise.id!r} is used in both "
                                 f"{owner[exercise.id]} and {item.path}")
            owner[exercise.id] = item.path


def write_bundle(course: dict[str, CourseNotebook], path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "format": BUNDLE_FORMAT,
        "about": "Instructor-only: the complete test cells (visible and hidden tests) of every "
                 "exercise. Do not give this file to students. Grade with: python -m cnncourse "
                 "grade SUBMISSIONS "
                 f"--tests {path.name}",
        "notebooks": {name: {"path": nb.path, "sha256": nb.sha256,
                             "exercises": [e.to_json() for e in nb.exercises],
                             "instructor": _notebook_json(nb)}
                      for name, nb in course.items()},
    }
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _notebook_json(item: CourseNotebook) -> dict | None:
    nb = item.instructor_notebook()
    return json.loads(json.dumps(nb)) if nb is not None else None


def read_bundle(path: Path) -> dict[str, CourseNotebook]:
    from cnncourse import config

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("format") != BUNDLE_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {BUNDLE_FORMAT}: run "
                             "assign again")
        course = {}
        for name, item in data["notebooks"].items():
            folder = None
            if config.REPO_ROOT is not None and (config.REPO_ROOT / item["path"]).exists():
                folder = (config.REPO_ROOT / item["path"]).parent
            course[name] = CourseNotebook(
                name=name, path=item["path"], folder=folder, sha256=item.get("sha256", ""),
                exercises=[Exercise.from_json(e) for e in item["exercises"]],
                instructor=item.get("instructor"))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a test bundle written by `python -m cnncourse assign` "
                         f"({exc})") from exc
    return course
