"""nbgrader takes the course's notebooks as they are (``make test-nbgrader``).

nbgrader 0.9 pins its own Jupyter stack, so it lives in a venv of its own (.venv-nbgrader, made
by the Makefile; ``CNNCOURSE_NBGRADER_VENV`` points at it) and is driven from the command line,
as an instructor would. The kernels it starts run this Python (the course's), through a
``python3`` kernelspec in a private JUPYTER_PATH. Checked:

- ``nbgrader generate_assignment`` with default settings accepts every course notebook (it
  refuses solution or hidden-test regions in cells without nbgrader's metadata);
- on notebook 00, ``nbgrader autograde`` and ``python -m cnncourse grade`` give the same score
  per exercise to the instructor version (full marks) and the unfilled student version (zero).
"""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cnncourse import config, course
from cnncourse.grading import find_exercises, make_student_version

VENV = os.environ.get("CNNCOURSE_NBGRADER_VENV")
pytestmark = pytest.mark.skipif(not VENV, reason="make test-nbgrader (nbgrader's own venv)")
ROOT = config.REPO_ROOT
NOTEBOOKS = course.course_notebooks()
AUTOGRADED = ROOT / "notebooks" / "00_setup_and_tools.ipynb"
#: What nbgrader prints to the gradebook; read with nbgrader's own API, in its venv.
SCORES = """
import json, sys
from nbgrader.api import Gradebook
with Gradebook(sys.argv[1]) as gb:
    print(json.dumps({s: {g.name: g.score for g in gb.find_submission_notebook(
        sys.argv[2], sys.argv[3], s).grades} for s in sys.argv[4:]}))
"""


def nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "JUPYTER_PATH": str(root / "jupyter"),  # nbgrader runs alembic from PATH
           "PATH": os.pathsep.join([str(Path(VENV) / "bin"), os.environ["PATH"]]),
           "JUPYTER_CONFIG_DIR": str(root / "jupyter-config"), "CNNCOURSE_FAST": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([str(Path(VENV) / "bin" / "nbgrader"), *args,
                             f"--CourseDirectory.root={root}"], cwd=root, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def course_root(tmp_path_factory):
    """An nbgrader course folder whose ``python3`` kernel is this Python."""
    root = tmp_path_factory.mktemp("nbgrader-course")
    kernel = root / "jupyter" / "kernels" / "python3"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (cnncourse)", "language": "python"}))
    (root / "jupyter-config").mkdir()
    return root


def test_generate_assignment_accepts_every_notebook(course_root):
    source = course_root / "source" / "course"
    source.mkdir(parents=True)
    for path in NOTEBOOKS:
        shutil.copy(path, source / path.name)
    nbgrader(course_root, "generate_assignment", "course")
    for path in NOTEBOOKS:
        released = nbformat.read(course_root / "release" / "course" / path.name, as_version=4)
        graded = [c.metadata["nbgrader"]["grade_id"] for c in released.cells
                  if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
        ids = [e.id for e in find_exercises(nbformat.read(path, as_version=4), path.stem)]
        assert graded == ids, path.name


def test_autograde_and_grade_agree_on_full_marks_and_zero(course_root, tmp_path):
    assignment = "nb00"
    (course_root / "source" / assignment).mkdir(parents=True)
    shutil.copy(AUTOGRADED, course_root / "source" / assignment / AUTOGRADED.name)
    nbgrader(course_root, "generate_assignment", assignment)
    instructor = nbformat.read(AUTOGRADED, as_version=4)
    versions = {"full": instructor, "unfilled": make_student_version(instructor, AUTOGRADED.stem)}
    for student, nb in versions.items():
        folder = course_root / "submitted" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / AUTOGRADED.name)
        nbformat.write(nb, tmp_path / f"{student}.ipynb")
    nbgrader(course_root, "autograde", assignment, "--ExecutePreprocessor.timeout=600")
    scores = subprocess.run(
        [str(Path(VENV) / "bin" / "python"), "-c", SCORES, f"sqlite:///{course_root}/gradebook.db",
         AUTOGRADED.stem, assignment, *versions], capture_output=True, text=True, check=True)
    by_nbgrader = json.loads(scores.stdout)

    out = tmp_path / "grades.csv"
    submissions = [str(tmp_path / f"{s}.ipynb") for s in versions]
    graded = subprocess.run([sys.executable, "-m", "cnncourse", "grade", "--fast", "--out",
                             str(out), *submissions], cwd=ROOT, capture_output=True, text=True,
                            timeout=900)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    with open(out, newline="", encoding="utf-8") as f:
        rows = {Path(r["submission"]).stem: r for r in csv.DictReader(f)}
    ids = [e.id for e in find_exercises(instructor, AUTOGRADED.stem)]
    points = {e.id: e.points for e in find_exercises(instructor, AUTOGRADED.stem)}
    by_cnncourse = {s: {i: float(rows[s][i]) for i in ids} for s in versions}
    assert by_nbgrader == by_cnncourse
    assert by_cnncourse == {"full": points, "unfilled": dict.fromkeys(ids, 0.0)}
