"""Command line: ``streamcolor colorize IN OUT``, ``streamcolor models``.

The single error boundary: a :class:`StreamcolorError` becomes one line on stderr and
exit status 1; Ctrl-C exits 130, and SIGTERM or SIGHUP 128 + its number after the same
clean-up; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import logging
import re
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from streamcolor import __version__
from streamcolor.argtypes import Parser, png_path, whole_number
from streamcolor.errors import StreamcolorError, is_frame_number

if TYPE_CHECKING:
    from streamcolor.api import FileResult
    from streamcolor.media import EncodeSettings, VideoInfo


def _parser() -> argparse.ArgumentParser:
    from streamcolor.backends import BACKENDS
    from streamcolor.engine import EngineSettings
    from streamcolor.film import STOCKS
    from streamcolor.media import OUTPUT_SUFFIXES
    from streamcolor.pipeline import MAX_BATCH_SIZE, RunSettings
    from streamcolor.stages.smooth import SMOOTHERS

    parser = Parser(prog="streamcolor", description="Colorize black-and-white film.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also show progress notes (backend chosen, exports, resume point)")
    sub = parser.add_subparsers(dest="command", required=True)
    col = sub.add_parser("colorize", help="colorize a video file, or every video in a folder (audio and timing kept)")
    col.add_argument("input", help="a video file, or a folder of them")
    col.add_argument("output", help=f"output file (its suffix picks the container: {' '.join(OUTPUT_SUFFIXES)}), "
                                    "or a folder when INPUT is one")
    _add_encode_arguments(col)
    col.add_argument("--model", default=None, help="shipped model name or saved model folder (default: shipped default)")
    col.add_argument("--device", default=None, help="cpu, cuda or cuda:N: the torch backend on that device, instead "
                                                     "of --backend (default: auto)")
    col.add_argument("--backend", choices=["auto", *BACKENDS], default=None,
                     help="inference backend; auto (the default unless --device is given) prefers "
                          + " > ".join(BACKENDS))
    col.add_argument("--batch-size", type=int, default=RunSettings.batch_size,
                     help=f"frames per inference batch, 1 to {MAX_BATCH_SIZE} (default {RunSettings.batch_size})")
    col.add_argument("--smoothing", choices=[*SMOOTHERS, "off"], default=None,
                     help="temporal smoothing of colour: motion-compensated (default), moving average, off")
    col.add_argument("--smooth-strength", type=float, default=None,
                     help="weight of the past in [0, 1) (default: " + ", ".join(
                         f"{name} {inspect.signature(smoother).parameters['strength'].default}"
                         for name, smoother in SMOOTHERS.items()) + ")")
    col.add_argument("--no-smooth", action="store_true", help="same as --smoothing off")
    col.add_argument("--strength", type=float, default=1.0,
                     help="colour strength: 0 = grey, 1 = the model's colour (default), above 1 more vivid (at most 4)")
    col.add_argument("--infer-every", type=int, default=None, metavar="K",
                     help="with --smoothing motion: run the generator on every K-th frame of a shot; the frames "
                          "between take the predictions on either side along the motion (default "
                          f"{EngineSettings.infer_every}; other smoothings colorize every frame)")
    col.add_argument("--render-size", type=int, default=None, metavar="PIXELS",
                     help="short side of the picture the generator sees (default: the model's; larger is "
                          "steadier on detail and slower, like DeOldify's render_factor; at most the video's "
                          "chroma-plane size, half its height for 4:2:0)")
    col.add_argument("--no-bars", action="store_true",
                     help="do not look for letterbox/pillarbox bars (by default the picture inside them is "
                          "colorized and they stay black)")
    col.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    col.add_argument("--quiet", action="store_true", help="no progress bar")
    col.add_argument("--reference", action="append", default=[], metavar="N=IMAGE",
                     help="colour image of frame N (0-based, decode order); its colour is carried through its "
                          "shot along motion (repeatable)")
    col.add_argument("--references", default=None, metavar="DIR",
                     help="folder of reference images named by frame index, e.g. 000064.png")
    col.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                     help="run on Ray (pip install 'streamcolor[ray]'): alone, a local Ray; or join ADDRESS "
                          "(auto, ray://host:10001). A folder: one task per film; a file with --split: in parallel spans")
    col.add_argument("--split", action="store_true", help="with --ray: colorize one film as parallel spans")
    col.add_argument("--workers", type=int, default=None, help="with --ray: tasks at once (local Ray size; default 2)")
    col.add_argument("--cpus-per-worker", type=float, default=None,
                     help="with --ray: CPUs each task asks for (default 1)")
    col.add_argument("--gpus-per-worker", type=float, default=None,
                     help="with --ray: GPUs each task asks for (default 0)")
    col.add_argument("--stats", action="store_true", help="print the time each pipeline stage took")
    col.add_argument("--resume", action="store_true",
                     help="write keyframe-aligned segments as it goes; after an interruption, the same command "
                          "with --resume continues from the last finished segment")
    col.add_argument("--segment-frames", type=int, default=None,
                     help="with --resume: a segment ends at the first keyframe after this many frames "
                          f"(default {RunSettings.segment_frames})")
    sub.add_parser("models", help="list registered architectures and shipped weights")
    from streamcolor.demo import add_arguments

    add_arguments(sub.add_parser("demo", help="launch the web demo (needs the demo extra)"))
    me = sub.add_parser("metrics", help="flicker metrics of a video (CDC, warp error, colourfulness; PSNR/SSIM)")
    me.add_argument("video", help="a colorized video (or any video)")
    me.add_argument("--reference", default=None, help="the colour original: adds per-frame PSNR and SSIM")
    me.add_argument("--plot", type=png_path, default=None, help="write a per-frame flicker plot here (a .png file)")
    me.add_argument("--size", type=whole_number("pixels", 16), default=240, help="short side frames are scaled to first (pixels, >= 16; default 240)")
    ev = sub.add_parser("eval", help="score a model on folders of colour photos (PSNR, SSIM, CIEDE2000, "
                                        "colourfulness, hue accuracy per hue sector)")
    # "*", not "+": --film and --tint-from take the words after them, and an IMAGE_DIR they took
    # is reported by _eval with that said, not as argparse's "required: image_dirs"
    ev.add_argument("image_dirs", nargs="*", help="folders of colour photos, e.g. ../shared/data/eval/kodak24")
    ev.add_argument("--model", default=None, help="shipped model name or saved model folder")
    ev.add_argument("--tint-from", nargs="*", default=[], help="photo folders whose mean ab is the 'tint' baseline")
    ev.add_argument("--save-dir", default=None, help="write grey | model | truth strips here")
    ev.add_argument("--output", default=None, help="also write the markdown table to this file")
    ev.add_argument("--film", nargs="*", type=_stock_name, choices=list(STOCKS), default=None, metavar="STOCK",
                    help="also score the photos as old film stocks render them (grain, softness): alone, a random "
                         "stock per photo (rows '+film'); with names, one row per stock ('+film:STOCK'), of: "
                         + ", ".join(STOCKS))
    return parser


def _stock_name(text: str) -> str:
    """argparse type of ``eval --film``: refuses a folder, which the flag took from IMAGE_DIR."""
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a film stock: give the photo folders before --film")
    return text


def _check_writable(path: str | None, flag: str, folder: bool = False) -> None:
    """Before any work: ``flag`` can write ``path``, a file (or, with ``folder``, a folder
    that is made when missing) in a folder that exists and is writable.

    Raises:
        InputError: it cannot.
    """
    from streamcolor.media import check_writable

    if path is None:
        return
    try:
        check_writable(path, folder)
    except StreamcolorError as exc:
        raise _input_error(f"{flag} {path!r}: {exc}") from exc


def _add_encode_arguments(parser: argparse.ArgumentParser) -> None:
    """A flag per :class:`~streamcolor.media.EncodeSettings` field (``--codec``, ``--crf``, ...):
    its default, type and metadata (``help``, ``choices``) come from the field."""
    from streamcolor.media import EncodeSettings

    for setting in dataclasses.fields(EncodeSettings):
        kind = None if setting.default is None else type(setting.default)
        parser.add_argument(f"--{setting.name.replace('_', '-')}", type=kind, default=setting.default,
                            **setting.metadata)


def _encode_settings(args: argparse.Namespace) -> EncodeSettings:
    """The :class:`~streamcolor.media.EncodeSettings` of the command line.

    Raises:
        InputError: a value the settings refuse.
    """
    from streamcolor.media import EncodeSettings

    return EncodeSettings(**{field.name: getattr(args, field.name) for field in dataclasses.fields(EncodeSettings)})


def _colorize(args: argparse.Namespace) -> None:
    from streamcolor.api import Colorizer, load_references
    from streamcolor.media import VIDEO_SUFFIXES
    from streamcolor.pipeline import RunSettings

    _check_pairings(args)
    segment_frames = RunSettings.segment_frames if args.segment_frames is None else args.segment_frames
    run = RunSettings(_encode_settings(args), args.batch_size, segment_frames)
    ray = _ray_settings(args)
    folder = Path(args.input).is_dir()
    if folder and Path(args.output).suffix.lower() in VIDEO_SUFFIXES:
        raise _input_error(f"input {args.input!r} is a directory; give a video file, or an output folder "
                           "to colorize every video in it")
    if folder and (args.reference or args.references):
        raise _input_error("reference frames belong to one video: give a video file, not a folder")
    if folder and args.stats:
        raise _input_error("--stats times the stages of one video: give a video file, not a folder")
    references = load_references(_reference_pairs(args.reference), args.references)
    if not folder:
        _check_paths(args.input, args.output, args.overwrite, max(references, default=-1))
    smoothing = _smoothing(args)
    backend = args.backend or (None if args.device else "auto")
    colorizer = Colorizer.from_pretrained(args.model, device=args.device, backend=backend, smoothing=smoothing,
                                          smooth_strength=args.smooth_strength, strength=args.strength,
                                          bars=not args.no_bars, **_optional_settings(args))
    options = dict(encode=run.encode, batch_size=run.batch_size, overwrite=args.overwrite, progress=not args.quiet,
                   resume=args.resume, segment_frames=run.segment_frames)
    if folder:
        results = colorizer.colorize_folder(args.input, args.output, ray=ray, on_file=_print_row,
                                            reraise=args.debug, **options)
        if _print_summary(results):
            raise SystemExit(1)
        return
    if ray is not None:
        from streamcolor.distributed import colorize_split

        if not args.split:
            raise _input_error("--ray takes a folder of films, or one film with --split")
        frames, seconds = colorize_split(colorizer, Path(args.input), Path(args.output), ray,
                                         run, args.overwrite, not args.quiet)
        print(f"wrote {args.output}: {frames} frames in {seconds:.1f} s ({frames / seconds:.1f} fps) on Ray")
        return
    report = colorizer.colorize_video(args.input, args.output, references=references, **options)
    made = report.frames - report.resumed_frames  # the rate of this run's own work
    kept = f" ({report.resumed_frames} kept from the stopped run)" if report.resumed_frames else ""
    print(f"wrote {args.output}: {report.frames} frames{kept} in {report.seconds:.1f} s "
          f"({made / max(report.seconds, 1e-9):.1f} fps), {report.carried_packets} audio/subtitle packets carried over")
    if args.stats:
        _print_stages(report)


def _check_pairings(args: argparse.Namespace) -> None:
    """Refuse a flag that would do nothing beside the others given.

    Raises:
        InputError: ``--segment-frames`` without ``--resume``, ``--smooth-strength`` with
            smoothing off, ``--infer-every`` with a smoothing other than motion, ``--no-smooth``
            with another ``--smoothing``, ``--device`` with ``--backend``.
    """
    smoothing = _smoothing(args)
    if args.no_smooth and args.smoothing not in (None, "off"):
        raise _input_error(f"--no-smooth is --smoothing off: not with --smoothing {args.smoothing}")
    if args.device is not None and args.backend is not None:
        raise _input_error("--device sets the torch backend's device and --backend picks a backend: give one")
    if args.segment_frames is not None and not args.resume:
        raise _input_error("--segment-frames needs --resume")
    if args.smooth_strength is not None and smoothing == "off":
        raise _input_error("--smooth-strength needs smoothing: it is off here")
    if args.infer_every is not None and smoothing != "motion":
        raise _input_error(f"--infer-every needs --smoothing motion: with {smoothing} every frame is colorized")


def _smoothing(args: argparse.Namespace) -> str:
    return "off" if args.no_smooth else args.smoothing or "motion"


def _optional_settings(args: argparse.Namespace) -> dict[str, int]:
    """The EngineSettings given on the command line whose default is the model's or the library's."""
    given = {"infer_every": args.infer_every, "inference_short_side": args.render_size}
    return {k: v for k, v in given.items() if v is not None}


def _print_stages(report) -> None:
    """Busy time per stage; decode and encode overlap the rest on their own threads."""
    print(f"{'stage':10} {'seconds':>8} {'ms/frame':>9} {'% of wall':>9}")
    for stage, seconds in sorted(report.stages.items(), key=lambda kv: -kv[1]):
        print(f"{stage:10} {seconds:8.2f} {1000 * seconds / max(report.frames, 1):9.1f} "
              f"{100 * seconds / max(report.seconds, 1e-9):9.0f}")


def _reference_pairs(pairs: list[str]) -> dict[int, Path]:
    """``--reference N=IMAGE`` values -> {N: IMAGE}.

    Raises:
        InputError: a value that is not ``N=IMAGE`` with N a whole number 0 or more, or a
            frame given twice.
    """
    images = {}
    for pair in pairs:
        index, sep, path = pair.partition("=")
        if not sep or not is_frame_number(index.strip()) or not path.strip():
            raise _input_error(f"--reference takes N=IMAGE with N a frame number (0 or more), got {pair!r}")
        frame = int(index)
        if frame in images:
            raise _input_error(f"--reference {frame} is given twice ({images[frame]}, {path}); keep one")
        images[frame] = Path(path)
    return images


def _check_paths(src: str, dst: str, overwrite: bool, last_reference: int) -> None:
    """Fail on bad paths, or a reference past the stated end, before the model is loaded
    (so the error is the only output)."""
    from streamcolor.media import check_output, probe
    from streamcolor.pipeline import check_reference_range

    info = probe(src)  # cached: the run reuses this opening
    check_output(dst, Path(src), overwrite)
    check_reference_range(last_reference, info.frames or None)


#: options that only mean something with --ray, and their defaults there
_RAY_DEFAULTS = {"workers": 2, "cpus_per_worker": 1.0, "gpus_per_worker": 0.0}


def _ray_settings(args: argparse.Namespace):
    """RaySettings from the command line, or None without ``--ray``.

    Raises:
        InputError: a Ray-only option without ``--ray``; with it, ``--reference`` or
            ``--resume``; a bad ``--workers`` or resource count (:class:`RaySettings`).
    """
    if args.ray is None:
        given = ["split"] * args.split + [name for name in _RAY_DEFAULTS if getattr(args, name) is not None]
        if given:
            raise _input_error(f"--{given[0].replace('_', '-')} needs --ray")
        return None
    from streamcolor.distributed import RaySettings

    given = {name: getattr(args, name) for name in _RAY_DEFAULTS}
    ray = {name: default if given[name] is None else given[name] for name, default in _RAY_DEFAULTS.items()}
    if (args.reference or args.references) or args.resume:
        raise _input_error("--ray takes no --reference or --resume")
    return RaySettings(args.ray or None, **ray)


def _print_row(result: FileResult) -> None:
    """One batch line, ``STATUS name: detail``, shown at once (a batch can take hours)."""
    print(f"{result.status} {result.name}: {result.detail}", flush=True)


def _print_summary(results: list[FileResult]) -> int:
    """The batch's last line, ``N of M done, K failed[, J other files ignored]``; returns K."""
    films = [r for r in results if r.status != "ignored"]
    failed = sum(r.status == "FAILED" for r in films)
    ignored = len(results) - len(films)
    print(f"{len(films) - failed} of {len(films)} done, {failed} failed"
          + (f", {ignored} other file{'s' * (ignored > 1)} ignored" if ignored else ""))
    return failed


