"""The student edition, built exactly as .github/workflows/student-edition.yml builds it.

The checks on its files run in ``make test``; executing every notebook's lecture part (up to the
first exercise) costs most of a fast run of the course, so it runs in ``make test-student``
(``CNNCOURSE_STUDENT_RUN=1``), which .ci/run calls after ``make test``.
"""

import ast
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from cnncourse import config, course
from cnncourse.edition import build_edition
from cnncourse.grading.exercises import solution_id
from cnncourse.grading.exercises import tests_header as _tests_header

ROOT = config.REPO_ROOT
WORKFLOW = ROOT / ".github" / "workflows" / "student-edition.yml"
NOTEBOOKS = [p.relative_to(ROOT).as_posix() for p in course.course_notebooks()]
#: The issue's bar, as grep -E would read it (this file is not part of the edition).
MARKER_TEXT = re.compile(r"BEGIN SOLUTION|BEGIN HIDDEN TESTS|END SOLUTION|END HIDDEN TESTS")


def _workflow_step(word: str) -> str:
    """The shell script of the workflow's step whose name contains ``word``."""
    steps = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["publish"]["steps"]
    (step,) = [s for s in steps if word in s.get("name", "")]
    return step["run"]


def _run_step(word: str, runner_temp: Path) -> subprocess.CompletedProcess:
    """Run a workflow step with bash as the runner would, with this Python first on PATH."""
    env = {**os.environ, "RUNNER_TEMP": str(runner_temp),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(["bash", "-eo", "pipefail", "-c", _workflow_step(word)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    runner_temp = tmp_path_factory.mktemp("runner")
    build = _run_step("Build and scan", runner_temp)
    assert build.returncode == 0, build.stdout + build.stderr
    assert "no solution, hidden-test or marker text" in build.stdout
    grep = _run_step("no marker text", runner_temp)
    assert grep.returncode == 0, grep.stdout + grep.stderr
    return runner_temp / "edition"


def test_no_marker_text_in_any_file(edition):
    files = [p for p in edition.rglob("*") if p.is_file()]
    assert len(files) > 30
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        assert not MARKER_TEXT.search(text), f"marker text in {path.relative_to(edition)}"


def test_holds_what_a_student_needs_and_no_instructor_material(edition):
    names = {p.relative_to(edition).as_posix() for p in edition.rglob("*") if p.is_file()}
    assert sorted(n for n in names if n.endswith(".ipynb")) == sorted(NOTEBOOKS)
    for needed in ("README.md", "pyproject.toml", "requirements.txt", "cnncourse/__init__.py",
                   "cnncourse/checks.py", "cnncourse/grading/check.py",
                   "data/mnist-sample/t10k-images-idx3-ubyte.gz"):
        assert needed in names
    for left_out in ("tests/", "docs/", "bench/", ".github/", ".ci/", "build/"):
        assert not any(n.startswith(left_out) for n in names), left_out
    assert "CONTRIBUTING.md" not in names
    assert not any("hidden_tests" in n for n in names)
    # the package and data are copied unchanged, so the installed source package behaves the same
    for name in names:
        if name.startswith(("cnncourse/", "data/")):
            assert (edition / name).read_bytes() == (ROOT / name).read_bytes(), name


def test_every_notebook_is_a_valid_student_version(edition):
    for rel in NOTEBOOKS:
        nb = nbformat.read(edition / rel, as_version=4)
        nbformat.validate(nb)
        exercises = [c for c in nb.cells if c.cell_type == "code" and solution_id(c)]
        assert exercises, f"{rel} has no exercise"
        stub = 'raise NotImplementedError("Exercise {}: write your solution here")'
        assert all(stub.format(solution_id(c)) in c.source for c in exercises), rel
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), rel


def test_colab_links_and_setup_cells_name_the_student_branch(edition):
    repo = config.REPO_URL.removeprefix("https://github.com/")
    for readme in (edition / "README.md", ROOT / "README.md"):
        text = readme.read_text(encoding="utf-8")
        links = re.findall(r"https://colab\.research\.google\.com/github/\S+?\.ipynb", text)
        assert sorted(links) == sorted(f"https://colab.research.google.com/github/{repo}/blob/"
                                       f"{config.STUDENT_BRANCH}/{rel}" for rel in NOTEBOOKS), \
            readme
    for rel in NOTEBOOKS:
        setup = nbformat.read(edition / rel, as_version=4).cells[1].source
        clone = f"git clone --quiet --depth 1 --branch {config.STUDENT_BRANCH} {config.REPO_URL} "
        assert clone in setup


def test_set_repo_moves_links_set_up_cells_and_branch_together(tmp_path, monkeypatch):
    from cnncourse import cli

    files = ["cnncourse/config.py", "pyproject.toml", "README.md", *NOTEBOOKS]
    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    monkeypatch.setattr(config, "REPO_ROOT", tmp_path)
    assert cli.main(["set-repo", "https://github.com/cnncourse/cnncourse",
                     "--student-branch", "main"]) == 2
    # extends the old URL: must not be replaced twice
    fork = "https://github.com/uni-x/cnncourse-2027"
    assert cli.main(["set-repo", fork + "/", "--student-branch", "release/2027"]) == 0
    settings = (tmp_path / "cnncourse/config.py").read_text()
    assert f'REPO_URL = "{fork}"' in settings and 'STUDENT_BRANCH = "release/2027"' in settings
    assert f'Repository = "{fork}"' in (tmp_path / "pyproject.toml").read_text()
    readme = (tmp_path / "README.md").read_text()
    links = re.findall(r"https://colab\.research\.google\.com/github/\S+?\.ipynb", readme)
    assert sorted(links) == sorted(
        f"https://colab.research.google.com/github/uni-x/cnncourse-2027/blob/release/2027/{rel}"
        for rel in NOTEBOOKS
    )
    for rel in NOTEBOOKS:
        before = (ROOT / rel).read_text().splitlines()
        after = (tmp_path / rel).read_text().splitlines()
        changed = [new for old, new in zip(before, after, strict=True) if old != new]
        assert len(changed) == 1, (rel, changed)
        assert f"--branch release/2027 {fork} /content/" in changed[0], (rel, changed)


def test_readme_says_what_it_is_and_links_left_out_files_to_main(edition):
    text = (edition / "README.md").read_text(encoding="utf-8")
    assert text.startswith("> **Student edition.**")
    assert f"]({config.REPO_URL}/blob/main/docs/instructors.md)" in text
    assert "(docs/instructors.md)" not in text and "(notebooks/00_setup_and_tools.ipynb)" in text


def test_nothing_a_student_runs_needs_the_grading_tools(edition):
    for rel in NOTEBOOKS:
        code = "\n".join(c.source for c in nbformat.read(edition / rel, as_version=4).cells)
        assert "grading" not in code, rel
    for path in (edition / "cnncourse").rglob("*.py"):
        if path.name in ("cli.py", "edition.py") or path.parent.name == "grading":  # commands
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom | ast.Import):
                imported = [getattr(node, "module", None) or "",
                            *(alias.name for alias in node.names)]
                assert not any("grading" in name for name in imported), path


@pytest.mark.parametrize("command", [["grade", "x.ipynb"], ["assign"], ["student-edition"]])
def test_instructor_commands_in_the_edition_say_where_they_are(edition, command):
    # -S: no site-packages, so only the edition's own package is importable (not this checkout's)
    result = subprocess.run([sys.executable, "-S", "-m", "cnncourse", *command], cwd=edition,
                            capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(edition)}, timeout=60)
    assert result.returncode == 2, result
    assert "student edition" in result.stdout and "main branch" in result.stdout, result


