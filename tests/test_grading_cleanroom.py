"""The clean room: values leave the student's kernel as plain data; the tests run elsewhere.

The codec and the clean room's checks are tested directly (no kernel); the whole path is tested
on notebook 00 with submissions that try to fake their points by tampering with the kernel
(about 1-2 minutes: five submissions two at a time, and one reference run for the submission that
added a cell of its own before the exercises).
"""

import hashlib
import pickle

import nbformat
import numpy as np
import pytest

from cnncourse import config
from cnncourse.grading import (
    GradeSettings,
    cleanroom,
    feedback_text,
    grade_submissions,
    load_course,
    make_student_version,
    plain,
)
from cnncourse.grading.exercises import find_exercises


class Anything:
    """Equal to, smaller and greater than anything: it passes any comparison in the student's
    kernel."""

    shape, dtype = (3,), np.float32

    def __eq__(self, other):
        return True

    __lt__ = __gt__ = __le__ = __ge__ = __eq__
    __hash__ = object.__hash__


class LyingFloat(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


class LyingArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)


def roundtrip(tmp_path, values, make_function=None):
    functions = []
    manifest = plain.write(tmp_path, values,
                           on_function=lambda f: functions.append(f) or str(len(functions)))
    plain.save_manifest(tmp_path, manifest)
    reader = plain.Reader(tmp_path, make_function=make_function)
    out = {}
    for name, node in plain.read_manifest(tmp_path)["values"].items():
        try:
            out[name] = reader.decode(node)
        except Exception as exc:  # NotPlainData, or what NumPy / Keras raise on a refused file
            out[name] = exc
    return out, functions


def test_plain_values_arrive_as_the_same_plain_values(tmp_path):
    values = {"i": 2**70, "f": 0.1, "nan": float("nan"), "b": True, "s": "é", "by": b"\x00\x01",
              "none": None, "c": 1 + 2j, "t": (1, [2.5, "x"], {3: "y", (4, 5): None}),
              "set": {1, 2}, "fs": frozenset({"a"}), "scalar": np.float64(0.25), "i32": np.int32(7),
              "a": np.arange(6, dtype=np.float32).reshape(2, 3), "strings": np.array(["a", "bc"])}
    out, _ = roundtrip(tmp_path, values)
    for name, value in values.items():
        if isinstance(value, np.ndarray):
            assert type(out[name]) is np.ndarray and out[name].dtype == value.dtype
            np.testing.assert_array_equal(out[name], value)
        elif name == "nan":
            assert out[name] != out[name]
        else:
            assert out[name] == value and type(out[name]) is type(value), name
    assert type(out["t"][1]) is list and type(out["t"][2]) is dict


def test_lying_objects_are_refused_or_arrive_as_their_plain_value(tmp_path):
    lying = np.zeros(3).view(LyingArray)
    assert (lying == 5).all()  # in the student's kernel it equals anything
    out, _ = roundtrip(tmp_path, {"anything": Anything(), "float": LyingFloat(0.5), "array": lying,
                                  "objects": np.array([Anything()], dtype=object), "type": int})
    assert isinstance(out["anything"], plain.NotPlainData)
    assert "Anything, which is not plain data" in str(out["anything"])
    assert type(out["float"]) is float and out["float"] == 0.5 and out["float"] != 0.7
    assert type(out["array"]) is np.ndarray and not (out["array"] == 5).any()
    assert "dtype=object" in str(out["objects"])
    assert "type, which is not plain data" in str(out["type"])


def test_functions_become_proxies_and_models_load_in_safe_mode(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
    out, functions = roundtrip(tmp_path, {"f": len, "m": model},
                               make_function=lambda key: f"proxy {key}")
    assert functions == [len] and out["f"] == "proxy 1"
    assert isinstance(out["m"], keras.Model) and out["m"].get_layer("d").count_params() == 10
    lam = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2)])
    out, _ = roundtrip(tmp_path / "lambda", {"m": lam})
    # code in a model is not run
    assert isinstance(out["m"], ValueError) and "safe_mode" in str(out["m"])


@pytest.mark.parametrize("node, message", [
    ({"t": "ndarray", "file": "../../etc/passwd"}, "not one the grader writes"),
    ({"t": "ndarray", "file": "v1.npy"}, None),  # a pickled array: refused by numpy
    ({"t": "float", "v": 0.5}, "malformed float"),
    ({"t": "int", "v": "1" * 6000}, "malformed int"),
    ({"t": "eval", "v": "1"}, "unknown kind"),
    ({"t": "refused", "why": "a Duck, which is not plain data"}, "a Duck"),
])
def test_the_clean_room_trusts_nothing_in_the_folder(tmp_path, node, message):
    np.save(tmp_path / "v1.npy", np.array([Anything()], dtype=object), allow_pickle=True)
    with pytest.raises((plain.NotPlainData, ValueError)) as info:
        plain.Reader(tmp_path).decode(node)
    if message:
        assert message in str(info.value)


def test_a_reference_context_changed_on_disk_is_not_loaded(tmp_path):
    path = tmp_path / "ex.pickle"
    data = pickle.dumps({"y_train": [1, 2]})
    path.write_bytes(data)
    namespace = {}
    spec = {"context": str(path), "sha256": hashlib.sha256(data).hexdigest(),
            "values": str(tmp_path / "none"), "names": [], "channel": "", "calls": str(tmp_path),
            "call_limit": 1}
    with pytest.raises(cleanroom.NotJudged, match="no values arrived"):
        cleanroom.judge(namespace, spec)
    assert namespace == {"y_train": [1, 2]}
    path.write_bytes(pickle.dumps({"y_train": [7]}))
    with pytest.raises(cleanroom.NotJudged, match="changed on disk"):
        cleanroom.judge({}, spec)


