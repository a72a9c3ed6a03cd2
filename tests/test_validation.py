"""The one rule of cnncourse.validation: TypeError for a wrong type, ValueError for a wrong value,
messages that name the argument, what was expected and what was given."""

import numpy as np
import pytest

from cnncourse import validation as check


@pytest.mark.parametrize("value", [2.0, "3", None, True, [1]])
def test_integer_wrong_type_is_type_error(value):
    with pytest.raises(TypeError, match=r"^units must be an int, got "):
        check.integer("units", value)


def test_integer_checks_value_and_accepts_numpy_ints():
    with pytest.raises(ValueError, match=r"^units must be at least 1, got 0$"):
        check.integer("units", 0)
    with pytest.raises(ValueError, match=r"at least 0, got -1"):
        check.integer("n", -1, minimum=0)
    assert check.integer("units", np.int64(3)) == 3 and type(check.integer("u", np.int64(3))) is int
    assert check.integer("limit", None, allow_none=True) is None
    with pytest.raises(TypeError, match="an int or None"):
        check.integer("limit", 1.5, allow_none=True)


@pytest.mark.parametrize("value,ok", [(0, True), (0.5, True), (1, False), (-0.1, False),
                                      (float("nan"), False)])
def test_dropout_interval_is_half_open(value, ok):
    if ok:
        assert check.dropout("dropout", value) == value
    else:
        with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got"):
            check.dropout("dropout", value)


def test_number_bounds_and_types():
    assert check.number("alpha", 1, 0, 1) == 1.0
    with pytest.raises(ValueError, match=r"reduction must be in \(0, 1\], got 0"):
        check.number("reduction", 0, 0, 1, "(]")
    with pytest.raises(ValueError, match=r"alpha must be in \(0, inf\), got -2"):
        check.number("alpha", -2, 0, None, "()")
    with pytest.raises(TypeError, match="alpha must be a number, got str"):
        check.number("alpha", "0.5", 0, 1)


def test_one_of_and_shapes():
    assert check.one_of("mode", "tf", ("tf", "torch")) == "tf"
    with pytest.raises(ValueError, match=r"mode must be one of \('tf', 'torch'\), got 'caffe'"):
        check.one_of("mode", "caffe", ("tf", "torch"))
    with pytest.raises(ValueError, match="one of"):
        check.one_of("mode", ["tf"], {"tf"})  # unhashable: still a ValueError, not a crash
    assert check.image_shape("input_shape", [28, 28, 1]) == (28, 28, 1)
    with pytest.raises(ValueError, match=r"3 entries, e.g. \(28, 28, 1\), got \(28, 28\)"):
        check.image_shape("input_shape", (28, 28))
    with pytest.raises(ValueError, match="positive ints"):
        check.shape("filters", (32, 0))
    with pytest.raises(TypeError, match="tuple of ints"):
        check.shape("filters", (32, 1.5))
    with pytest.raises(TypeError, match="tuple of ints"):
        check.shape("input_shape", 28)


def test_numeric_array_and_model():
    assert check.numeric_array("x", [[1, 2]]).shape == (1, 2)
    with pytest.raises(TypeError, match="x must hold numbers, got an array of dtype <U1"):
        check.numeric_array("x", [["a"]])
    shapes = {2: "(H, W)", 3: "(H, W, C)"}
    assert check.numeric_array("x", np.ones((2, 3, 1)), shapes).shape == (2, 3, 1)
    with pytest.raises(ValueError, match=r"x must have shape \(H, W\) or \(H, W, C\), "
                                         r"got shape \(4,\)"):
        check.numeric_array("x", [1, 2, 3, 4], shapes)
    with pytest.raises(ValueError, match=r"x must not be empty, got shape \(0, 3\)"):
        check.numeric_array("x", np.ones((0, 3)), shapes)
    with pytest.raises(ValueError, match=r"k must have shape \(a\), \(a, b\) or \(a, b, c\)"):
        check.numeric_array("k", 5, {1: "(a)", 2: "(a, b)", 3: "(a, b, c)"})
    with pytest.raises(TypeError, match="model must be a keras.Model, got list"):
        check.keras_model("model", [])
