"""``python -m cnncourse``: the course's capabilities from a terminal.

    python -m cnncourse env                      environment report
    python -m cnncourse course [--fast] [NAME…]  execute the notebooks, HTML in build/course/
    python -m cnncourse lab pneumonia [--demo …] the chest X-ray lab as a batch job
    python -m cnncourse assign [--out DIR]       student versions of the notebooks
    python -m cnncourse grade SUBMISSIONS…       grade submitted notebooks
    python -m cnncourse refresh NOTEBOOK…        re-record the outputs nbval checks, strip the rest
    python -m cnncourse set-repo URL             point Colab links and set-up cells at a fork
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnncourse import config


def _env(args) -> int:
    from cnncourse import env

    env.report()
    return 0


def _course(args) -> int:
    from cnncourse import course

    return course.run_course(only=args.names or None, out=args.out, fast=True if args.fast else None)


def _refresh(args) -> int:
    from cnncourse import course

    for path in args.notebooks:
        result = course.refresh_notebook(path, fast=not args.full)
        print(f"{path}: executed in {result.seconds:.0f} s, checked outputs recorded")
    return 0


def _lab(args) -> int:
    from cnncourse import pneumonia

    return pneumonia.lab_command(args)


def _assign(args) -> int:
    from cnncourse import grading

    return grading.assign_command(args)


def _grade(args) -> int:
    from cnncourse import grading

    return grading.grade_command(args)


def _set_repo(args) -> int:
    """Replace the repository URL everywhere it is written (config, pyproject, README, notebooks)."""
    if config.REPO_ROOT is None:
        print("set-repo edits the repository checkout; run it from a clone installed with pip install -e .")
        return 2
    new = args.url.rstrip("/")
    if not new.startswith("https://github.com/"):
        print(f"expected a GitHub URL like https://github.com/ORG/REPO, got {args.url!r}")
        return 2
    root = config.REPO_ROOT
    files = [root / "cnncourse" / "config.py", root / "pyproject.toml", root / "README.md",
             *sorted(root.glob("notebooks/*.ipynb")), *sorted(root.glob("labs/*.ipynb"))]
    old_path, new_path = config.REPO_URL.removeprefix("https://github.com/"), new.removeprefix("https://github.com/")
    changed = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        updated = text.replace(config.REPO_URL, new).replace(f"github/{old_path}/", f"github/{new_path}/")
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            changed += 1
    print(f"Repository URL set to {new} in {changed} files.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cnncourse", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("env", help="environment report").set_defaults(func=_env)

    p = sub.add_parser("course", help="execute every notebook and lab, write HTML pages")
    p.add_argument("names", nargs="*", help="only notebooks whose file name matches one of these patterns")
    p.add_argument("--out", default="build/course", help="output folder (default: build/course)")
    p.add_argument("--fast", action="store_true", help="fast mode (CNNCOURSE_FAST=1): small data, few epochs")
    p.set_defaults(func=_course)

    p = sub.add_parser("refresh", help="re-execute notebooks and store only their NBVAL_CHECK_OUTPUT outputs")
    p.add_argument("notebooks", nargs="+", type=Path)
    p.add_argument("--full", action="store_true", help="execute in full mode instead of fast mode")
    p.set_defaults(func=_refresh)

    p = sub.add_parser("lab", help="run a lab as a batch job")
    p.add_argument("lab", choices=["pneumonia"])
    p.add_argument("--backbone", default="mobilenetv2",
                   choices=["baseline", "mobilenetv2", "efficientnetb0", "resnet50", "densenet121", "vgg16",
                            "resnet50v2", "inceptionv3", "efficientnetv2b0", "convnexttiny"],
                   help="pretrained backbone, or 'baseline' (small CNN from scratch); default mobilenetv2")
    p.add_argument("--image-size", type=int, default=None, help="pixels per side (default 224; 96 in fast mode)")
    p.add_argument("--epochs", type=int, default=None, help="head-training epochs (default 6; 1 in fast mode)")
    p.add_argument("--fine-tune-epochs", type=int, default=None, help="fine-tuning epochs (default 10; 1 in fast mode)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder with train/ val/ test/ (default: download from Kaggle into the cache)")
    p.add_argument("--out", type=Path, default=None,
                   help="run folder (default runs/pneumonia-DATE-TIME); the same folder resumes a run")
    p.add_argument("--demo", action="store_true",
                   help="use synthetic demo X-rays when the real data or Kaggle credentials are missing")
    p.set_defaults(func=_lab)

    p = sub.add_parser("assign", help="write student versions of the notebooks")
    p.add_argument("notebooks", nargs="*", type=Path, help="only these course notebooks (default: all)")
    p.add_argument("--out", type=Path, default=Path("build/student"),
                   help="student notebooks, same relative paths (default: build/student)")
    p.add_argument("--instructor-out", type=Path, default=None,
                   help="folder for the instructor's test bundle hidden_tests.json "
                        "(default: 'instructor' next to --out, e.g. build/instructor)")
    p.set_defaults(func=_assign)

    p = sub.add_parser("grade", help="grade submitted notebooks")
    p.add_argument("submissions", nargs="+", type=Path, help="submitted .ipynb files (folders: every .ipynb inside)")
    p.add_argument("--out", type=Path, default=Path("grades.csv"), help="the grades table (default: grades.csv)")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell (default: 600)")
    p.add_argument("--total-timeout", type=int, default=3600,
                   help="seconds per submission, all cells together (default: 3600)")
    p.add_argument("-j", "--jobs", type=int, default=1, help="submissions graded in parallel")
    p.add_argument("--feedback", type=Path, default=None,
                   help="folder for one feedback file per submission (default: feedback/ next to --out)")
    p.add_argument("--tests", type=Path, default=None,
                   help="instructor tests: a hidden_tests.json bundle from `assign` or a folder of "
                        "instructor notebooks (default: this checkout's notebooks)")
    p.add_argument("--fast", action="store_true", help="execute submissions in fast mode (CNNCOURSE_FAST=1)")
    p.add_argument("--isolate-cache", action="store_true",
                   help="give each submission its own empty CNNCOURSE_CACHE_DIR (default: the shared cache)")
    p.add_argument("--keep-executed", type=Path, default=None, metavar="DIR",
                   help="also save the executed notebooks here (instructor only: they contain the hidden tests)")
    p.set_defaults(func=_grade)

    p = sub.add_parser("set-repo", help="point Colab links and set-up cells at another repository")
    p.add_argument("url")
    p.set_defaults(func=_set_repo)
    return parser


# Commands that never import TensorFlow in this process (their kernels and workers start it).
WITHOUT_TENSORFLOW = {"course", "refresh", "set-repo"}


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
