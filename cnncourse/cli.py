"""``python -m cnncourse``: the course's capabilities from a terminal.

    python -m cnncourse env                      environment report
    python -m cnncourse doctor [--online]        is this machine ready? versions, GPU, downloads, Kaggle, speed
    python -m cnncourse course [--fast] [NAME…]  execute the notebooks, HTML in build/course/
    python -m cnncourse lab pneumonia [--demo …] the chest X-ray lab as a batch job
    python -m cnncourse assign [--out DIR]       student versions of the notebooks
    python -m cnncourse grade SUBMISSIONS…       grade submitted notebooks
    python -m cnncourse check NOTEBOOK           run a notebook's visible tests as the grader would
    python -m cnncourse refresh NOTEBOOK…        re-record the outputs nbval checks, strip the rest
    python -m cnncourse student-edition --out DIR  the course without solutions (the student branch)
    python -m cnncourse set-repo URL             point Colab links and set-up cells at a fork
"""  # noqa: E501 (`--help` prints this table as it stands: wrapping it would change its output)

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from cnncourse import config


def _env(args) -> int:
    from cnncourse import env

    env.report()
    return 0


def _doctor(args) -> int:
    from cnncourse import doctor

    return doctor.doctor_command(args)


def _course(args) -> int:
    from cnncourse import course

    return course.run_course(only=args.names or None, out=args.out,
                             fast=True if args.fast else None)


def _refresh(args) -> int:
    from cnncourse import course

    for path in args.notebooks:
        result = course.refresh_notebook(path, fast=not args.full)
        print(f"{path}: executed in {result.seconds:.0f} s, checked outputs recorded")
    return 0


def _lab(args) -> int:
    from cnncourse import pneumonia

    return pneumonia.lab_command(args)


def _grading():
    """The grading tools, or None (with a message) in the student edition: it holds them (for
    ``check``), but an instructor command there has no instructor notebooks to work on."""
    from cnncourse.edition import MARKER_FILE

    if config.REPO_ROOT is not None and (config.REPO_ROOT / MARKER_FILE).is_file():
        print("This is the student edition of the course: it has no grading tools. "
              f"Instructors assign and grade from the main branch of {config.REPO_URL}.")
        return None
    from cnncourse import grading

    return grading


def _assign(args) -> int:
    grading = _grading()
    return grading.assign_command(args) if grading else 2


def _grade(args) -> int:
    grading = _grading()
    return grading.grade_command(args) if grading else 2


def _check(args) -> int:
    from cnncourse.grading import check

    return check.check_command(args)


def _student_edition(args) -> int:
    from cnncourse import edition

    return edition.edition_command(args) if _grading() else 2


#: A branch name set-repo accepts for the student edition (a safe subset of git's rules).
_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*")


def _set_repo(args) -> int:
    """Replace the repository URL and the student branch everywhere they are written."""
    if config.REPO_ROOT is None:
        print("set-repo edits the repository checkout; run it from a clone installed with "
              "pip install -e .")
        return 2
    new = args.url.rstrip("/")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", new):
        print(f"expected a GitHub URL like https://github.com/ORG/REPO, got {args.url!r}")
        return 2
    branch = args.student_branch or config.STUDENT_BRANCH
    if (not _BRANCH.fullmatch(branch) or ".." in branch or branch.endswith((".", ".lock"))
            or branch == "main"):
        print("expected a branch name for the student edition other than main, like 'student', "
              f"got {branch!r}")
        return 2
    root = config.REPO_ROOT
    files = [root / "cnncourse" / "config.py", root / "pyproject.toml", root / "README.md",
             *sorted(root.glob("notebooks/*.ipynb")), *sorted(root.glob("labs/*.ipynb"))]
    old_url, old_branch = config.REPO_URL, config.STUDENT_BRANCH
    old_path = old_url.removeprefix("https://github.com/")
    new_path = new.removeprefix("https://github.com/")
    replacements = {  # all in one pass, so a new URL that extends the old one is not replaced twice
        # README Colab links
        f"github/{old_path}/blob/{old_branch}/": f"github/{new_path}/blob/{branch}/",
        # notebooks' set-up cells
        f"--branch {old_branch} {old_url}": f"--branch {branch} {new}",
        # config.py
        f'STUDENT_BRANCH = "{old_branch}"': f'STUDENT_BRANCH = "{branch}"',
        old_url: new,
        f"github/{old_path}/": f"github/{new_path}/",
    }
    pattern = re.compile("|".join(map(re.escape, sorted(replacements, key=len, reverse=True))))
    changed = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        updated = pattern.sub(lambda m: replacements[m.group(0)], text)
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            changed += 1
    print(f"Repository URL set to {new}, student branch to {branch}, in {changed} files.")
    return 0


