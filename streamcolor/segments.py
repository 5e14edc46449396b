"""Resumable runs: the colour video is kept as keyframe-aligned segments beside the output.

A segment starts on a keyframe of the source, so a resumed run can seek straight to it
and a decoder can start there; each one is an encoded, video-only file that is renamed
into place when complete and then listed in ``manifest.json``. The manifest names the
source (path, size, mtime) and the run (model, settings, encoder): a folder left by a
different run is discarded, never mixed in. The folder is locked while a run uses it, and
every file is on the disk before it is named (a power cut leaves whole segments, or none).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from streamcolor.errors import MediaError
from streamcolor.media import claim, durable_replace, hidden_beside

log = logging.getLogger("streamcolor")


@dataclass(frozen=True)
class Segment:
    """A finished segment: its file name, the source pts of its first frame, its frame count."""

    file: str
    start_pts: int
    frames: int


def plan_spans(keys: list[tuple[int, int]], frames: int, min_frames: int) -> list[tuple[int, Segment]]:
    """Cut a film into keyframe-aligned spans of at least ``min_frames`` frames (the last may
    be shorter only when the film is).

    Args:
        keys: ``(frame index, pts)`` of each keyframe (:func:`streamcolor.media.keyframes`).
        frames: the film's frame count.

    Returns:
        ``(index of the first frame, Segment(file="", start_pts, frames))`` per span.
    """
    starts = [keys[0]]
    for index, pts in keys[1:]:
        if index - starts[-1][0] >= min_frames and frames - index >= min_frames:
            starts.append((index, pts))
    ends = [index for index, _ in starts[1:]] + [frames]
    return [(index, Segment("", pts, end - index)) for (index, pts), end in zip(starts, ends)]


#: held (flock) by the run using the folder
LOCK_FILE = ".lock"
#: the manifest's layout; a folder in another one is discarded. 2: each segment's file starts at pts 0
FORMAT = 2


class SegmentStore:
    """The segments folder of one output (``.NAME.streamcolor-resume`` beside it).

    Args:
        dst: the final output path.
        run: identifies the source and the settings; a stored manifest with another
            ``run`` is stale and its segments are deleted.
        frames_in: the pictures a segment file holds (None: unreadable); a listed segment
            that does not hold its frames (cut short by a crash) is made again, with those after it.

    Raises:
        InputError: another run is using the folder (writing the same output).
        MediaError: the folder cannot be made.
    """

    def __init__(self, dst: Path, run: dict, frames_in: Callable[[Path], int | None]) -> None:
        self.folder = hidden_beside(dst, "streamcolor-resume")
        self.run = run
        self.segments: list[Segment] = []
        self.complete = False
        try:
            self.folder.mkdir(exist_ok=True)
        except OSError as exc:
            raise MediaError(f"cannot write beside {str(dst)!r}: {exc.strerror}") from exc
        # a file, opened for writing: NFS emulates flock with fcntl locks, which need that
        self._lock: int | None = claim(self.folder / LOCK_FILE, dst)
        manifest = self._read()
        if manifest is not None and manifest.get("format") == FORMAT and manifest.get("run") == run:
            for number, item in enumerate(manifest["segments"]):
                if frames_in(self.folder / item["file"]) != item["frames"]:
                    log.warning("segment %d of the resumed run is damaged: it is made again, with those after it",
                                number)
                    break
                self.segments.append(Segment(**item))
            self.complete = manifest.get("complete", False) and len(self.segments) == len(manifest["segments"])
        else:
            for item in self.folder.iterdir():  # another run's, but the lock (held now)
                if item.name != LOCK_FILE:
                    shutil.rmtree(item) if item.is_dir() else item.unlink()

    def _read(self) -> dict | None:
        try:
            return json.loads((self.folder / "manifest.json").read_text())
        except (OSError, ValueError):
            return None

    @property
    def frames(self) -> int:
        """Frames in the finished segments."""
        return sum(s.frames for s in self.segments)

    def next_file(self) -> Path:
        """Where the next segment goes (``suffix`` chosen by the caller)."""
        return self.folder / f"segment_{len(self.segments):05d}"

    def add(self, segment: Segment) -> None:
        """Record a finished segment (its file already renamed into the folder)."""
        self.segments.append(segment)
        self._write()

    def finish(self) -> None:
        """Record that every frame of the source is in a segment."""
        self.complete = True
        self._write()

    def _write(self) -> None:
        data = {"format": FORMAT, "run": self.run, "complete": self.complete,
                "segments": [asdict(s) for s in self.segments]}
        tmp = self.folder / "manifest.json.tmp"
        tmp.write_text(json.dumps(data, indent=1))
        durable_replace(tmp, self.folder / "manifest.json")  # a kill leaves the old or the new manifest, whole

    def paths(self) -> list[Path]:
        return [self.folder / s.file for s in self.segments]

    def remove(self) -> None:
        """Delete the folder (the run is done, or kept nothing). The lock goes first: NFS keeps
        a file deleted while open as a hidden one, and the folder with it."""
        self.release()
        shutil.rmtree(self.folder, ignore_errors=True)

    def release(self) -> None:
        """Let go of the folder's lock (the folder stays for a later run)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
