"""Web demo (``streamcolor.demo``): ``streamcolor demo`` or ``python -m streamcolor.demo``.
Needs the ``demo`` extra (gradio); this module imports nothing heavy."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's command-line flags (shared by both entry points)."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="ask Gradio for a public link (needs internet)")
    parser.add_argument("--max-upload-mb", type=int, default=50)
    parser.add_argument("--max-clip-seconds", type=float, default=30.0)


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
