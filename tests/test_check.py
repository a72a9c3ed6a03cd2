"""``python -m cnncourse check NOTEBOOK``: a student's own run of the visible tests.

On a small synthetic notebook (two kernels per run, no TensorFlow): a student version filled in
correctly passes, an unfilled one fails at each exercise with the NotImplementedError that names
it, a wrong answer fails with the first failing line of the visible tests and its message.
"""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from cnncourse import cli
from cnncourse.grading.check import visible_exercises
from cnncourse.grading.exercises import make_student_version

DOUBLE = "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
DOUBLE_TESTS = ("# Tests: exercise chk-1 (1 point)\nassert double(2) == 4, 'double(2) should be 4'"
                "\n### BEGIN HIDDEN TESTS\nassert double(-3) == -6, 'the secret hidden message'"
                "\n### END HIDDEN TESTS")
# The context a test reads changes between the exercises: the check must take it right before
# each exercise (limit is 2.0 there), not once before the first one (1.0).
ROOT_TESTS = ("# Tests: exercise chk-2 (2 points)\nassert root > 1\n"
              "assert abs(root ** 2 - limit) < 1e-9, 'root squared should be limit'")


def instructor_notebook():
    nb = new_notebook(cells=[
        new_markdown_cell("# 99 · Check\nA notebook made up for the tests."),
        new_code_cell("import math\nlimit = 1.0"),
        new_markdown_cell("### Exercise chk-1 — Double it (1 point)"),
        new_code_cell("# Exercise chk-1\n" + DOUBLE),
        new_code_cell(DOUBLE_TESTS),
        new_code_cell("limit = 2.0"),
        new_markdown_cell("### Exercise chk-2 — Square root (2 points)"),
        new_code_cell("# Exercise chk-2\n### BEGIN SOLUTION\nroot = math.sqrt(limit)\n"
                      "### END SOLUTION"),
        new_code_cell(ROOT_TESTS),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def student_file(path, double=None, root=None):
    """The student version, with the given answers pasted into the exercise cells."""
    nb = make_student_version(instructor_notebook(), "99_check")
    if double is not None:
        nb.cells[3].source = "# Exercise chk-1\n" + double
    if root is not None:
        nb.cells[7].source = "# Exercise chk-2\n" + root
    nbformat.write(nb, path)
    return path


def check(capsys, path):
    code = cli.main(["check", str(path), "--timeout", "60"])
    return code, capsys.readouterr().out


def test_a_correctly_filled_student_version_passes(tmp_path, capsys):
    path = student_file(tmp_path / "mine.ipynb", double="def double(x):\n    return x + x",
                        root="root = limit ** 0.5")
    code, out = check(capsys, path)
    assert code == 0, out
    assert [line.split()[:2] for line in out.splitlines()[:2]] == [["chk-1", "passed"],
                                                                   ["chk-2", "passed"]]
    assert "2 of 2 exercises passed" in out


def test_an_unfilled_student_version_fails_each_exercise_naming_it(tmp_path, capsys):
    code, out = check(capsys, student_file(tmp_path / "mine.ipynb"))
    assert code == 1
    first, second = out.split("chk-2  FAILED")
    assert first.startswith("chk-1  FAILED")
    # double() raises when the test calls it; the chk-2 cell raises itself
    assert ("visible test failed, line 2: `assert double(2) == 4, 'double(2) should be 4'` -> "
            "NotImplementedError: Exercise chk-1: write your solution here") in first
    assert ("your exercise cell raised NotImplementedError: Exercise chk-2: write your solution "
            "here") in second
    assert "0 of 2 exercises passed" in out


def test_a_wrong_answer_fails_with_the_first_failing_line(tmp_path, capsys):
    path = student_file(tmp_path / "mine.ipynb", double="def double(x):\n    return x * 3",
                        root="root = 1.5")
    code, out = check(capsys, path)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("chk-1  FAILED") and lines[2].startswith("chk-2  FAILED"), out
    assert lines[1].strip() == ("visible test failed, line 2: `assert double(2) == 4, 'double(2) "
                                "should be 4'` -> AssertionError: double(2) should be 4")
    assert lines[3].strip() == ("visible test failed, line 3: `assert abs(root ** 2 - limit) < "
                                "1e-9, 'root squared should be limit'` -> AssertionError: root "
                                "squared should be limit")
    assert "secret" not in out


def test_only_the_visible_tests_are_run():
    exercises = visible_exercises(instructor_notebook(), "99_check.ipynb")
    assert [(e.id, e.points) for e in exercises] == [("chk-1", 1), ("chk-2", 2)]
    assert exercises[0].tests_source == ("# Tests: exercise chk-1 (1 point)\n"
                                         "assert double(2) == 4, 'double(2) should be 4'")
    assert exercises[1].values == ["root"] and exercises[1].context == ["limit"]


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("not json", "not a notebook: invalid JSON"),
    (new_notebook(cells=[new_code_cell("x = 1")]), "is not a course notebook"),
    (new_notebook(cells=[new_code_cell("# Exercise chk-1\nx = 1")]), "has no exercises to check"),
])
def test_what_cannot_be_checked_is_said_plainly(tmp_path, capsys, content, message):
    path = tmp_path / "mine.ipynb"
    if isinstance(content, str):
        path.write_text(content)
    elif content is not None:
        nbformat.write(content, path)
    code, out = check(capsys, path)
    assert code == 2 and out.startswith("cannot check: ") and message in out, out