def test_students_check_their_notebook_with_the_editions_own_package(edition, tmp_path):
    student = new_notebook(cells=[
        new_code_cell("import cnncourse\nhome = cnncourse.__file__"),
        new_code_cell("# Exercise tiny-1\n# YOUR CODE HERE\n"
                      'raise NotImplementedError("Exercise tiny-1: write your solution here")'),
        new_code_cell("# Tests: exercise tiny-1 (1 point)\nassert answer_value > 0"),
        new_code_cell(f"assert home.startswith({str(edition)!r}), home"),
    ])
    nbformat.write(student, tmp_path / "99_tiny.ipynb")
    command = [sys.executable, "-m", "cnncourse", "check", str(tmp_path / "99_tiny.ipynb")]
    result = subprocess.run(command, cwd=edition, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(edition)})
    assert result.returncode == 1, result.stdout + result.stderr
    raised = "NotImplementedError: Exercise tiny-1: write your solution here"
    assert f"your exercise cell raised {raised}" in result.stdout, result.stdout
    assert "other cells that raised" not in result.stdout, "the kernel imported another cnncourse"


def _tiny_course(root: Path, readme: str) -> Path:
    """A git checkout with one notebook holding one exercise, and the given README."""
    (root / "notebooks").mkdir(parents=True)
    nb = new_notebook(cells=[
        new_markdown_cell("# 99 · Tiny"), new_code_cell("# NBVAL_SKIP\nimport sys"),
        new_markdown_cell("### Exercise tiny-1 — Answer (1 point)"),
        new_code_cell("# Exercise tiny-1\n### BEGIN SOLUTION\nanswer_value = 6 * 7\n"
                      "### END SOLUTION"),
        new_code_cell("# Tests: exercise tiny-1 (1 point)\nassert answer_value\n"
                      "### BEGIN HIDDEN TESTS\nassert answer_value == 42\n### END HIDDEN TESTS"),
    ])
    nbformat.write(nb, root / "notebooks" / "99_tiny.ipynb")
    (root / "README.md").write_text(readme, encoding="utf-8")
    (root / "pyproject.toml").write_text("[project]\nname = 'tiny'\n", encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "."], check=True)
    return root


