import pytest
import torch

from streamcolor.errors import ModelArgumentsError, UnknownModelError
from streamcolor.models import create_model, from_pretrained, list_models, register_model, save_pretrained
from streamcolor.models import registry
from streamcolor.models.unet import UNetGenerator

GENERATORS = list_models(role="generator")


@pytest.mark.parametrize("name", GENERATORS)
def test_generator_maps_L_to_ab(name):
    torch.manual_seed(0)
    model = create_model(name).eval()
    size = model.multiple
    with torch.no_grad():
        out = model(torch.rand(1, 1, size, size) * 2 - 1)
    assert out.shape == (1, 2, size, size)
    assert out.min() >= -1 and out.max() <= 1


def test_unet_options():
    assert create_model("unet_tiny", num_downs=4).multiple == 16
    noskip = create_model("unet_tiny", skip=False)
    skip = create_model("unet_tiny")
    assert sum(p.numel() for p in noskip.parameters()) < sum(p.numel() for p in skip.parameters())
    with pytest.raises(ValueError):
        UNetGenerator(num_downs=1)


def test_discriminators_are_listed_apart():
    assert list_models(role="discriminator") == ["patchgan70"] and "patchgan70" not in GENERATORS
    assert sorted(GENERATORS + ["patchgan70"]) == list_models() and "lite0_unet_bins" in GENERATORS


def test_patchgan_is_70x70():
    d = create_model("patchgan70").eval()
    x = torch.zeros(1, 3, 256, 256, requires_grad=True)
    scores = d(x)
    assert scores.shape == (1, 1, 30, 30)
    scores[0, 0, 15, 15].backward()  # a central score: which input pixels can change it?
    rows = torch.nonzero(x.grad.abs().sum((0, 1, 3))).flatten()
    cols = torch.nonzero(x.grad.abs().sum((0, 1, 2))).flatten()
    assert rows.max() - rows.min() + 1 == 70 and cols.max() - cols.min() + 1 == 70


def test_duplicate_name_refused():
    with pytest.raises(ValueError, match="already registered"):
        @register_model
        def unet_tiny():  # noqa: F811
            return None


def test_unknown_name():
    with pytest.raises(UnknownModelError, match="registered models"):
        create_model("no_such_model")


def test_none_config_does_not_override():
    assert create_model("unet_tiny", ngf=None).model_args["ngf"] == 8


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = create_model("unet_tiny", ngf=4).eval()
    save_pretrained(model, tmp_path / "m", inference_short_side=64)
    loaded = from_pretrained(tmp_path / "m")
    assert loaded.config["inference_short_side"] == 64
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    x = torch.rand(2, 1, 16, 24) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_unknown_pretrained(tmp_path):
    with pytest.raises(UnknownModelError, match="config.json"):
        from_pretrained(tmp_path / "missing")


def test_every_shipped_model_is_packaged():
    tomllib = pytest.importorskip("tomllib", reason="tomllib (reading pyproject.toml) needs Python 3.11+")
    from pathlib import Path

    from streamcolor.models import shipped_models

    root = Path(__file__).resolve().parents[1]
    setuptools = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    packaged = {name.rsplit(".", 1)[1] for name in setuptools["package-data"] if name.startswith("streamcolor.weights.")}
    listed = {name.rsplit(".", 1)[1] for name in setuptools["packages"] if name.startswith("streamcolor.weights.")}
    assert set(shipped_models()) == packaged == listed  # a folder missing here would not reach a wheel


def test_unknown_argument_names_what_the_model_takes():
    """unet_small_hints passes **kwargs on to the U-Net: names of both are taken, others refused."""
    assert create_model("unet_small_hints", ngf=8, num_downs=3, attention=0).model_args["ngf"] == 8
    with pytest.raises(ModelArgumentsError, match=r"it takes no nope \(it takes attention, depth, dropout"):
        create_model("unet_small_hints", ngf=8, nope=1)
    with pytest.raises(ModelArgumentsError, match=r"in_channels is 1 \+ the hint channels"):
        create_model("unet_small_hints", in_channels=3)  # before session 27 silently replaced, yet stored


def test_constructor_bug_is_not_reported_as_bad_arguments():
    """Before session 27 a TypeError inside a constructor given arguments read as the caller's fault."""
    class Broken(torch.nn.Module):
        def __init__(self, width: int = 4) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 2, 3, paddin=1)  # the bug: a misspelt keyword

    def registry_test_broken(**kwargs) -> Broken:
        return Broken(**kwargs)

    register_model(registry_test_broken)
    try:
        with pytest.raises(TypeError, match="paddin") as caught:
            create_model("registry_test_broken", width=8)
        assert not isinstance(caught.value, ModelArgumentsError)
        with pytest.raises(ModelArgumentsError, match="it takes no depth"):
            create_model("registry_test_broken", depth=1)
    finally:
        registry._REGISTRY.pop("registry_test_broken")
