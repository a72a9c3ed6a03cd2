"""Exercises, student versions and grading.

The mechanics are tested on small synthetic notebooks (a kernel start each, no TensorFlow);
notebook 00 (instructor, student and tampering versions) is graded for real in
test_grading_cleanroom.py. For the other course notebooks
the tests are static and cheap: the format is valid, the student versions leak nothing, and the
grader re-inserts exactly the instructor's cells, so grading an instructor notebook executes what
nbval executes in `make test`. Grading every real notebook for real takes minutes; it runs with
CNNCOURSE_GRADE_ALL=1 (see docs/instructors.md for the measured cost).
"""

import csv
import json
import os
import shutil
import sys
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from cnncourse import cli, config, course
from cnncourse.grading import (
    ExerciseFormatError,
    GradeSettings,
    Shard,
    assign,
    check_format,
    find_exercises,
    find_leaks,
    grade_submissions,
    load_course,
    make_student_version,
    untested_exercises,
)
from cnncourse.grading import grade as grade_module
from cnncourse.grading.exercises import (
    nbgrader_metadata,
    solution_id,
    student_source,
    sync_nbgrader,
)
from cnncourse.grading.exercises import tests_header as _tests_header

NOTEBOOKS = course.course_notebooks()

DOUBLE_SOLUTION = ("# Exercise syn-1\n"
                   "def double(x):\n"
                   "    ### BEGIN SOLUTION\n"
                   "    return 2 * x\n"
                   "    ### END SOLUTION")
DOUBLE_TESTS = ("# Tests: exercise syn-1 (1 point)\n"
                "assert double(2) == 4, 'double(2) should be 4'\n"
                "### BEGIN HIDDEN TESTS\n"
                "assert double(-3) == -6, 'the secret hidden message'\n"
                "### END HIDDEN TESTS")
ROOT_SOLUTION = ("# Exercise syn-2\n"
                 "### BEGIN SOLUTION\n"
                 "root = math.sqrt(2)\n"
                 "### END SOLUTION\n"
                 "print(root)")
ROOT_TESTS = ("# Tests: exercise syn-2 (2 points)\n"
              "assert root > 1\n"
              "### BEGIN HIDDEN TESTS\n"
              "assert abs(root - 1.4142135623730951) < 1e-12\n"
              "### END HIDDEN TESTS")


