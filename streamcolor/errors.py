"""Exceptions. Each also subclasses the builtin it refines (PyAV's pattern), so callers
may catch ``ValueError`` or ``OSError`` as well as :class:`StreamcolorError`."""

import math
import numbers


class StreamcolorError(Exception):
    """Base class: the message is one sentence naming the path and the fix."""


class InputError(StreamcolorError, ValueError):
    """The input (file, array, option) cannot be used."""


class ModelArgumentsError(InputError):
    """Keyword arguments a registered model does not take, or values it refuses
    (:func:`streamcolor.models.create_model`); callers prefix the flag that gave them."""


class MediaError(StreamcolorError, OSError):
    """A file could not be read or written."""


class UnknownModelError(StreamcolorError, KeyError):
    """No registered model or saved weights under that name."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


def is_whole(value: object) -> bool:
    """A whole number, as the settings take counts and sizes: ints and numpy integers; bools,
    floats and strings are not (they would compare, or fail to, further on)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_finite_number(value: object) -> bool:
    """A real, finite number (NaN and infinities are not: they pass or fail range checks by
    accident); bools are not."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def is_frame_number(text: str) -> bool:
    """Text naming a frame: ASCII digits (``"²0".isdigit()`` is true, and ``int`` refuses it)."""
    return text.isascii() and text.isdigit()