def _input_error(message: str) -> StreamcolorError:
    from streamcolor.errors import InputError

    return InputError(message)


def _models(_: argparse.Namespace) -> None:
    from streamcolor.api import DEFAULT_MODEL
    from streamcolor.models import list_models, shipped_models

    print("architectures:", ", ".join(list_models(role="generator")))
    print("discriminators (for --objective cgan in training):", ", ".join(list_models(role="discriminator")))
    for name in shipped_models():
        print(f"weights: {name}{' (default)' if name == DEFAULT_MODEL else ''}")


def _metrics(args: argparse.Namespace) -> None:
    from streamcolor.media import check_input, probe, read_rgb_frames
    from streamcolor.metrics import FlickerMeter
    from streamcolor.plots import plot_series

    _check_writable(args.plot, "--plot")
    meter = FlickerMeter()
    mismatch = _input_error(f"reference {args.reference!r} does not match {args.video!r} in frame count or size")
    crop = None
    if args.reference:
        video, reference = probe(args.video), probe(check_input(args.reference, "reference"))
        if not _same_picture(video, reference):
            raise mismatch
        crop = (min(video.width, reference.width), min(video.height, reference.height))
    frames = read_rgb_frames(args.video, args.size, crop)
    references = read_rgb_frames(args.reference, args.size, crop) if args.reference else None
    count = 0
    for frame in frames:
        reference = next(references, None) if references is not None else None
        if references is not None and (reference is None or reference.shape != frame.shape):
            raise mismatch
        meter.push(frame, reference)
        count += 1
    if references is not None and next(references, None) is not None:
        raise mismatch
    print(f"{args.video}: {count} frames" + ("" if count > 1 else " (one: no change between frames to measure)"))
    for key, value in meter.summary().items():
        print(f"  {key:14s} {value:.4f}")
    if args.plot:
        changes = {k: v for k, v in meter.series.items() if k in ("warp", "cdc1") and v}
        # value i is the change from frame i to frame i + 1: drawn at i + 1, where a cut shows
        plot_series({**changes, "x": list(range(1, count))}, args.plot, xlabel="frame (change from the one before)",
                    ylabel="per-frame change", title=f"flicker: {args.video}")
        print(f"plot: {args.plot}")


