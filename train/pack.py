"""``python -m streamcolor.train.pack OUT DIR [DIR ...] [--size 160] [--quality 75] [--part-mib 60]``:
pack folders of training photos into tar files of at most ``--part-mib`` MiB each, for a machine
that cannot reach the photos (a lent GPU takes 64 MiB per call from this one).

Each photo is scaled so its short side is ``--size`` and centre-cropped to ``--size`` x ``--size``
(what training at ``--scale`` 160, ``--crop`` 128 reads of it, less the sides of a wide photo), then
stored as lossy WebP: the 17,197 training photos take 77 MB at 160 px, quality 75, and keep 96 %
of their chroma (docs/quality.md, sessions 26 and 16). A part holds ``DIRNAME/STEM.webp`` members, so
``tar -xf part-001.tar -C D`` makes one folder per DIR, which ``--train-dirs D/DIRNAME`` takes as
before. Parts are written to ``OUT/part-NNN.tar``; a part is renamed into place only when complete."""

from __future__ import annotations

import argparse
import io
import sys
import tarfile
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from streamcolor.argtypes import Parser, whole_number
from streamcolor.errors import InputError, StreamcolorError
from streamcolor.images import list_images, read_rgb, resize_short_side
from streamcolor.media import check_writable

#: tar's own bytes per member (a 512-byte header) and, at most, at the end of a file (two zero
#: blocks, then padding to tarfile's 10 KiB record)
_HEADER, _END = 512, 1024 + tarfile.RECORDSIZE


def square_webp(path: Path, size: int, quality: int) -> bytes:
    """The photo at ``path`` scaled to short side ``size``, centre-cropped to ``size`` x ``size``,
    as WebP bytes at ``quality`` (1-100).

    Raises:
        InputError: the file is not a readable image.
    """
    rgb = resize_short_side(read_rgb(path), size)
    top, left = (rgb.shape[0] - size) // 2, (rgb.shape[1] - size) // 2
    square = np.ascontiguousarray(rgb[top:top + size, left:left + size, ::-1])
    return cv2.imencode(".webp", square, [cv2.IMWRITE_WEBP_QUALITY, quality])[1].tobytes()


