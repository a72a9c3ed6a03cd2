"""cnncourse: helpers for a Keras 3 course on convolutional neural networks.

Each concern lives in its own module (``cnncourse.conv``, ``cnncourse.models``,
``cnncourse.plots`` ...); import the one you need. Importing the package itself is
cheap: TensorFlow is only loaded by the modules that use it.
"""

__version__ = "0.1.0"