def synthetic_notebook():
    nb = new_notebook(cells=[
        new_markdown_cell("# 99 · Synthetic\nA notebook made up for the tests."),
        new_code_cell("import math\nprint('set up')", execution_count=1,
                      outputs=[nbformat.v4.new_output("stream", text="set up\n")]),
        new_markdown_cell("### Exercise syn-1 — Double it (1 point)\nWrite `double(x)`."),
        new_code_cell(DOUBLE_SOLUTION),
        new_code_cell(DOUBLE_TESTS),
        new_markdown_cell("### Exercise syn-2 — Square root of two (2 points)"),
        new_code_cell(ROOT_SOLUTION),
        new_code_cell(ROOT_TESTS),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index}"  # fixed ids, like a notebook saved and reopened
    return nb


@pytest.fixture
def synthetic_course(tmp_path):
    """A one-notebook course in tmp_path/repo/notebooks, loaded as the grader sees it."""
    folder = tmp_path / "repo" / "notebooks"
    folder.mkdir(parents=True)
    nbformat.write(synthetic_notebook(), folder / "99_synthetic.ipynb")
    return load_course(tmp_path / "repo")


def variant(path, *, double=None, root=None, extra=None, tests=None, first_line=None):
    """A submission: the student version with some answers filled in (or mangled)."""
    nb = make_student_version(synthetic_notebook(), "99_synthetic")
    if double is not None:
        nb.cells[3].source = "# Exercise syn-1\n" + double
    if root is not None:
        nb.cells[6].source = "# Exercise syn-2\n" + root
    if tests is not None:
        nb.cells[4].source = tests
    if first_line is not None:
        nb.cells[3].source = first_line + "\n" + nb.cells[3].source.split("\n", 1)[1]
    if extra is not None:
        nb.cells.insert(2, new_code_cell(extra))
    nbformat.write(nb, path)
    return path


GOOD = {"double": "def double(x):\n    return x + x", "root": "root = 2 ** 0.5"}


def read_grades(path):
    with open(path, newline="", encoding="utf-8") as f:
        return {row["submission"]: row for row in csv.DictReader(f)}


# ----------------------------------------------------------------------- format and student version

def test_exercises_are_found_with_ids_points_and_titles():
    exercises = find_exercises(synthetic_notebook(), "99_synthetic")
    assert [(e.id, e.points, e.title) for e in exercises] == [
        ("syn-1", 1, "syn-1 — Double it"), ("syn-2", 2, "syn-2 — Square root of two")]
    assert "the secret hidden message" in exercises[0].tests_source


@pytest.mark.parametrize("index, source, message", [
    (3, "# Exercise syn-1\n### BEGIN SOLUTION\nx = 1", "never closed"),
    (3, "# Exercise syn-1\nx = 1\n### END SOLUTION", "without a"),
    (3, "# Exercise syn-1\n## BEGIN SOLUTION\nx = 1\n### END SOLUTION", "not an exact marker"),
    (3, "# Exercise syn-1\nx = 1", "has no '### BEGIN SOLUTION'"),
    (3, "# Exercise syn-2\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "already used"),
    (4, "# Tests: exercise syn-1 (3 points)\nassert True", "3 points in its test cell but 1"),
    (4, "# Tests: exercise syn-9 (1 point)\nassert True", "no '# Exercise syn-9' cell before it"),
    (4, "# Tests: exercise syn-1 (1 point)\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION",
     "belong in the exercise cell"),
    (4, "# Tests: exercise syn-1 (1 point)\n### BEGIN HIDDEN TESTS\nassert x", "never closed"),
    (4, "# Tests for exercise syn-1 (1 point)\nassert True", "looks like a test header"),
    (1, "### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS", "neither"),
    (3, "# Exercise syn.1\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "nbgrader's grade_id"),
])
def test_broken_markers_are_reported_with_cell_and_reason(index, source, message):
    nb = synthetic_notebook()
    nb.cells[index].source = source
    errors = check_format(nb, "99_synthetic").errors
    assert any(message in e for e in errors) and any(f"cell {index}" in e for e in errors), errors
    with pytest.raises(ExerciseFormatError, match="breaks the exercise format"):
        make_student_version(nb, "99_synthetic")


def test_student_version_stubs_solutions_drops_hidden_tests_keeps_the_rest():
    instructor = synthetic_notebook()
    student = make_student_version(instructor, "99_synthetic")
    assert student.cells[3].source == (
        "# Exercise syn-1\ndef double(x):\n    # YOUR CODE HERE\n"
        '    raise NotImplementedError("Exercise syn-1: write your solution here")')
    assert student.cells[6].source == (
        '# Exercise syn-2\n# YOUR CODE HERE\nraise NotImplementedError("Exercise syn-2: write your '
        'solution here")\nprint(root)')
    assert student.cells[4].source == (
        "# Tests: exercise syn-1 (1 point)\nassert double(2) == 4, 'double(2) should be 4'")
    for before, after in zip(instructor.cells, student.cells, strict=True):
        assert after.get("id") == before.get("id") and after.cell_type == before.cell_type
        if before.cell_type == "code":
            assert after.outputs == [] and after.execution_count is None
        if "###" not in before.source:
            assert after.source == before.source
    assert student.metadata["kernelspec"] == instructor.metadata["kernelspec"]
    assert instructor.cells[1].outputs, "the instructor notebook itself is not modified"
    text = nbformat.writes(student)
    assert find_leaks(instructor, text) == []
    assert ("secret hidden message" not in text and "math.sqrt(2)" not in text
            and "2 * x" not in text)
    assert find_leaks(instructor, nbformat.writes(instructor)), "the leak scan finds what is there"


#: nbgrader 0.9's cell metadata (schema 3) for an autograded answer and for autograder tests, as
#: nbgrader's own "create assignment" toolbar writes them.
NBGRADER_ANSWER = {"grade": False, "grade_id": "syn-1-answer", "locked": False, "schema_version": 3,
                   "solution": True, "task": False}
NBGRADER_TESTS = {"grade": True, "grade_id": "syn-2", "locked": True, "points": 2,
                  "schema_version": 3, "solution": False, "task": False}


def test_nbgrader_metadata_is_written_once_and_checked():
    nb = synthetic_notebook()
    warned = [w for w in check_format(nb, "99_synthetic").warnings if "metadata.nbgrader" in w]
    assert [w.split(":")[0] for w in warned] == [f"99_synthetic, cell {i}" for i in (3, 4, 6, 7)]
    nb.cells[1].metadata["nbgrader"] = dict(NBGRADER_ANSWER, grade_id="stale")  # not an exercise
    assert sync_nbgrader(nb) == [1, 3, 4, 6, 7]
    assert sync_nbgrader(nb) == []
    assert "nbgrader" not in nb.cells[1].metadata and "nbgrader" not in nb.cells[0].metadata
    assert nb.cells[3].metadata["nbgrader"] == NBGRADER_ANSWER
    assert nb.cells[7].metadata["nbgrader"] == NBGRADER_TESTS
    assert check_format(nb, "99_synthetic").warnings == []
    nb.cells[7].source = nb.cells[7].source.replace("(2 points)", "(3 points)")
    nb.cells[5].source = nb.cells[5].source.replace("(2 points)", "(3 points)")
    assert [w.split(":")[0] for w in check_format(nb, "99_synthetic").warnings] == [
        "99_synthetic, cell 7"]
    markdown = new_markdown_cell("Why?\n### BEGIN SOLUTION\nShared weights.\n### END SOLUTION")
    markdown.id = "why"
    assert nbgrader_metadata(markdown) == {"grade": True, "grade_id": "answer-why", "locked": False,
                                           "points": 0, "schema_version": 3, "solution": True,
                                           "task": False}


def test_sync_rewrites_only_notebooks_out_of_step(tmp_path):
    from cnncourse.grading.assign import sync_notebooks

    stale, synced = tmp_path / "stale.ipynb", tmp_path / "synced.ipynb"
    nbformat.write(synthetic_notebook(), stale)
    nb = synthetic_notebook()
    sync_nbgrader(nb)
    nbformat.write(nb, synced)
    before = synced.read_bytes()
    assert sync_notebooks([stale, synced]) == {stale: [3, 4, 6, 7]}
    assert synced.read_bytes() == before and stale.read_bytes() == before
    assert sync_notebooks([stale, synced]) == {}


def test_markdown_answers_are_stubbed_too():
    cell = new_markdown_cell(
        "Why?\n### BEGIN SOLUTION\nBecause weights are shared.\n### END SOLUTION")
    assert student_source(cell) == "Why?\nYOUR ANSWER HERE"


def test_assign_writes_student_notebooks_and_a_separate_bundle(tmp_path):
    folder = tmp_path / "repo" / "notebooks"
    folder.mkdir(parents=True)
    nbformat.write(synthetic_notebook(), folder / "99_synthetic.ipynb")
    broken = synthetic_notebook()
    broken.cells[3].source = "# Exercise syn-1\n### BEGIN SOLUTION\nsecret_answer = 42"
    nbformat.write(broken, folder / "98_broken.ipynb")
    out = tmp_path / "build" / "student"
    result = assign(sorted(folder.glob("*.ipynb")), tmp_path / "repo", out)
    assert [p.relative_to(out).as_posix() for p in result.student_files] == [
        "notebooks/99_synthetic.ipynb"]
    assert any("98_broken" in p and "never closed" in p for p in result.problems)
    assert result.bundle == tmp_path / "build" / "instructor" / "hidden_tests.json"
    bundle = json.loads(result.bundle.read_text())
    assert "the secret hidden message" in json.dumps(bundle)
    everything = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert "secret" not in everything and "math.sqrt(2)" not in everything
    with pytest.raises(ValueError, match="must not go inside the student folder"):
        assign([folder / "99_synthetic.ipynb"], tmp_path / "repo", out, instructor_out=out / "x")


# ------------------------------------------------------- the course's own notebooks (static, cheap)

@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_course_notebook_follows_the_exercise_format(path):
    nb = nbformat.read(path, as_version=4)
    report = check_format(nb, path.stem)
    assert report.errors == [] and report.warnings == []
    exercises = find_exercises(nb, path.stem)
    minimum = 5 if path.parent.name == "labs" else 2
    assert len(exercises) >= minimum, (
        f"{path.name}: {len(exercises)} exercises, at least {minimum} expected")
    assert untested_exercises(nb, path.stem) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_grading_an_instructor_notebook_runs_exactly_its_own_cells(path, tmp_path):
    """The student's kernel runs the instructor's cells except the tests (plus a capture cell per
    exercise), the reference run the same before each exercise cell, the clean room the test
    cells."""
    nb = nbformat.read(path, as_version=4)
    course_nb = load_course(path)[path.stem]
    # run from labs/ or notebooks/
    assert course_nb.path == path.relative_to(config.REPO_ROOT).as_posix()
    prepared = grade_module.prepare(grade_module.read_submission(path), course_nb)
    others = [c.source for c in nb.cells if not _tests_header(c)]
    added = {*prepared.captures, prepared.snapshot}
    assert [c.source for i, c in enumerate(prepared.nb.cells) if i not in added] == others
    assert sorted(prepared.captures.values()) == sorted(e.id for e in course_nb.exercises)
    assert not prepared.missing
    # the context snapshot sits right before the first exercise cell, and the unfilled student
    # version gets the same one: an unchanged notebook is judged on the context of its own run
    assert solution_id(prepared.nb.cells[prepared.snapshot + 1]) is not None
    student = make_student_version(nb, path.stem)
    assert grade_module.prepare(student, course_nb).own_context == prepared.own_context != set()
    reference = grade_module.reference_notebook(course_nb, tmp_path)
    assert [c.source for c in reference.cells if "capture_reference" not in c.source] == [
        c.source for c in nb.cells if c.cell_type == "code" and not _tests_header(c)]
    for exercise in course_nb.exercises:
        assert grade_module.tests_with_marker(exercise, "MARK") == (
            nb.cells[exercise.tests_index].source + f"\nprint('MARK:{exercise.id}')")


def test_exercise_ids_are_unique_across_the_course(tmp_path):
    load_course()  # raises on a duplicate
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nbformat.write(synthetic_notebook(), folder / "98_one.ipynb")
    nbformat.write(synthetic_notebook(), folder / "99_two.ipynb")
    with pytest.raises(ValueError, match="'syn-1' is used in both notebooks/98_one.ipynb and "
                                         "notebooks/99_two"):
        load_course(tmp_path)


def test_course_student_versions_leak_nothing(tmp_path):
    out = tmp_path / "student"
    result = assign(NOTEBOOKS, config.REPO_ROOT, out)
    assert result.problems == []
    assert len(result.student_files) == len(NOTEBOOKS)
    assert sorted(p.relative_to(out) for p in result.student_files) == sorted(
        p.relative_to(config.REPO_ROOT) for p in NOTEBOOKS)
    for path in NOTEBOOKS:
        text = (out / path.relative_to(config.REPO_ROOT)).read_text(encoding="utf-8")
        assert find_leaks(nbformat.read(path, as_version=4), text) == []
        assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
    assert sorted(p for p in out.rglob("*") if p.is_file()) == sorted(result.student_files)
    assert not any(p.is_relative_to(out) for p in [result.bundle])


def test_make_student_target_uses_assign():
    makefile = (config.REPO_ROOT / "Makefile").read_text()
    assert "-m cnncourse assign --out build/student" in makefile


# ----------------------------------------------------------------------------- grading (kernels)

def test_grader_survives_bad_submissions_and_is_not_fooled(tmp_path, synthetic_course,
                                                           monkeypatch):
    """One run of the CLI over many kinds of submissions, two at a time."""
    subs = tmp_path / "subs"
    subs.mkdir()
    instructor = subs / "instructor.ipynb"
    nbformat.write(synthetic_notebook(), instructor)
    variant(subs / "student.ipynb")
    # passes the visible tests, not the hidden ones, and replaced a test cell by `pass`
    variant(subs / "wrong.ipynb", double="def double(x):\n    return abs(2 * x)", root="root = 1.5",
            tests="# Tests: exercise syn-1 (1 point)\npass")
    variant(subs / "slow.ipynb", double="def double(x):\n    while True:\n        pass",
            root=GOOD["root"])
    # deletes its working folder (and survives it), then ends its own kernel
    variant(subs / "killer.ipynb",
            double="import os, shutil\nshutil.rmtree(os.getcwd())\n" + GOOD["double"],
            root="os._exit(1)")
    variant(subs / "transformer.ipynb", double="def double(x):\n    return 0\n"
            "get_ipython().input_transformers_cleanup.append(lambda lines: [])", root="root = 0")
    (subs / "malformed.ipynb").write_text('{"cells": [ oops', encoding="utf-8")
    (subs / "empty.ipynb").write_text("", encoding="utf-8")
    nbformat.write(new_notebook(cells=[new_code_cell("1 + 1")]), subs / "unrelated.ipynb")
    monkeypatch.chdir(tmp_path)
    code = cli.main(["grade", "subs", "--out", "out/grades.csv", "-j", "2", "--timeout", "5",
                     "--total-timeout", "120", "--tests", str(tmp_path / "repo")])
    assert code == 0
    with open(tmp_path / "out" / "grades.csv", newline="") as f:
        assert next(csv.reader(f)) == ["submission", "syn-1", "syn-2", "total", "mode", "notes"]
    rows = read_grades(tmp_path / "out" / "grades.csv")
    scores = {os.path.basename(k): (r["syn-1"], r["syn-2"], r["total"]) for k, r in rows.items()}
    assert scores["instructor.ipynb"] == ("1", "2", "3")
    assert scores["student.ipynb"] == ("0", "0", "0")
    # the instructor's tests ran, not the student's `pass`
    assert scores["wrong.ipynb"] == ("0", "0", "0")
    # interrupted at the cell limit, the rest still graded
    assert scores["slow.ipynb"] == ("0", "2", "2")
    # emptied test cells do not print the marker
    assert scores["transformer.ipynb"] == ("0", "0", "0")
    assert scores["killer.ipynb"] == ("1", "0", "1")
    for bad in ("malformed.ipynb", "empty.ipynb", "unrelated.ipynb"):
        assert scores[bad] == ("", "", "0")
    notes = {os.path.basename(k): r["notes"] for k, r in rows.items()}
    assert "invalid JSON" in notes["malformed.ipynb"] and "invalid JSON" in notes["empty.ipynb"]
    assert "not one of the course notebooks" in notes["unrelated.ipynb"]
    assert "kernel died" in notes["killer.ipynb"]
    feedback = {p.name: p.read_text() for p in (tmp_path / "out" / "feedback").iterdir()}
    assert len(feedback) == len(rows) == 9
    wrong = feedback["subs__wrong.feedback.md"]
    assert ("a hidden test failed (AssertionError)" in wrong and "secret" not in wrong
            and "1.41421" not in wrong)
    student = feedback["subs__student.feedback.md"]
    assert "**0 / 3**" in student and "NotImplementedError" in student
    assert "visible test failed, line 2: `assert double(2) == 4" in student
    assert "**3 / 3**" in feedback["subs__instructor.feedback.md"]
    assert ("not run: the notebook stopped before these tests"
            in feedback["subs__killer.feedback.md"])
    assert "did not finish within the time limit" in feedback["subs__slow.feedback.md"]


@pytest.mark.parametrize("count", [1, 2, 3, 7, 9])
def test_shards_split_sorted_paths_every_nth_whatever_the_order_given(count):
    names = [f"s{i}/{n}.ipynb" for i, n in enumerate("qwertyu")]
    shards = [Shard.parse(f"{i}/{count}") for i in range(1, count + 1)]
    chosen = [[names[i] for i in shard.positions(names)] for shard in shards]
    assert sorted(sum(chosen, [])) == sorted(names)  # every submission in exactly one shard
    assert chosen[0][0] == "s0/q.ipynb" and [len(c) for c in chosen] == [
        len(range(i, 7, count)) for i in range(count)]
    shuffled = names[3:] + names[:3]
    assert [sorted(shuffled[i] for i in shard.positions(shuffled)) for shard in shards] == chosen


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "2", "a/b", "-1/2", ""])
def test_a_bad_shard_says_what_a_shard_is(text):
    with pytest.raises(ValueError, match=r"a shard is I/N with 1 <= I <= N .*got " + repr(text)):
        Shard.parse(text)


def test_shards_merged_give_the_gradebook_of_one_run(tmp_path, synthetic_course, monkeypatch,
                                                      capfd):
    """grade --shard 1/2 and 2/2, then --merge: the same grades.csv and feedback as one run."""
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(synthetic_notebook(), subs / "a_instructor.ipynb")
    variant(subs / "b_student.ipynb")
    (subs / "c_malformed.ipynb").write_text("{", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    common = ["--tests", str(tmp_path / "repo"), "--timeout", "60", "--total-timeout", "300"]
    assert cli.main(["grade", "subs", "--out", "one/grades.csv", "-j", "2", *common]) == 0
    for shard in ("1/2", "2/2"):
        out = f"shard{shard[0]}/grades.csv"
        assert cli.main(["grade", "subs", "--shard", shard, "--out", out, *common]) == 0
    # sorted by path, every second one: a and c in the first shard, b in the second
    assert list(read_grades("shard1/grades.csv")) == ["subs/a_instructor.ipynb",
                                                      "subs/c_malformed.ipynb"]
    assert list(read_grades("shard2/grades.csv")) == ["subs/b_student.ipynb"]
    merge = ["grade", "--merge", "shard1/grades.csv", "shard2", "--out", "merged/grades.csv"]
    assert cli.main(merge) == 0
    one, merged = tmp_path / "one", tmp_path / "merged"
    assert (merged / "grades.csv").read_text() == (one / "grades.csv").read_text()
    rows = read_grades(one / "grades.csv")
    assert [(r["total"], r["mode"]) for r in rows.values()] == [("3", "fast"), ("0", "fast"),
                                                                ("0", "")]

    def feedback(folder):
        return {p.name: p.read_text() for p in (folder / "feedback").iterdir()}

    assert feedback(merged) == feedback(one) and len(feedback(one)) == 3
    record = json.loads((one / "grades.json").read_text())
    grade = record["grades"][0]  # the instructor notebook's
    timings = grade["timings"]
    phases = [timings[k] for k in ("start", "cells", "handover", "judging")]
    assert all(t > 0 for t in phases) and sum(phases) <= grade["seconds"], grade
    if sys.platform == "linux":  # CPU times come from /proc
        assert timings["cpu_student"] > 0 and timings["cpu_clean_room"] > 0, timings
    terminal = "".join(capfd.readouterr())
    assert "without encryption" not in terminal and "Traceback" not in terminal, terminal
    # a missing shard, a shard given twice, a bad --shard: each says what is wrong, nothing written
    assert cli.main(["grade", "--merge", "shard1", "--out", "bad/grades.csv"]) == 2
    shutil.copytree(tmp_path / "shard1", tmp_path / "copy")
    assert cli.main(["grade", "--merge", "shard1", "copy/grades.csv", "--out", "bad/grades.csv"]
                    ) == 2
    assert cli.main(["grade", "subs", "--shard", "3/2", "--out", "bad/grades.csv", *common]) == 2
    terminal = capfd.readouterr().out
    assert "expected each of the shards 1/2 to 2/2 once; missing 2/2\n" in terminal
    assert "expected each of the shards 1/2 to 2/2 once; missing 2/2; given twice 1/2\n" in terminal
    assert ("--shard: a shard is I/N with 1 <= I <= N (for example 2/4 for the second of four), "
            "got '3/2'") in terminal
    assert not (tmp_path / "bad").exists()


def test_an_endless_cell_is_cut_off_and_the_next_submission_graded(tmp_path, synthetic_course):
    """A loop that even ignores the interrupt: stopped at the cell limit, graded, and the next one
    runs."""
    stuck = variant(tmp_path / "a_stuck.ipynb", root=GOOD["root"], double=(
        "def double(x):\n    return 2 * x\n"
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "while True:\n    pass"))
    good = variant(tmp_path / "b_good.ipynb", **GOOD)
    start = time.monotonic()
    grades = grade_submissions([stuck, good], synthetic_course,
                               GradeSettings(cell_timeout=2, total_timeout=60),
                               jobs=1, progress=False)
    assert time.monotonic() - start < 60
    assert [g.total for g in grades] == [0, 3]
    assert "did not stop when interrupted" in "; ".join(grades[0].notes)


def test_a_worker_past_the_total_limit_is_killed_with_its_kernel(tmp_path, synthetic_course,
                                                                 monkeypatch):
    # The worker would stop at 60 s; make the grader's own limit 60 - 63 + 15 = 12 s instead.
    monkeypatch.setattr(grade_module, "WORKER_GRACE_S", -63)
    pid_file = tmp_path / "kernel.pid"
    sleeper = variant(tmp_path / "sleeper.ipynb", **GOOD, extra=(
        "import os, time\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(300)"))
    start = time.monotonic()
    (grade,) = grade_submissions([sleeper], synthetic_course,
                                 GradeSettings(cell_timeout=200, total_timeout=60),
                                 progress=False)
    assert time.monotonic() - start < 30
    assert grade.total == 0 and any("the grader stopped this submission after 12 s" in n
                                    for n in grade.notes)
    assert all("not run" in e.reason for e in grade.exercises)
    # the kernel got as far as the sleeping cell (it does unless the machine is very busy)
    if pid_file.exists():
        time.sleep(0.5)
        assert not _alive(int(pid_file.read_text())), "the kernel was killed too"


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(os.environ.get("CNNCOURSE_GRADE_ALL") != "1",
                    reason="grades every course notebook for real (minutes); "
                           "set CNNCOURSE_GRADE_ALL=1")
def test_every_course_notebook_full_marks_and_its_student_version_zero(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNCOURSE_FAST", "1")
    out = tmp_path / "student"
    assign(NOTEBOOKS, config.REPO_ROOT, out)
    students = [out / p.relative_to(config.REPO_ROOT) for p in NOTEBOOKS]
    grades = grade_submissions([*NOTEBOOKS, *students], load_course(),
                               GradeSettings(cell_timeout=600, total_timeout=1200),
                               jobs=int(os.environ.get("CNNCOURSE_GRADE_JOBS", "2")))
    for g in grades:
        print(f"{g.submission}: {g.total:g}/{g.max_total:g} in {g.seconds:.0f} s")
    for g in grades[: len(NOTEBOOKS)]:
        assert g.total == g.max_total > 0, (
            g.submission, [(e.id, e.reason) for e in g.exercises], g.notes)
    for g in grades[len(NOTEBOOKS):]:
        assert g.total == 0 and g.max_total > 0, (
            g.submission, [(e.id, e.reason) for e in g.exercises if e.points])


def test_an_exercise_cell_whose_first_line_was_changed_is_found_by_its_cell_id(
        tmp_path, synthetic_course):
    path = variant(tmp_path / "renamed.ipynb", first_line="# my answer", root=GOOD["root"])
    prepared = grade_module.prepare(grade_module.read_submission(path),
                                    synthetic_course["99_synthetic"])
    assert sorted(prepared.captures.values()) == ["syn-1", "syn-2"] and not prepared.missing
    syn1 = next(i for i, e in prepared.captures.items() if e == "syn-1")
    assert prepared.nb.cells[syn1 - 1].source.startswith("# my answer")
    assert any("found by its cell id" in n for n in prepared.notes)
    nb = nbformat.read(path, as_version=4)
    nb.cells[3].id = "another-id"
    nbformat.write(nb, path)
    prepared = grade_module.prepare(grade_module.read_submission(path),
                                    synthetic_course["99_synthetic"])
    assert "no cell starting with '# Exercise syn-1'" in prepared.missing["syn-1"]


def test_a_colab_download_is_read_and_prepared(tmp_path, synthetic_course):
    """Colab saves nbformat 4.0 JSON: sources as lists of lines, no cell ids, its own metadata."""
    import warnings

    path = variant(tmp_path / "colab.ipynb", **GOOD)
    data = json.loads(path.read_text())
    data["nbformat_minor"], data["metadata"] = 0, {"colab": {"provenance": []}}
    for cell in data["cells"]:
        cell.pop("id", None)
        cell["metadata"] = {"id": "colab-cell"}
        assert isinstance(cell["source"], list)
    path.write_text(json.dumps(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prepared = grade_module.prepare(grade_module.read_submission(path),
                                        synthetic_course["99_synthetic"])
        nbformat.validate(nbformat.reads(nbformat.writes(prepared.nb), as_version=4))
    assert sorted(prepared.captures.values()) == ["syn-1", "syn-2"] and not prepared.missing
