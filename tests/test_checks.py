"""Self-checks: correct functions pass, wrong ones fail on a named case, and no check gives away
a solution.

"Correct" functions here are independent references: cnncourse.conv (tested against TensorFlow
in test_conv.py), SciPy and Keras's own parameter counts; the checks' expected values are the
lecture's numbers.
"""

import inspect

import numpy as np
import pytest
from scipy.signal import convolve2d, correlate2d

from cnncourse import checks, conv


def scipy_conv2d(x, kernel):
    return correlate2d(np.asarray(x), np.asarray(kernel), mode="valid")


def keras_conv_params(kernel_size, in_channels, filters):
    import keras

    layer = keras.layers.Conv2D(filters, (kernel_size, kernel_size))
    layer.build((None, 32, 32, in_channels))
    return layer.count_params()


def final_field(layers):
    return tuple(conv.receptive_field(layers)[-1])


@pytest.mark.parametrize("check, fn", [
    (checks.check_conv2d, conv.conv2d),
    (checks.check_conv2d, conv.conv2d_naive),
    (checks.check_conv2d, scipy_conv2d),
    (checks.check_output_size, conv.output_size),
    (checks.check_conv_params, keras_conv_params),
    (checks.check_receptive_field, final_field),
])
def test_correct_functions_pass_and_say_so(check, fn, capsys):
    assert check(fn) is True
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{check.__name__}: all ") and f"pass {checks.PASS_MARK}" in line, line


def test_the_stride_case_runs_when_the_function_takes_a_stride(capsys):
    checks.check_conv2d(scipy_conv2d)
    assert "all 4 cases pass" in capsys.readouterr().out
    def proxy(*args, **kwargs):  # what the grader's clean room calls: no signature to read
        return conv.conv2d(*args, **kwargs)

    checks.check_conv2d(proxy)
    assert "all 5 cases pass" in capsys.readouterr().out


