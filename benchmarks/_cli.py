"""The benchmarks' entry point: bad input is one line on stderr and a non-zero exit, as for
streamcolor's own commands (a traceback is for bugs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from streamcolor.argtypes import Parser
from streamcolor.errors import StreamcolorError


class _Defaults(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: ...)" where the help does not give the default itself and there is one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.required or action.default is None or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def parser(doc: str) -> Parser:
    """A benchmark's argument parser: its docstring's first line as the description, the
    defaults in ``--help``, and a bad flag in one line (exit 1) as for streamcolor's commands."""
    return Parser(description=doc.splitlines()[0], formatter_class=_Defaults)


def run(main: Callable[[], None]) -> None:
    prog = Path(sys.argv[0]).name
    try:
        main()
    except StreamcolorError as exc:
        sys.exit(f"{prog}: error: {exc}")
    except KeyboardInterrupt:
        sys.exit(f"{prog}: interrupted")
