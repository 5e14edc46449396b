"""What the front ends (the CLI, the demo) take from the API: reference images."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from conftest import data_file
from streamcolor import InputError
from streamcolor.api import load_references
from streamcolor.images import read_rgb


def test_load_references_reads_images_and_a_numbered_folder(tmp_path):
    photo = data_file("eval/kodak24/kodim05.png")
    folder = tmp_path / "refs"
    folder.mkdir()
    shutil.copy(photo, folder / "000064.png")
    (folder / "notes.txt").write_text("not numbered: passed over")
    references = load_references({3: photo}, folder)
    assert sorted(references) == [3, 64]
    for image in references.values():
        assert image.dtype == np.uint8 and image.shape == (512, 768, 3)
        assert np.array_equal(image, read_rgb(photo))


def test_load_references_refuses_what_it_cannot_read(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(InputError, match="does not exist"):
        load_references({2: tmp_path / "missing.png"})
    with pytest.raises(InputError, match="is not an image OpenCV can read"):
        load_references({2: tmp_path / "notes.png"})
    with pytest.raises(InputError, match="is not a folder"):
        load_references(folder=tmp_path / "missing")
    with pytest.raises(InputError, match="no reference images named by frame number"):
        load_references(folder=tmp_path)