class _Parts:
    """Tar files ``part-001.tar``, ``part-002.tar`` ... in ``out``, each under ``limit`` bytes,
    written as ``.partial`` and renamed when complete."""

    def __init__(self, out: Path, limit: int) -> None:
        self.out, self.limit, self.done = out, limit, []
        self.tar: tarfile.TarFile | None = None

    def add(self, name: str, data: bytes, mtime: float) -> None:
        padded = _HEADER + -(-len(data) // 512) * 512
        if padded + _END > self.limit:
            raise InputError(f"--part-mib: {name} alone takes {(padded + _END) / 2**20:.2f} MiB with tar's own "
                             "bytes; give a larger part")
        if self.tar is None or self.tar.offset + padded + _END > self.limit:
            self._next()
        member = tarfile.TarInfo(name)
        member.size, member.mtime = len(data), int(mtime)
        self.tar.addfile(member, io.BytesIO(data))

    def _next(self) -> None:
        self.close()
        self.tar = tarfile.open(self._path(len(self.done) + 1, partial=True), "w", format=tarfile.USTAR_FORMAT)

    def _path(self, index: int, partial: bool = False) -> Path:
        return self.out / f"part-{index:03d}.tar{'.partial' if partial else ''}"

    def close(self) -> None:
        """Finish the open part and rename it into place."""
        if self.tar is not None:
            self.tar.close()
            index = len(self.done) + 1
            self.done.append(self._path(index, partial=True).rename(self._path(index)))
            self.tar = None

    def abandon(self) -> None:
        """Remove every part, the open one too (even where closing it fails, e.g. a full disk): an
        incomplete set is of no use, and OUT must take the next run."""
        try:
            if self.tar is not None:
                self.tar.close()
        finally:
            self._path(len(self.done) + 1, partial=True).unlink(missing_ok=True)
            self.tar = None
            for part in self.done:
                part.unlink(missing_ok=True)
            self.done = []


def pack(out: Path, dirs: list[Path], size: int = 160, quality: int = 75, part_mib: float = 60) -> list[Path]:
    """Pack every photo in the folders ``dirs`` into tar parts in the folder ``out`` (made when
    missing); returns the parts' paths. ``size`` in pixels, ``quality`` WebP quality 1-100,
    ``part_mib`` the largest part in MiB. A part is renamed into place when complete; an error or
    an interrupt removes every part (an incomplete set is of no use), so the same command can run again.

    Raises:
        InputError: two folders of one name, or two photos of one name but for the suffix
            (their members would collide), a name too long for tar, a folder without photos, an
            unreadable photo, or a photo too large for one part.
    """
    names = [d.resolve().name for d in dirs]  # "." and ".." are named by the folder they are
    if len(set(names)) < len(names):
        raise InputError(f"two folders are named alike ({', '.join(names)}): each becomes a folder in the parts")
    listed = [(name, path) for d, name in zip(dirs, names) for path in list_images([str(d)])]
    members = [f"{name}/{path.stem}.webp" for name, path in listed]
    if len(set(members)) < len(members):
        raise InputError("two photos in one folder share a name but for the suffix (e.g. a.jpg and a.png); "
                         "rename one")
    for member in members:
        try:
            tarfile.TarInfo(member).tobuf(tarfile.USTAR_FORMAT)
        except ValueError:
            raise InputError(f"{member!r}: too long a name for a tar part (USTAR: 100 bytes, 255 with "
                             "the folder); rename the photo") from None
    out.mkdir(exist_ok=True)
    parts = _Parts(out, int(part_mib * 2**20))
    try:
        for (_, path), member in tqdm(zip(listed, members), total=len(members), desc="pack", unit="photo"):
            parts.add(member, square_webp(path, size, quality), path.stat().st_mtime)
    except BaseException:
        parts.abandon()
        raise
    parts.close()
    return parts.done


def _check_out(out: Path) -> None:
    """Before any work: ``out`` is a folder that can be written and holds no parts yet.

    Raises:
        InputError: ``out`` is a file, its folder is missing or not writable, or it holds parts.
    """
    try:
        check_writable(out, folder=True)
    except StreamcolorError as exc:
        raise InputError(f"OUT {str(out)!r}: {exc}") from exc
    if out.is_dir() and any(out.glob("part-*.tar*")):
        raise InputError(f"OUT {str(out)!r} already holds parts: remove them or choose another folder")


def _part_mib(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0.05 <= value <= 4096:
        raise argparse.ArgumentTypeError(f"must be a number of MiB from 0.05 to 4096; got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m streamcolor.train.pack", description=(
        "Pack folders of training photos, as WebP squares of --size pixels, into tar files of at most "
        "--part-mib MiB each (OUT/part-NNN.tar), for a machine that cannot reach the photos; "
        "`tar -xf part-001.tar -C D` makes one folder per DIR."))
    parser.add_argument("out", type=Path, help="folder for the parts (part-001.tar, ...)")
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="folders of colour photos")
    parser.add_argument("--size", type=whole_number("pixels", 16, 4096), default=160,
                        help="side of the square each photo becomes (default: 160, the shipped models' --scale)")
    parser.add_argument("--quality", type=whole_number("", 1, 100), default=75, help="WebP quality (default: 75)")
    parser.add_argument("--part-mib", type=_part_mib, default=60.0,
                        help="largest part in MiB (default: 60, under a lent GPU's 64 MiB a call)")
    args = parser.parse_args(argv)
    try:
        _check_out(args.out)
        parts = pack(args.out, args.dirs, args.size, args.quality, args.part_mib)
    except StreamcolorError as exc:
        print(f"streamcolor.train.pack: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("streamcolor.train.pack: interrupted; no part is kept (an incomplete set is of no use)", file=sys.stderr)
        return 130
    for part in parts:
        print(f"{part} {part.stat().st_size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