def _same_picture(video: VideoInfo, reference: VideoInfo) -> bool:
    """The sizes agree, but for the pixel an H.264 or H.265 output adds to an odd side."""
    return abs(video.width - reference.width) <= 1 and abs(video.height - reference.height) <= 1


def _demo(args: argparse.Namespace) -> None:
    from streamcolor.demo import run

    run(args)


def _eval(args: argparse.Namespace) -> None:
    from streamcolor.api import Colorizer
    from streamcolor.evaluate import evaluate_images, markdown_table, mean_ab, unique_labels
    from streamcolor.images import list_images

    if not args.image_dirs:
        raise _input_error("no IMAGE_DIR: give the photo folders before --film and --tint-from, which take the "
                           "words after them")
    _check_writable(args.output, "--output")
    _check_writable(args.save_dir, "--save-dir", folder=True)
    photos = {d: list_images([d]) for d in args.image_dirs}  # every folder checked before any work
    colorizer = Colorizer.from_pretrained(args.model)
    tint = mean_ab(list_images(args.tint_from)) if args.tint_from else None
    save_dir = Path(args.save_dir) if args.save_dir else None
    if save_dir:
        save_dir.mkdir(exist_ok=True)
    results = {}
    labels = unique_labels(list(photos))
    for name, prefix, files in zip(labels, _strip_prefixes(labels), photos.values()):
        results[name] = evaluate_images(colorizer.colorize_image, files, tint, save_dir, save_prefix=prefix)
        for stock in [] if args.film is None else args.film or [True]:
            label = "+film" if stock is True else f"+film:{stock}"
            results[name + label] = evaluate_images(colorizer.colorize_image, files, tint, film=stock)
    table = markdown_table(results)
    print(table)
    if args.output:
        Path(args.output).write_text(table + "\n")