def test_writes_outside_the_allowed_folders_are_named(tmp_path, monkeypatch):
    monkeypatch.setattr(cleanroom._state, "allowed", (str(tmp_path / "mine"),))
    monkeypatch.setattr(cleanroom._state, "writes", [])
    cleanroom._audit("open", (str(tmp_path / "mine" / "ok.txt"), "w", 0))
    cleanroom._audit("open", (str(tmp_path / "elsewhere.txt"), "r", 0))
    cleanroom._audit("open", (str(tmp_path / "elsewhere.txt"), "a", 0))
    cleanroom._audit("os.remove", (str(tmp_path / "gone"),))
    assert cleanroom._state.writes == [f"open {tmp_path / 'elsewhere.txt'}",
                                       f"os.remove {tmp_path / 'gone'}"]


def test_values_and_context_of_the_course_exercises():
    nb = nbformat.read(config.REPO_ROOT / "labs" / "lab3_pneumonia.ipynb", as_version=4)
    exercises = {e.id: e for e in find_exercises(nb, "lab3_pneumonia")}
    assert exercises["lab3-1"].values == ["model"]
    assert "start_fine_tuning" in exercises["lab3-2"].values
    assert "FINE_TUNE_LAYERS" in exercises["lab3-2"].context
    # p_val and y_val are bound outside the solution block too
    assert exercises["lab3-5"].values == ["my_threshold", "p_val", "y_val"]
    assert "_val" not in exercises["lab3-5"].context  # the test's own names are not context


# ----------------------------------------------------------------------------- notebook 00 graded

SOLVED_1 = "share_sevens = float(np.mean(y_train == 7))"
SOLVED_2 = 'x_test_scaled = x_test.astype("float32") / 255'
DUCK = """class Duck:
    shape, dtype = x_test.shape, np.float32
    def min(self):
        return 0.0
    def max(self):
        return 1.0
    def __mul__(self, other):
        return x_test
x_test_scaled = Duck()"""
SUBMISSIONS = {  # name: (ex00-1 cell, ex00-2 cell, expected points)
    "cheat": ("import builtins\nbuiltins.abs = lambda x: 0\nshare_sevens = 0.1", DUCK, (0, 0)),
    "always_equal": (
        "class Yes:\n    __eq__ = __lt__ = __gt__ = lambda self, other: True\nshare_sevens = Yes()",
        "class Eq(np.ndarray):\n    __eq__ = lambda self, other: True\n"
        'x_test_scaled = (x_test > 127).astype("float32").view(Eq)', (0, 0)),
    "hooks": (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.showtraceback = lambda *args, **kwargs: None\n" + SOLVED_1,
        "np.testing.assert_allclose = lambda *args, **kwargs: None\n"
        'x_test_scaled = (x_test > 127).astype("float32")', (1, 0)),
}


@pytest.mark.slow
def test_notebook_00_cannot_be_faked(tmp_path, monkeypatch):
    """Instructor 2/2, unfilled 0/2, and tampering submissions score only what they really
    solved."""
    path = config.REPO_ROOT / "notebooks" / "00_setup_and_tools.ipynb"
    student = make_student_version(nbformat.read(path, as_version=4), path.stem)
    paths = [path, tmp_path / "unfilled.ipynb"]
    nbformat.write(student, paths[-1])
    for name, (first, second, _) in SUBMISSIONS.items():
        nb = nbformat.reads(nbformat.writes(student), as_version=4)
        for cell in nb.cells:
            if cell.source.startswith("# Exercise ex00-1"):
                cell.source = "# Exercise ex00-1\n" + first
            elif cell.source.startswith("# Exercise ex00-2"):
                cell.source = "# Exercise ex00-2\n" + second
        # a cell of its own before the exercises: judged on the reference run's context
        if name == "hooks":
            nb.cells.insert(3, nbformat.v4.new_code_cell("print('a cell of my own')"))
        paths.append(tmp_path / f"{name}.ipynb")
        nbformat.write(nb, paths[-1])
    monkeypatch.setenv("CNNCOURSE_FAST", "1")
    grades = grade_submissions(paths, load_course(path),
                               GradeSettings(cell_timeout=300, total_timeout=600),
                               jobs=2, progress=False)
    points = {p.stem: tuple(e.points for e in g.exercises)
              for p, g in zip(paths, grades, strict=True)}
    expected = {name: points for name, (_, _, points) in SUBMISSIONS.items()}
    assert points == {"00_setup_and_tools": (1, 1), "unfilled": (0, 0), **expected}, [
        g.notes for g in grades]
    instructor, unfilled, cheat, always_equal, hooks = grades
    assert all(e.reason == "passed" for e in instructor.exercises)
    assert not any("tampering" in n for n in instructor.notes + unfilled.notes), instructor.notes
    assert all("NotImplementedError" in e.exercise_cell_error for e in unfilled.exercises)
    notes = "; ".join(cheat.notes)
    assert "tampering" in notes and "builtins.abs" in notes
    assert "`x_test_scaled` is a __main__.Duck, which is not plain data" in feedback_text(cheat)
    assert "a hidden test failed (AssertionError)" in cheat.exercises[0].reason
    assert ("`share_sevens` is a __main__.Yes, which is not plain data"
            in always_equal.exercises[0].reason)
    # arrived as the plain 0/1 array it holds
    assert "a hidden test failed" in always_equal.exercises[1].reason
    notes = "; ".join(hooks.notes)
    assert "InteractiveShell.showtraceback" in notes and "numpy.testing.assert_allclose" in notes