@pytest.mark.parametrize("check, wrong, case", [
    # convolution flips the kernel: the same as cross-correlation for the symmetric filters 1 and 2
    (checks.check_conv2d, lambda x, k: convolve2d(x, k, mode="valid"),
     "case 3 of 4: lecture 5x5 image"),
    (checks.check_conv2d, lambda x, k: scipy_conv2d(x, np.asarray(k).T),
     "case 2 of 4: lecture 6x6 image, filter 2"),
    (checks.check_conv2d, lambda x, k, stride=1: scipy_conv2d(x, k), "filter 1, stride 2"),
    (checks.check_output_size, lambda n, f, s, p: (n + p - f) // s + 1, "padding 1 keeps the size"),
    (checks.check_output_size, lambda n, f, s, p: (n + 2 * p - f) // s + 1, "does not fit"),
    (checks.check_conv_params, lambda k, c, f: k * k * c * f, "9 + 1"),
    (checks.check_receptive_field, lambda layers: (sum(k for k, s in layers), 1),
     "kernel 3, stride 2, twice"),
    (checks.check_receptive_field, lambda layers: (conv.receptive_field(layers)[-1].size, 1),
     "expected: (7, 4)"),
])
def test_wrong_functions_fail_on_a_named_case_with_expected_and_got(check, wrong, case):
    with pytest.raises(checks.CheckFailed) as info:
        check(wrong)
    message = str(info.value)
    assert case in message and "expected:" in message and "got:" in message, message
    assert isinstance(info.value, AssertionError), "a failing check fails the cell, and CI"


def test_the_exercises_of_notebooks_01_and_02_pass_with_their_signatures(capsys):
    """my_conv2d(image, kernel, stride=1), conv_params(kernel_size, in_channels, filters),
    my_output_size(n, f, stride=1, padding=0), my_receptive_field(layers) -> (size, jump)."""
    checks.check_conv2d(lambda image, kernel, stride=1: conv.conv2d(image, kernel, stride=stride))
    assert "all 5 cases pass" in capsys.readouterr().out
    checks.check_output_size(lambda n, f, stride=1, padding=0:
                             conv.output_size(n, f, stride, padding))
    assert "all 10 cases pass" in capsys.readouterr().out


def test_a_function_that_raises_or_returns_nothing_is_explained():
    def broken(x, kernel):
        return x[10, 10]

    with pytest.raises(checks.CheckFailed, match="your function raised IndexError") as info:
        checks.check_conv2d(broken)
    assert isinstance(info.value.__cause__, IndexError), "the student's traceback stays available"
    with pytest.raises(checks.CheckFailed, match="returned None: did it forget `return`"):
        checks.check_conv_params(lambda k, c, f: None)
    with pytest.raises(checks.CheckFailed, match=r"expected: ValueError raised"):
        checks.check_output_size(lambda n, f, s, p: (n + 2 * p - f) / s + 1)
    with pytest.raises(checks.CheckFailed, match=r"shape \(\) where \(2,\) was expected"):
        checks.check_receptive_field(lambda layers: final_field(layers)[0])  # the size alone


def test_failure_messages_never_show_how_the_answer_is_computed():
    code_lines = {line.strip() for line in inspect.getsource(checks.check_conv2d).splitlines()
                  if len(line.strip()) > 12}
    for wrong in (lambda x, k: np.zeros((4, 4)), lambda x, k: 1 / 0):
        with pytest.raises(checks.CheckFailed) as info:
            checks.check_conv2d(wrong)
        message = str(info.value)
        assert not [line for line in code_lines if line in message]
        assert "correlate" not in message and "def " not in message


def test_generic_helpers(capsys):
    image = [[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]]
    assert checks.check_close("5x5 example", scipy_conv2d(image, [[0, 1, 2], [2, 2, 0], [0, 1, 2]]),
                              [[12, 12, 17], [10, 17, 19], [9, 6, 14]])  # as the lecture prints it
    assert checks.check_close("accuracy", np.float32(0.98), 0.98, atol=1e-6)
    assert checks.check_shape("logits", np.zeros((32, 10)), (None, 10))
    assert "accuracy: ok" in capsys.readouterr().out
    with pytest.raises(checks.CheckFailed, match=r"shape \(3,\) where \(2,\) was expected"):
        checks.check_close("vector", [1, 2, 3], [1, 2])
    with pytest.raises(checks.CheckFailed,
                       match="1 of 3 values differ; first at index \\[1\\]: expected 2, got 5"):
        checks.check_close("vector", [1, 5, 3], [1, 2, 3])
    with pytest.raises(checks.CheckFailed, match="expected a number, got str"):
        checks.check_close("n", "7", 7)
    with pytest.raises(checks.CheckFailed, match=r"expected shape \(None, 10\), got \(32, 9\)"):
        checks.check_shape("logits", np.zeros((32, 9)), (None, 10))
    assert checks.check_cases(lambda a, b: a * b, [((2, 3), 6), ((4, 5), 20)], name="product")
    with pytest.raises(checks.CheckFailed, match="product failed on case 2 of 2"):
        checks.check_cases(lambda a, b: a + b, [((2, 2), 4), ((4, 5), 20)], name="product")
    with pytest.raises(TypeError, match="each case must be an"):
        checks.check_cases(abs, [1, 2])
    with pytest.raises(TypeError, match="expects your function"):
        checks.check_conv2d(np.zeros(3))


def test_check_layers_compares_type_shape_and_parameters(capsys):
    import keras

    def net(*middle, tail=()):
        return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, (3, 3)), *middle,
                                 keras.layers.Flatten(), keras.layers.Dense(2), *tail])

    pool = keras.layers.MaxPooling2D
    reference = net(pool(2))  # its counts, by hand: 3*3*4 + 4 = 40 and 3*3*4*2 + 2 = 74
    assert [row[2] for row in checks._layer_rows(reference)] == [40, 0, 0, 74]
    assert checks.check_layers("net", net(pool(2, name="other_name")), reference)
    assert "net: all 4 layers match" in capsys.readouterr().out
    with pytest.raises(checks.CheckFailed, match=r"layer 2 differs\nexpected: MaxPooling2D"):
        checks.check_layers("net", net(keras.layers.AveragePooling2D(2)), reference)
    with pytest.raises(checks.CheckFailed,
                       match=r"expected: MaxPooling2D with output shape \(3, 3, 4\)"):
        checks.check_layers("net", net(pool(2, strides=1)), reference)
    with pytest.raises(checks.CheckFailed, match="expected 4 layers .*, got 5"):
        checks.check_layers("net", net(pool(2), tail=[keras.layers.Softmax()]), reference)