def test_a_leak_outside_the_notebooks_fails_the_build_and_removes_it(tmp_path):
    root = _tiny_course(tmp_path / "repo", "# Tiny\nThe answer: `answer_value = 6 * 7`.\n")
    result = build_edition(root, tmp_path / "edition")
    assert any("README.md" in p and "answer_value = 6 * 7" in p for p in result.problems), \
        result.problems
    assert not (tmp_path / "edition").exists()
    clean = build_edition(_tiny_course(tmp_path / "clean", "# Tiny\n"), tmp_path / "edition")
    assert clean.problems == [] and (tmp_path / "edition" / "notebooks" / "99_tiny.ipynb").exists()


def test_replaces_an_earlier_edition_and_refuses_any_other_folder(tmp_path):
    root = _tiny_course(tmp_path / "repo", "# Tiny\n")
    out = tmp_path / "edition"
    build_edition(root, out)
    (out / "stale.txt").write_text("from an earlier build")
    assert build_edition(root, out).problems == [] and not (out / "stale.txt").exists()
    other = tmp_path / "work"
    other.mkdir()
    (other / "mine.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not empty and is not a student edition"):
        build_edition(root, other)
    with pytest.raises(ValueError, match="its own folder"):
        build_edition(root, root)
    assert (other / "mine.txt").read_text() == "keep me"


def test_workflow_publishes_only_from_main_with_a_write_token_of_its_own():
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert set(triggers) == {"push", "workflow_dispatch"}
    assert triggers["push"] == {"branches": ["main"]}
    assert workflow["permissions"] == {"contents": "read"}
    job = workflow["jobs"]["publish"]
    assert job["if"] == "github.ref == 'refs/heads/main'"
    assert job["permissions"] == {"contents": "write"}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    (push,) = [line.strip() for line in _workflow_step("push").splitlines() if "git push" in line]
    assert push == 'git push origin "$commit:refs/heads/$branch"', \
        "fast-forward only: no --force, no +ref"


