"""Kernels people read display matplotlib figures: the one `make jupyter` starts and the course
runner's.

ipykernel installs its inline backend only when ``MPLBACKEND`` is unset; a headless backend in the
environment (a Makefile exporting ``MPLBACKEND=Agg``, say) silently turns every figure into the
text ``<Figure size ...>``. These tests start kernels the way people get them and look at what
``plt.show()`` sends back.
"""

import os
import shutil
import stat
import subprocess
import sys
import textwrap

import pytest

from cnncourse import config, course

DRAW = "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()"


def displayed_mimetypes(env: dict[str, str]) -> list[str]:
    """Start a python3 kernel with ``env``, run :data:`DRAW`, return the mimetypes it displayed."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        shown = []

        def collect(msg):
            if msg["msg_type"] in ("display_data", "execute_result"):
                shown.extend(msg["content"]["data"])

        reply = kc.execute_interactive(DRAW, output_hook=collect, timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
        return shown
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


# Stands in for `jupyter` in the venv `make jupyter` would use: reports what a kernel started with
# the exact environment make gives `jupyter lab` displays.
FAKE_JUPYTER = textwrap.dedent("""\
    #!{python}
    import json, os, sys
    sys.path.insert(0, {tests!r})
    from test_figures_display import displayed_mimetypes
    print(json.dumps({{"argv": sys.argv[1:], "MPLBACKEND": os.environ.get("MPLBACKEND"),
                      "shown": displayed_mimetypes(dict(os.environ))}}))
""")


@pytest.mark.skipif(shutil.which("make") is None,
                    reason="needs make (the command the README gives)")
def test_make_jupyter_kernel_displays_figures(tmp_path):
    import json

    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    jupyter = venv / "bin" / "jupyter"
    jupyter.write_text(FAKE_JUPYTER.format(python=sys.executable, tests=os.path.dirname(__file__)))
    jupyter.chmod(jupyter.stat().st_mode | stat.S_IXUSR)
    stamp = venv / ".installed"
    stamp.touch()
    # make's own environment: ours minus anything a test set-up may have added for itself.
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "MAKEFLAGS", "MAKELEVEL")}
    command = ["make", "-s", "-C", str(config.REPO_ROOT), f"VENV={venv}", "-o", str(stamp),
               "jupyter"]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["argv"][0] == "lab", report
    assert "image/png" in report["shown"], (
        f"a kernel started by `make jupyter` (MPLBACKEND={report['MPLBACKEND']!r}) displayed "
        f"{report['shown']} for plt.show(), not an image/png")


def test_course_runner_kernel_displays_figures(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # as a test set-up or an instructor's shell may have it
    env = course.kernel_environment()
    assert "MPLBACKEND" not in env
    assert "image/png" in displayed_mimetypes(env)
