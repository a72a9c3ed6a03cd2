"""Fixtures for the tests of the executed course (`make test-site`): one fast build, shared.

Set ``CNNCOURSE_SITE`` to a folder ``python -m cnncourse course`` wrote (``make test-site`` builds
``build/course-fast`` and passes it); without it the tests build the course in fast mode into a
temporary folder first, which takes minutes.
"""

import os
from pathlib import Path

import pytest

from cnncourse import course


@pytest.fixture(scope="session")
def course_site(tmp_path_factory) -> Path:
    given = os.environ.get("CNNCOURSE_SITE")
    if given:
        site = Path(given)
        if not (site / "index.html").exists():
            pytest.fail(f"CNNCOURSE_SITE={given} has no index.html: build it with "
                        f"`python -m cnncourse course --fast --out {given}`")
        return site
    site = tmp_path_factory.mktemp("course")
    assert course.run_course(out=site, fast=True) == 0, "the fast course build failed"
    return site


@pytest.fixture(scope="session")
def executed_notebooks(course_site):
    import nbformat

    paths = course.course_notebooks()
    missing = [p.name for p in paths if not (course_site / p.name).exists()]
    assert not missing, f"{course_site} lacks executed notebooks {missing}: rebuild it"
    return {p.stem: nbformat.read(course_site / p.name, as_version=4) for p in paths}