def test_publish_step_commits_on_top_of_the_student_branch(tmp_path):
    """The workflow's publish script against a local origin: first an orphan, then fast-forwards."""
    def git(*args, cwd=tmp_path):
        return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                              text=True).stdout.strip()

    origin, checkout = tmp_path / "origin.git", tmp_path / "checkout"
    runner_temp = tmp_path / "runner"
    git("init", "-q", "--bare", "-b", "main", str(origin))
    seed = tmp_path / "seed"
    git("init", "-q", "-b", "main", str(seed))
    (seed / "README.md").write_text("instructor source\n")
    git("-C", str(seed), "add", ".")
    git("-C", str(seed), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "main")
    git("-C", str(seed), "push", "-q", f"file://{origin}", "main")
    git("clone", "-q", "--depth", "1", f"file://{origin}", str(checkout))
    (runner_temp / "edition" / "notebooks").mkdir(parents=True)
    (runner_temp / "edition" / "notebooks" / "01.ipynb").write_text("{}\n")
    env = {**os.environ, "RUNNER_TEMP": str(runner_temp),
           "GITHUB_SHA": "0123456789abcdef" * 2 + "01234567",
           "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "org/course",
           "DEFAULT_BRANCH": "main",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT)}

    def publish():
        result = subprocess.run(["bash", "-eo", "pipefail", "-c", _workflow_step("push")],
                                cwd=checkout, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    branch = f"refs/heads/{config.STUDENT_BRANCH}"
    assert "Published" in publish()
    first = git("--git-dir", str(origin), "rev-parse", branch)
    # an orphan: no main history
    assert git("--git-dir", str(origin), "log", "--format=%P", "-1", first) == ""
    assert git("--git-dir", str(origin), "ls-tree", "-r", "--name-only", first) \
        == "notebooks/01.ipynb"
    assert "unchanged; nothing to publish" in publish()
    assert git("--git-dir", str(origin), "rev-parse", branch) == first
    (runner_temp / "edition" / "notebooks" / "01.ipynb").write_text('{"cells": []}\n')
    assert "Published" in publish()
    second = git("--git-dir", str(origin), "rev-parse", branch)
    # on top: git pull works
    assert git("--git-dir", str(origin), "log", "--format=%P", "-1", second) == first
    subject = git("--git-dir", str(origin), "log", "--format=%s", "-1", second)
    assert "Student edition of main@012345678" in subject
    assert git("--git-dir", str(origin), "rev-parse", "refs/heads/main") != second


def _actionlint() -> str:
    found = (shutil.which("actionlint", path=str(Path(sys.executable).parent))
             or shutil.which("actionlint"))
    if not found and not (sys.platform == "linux" and platform.machine() == "x86_64"):
        pytest.skip("requirements.txt installs actionlint on Linux x86-64 only (where CI runs)")
    assert found, "actionlint is missing: pip install -r requirements.txt"
    return found


@pytest.mark.parametrize("workflow", sorted((ROOT / ".github" / "workflows").glob("*.yml")),
                         ids=lambda p: p.name)
def test_workflow_passes_actionlint(workflow):
    # the venv's bin first: shellcheck
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([_actionlint(), "-no-color", str(workflow)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(os.environ.get("CNNCOURSE_STUDENT_RUN") != "1",
                    reason="make test-student runs the lecture parts (CI: after make test)")
@pytest.mark.parametrize("rel", NOTEBOOKS)
def test_lecture_part_runs_up_to_the_first_exercise(edition, rel):
    """Execute the student notebook, as the edition's own package sees it, through its first
    exercise: the first error must be that exercise's NotImplementedError, naming it, raised by the
    exercise cell (or by its test cell, when the stub sits in a function the tests call)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = edition / rel
    nb = nbformat.read(path, as_version=4)
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and solution_id(c))
    ex_id = solution_id(nb.cells[first])
    tests = next(i for i, c in enumerate(nb.cells) if (_tests_header(c) or [None])[0] == ex_id)
    check = new_code_cell("import cnncourse\n"
                          f"assert cnncourse.__file__.startswith({str(edition)!r}), "
                          "cnncourse.__file__")
    nb.cells = [check, *nb.cells[:tests + 1]]
    env = {**os.environ, "CNNCOURSE_FAST": "1", "PYTHONPATH": str(edition),
           "CNNCOURSE_CACHE_DIR": str(config.cache_dir()), "TF_CPP_MIN_LOG_LEVEL": "3",
           "TF_ENABLE_ONEDNN_OPTS": "0", "MPLBACKEND": "Agg"}
    client = NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    with pytest.raises(CellExecutionError) as raised:
        client.execute(env=env)
    failed = [i - 1 for i, c in enumerate(nb.cells)
              if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert failed and failed[0] in (first, tests), (
        f"{rel}: cell {failed[0] if failed else '?'} failed before the first exercise "
        f"(cell {first}):\n{raised.value}")
    assert (raised.value.ename, raised.value.evalue) == (
        "NotImplementedError", f"Exercise {ex_id}: write your solution here"
    ), f"{rel}:\n{raised.value}"