def _add_lab_parser(sub) -> None:
    """``lab``: its choices and defaults from the one table (cnncourse.pneumonia.defaults)."""
    from cnncourse.backbones import BACKBONE_NAMES
    from cnncourse.pneumonia.defaults import LAB_DEFAULTS as D

    def default(name: str) -> str:
        full, fast = D[name]
        return f"default {full}; {fast} in fast mode"

    p = sub.add_parser("lab", help="run a lab as a batch job")
    p.add_argument("lab", choices=["pneumonia"])
    p.add_argument("--backbone", default=D["backbone"], choices=["baseline", *BACKBONE_NAMES],
                   help=f"pretrained backbone, or 'baseline' (small CNN from scratch); "
                        f"default {D['backbone']}")
    p.add_argument("--image-size", type=int, default=None,
                   help=f"pixels per side ({default('image_size')})")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"head-training epochs ({default('epochs')})")
    p.add_argument("--fine-tune-epochs", type=int, default=None,
                   help=f"fine-tuning epochs ({default('fine_tune_epochs')})")
    p.add_argument("--batch-size", type=int, default=D["batch_size"])
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder with train/ val/ test/ "
                        "(default: download from Kaggle into the cache)")
    p.add_argument("--out", type=Path, default=None,
                   help="run folder (default runs/pneumonia-DATE-TIME); "
                        "the same folder resumes a run")
    p.add_argument("--demo", action="store_true",
                   help="use synthetic demo X-rays when the real data or Kaggle credentials "
                        "are missing")
    p.set_defaults(func=_lab)


def _add_doctor_parser(sub) -> None:
    p = sub.add_parser("doctor", help="check this machine for the course: versions, accelerator, "
                                      "downloads, Kaggle credentials, one training step, "
                                      "pipeline speed")
    p.add_argument("--online", action="store_true",
                   help="download what is missing (once, into the cache) and ask Kaggle whether "
                        "the credentials are valid; without it only what is cached is checked "
                        "and no connection is made")
    p.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help="also write the report as JSON")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="seconds a network connection may hang before a download counts as "
                        "unreachable (default 30)")
    p.set_defaults(func=_doctor)


def _add_grade_parser(sub) -> None:
    p = sub.add_parser("grade", help="grade submitted notebooks")
    p.add_argument("submissions", nargs="+", type=Path,
                   help="submitted .ipynb files (folders: every .ipynb inside); with --merge, "
                        "the shards' gradebooks (their grades.csv, or folders holding them)")
    p.add_argument("--out", type=Path, default=Path("grades.csv"),
                   help="the grades table (default: grades.csv)")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell (default: 600)")
    p.add_argument("--total-timeout", type=int, default=3600,
                   help="seconds per submission, all cells together (default: 3600)")
    p.add_argument("-j", "--jobs", type=int, default=1, help="submissions graded in parallel")
    p.add_argument("--feedback", type=Path, default=None,
                   help="folder for one feedback file per submission "
                        "(default: feedback/ next to --out)")
    p.add_argument("--tests", type=Path, default=None,
                   help="instructor tests: a hidden_tests.json bundle from `assign` or a folder of "
                        "instructor notebooks (default: this checkout's notebooks)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--fast", dest="fast", action="store_true", default=True,
                      help="execute submissions in fast mode, CNNCOURSE_FAST=1 (the default)")
    mode.add_argument("--full", dest="fast", action="store_false",
                      help="execute submissions in full mode, CNNCOURSE_FAST=0 (all data, all "
                           "epochs: slower)")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="grade only the I-th of N parts of the submissions (sorted by path, "
                        "every N-th), for N jobs on N machines; join them with --merge")
    p.add_argument("--merge", action="store_true",
                   help="write one gradebook (and feedback) from the gradebooks of all N shards")
    p.add_argument("--isolate-cache", action="store_true",
                   help="give each submission its own empty CNNCOURSE_CACHE_DIR "
                        "(default: the shared cache)")
    p.add_argument("--keep-executed", type=Path, default=None, metavar="DIR",
                   help="also save the executed notebooks here "
                        "(instructor only: they contain the hidden tests)")
    p.set_defaults(func=_grade)


