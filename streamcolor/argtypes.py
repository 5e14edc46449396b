"""What the command-line front ends (``streamcolor``, ``streamcolor demo``, ``python -m
streamcolor.train``) share of argparse: a parser that reports a bad flag in one line, and types
that refuse a bad value with one sentence that argparse prefixes with the flag's name."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any, Callable, NoReturn


class Parser(argparse.ArgumentParser):
    """argparse's checks (a choice, a number, a missing value) as every other bad value is
    reported: one line naming the flag, exit 1; argparse prints its usage and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"{self.prog}: error: {message} (see --help)\n")


def whole_number(unit: str, low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type taking a whole number (of ``unit``, when not empty) from ``low`` to
    ``high`` (no upper bound when None), e.g. ``whole_number("pixels", 16)``."""
    what = f"a whole number of {unit}" if unit else "a whole number"
    bounds = f"{low} or more" if high is None else f"{low} to {high}"

    def parse(text: str) -> int:
        if not text.isdigit() or int(text) < low or (high is not None and int(text) > high):
            raise argparse.ArgumentTypeError(f"must be {what}, {bounds}; got {text!r}")
        return int(text)

    return parse


def positive_number(unit: str) -> Callable[[str], float]:
    """An argparse type taking a finite number of ``unit`` above 0, e.g. ``positive_number("seconds")``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"must be a number of {unit} above 0; got {text!r}")
        return value

    return parse


positive_seconds = positive_number("seconds")


def json_object(text: str) -> dict[str, Any]:
    """argparse type: a JSON object, e.g. ``'{"lam": 0.5}'``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object such as '{{\"lam\": 0.5}}'; got {text!r}")
    return value


def png_path(text: str) -> str:
    """argparse type: a path ending in .png (matplotlib picks the format from the suffix, and
    adds .png to a path that has none)."""
    if not text.lower().endswith(".png"):
        raise argparse.ArgumentTypeError(f"must be a .png file; got {text!r}")
    return text
