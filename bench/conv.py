"""Benchmark: convolution by hand (cnncourse.conv) against tf.nn.conv2d, printed as ratios.

An MNIST-sized feature map: one 28x28 image with 16 channels, 32 filters of 3x3, "same"
padding, float32. Three implementations compute the same (28, 28, 32) output:

- conv2d_naive  plain Python loops over output rows, columns and filters (written for reading)
- conv2d        im2col: copy every 3x3x16 window into a row of a (784 x 144) matrix, then one
                matrix product with the (144 x 32) kernel
- tf.nn.conv2d  TensorFlow's CPU kernel, called eagerly (what a notebook cell does) and inside
                a tf.function (no Python dispatch per call)

Goal: conv2d within 2x of tf.nn.conv2d on CPU. Usage: python bench/conv.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import platform
import timeit

import numpy as np

from cnncourse import conv, env

GOAL = 2.0  # conv2d may take at most this many times tf.nn.conv2d's time


def best_time(fn, repeat: int, min_seconds: float = 0.2) -> float:
    """Seconds per call: the best of ``repeat`` rounds, each long enough to time reliably."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    number = max(1, int(number * min_seconds / 0.2))
    return min(timer.repeat(repeat=repeat, number=number)) / number


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5,
                        help="timing rounds per method (best is kept)")
    parser.add_argument("--threads", type=int, default=0,
                        help="limit TensorFlow and NumPy's BLAS to this many threads "
                             "(0: their defaults)")
    args = parser.parse_args(argv)

    env.import_tensorflow_quietly()  # no TensorFlow start-up lines before the results
    import tensorflow as tf
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        threadpool_limits(args.threads)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((28, 28, 16)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 16, 32)).astype(np.float32)
    x_tf, kernel_tf = tf.constant(x[None]), tf.constant(kernel)

    def tf_eager():
        return tf.nn.conv2d(x_tf, kernel_tf, strides=1, padding="SAME")

    tf_graph = tf.function(tf_eager)

    def numpy_conv():
        return conv.conv2d(x, kernel, padding="same")

    reference = tf_eager().numpy()[0]
    for name, fn in (("conv2d", conv.conv2d), ("conv2d_naive", conv.conv2d_naive)):
        np.testing.assert_allclose(fn(x, kernel, padding="same"), reference, rtol=1e-4, atol=1e-4,
                                   err_msg=f"{name} disagrees with tf.nn.conv2d")
    np.testing.assert_allclose(tf_graph().numpy()[0], reference, rtol=1e-5, atol=1e-5)

    timings = {
        "tf.nn.conv2d (eager)": best_time(tf_eager, args.repeat),
        "tf.nn.conv2d (tf.function)": best_time(tf_graph, args.repeat),
        "conv2d (im2col + matmul)": best_time(numpy_conv, args.repeat),
    }
    with threadpool_limits(1, user_api="blas"):  # the whole timing, not per call (it costs ms)
        timings["conv2d, BLAS on 1 thread"] = best_time(numpy_conv, args.repeat)
    timings["conv2d_naive (loops)"] = best_time(
        lambda: conv.conv2d_naive(x, kernel, padding="same"),
        max(2, args.repeat // 2), min_seconds=0.05,
    )
    base = timings["tf.nn.conv2d (eager)"]
    threads = f"{args.threads} thread(s)" if args.threads else "default threads"
    print(f"28x28x16 input, 32 filters 3x3, 'same', float32 - {os.cpu_count()} CPUs ({threads}), "
          f"load average {os.getloadavg()[0]:.1f}, NumPy {np.__version__}, TF {tf.__version__}, "
          f"{platform.processor() or platform.machine()}")
    print(f"{'method':<28} {'time per call':>14} {'x tf.nn.conv2d (eager)':>24}")
    for name, seconds in timings.items():
        print(f"{name:<28} {seconds * 1e6:>11.0f} us {seconds / base:>23.2f}x")
    variant = min(("conv2d (im2col + matmul)", "conv2d, BLAS on 1 thread"), key=timings.get)
    best = timings[variant]
    ratio = best / base
    verdict = "met" if ratio <= GOAL else "NOT met"
    traced = best / timings["tf.nn.conv2d (tf.function)"]
    naive = timings["conv2d_naive (loops)"] / best
    print(f"goal conv2d <= {GOAL:.0f}x tf.nn.conv2d (eager): {verdict} by '{variant}' "
          f"({ratio:.2f}x; {traced:.2f}x against tf.function); "
          f"conv2d_naive is {naive:.0f}x slower than conv2d")
    print("(a loaded machine inflates every figure, "
          "multi-threaded BLAS on tiny matrices most of all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