def _add_assign_parser(sub) -> None:
    p = sub.add_parser("assign", help="write student versions of the notebooks")
    p.add_argument("notebooks", nargs="*", type=Path,
                   help="only these course notebooks (default: all)")
    p.add_argument("--out", type=Path, default=Path("build/student"),
                   help="student notebooks, same relative paths (default: build/student)")
    p.add_argument("--instructor-out", type=Path, default=None,
                   help="folder for the instructor's test bundle hidden_tests.json "
                        "(default: 'instructor' next to --out, e.g. build/instructor)")
    p.add_argument("--sync-nbgrader", action="store_true",
                   help="instead: write nbgrader's cell metadata into the instructor notebooks")
    p.set_defaults(func=_assign)


def _add_check_parser(sub) -> None:
    p = sub.add_parser("check", help="check your notebook before handing it in: its visible tests, "
                                     "run as the grader runs them")
    p.add_argument("notebook", type=Path)
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell (default: 600)")
    p.add_argument("--total-timeout", type=int, default=3600,
                   help="seconds for the whole notebook (default: 3600)")
    p.add_argument("--fast", action="store_true", help="fast mode (CNNCOURSE_FAST=1)")
    p.set_defaults(func=_check)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cnncourse", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("env", help="environment report").set_defaults(func=_env)

    _add_doctor_parser(sub)

    p = sub.add_parser("course", help="execute every notebook and lab, write HTML pages")
    p.add_argument("names", nargs="*",
                   help="only notebooks whose file name matches one of these patterns")
    p.add_argument("--out", default="build/course", help="output folder (default: build/course)")
    p.add_argument("--fast", action="store_true",
                   help="fast mode (CNNCOURSE_FAST=1): small data, few epochs")
    p.set_defaults(func=_course)

    p = sub.add_parser("refresh", help="re-execute notebooks and store only their "
                                       "NBVAL_CHECK_OUTPUT outputs")
    p.add_argument("notebooks", nargs="+", type=Path)
    p.add_argument("--full", action="store_true", help="execute in full mode instead of fast mode")
    p.set_defaults(func=_refresh)

    _add_lab_parser(sub)

    _add_assign_parser(sub)

    _add_grade_parser(sub)

    _add_check_parser(sub)

    p = sub.add_parser("student-edition",
                       help="write the student edition: student notebooks, package, data")
    p.add_argument("--out", type=Path, default=Path("build/student-edition"),
                   help="an empty or new folder, or an earlier edition to replace "
                        "(default: build/student-edition)")
    p.set_defaults(func=_student_edition)

    p = sub.add_parser("set-repo", help="point Colab links and set-up cells at another repository")
    p.add_argument("url")
    p.add_argument("--student-branch", default=None,
                   help="branch with the student edition "
                        f"(default: keep {config.STUDENT_BRANCH!r})")
    p.set_defaults(func=_set_repo)
    return parser


# Commands that never import TensorFlow in this process (their kernels and workers start it).
WITHOUT_TENSORFLOW = {"course", "refresh", "set-repo", "assign", "grade", "check",
                      "student-edition"}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command not in WITHOUT_TENSORFLOW:
        from cnncourse import env

        env.import_tensorflow_quietly()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
