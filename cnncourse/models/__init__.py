"""Keras builders for every network the lectures show, one submodule per lecture family.

Each builder returns an uncompiled ``keras.Model`` that starts with ``keras.Input``, with
readable layer names and a docstring citing the slide or paper it follows:

- ``mnist``: ``mlp``, ``simple_cnn``, ``lecture_cnn``, ``conv_model``, ``lenet5``, ``improved_cnn``
- ``classic``: ``alexnet``, ``vgg16``, ``vgg19``, ``mini_vgg``
- ``modern``: inception, ResNet, DenseNet, MobileNet, the AlphaGo policy network
- ``text``: 1-D convolutional networks for sentence classification
"""

from cnncourse.models.classic import *  # noqa: F403
from cnncourse.models.mnist import *  # noqa: F403
from cnncourse.models.modern import *  # noqa: F403
from cnncourse.models.text import *  # noqa: F403
