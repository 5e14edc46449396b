"""streamcolor: colorize black-and-white film.

>>> from streamcolor import Colorizer
>>> Colorizer.from_pretrained().colorize_video("film.mp4", "film_colour.mp4")
"""

from streamcolor.api import Colorizer
from streamcolor.errors import InputError, MediaError, StreamcolorError, UnknownModelError

__version__ = "0.1.0"
__all__ = ["Colorizer", "InputError", "MediaError", "StreamcolorError", "UnknownModelError"]