def _strip_prefixes(labels: list[str]) -> list[str]:
    """The file-name prefix of each set's strips: its label made a file name, numbered where two
    come out alike (a/b/photos, a_b/photos), so that no strip overwrites another."""
    names = [re.sub(r"[^\w.-]+", "_", label).strip("_") for label in labels]
    return [name if names.count(name) == 1 else f"{i}_{name}" for i, name in enumerate(names)]


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"streamcolor: {record.levelname.lower()}: {record.getMessage()}"


def _setup_logging(verbose: bool) -> None:
    """Warnings (and notes with ``--verbose``) as one line each on stderr: an error stays the
    only line a failed run prints."""
    logger = logging.getLogger("streamcolor")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_OneLine())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)


def _join_negative_values(argv: list[str], option: str) -> list[str]:
    """``OPTION -1=...`` as ``OPTION=-1=...``: argparse takes a value that starts with a dash
    and a digit for an option of its own and stops with its usage, while the joined form
    reaches the option's own check, which says what is wrong with the value."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] == option and re.match(r"-\d", arg):
            joined[-1] = f"{option}={arg}"
        else:
            joined.append(arg)
    return joined


class _Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where Ctrl-C's KeyboardInterrupt would be, so that the same
    clean-up runs (no part file is left at the destination)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, _frame: object) -> None:
    for name in _STOP_SIGNALS:  # a repeat must not cut the clean-up short
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    raise _Stopped(signum)


#: what kill, timeout, systemd, docker (SIGTERM) and a closed terminal (SIGHUP) send
_STOP_SIGNALS = [name for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]


def main(argv: list[str] | None = None) -> int:
    # the interrupt is caught around the parsing too: building the parser imports torch, which
    # takes a second or more, and a Ctrl-C then must not print a traceback either
    try:
        return _run(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        how = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
        print(f"streamcolor: {how}", file=sys.stderr)
        return 128 + signum


def _run(argv: list[str]) -> int:
    for name in _STOP_SIGNALS:
        signal.signal(getattr(signal, name), _stop)
    args = _parser().parse_args(_join_negative_values(argv, "--reference"))
    _setup_logging(args.verbose)
    try:
        {"colorize": _colorize, "models": _models, "eval": _eval, "metrics": _metrics,
         "demo": _demo}[args.command](args)
    except StreamcolorError as exc:
        if args.debug:
            raise
        print(f"streamcolor: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
