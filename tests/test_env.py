"""Environment report on this machine; Kaggle credentials reported without the secret."""

import json
import os
import subprocess
import sys

import keras
import tensorflow as tf

from cnncourse import config, credentials, env

SECRET = "0123456789abcdef0123456789abcdef"


def test_report_on_this_machine(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    facts = env.report()
    assert facts["TensorFlow"] == tf.__version__ and facts["Keras"] == keras.__version__
    assert facts["Keras backend"] == "tensorflow"
    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    assert (facts["Accelerators"] == "CPU only") is not has_gpu
    assert "shipped sample" in facts["Data offline"]
    assert facts["Kaggle credentials"].startswith("no")
    printed = capsys.readouterr().out
    assert "Python" in printed and tf.__version__ in printed


def test_credentials_from_environment_never_show_the_key(monkeypatch, tmp_path):
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("KAGGLE_USERNAME", "student")
    monkeypatch.setenv("KAGGLE_KEY", SECRET)
    facts = env.report(show=False)
    kaggle = facts["Kaggle credentials"]
    assert kaggle.startswith("yes") and "KAGGLE_KEY" in kaggle
    assert SECRET not in str(facts)


def test_kaggle_json_readable_by_others_is_flagged(monkeypatch, tmp_path):
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))
    token = tmp_path / "kaggle.json"
    token.write_text(json.dumps({"username": "student", "key": SECRET}))
    token.chmod(0o644)
    found = credentials.find_kaggle_credentials()
    assert found.kind == "file" and "chmod 600" in found.warning
    token.chmod(0o600)
    assert credentials.find_kaggle_credentials().warning is None
    assert SECRET not in str(found)


def test_cli_env_runs_and_leaks_nothing(tmp_path):
    # A plain shell: no TF_CPP_MIN_LOG_LEVEL, oneDNN left on.
    run = subprocess.run(
        [sys.executable, "-m", "cnncourse", "env"], capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KAGGLE_USERNAME": "s",
             "KAGGLE_KEY": SECRET},
    )
    assert run.returncode == 0, run.stderr
    assert "Keras backend" in run.stdout and "yes, from environment" in run.stdout
    assert SECRET not in run.stdout + run.stderr
    for startup_line in ("oneDNN", "absl", "cpu_feature_guard"):
        assert startup_line not in run.stdout + run.stderr, run.stderr


def test_quiet_tensorflow_import_passes_other_lines_on(tmp_path):
    code = ("import os; os.write(2, b'a real error\\n')\n"
            "os.write(2, b'I0000 port.cc:153] oneDNN custom operations are on. "
            "You may see...\\n')\n")
    (tmp_path / "tensorflow.py").write_text(code)
    quiet = "from cnncourse import env; env.import_tensorflow_quietly()"
    path = os.pathsep.join([str(tmp_path), *sys.path])
    run = subprocess.run([sys.executable, "-c", quiet], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": path})
    assert run.returncode == 0, run.stderr
    assert run.stderr == "a real error\n"


def test_a_version_below_the_tested_floor_gets_one_line_saying_what_it_breaks(monkeypatch):
    old = {"keras": "3.5.0", "numpy": "1.26.4", "tensorflow": "2.16.2", "plotly": None}
    monkeypatch.setattr(env, "installed_version", lambda package: old.get(package, "99.0"))
    problems = env.below_floor()
    # numpy 1.26.4 is the floor itself; plotly missing
    assert set(problems) == {"keras", "tensorflow"}
    assert problems["keras"].startswith("3.5.0 is below the tested floor 3.8:")
    facts = env.report(show=False)
    assert facts["keras too old"] == problems["keras"] and "numpy too old" not in facts


def test_tested_floor_is_what_requirements_pyproject_and_the_floor_constraints_say():
    """One floor: constraints/floor.txt pins exactly env.TESTED_FLOOR, and requirements.txt and
    pyproject.toml ask for at least it (TensorFlow through the Makefile and the extras)."""
    root = config.REPO_ROOT
    floor_txt = (root / "constraints" / "floor.txt").read_text()
    pins = dict(line.split("==") for line in floor_txt.split() if "==" in line)
    pins["tensorflow"] = pins.pop("tensorflow-cpu")
    requirements = (root / "requirements.txt").read_text()
    pyproject = (root / "pyproject.toml").read_text()
    for package, (floor, _) in env.TESTED_FLOOR.items():
        assert config.version_tuple(pins[package])[:2] == config.version_tuple(floor), package
        if package == "tensorflow":
            assert f"tensorflow-cpu>={floor}" in pyproject
            assert f"tensorflow-cpu>={floor}" in (root / "Makefile").read_text()
        else:
            assert f"\n{package}>={floor}" in requirements, package
            assert f'"{package}>={floor}' in pyproject, package
