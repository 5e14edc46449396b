"""Web demo (``streamcolor.demo``): ``streamcolor demo`` or ``python -m streamcolor.demo``.
Needs the ``demo`` extra (gradio); this module imports nothing heavy."""

from __future__ import annotations

import argparse

from streamcolor.argtypes import positive_seconds, whole_number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's command-line flags (shared by both entry points)."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to serve on (default 127.0.0.1, this machine only; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=whole_number("", 1, 65535), default=7860, help="port to serve on (default 7860)")
    parser.add_argument("--share", action="store_true", help="ask Gradio for a public link (needs internet)")
    parser.add_argument("--max-upload-mb", type=whole_number("megabytes", 1), default=50, metavar="MB",
                        help="largest upload accepted (MB, default 50)")
    parser.add_argument("--max-clip-seconds", type=positive_seconds, default=30.0, metavar="S",
                        help="longest video accepted (seconds, default 30); a longer one is refused")


def run(args: argparse.Namespace) -> None:
    """Launch the demo with parsed flags.

    Raises:
        InputError: gradio is not installed (``pip install streamcolor[demo]``).
    """
    try:
        from streamcolor.demo.app import Limits, launch
    except ImportError as exc:
        from streamcolor.errors import InputError

        raise InputError(f"the demo needs gradio: pip install 'streamcolor[demo]' ({exc})") from exc
    launch(args.host, args.port, args.share, Limits(args.max_upload_mb, args.max_clip_seconds))
