"""The student edition: the course as students get it, without solutions or hidden tests.

``python -m cnncourse student-edition --out DIR`` writes a complete, installable copy of the
course to ``DIR``: the student versions of every notebook (made by ``assign``), the package, the
shipped data, README, requirements and pyproject, so ``pip install -e DIR`` and the notebooks work
there. It leaves out what only instructors and authors need (tests, docs, benchmarks, CI) and
writes no instructor bundle. The package's grading tools stay (students run ``python -m cnncourse
check``); the instructor commands refuse to run in an edition (it holds :data:`MARKER_FILE`).

The GitHub workflow ``.github/workflows/student-edition.yml`` runs this command on every push to
``main`` and publishes ``DIR`` to the branch :data:`cnncourse.config.STUDENT_BRANCH`, which the
README's Colab links and every notebook's set-up cell open. ``make jupyter STUDENT=1`` builds it
into ``build/student-edition`` and opens it locally.

Before it returns, the edition is scanned: every student notebook by ``assign``'s leak scan against
its instructor notebook, every other file outside the package by the same scan against all of them,
and every file for the exercise markers themselves. If anything is found the folder is removed and
the command fails, so nothing leaky is left to publish. The package is copied as it is (students
need it): where an exercise asks for code the package also holds, students can read it there, in
this edition as on ``main``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Repository paths a student needs (tracked files at or under these; notebooks come from assign).
INCLUDE = ("README.md", "requirements.txt", "pyproject.toml", "Makefile", ".gitignore", "LICENSE",
           "cnncourse/", "data/", "notebooks/", "labs/")
#: Written at the edition's root; marks a folder this command may replace.
MARKER_FILE = ".student-edition"
#: The edition's README starts with this line.
BANNER = "> **Student edition.**"
#: The exercise markers (written so that this file, which the edition contains, does not match).
MARKERS = re.compile(r"\b(?:BEGIN|END)\s+(?:SOLUTION|HIDDEN\s+TESTS)\b")


@dataclass
class Edition:
    out: Path
    files: list[Path]
    problems: list[str]


def student_files(root: Path) -> list[str]:
    """The tracked files of ``root`` that the edition copies as they are (relative POSIX paths)."""
    try:
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True,
                                text=True, check=True).stdout.split("\0")
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RuntimeError(f"the student edition takes the tracked files of a git checkout; "
                           f"`git ls-files` failed in {root}: {exc}") from exc
    def included(path):
        return any(path == inc or (inc.endswith("/") and path.startswith(inc)) for inc in INCLUDE)

    return [path for path in listed
            if path and included(path)
            and not path.endswith(".ipynb")
            and (root / path).is_file()]  # not a tracked file deleted in the working tree


def _readme(text: str, out: Path, repo_url: str, branch: str) -> str:
    """The source README with a banner on top; relative links to files not in ``out`` go to
    ``main``."""
    def absolute(match):
        target = match.group(2)
        if "://" in target or target.startswith("#") or (out / target.split("#")[0]).exists():
            return match.group(0)
        return f"{match.group(1)}({repo_url}/blob/main/{target})"

    banner = (f"{BANNER} Generated from [`main`]({repo_url}) on every push by "
              "`python -m cnncourse student-edition`: the exercises are yours to solve, "
              "the solutions and\n"
              "> hidden tests are not here. Open a notebook from the links below or clone this "
              "branch\n"
              f"> (`git clone --branch {branch} {repo_url}`); the course itself is edited on "
              "`main`.\n\n")
    return banner + re.sub(r"(\[[^\]]*\])\(([^)\s]+)\)", absolute, text)


def build_edition(root: Path, out: Path) -> Edition:
    """Write the student edition of the course checkout ``root`` to ``out`` (see the module doc)."""
    import nbformat

    from cnncourse import config, course
    from cnncourse.grading.assign import assign
    from cnncourse.grading.exercises import find_leaks

    root, out = Path(root).resolve(), Path(out).resolve()
    if out == root or out in root.parents:
        raise ValueError(f"the student edition must go to its own folder, got {out} "
                         f"for the course at {root}")
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER_FILE).is_file():
            raise ValueError(f"{out} is not empty and is not a student edition; "
                             "choose an empty or new folder")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    notebooks = course.course_notebooks(root)
    with tempfile.TemporaryDirectory() as bundle_dir:  # the edition needs no instructor bundle
        result = assign(notebooks, root, out, Path(bundle_dir))  # and scans each against its source
    problems = list(result.problems)
    copied = student_files(root)
    for rel in copied:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, out / rel)
    readme = out / "README.md"
    readme.write_text(_readme(readme.read_text(encoding="utf-8"), out, config.REPO_URL,
                              config.STUDENT_BRANCH), encoding="utf-8")
    (out / MARKER_FILE).write_text("Generated by `python -m cnncourse student-edition`; edit the "
                                   "course on main, not here: this folder is replaced on every "
                                   "build.\n", encoding="utf-8")
    # The copied files: the same leak scan against every instructor notebook, except for the
    # package, which students need as it is and which may repeat a solution's code on purpose
    # (cnncourse.conv is the reference for the hand-written convolution); then the marker scan
    # over every file.
    sources = [nbformat.read(str(path), as_version=4) for path in notebooks]
    files = sorted(p for p in out.rglob("*") if p.is_file())
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        rel = path.relative_to(out).as_posix()
        if path.suffix != ".ipynb" and not rel.startswith("cnncourse/"):
            leaks = [line for nb in sources for line in find_leaks(nb, text)]
            if leaks:
                problems.append(f"{rel} contains {len(leaks)} solution/hidden-test line(s), "
                                f"e.g. {leaks[0]!r}")
        found = MARKERS.search(text)
        if found:
            problems.append(f"{rel} contains the exercise marker {found.group(0)!r}")
    if problems:
        shutil.rmtree(out)
        files = []
    return Edition(out, files, problems)


def edition_command(args) -> int:
    """``python -m cnncourse student-edition --out DIR``."""
    from cnncourse import config

    if config.REPO_ROOT is None or not (config.REPO_ROOT / "notebooks").is_dir():
        print("student-edition reads the instructor notebooks of a course checkout "
              "(the main branch); run it from a clone installed with pip install -e .")
        return 2
    try:
        edition = build_edition(config.REPO_ROOT, args.out)
    except (ValueError, RuntimeError) as exc:
        print(f"student-edition: {exc}")
        return 2
    if edition.problems:
        print(f"{len(edition.problems)} problem(s); {edition.out} was removed, nothing to publish:")
        for problem in edition.problems:
            print(f"  {problem}")
        return 1
    notebooks = [p for p in edition.files if p.suffix == ".ipynb"]
    print(f"Student edition: {len(edition.files)} files ({len(notebooks)} notebooks) in "
          f"{edition.out}, scanned: no solution, hidden-test or marker text.")
    return 0
