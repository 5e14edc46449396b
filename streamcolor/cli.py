"""Command line: ``streamcolor colorize IN OUT``, ``streamcolor models``.

The single error boundary: a :class:`StreamcolorError` becomes one line on stderr and
exit status 1; Ctrl-C exits 130; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys

from streamcolor.errors import StreamcolorError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamcolor", description="Colorize black-and-white film.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    col = sub.add_parser("colorize", help="colorize a video file (audio and timing kept)")
    col.add_argument("input")
    col.add_argument("output", help="output file; its suffix picks the container (.mp4, .mkv, .mov)")
    col.add_argument("--model", default=None, help="shipped model name or saved model folder (default: shipped default)")
    col.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    col.add_argument("--batch-size", type=int, default=8, help="frames per inference batch")
    col.add_argument("--crf", type=int, default=20, help="x264 constant rate factor, lower = better (default 20)")
    col.add_argument("--preset", default="medium", help="x264 preset, e.g. veryfast, medium, slow")
    col.add_argument("--no-smooth", action="store_true", help="turn temporal smoothing of colour off")
    col.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    col.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("models", help="list registered architectures and shipped weights")
    return parser


def _colorize(args: argparse.Namespace) -> None:
    from streamcolor.api import Colorizer

    if args.batch_size < 1:
        raise _input_error(f"--batch-size must be at least 1, got {args.batch_size}")
    colorizer = Colorizer.from_pretrained(args.model, device=args.device, smooth=not args.no_smooth)
    report = colorizer.colorize_video(args.input, args.output, crf=args.crf, preset=args.preset,
                                      batch_size=args.batch_size, overwrite=args.overwrite,
                                      progress=not args.quiet)
    print(f"wrote {args.output}: {report.frames} frames in {report.seconds:.1f} s "
          f"({report.frames / max(report.seconds, 1e-9):.1f} fps), {report.copied_packets} packets copied")


def _input_error(message: str) -> StreamcolorError:
    from streamcolor.errors import InputError

    return InputError(message)


def _models(_: argparse.Namespace) -> None:
    from streamcolor.api import DEFAULT_MODEL
    from streamcolor.models import list_models, shipped_models

    print("architectures:", ", ".join(list_models()))
    for name in shipped_models():
        print(f"weights: {name}{' (default)' if name == DEFAULT_MODEL else ''}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        {"colorize": _colorize, "models": _models}[args.command](args)
    except StreamcolorError as exc:
        if args.debug:
            raise
        print(f"streamcolor: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("streamcolor: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
