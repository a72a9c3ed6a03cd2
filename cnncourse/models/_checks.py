"""Argument checks shared by every builder: clear errors for a nonsense shape or class count."""

from __future__ import annotations


def check_classes(value, name: str = "num_classes") -> int:
    """A class count: an int of at least 1 (TypeError for a non-int, ValueError below 1)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def check_shape(input_shape, image: bool = True) -> tuple[int, ...]:
    """A tuple of positive ints; for convnets (``image=True``) exactly (height, width, channels)."""
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise TypeError(f"input_shape must be a tuple of ints, got {input_shape!r}") from None
    if not shape or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
        raise ValueError(f"input_shape must be a tuple of positive ints, got {input_shape!r}")
    if image and len(shape) != 3:
        raise ValueError(
            f"input_shape must be (height, width, channels), e.g. (28, 28, 1), got {input_shape!r}"
        )
    return shape
