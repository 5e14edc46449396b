"""Packing training photos for another machine: parts under the size asked, every photo once, as
squares a training run reads after ``tar -xf``."""

from __future__ import annotations

import tarfile

import cv2
import numpy as np
import pytest

from conftest import data_file
from streamcolor.errors import InputError
from streamcolor.images import list_images, read_rgb, resize_short_side
from streamcolor.metrics import psnr
from streamcolor.train.datasets import ColorizationDataset
from streamcolor.train.pack import main


def pack_main(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own checks exit through the parser
        return exc.code


def _error_line(capsys) -> str:
    """The last line on stderr (a progress bar may stand above it), checked to be the only error."""
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.endswith("\n")
    return err.splitlines()[-1]


def test_parts_hold_every_photo_as_a_square_under_the_size_asked(tmp_path, capsys):
    dirs = [data_file("eval/kodak24"), data_file("eval/mcmaster18")]
    assert pack_main([str(tmp_path / "out"), *map(str, dirs), "--size", "96", "--part-mib", "0.1"]) == 0
    parts = sorted((tmp_path / "out").iterdir())
    assert len(parts) > 1 and all(p.name.startswith("part-") and p.suffix == ".tar" for p in parts)
    assert all(p.stat().st_size <= 0.1 * 2**20 for p in parts)
    for part in parts:
        with tarfile.open(part) as tar:
            tar.extractall(tmp_path / "data", filter="data")
    originals = list_images([str(d) for d in dirs])
    packed = list_images([str(tmp_path / "data" / d.name) for d in dirs])
    assert [(p.parent.name, p.stem) for p in packed] == [(p.parent.name, p.stem) for p in originals]
    # the centre square of the photo at short side 96, kept by lossy WebP
    first = resize_short_side(read_rgb(originals[0]), 96)
    left = (first.shape[1] - 96) // 2
    assert psnr(read_rgb(packed[0]), np.ascontiguousarray(first[:, left:left + 96])) > 30
    L, ab = ColorizationDataset((str(tmp_path / "data" / "kodak24"),), scale=96, crop=64)[0, 0]
    assert L.shape == (1, 64, 64) and ab.shape == (2, 64, 64)
    assert str(parts[0]) in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--size", "8"], "--size: must be a whole number of pixels, 16 to 4096"),
    (["--quality", "0"], "--quality: must be a whole number, 1 to 100"),
    (["--part-mib", "nan"], "--part-mib: must be a number of MiB from 0.05 to 4096"),
    (["--part-mib", "0.05", "--size", "2048"], "alone takes"),
])
def test_bad_settings_are_refused_in_one_line_and_leave_no_part(tmp_path, capsys, args, message):
    assert pack_main([str(tmp_path / "out"), str(data_file("eval/kodak24")), *args]) == 1
    assert message in _error_line(capsys)
    assert not list((tmp_path / "out").glob("part-*"))


def test_out_and_folders_are_checked_before_any_work(tmp_path, capsys):
    kodak = str(data_file("eval/kodak24"))
    (tmp_path / "file").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "part-001.tar").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    (tmp_path / "twin").mkdir()
    (tmp_path / "twin" / "a.png").write_bytes(cv2.imencode(".png", np.zeros((20, 20, 3), np.uint8))[1].tobytes())
    (tmp_path / "twin" / "a.jpg").write_bytes(cv2.imencode(".jpg", np.zeros((20, 20, 3), np.uint8))[1].tobytes())
    cases = [
        ([str(tmp_path / "file"), kodak], "it is a file, not a folder"),
        ([str(tmp_path / "full"), kodak], "already holds parts"),
        ([str(tmp_path / "out"), kodak, kodak], "two folders are named alike"),
        ([str(tmp_path / "out"), str(tmp_path / "empty")], "no images in"),
        ([str(tmp_path / "out"), str(tmp_path / "twin")], "share a name but for the suffix"),
    ]
    for argv, message in cases:
        assert pack_main(argv) == 1
        assert message in _error_line(capsys)
    assert (tmp_path / "full" / "part-001.tar").read_bytes() == b""
    assert not list((tmp_path / "out").glob("*"))


@pytest.mark.parametrize("stop", ["interrupt", "unreadable photo"])
def test_a_stopped_run_keeps_no_part_and_can_run_again(tmp_path, capsys, monkeypatch, stop):
    """Until session 30 the finished parts stayed: an incomplete set that the next run refused
    to go beside ("already holds parts")."""
    from streamcolor.train import pack

    encoded = []

    def stopped(path, size, quality):
        if len(encoded) == 20:
            raise KeyboardInterrupt if stop == "interrupt" else InputError(f"cannot read image {str(path)!r}")
        encoded.append(path)
        return real(path, size, quality)

    real = pack.square_webp
    monkeypatch.setattr(pack, "square_webp", stopped)
    argv = [str(tmp_path / "out"), str(data_file("eval/kodak24")), "--size", "96", "--part-mib", "0.05"]
    assert pack_main(argv) == (130 if stop == "interrupt" else 1)
    assert ("interrupted; no part is kept" if stop == "interrupt" else "cannot read image") in _error_line(capsys)
    assert not list((tmp_path / "out").iterdir())
    monkeypatch.setattr(pack, "square_webp", real)
    assert pack_main(argv) == 0
    with tarfile.open(sorted((tmp_path / "out").iterdir())[-1]) as tar:
        assert tar.getnames()  # whole: it reads to the end
