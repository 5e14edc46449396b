"""The benchmarks' entry point: bad input is one line on stderr and a non-zero exit, as for
streamcolor's own commands (a traceback is for bugs)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from streamcolor.errors import StreamcolorError


def run(main: Callable[[], None]) -> None:
    prog = Path(sys.argv[0]).name
    try:
        main()
    except StreamcolorError as exc:
        sys.exit(f"{prog}: error: {exc}")
    except KeyboardInterrupt:
        sys.exit(f"{prog}: interrupted")
