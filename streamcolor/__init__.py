"""streamcolor: colorize black-and-white film.

>>> from streamcolor import Colorizer
>>> Colorizer.from_pretrained().colorize_video("film.mp4", "film_colour.mp4")
"""

import os
from importlib.metadata import PackageNotFoundError, version

# torch's OpenMP threads otherwise spin for a while after each parallel region, taking the
# cores that the decoder, the encoder and OpenCV need (about 10 ms of CPU a frame at 480p on
# 2 cores); read once when torch loads, so it is set before the first import of torch
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from streamcolor.errors import InputError, MediaError, StreamcolorError, UnknownModelError  # noqa: E402


def __getattr__(name: str) -> object:
    # Colorizer is loaded on first use, so that the models, backends and colour maths
    # import without PyAV (a GPU machine that benchmarks the generator alone has none)
    if name == "Colorizer":
        from streamcolor.api import Colorizer

        return Colorizer
    raise AttributeError(f"module 'streamcolor' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "Colorizer"})

try:
    __version__ = version("streamcolor")
except PackageNotFoundError:  # a source tree run without being installed (e.g. a lent GPU machine)
    __version__ = "0+unknown"
__all__ = ["Colorizer", "InputError", "MediaError", "StreamcolorError", "UnknownModelError"]
