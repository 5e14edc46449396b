"""Backend selection with TensorRT absent, and the TensorRT cache key."""

from __future__ import annotations

import inspect
import logging
import platform
import subprocess
import sys

import numpy as np
import pytest
import torch

from streamcolor.api import DEFAULT_MODEL
from streamcolor.backends import TorchBackend, select_backend
from streamcolor.backends.cache import model_digest
from streamcolor.backends.onnx_backend import OnnxBackend, int8_cache_path, onnx_cache_path, output_tail
from streamcolor.backends.tensorrt import cache_key
from conftest import data_file
from streamcolor.errors import InputError
from streamcolor.models import create_model


@pytest.fixture
def no_tensorrt(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_tensorrt", None)  # import fails as when not installed


def test_auto_falls_back_and_logs_why(no_tensorrt, caplog):
    model = create_model("unet_tiny")
    with caplog.at_level(logging.INFO, logger="streamcolor"):
        backend = select_backend("auto", model)
    assert "tensorrt skipped" in caplog.text
    if not torch.cuda.is_available():
        assert isinstance(backend, OnnxBackend)
        assert "torch-cuda skipped: no CUDA device" in caplog.text and "backend: onnxruntime (" in caplog.text


def test_auto_without_onnxruntime_uses_torch_cpu(no_tensorrt, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with caplog.at_level(logging.INFO, logger="streamcolor"):
        backend = select_backend("auto", create_model("unet_tiny"))
    if not torch.cuda.is_available():
        assert isinstance(backend, TorchBackend)
        assert "onnxruntime skipped" in caplog.text and "backend: torch-cpu" in caplog.text


def test_onnxruntime_matches_torch_on_film_frames(tmp_path, monkeypatch):
    from streamcolor.api import image_to_L
    from streamcolor.media import read_rgb_frames
    from streamcolor.models import from_pretrained

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # a fresh cache: export, then reuse
    model = from_pretrained(DEFAULT_MODEL)
    frames = [f for _, f in zip(range(4), read_rgb_frames(data_file("video/film/chaplin.mp4"), 150))]
    L = np.stack([image_to_L(f) for f in frames])  # (4, 150, 267): not a multiple of 32, so padding is exercised
    expected = select_backend("torch-cpu", model).predict_ab(L)
    onnx = OnnxBackend(model)
    path = onnx_cache_path(model)
    assert path.is_file() and path.is_relative_to(tmp_path)
    ab = onnx.predict_ab(L)
    assert ab.shape == expected.shape == (4, 150, 267, 2)
    assert np.abs(ab - expected).max() < 0.05  # Lab units
    built = path.stat().st_mtime_ns
    OnnxBackend(model)
    assert path.stat().st_mtime_ns == built  # reused, not exported again
    path.write_bytes(b"not a model")
    np.testing.assert_allclose(OnnxBackend(model).predict_ab(L), ab, atol=1e-4)  # a corrupt entry is rebuilt


def test_int8_is_quantized_and_keeps_the_colour(tmp_path, monkeypatch, kodak):
    import onnx
    from streamcolor.api import image_to_L
    from streamcolor.backends.onnx_backend import _cpu_features, int8_supported
    from streamcolor.images import read_rgb, resize_short_side
    from streamcolor.models import from_pretrained

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model = from_pretrained(DEFAULT_MODEL)
    assert model.calibration.shape[1] == 1 and -1 <= model.calibration.min() < model.calibration.max() <= 1
    if not int8_supported(platform.machine(), _cpu_features()):
        with pytest.raises(InputError, match="AVX-512 VNNI only"):
            select_backend("onnxruntime-int8", model)
        pytest.skip("this CPU lacks AVX-512 VNNI: int8 is refused here (checked above) and auto keeps fp32")
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # as in the CLI, not under pytest's capture
    int8 = select_backend("auto", model) if not torch.cuda.is_available() else OnnxBackend(model, precision="int8")
    assert int8.name == "onnxruntime-int8"
    assert logging.getLogger().handlers == []  # the quantizer's logging left no handler behind
    graph = onnx.load(str(int8_cache_path(onnx_cache_path(model), model.calibration)))
    assert sum(node.op_type == "QuantizeLinear" for node in graph.graph.node) > 50  # every conv's input
    # the ab layer, the bin classifier and what mixes them into ab stay fp32: nothing there is quantized
    tail = [node for node in graph.graph.node if node.name in output_tail(graph.graph)]
    assert {"/head/head.2/Conv", "/classifier/Conv", "Softmax", "MatMul"} <= {n.name for n in tail} | {n.op_type for n in tail}
    assert not [node.name for node in tail if node.op_type in ("QuantizeLinear", "DequantizeLinear")]
    L = np.stack([image_to_L(resize_short_side(read_rgb(path), 128)) for path in kodak[:3]])  # (3, 128, 192)
    fp32 = OnnxBackend(model).predict_ab(L)
    ab = int8.predict_ab(L)
    assert ab.shape == fp32.shape == (3, 128, 192, 2)
    assert np.abs(ab - fp32).mean() < 1.5 and np.abs(fp32).mean() > 5  # Lab units: the same colour, not grey
    onnx_cache_path(model).write_bytes(b"not a model")  # a corrupt fp32 entry is rebuilt for a new int8 build
    int8_cache_path(onnx_cache_path(model), model.calibration).unlink()
    np.testing.assert_array_equal(OnnxBackend(model, precision="int8").predict_ab(L), ab)


def test_int8_only_on_x86_with_vnni():
    from streamcolor.backends.onnx_backend import int8_supported

    assert int8_supported("x86_64", {"AVX2": True, "AVX512F": True, "AVX512VNNI": True})
    assert int8_supported("AMD64", {"AVX512VNNI": True})
    assert not int8_supported("x86_64", {"AVX2": True, "AVX512F": True, "AVX512VNNI": False})
    assert not int8_supported("x86_64", {"AVX2": True})
    assert not int8_supported("aarch64", {"ASIMD": True}) and not int8_supported("arm64", {})


def test_int8_cache_key_follows_the_quantization_settings(tmp_path, monkeypatch):
    from streamcolor.backends import onnx_backend

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model, frames = create_model("unet_tiny"), torch.zeros(2, 64, 64)
    fp32 = onnx_backend.onnx_cache_path(model)
    int8 = onnx_backend.int8_cache_path(fp32, frames)
    assert int8.parent == fp32.parent and int8 != fp32
    monkeypatch.setitem(onnx_backend.INT8_SETTINGS, "per_channel", False)
    per_tensor = onnx_backend.int8_cache_path(fp32, frames)
    assert per_tensor not in (fp32, int8)
    assert onnx_backend.int8_cache_path(fp32, frames + 0.5) != onnx_backend.int8_cache_path(fp32, frames)


def test_int8_needs_calibration_frames(no_tensorrt, tmp_path, monkeypatch):
    from streamcolor.models import from_pretrained, save_calibration, save_pretrained

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    model = create_model("unet_tiny")
    assert getattr(model, "calibration", None) is None
    with pytest.raises(InputError, match="'onnxruntime-int8' cannot run here: int8 needs the model's calibration"):
        select_backend("onnxruntime-int8", model)
    model.calibration = torch.zeros(2, 1, 30, 44)  # the model's multiple is 8
    with pytest.raises(InputError, match="calibration frames are 44x30; int8 needs sides that are multiples of 8"):
        select_backend("onnxruntime-int8", model)
    model.calibration = None
    if not torch.cuda.is_available():
        assert select_backend("auto", model).name == "onnxruntime"
    save_pretrained(model, tmp_path)
    with pytest.raises(ValueError, match="uint8"):
        save_calibration(tmp_path, torch.zeros(2, 1, 32, 32))
    save_calibration(tmp_path, torch.tensor([0, 255], dtype=torch.uint8).reshape(1, 1, 1, 2).repeat(2, 1, 32, 16))
    loaded = from_pretrained(tmp_path).calibration
    assert loaded.shape == (2, 1, 32, 32) and loaded.min() == -1 and loaded.max() == 1


def test_named_backend_that_cannot_run(no_tensorrt):
    with pytest.raises(InputError, match="'tensorrt' cannot run here"):
        select_backend("tensorrt", create_model("unet_tiny"))
    with pytest.raises(InputError, match="unknown backend"):
        select_backend("onnx", create_model("unet_tiny"))


def test_torch_cpu_backend_matches_model():
    torch.manual_seed(0)
    model = create_model("unet_tiny").eval()
    L = np.random.default_rng(0).uniform(0, 100, (2, 20, 28)).astype(np.float32)
    ab = select_backend("torch-cpu", model).predict_ab(L)
    assert ab.shape == (2, 20, 28, 2) and ab.dtype == np.float32 and np.abs(ab).max() <= 110


def test_cache_key_changes_with_what_the_engine_depends_on(monkeypatch):
    torch.manual_seed(0)
    a = create_model("unet_tiny")
    digest = model_digest(a)
    assert digest == model_digest(a)
    with torch.no_grad():
        next(a.parameters()).add_(1e-3)
    assert model_digest(a) != digest
    changed_code = model_digest(a)
    monkeypatch.setattr(inspect, "getsource", lambda module: "def forward(self, L): ...  # another release")
    assert model_digest(a) != changed_code  # a graph bakes in forward: new code, new cache entry
    versions = {"torch": "2.13.0", "torch-tensorrt": "2.13.0", "tensorrt": "10.13"}
    base = cache_key(digest, (160, 288), "fp16", 16, "NVIDIA H100", versions)
    assert base == cache_key(digest, (160, 288), "fp16", 16, "NVIDIA H100", versions)
    for changed in [cache_key(digest, (160, 256), "fp16", 16, "NVIDIA H100", versions),
                    cache_key(digest, (160, 288), "fp32", 16, "NVIDIA H100", versions),
                    cache_key(digest, (160, 288), "fp16", 16, "NVIDIA A100", versions),
                    cache_key(digest, (160, 288), "fp16", 16, "NVIDIA H100", {**versions, "tensorrt": "10.14"})]:
        assert changed != base


def test_torch_backend_layouts_agree_and_fp16_needs_cuda():
    from streamcolor.models import from_pretrained

    model = from_pretrained(DEFAULT_MODEL)
    L = np.random.default_rng(1).uniform(0, 100, (2, 40, 72)).astype(np.float32)
    nhwc = TorchBackend(model, channels_last=True).predict_ab(L)
    nchw = TorchBackend(model, channels_last=False).predict_ab(L)
    assert np.abs(nhwc - nchw).max() < 1e-3
    with pytest.raises(InputError, match="fp16 on CUDA"):
        TorchBackend(model, "cpu", precision="fp16")


def test_generator_and_colour_maths_import_without_pyav():
    """benchmarks/gpu.py runs on a GPU machine whose image has torch but no PyAV."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'av': raise ImportError('no PyAV here')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import streamcolor.backends.torch_backend, streamcolor.color, streamcolor.models, streamcolor.backends.device\n"
        "print('imported', 'av' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "imported False\n", done.stderr


def test_takes_hints_says_whether_the_backend_passes_them():
    """Before session 30 ``takes_hints`` was True for the hint model on ONNX Runtime, which then
    refused every hint."""
    from streamcolor import Colorizer
    from streamcolor.api import HINT_MODEL

    assert Colorizer.from_pretrained(HINT_MODEL, device="cpu").takes_hints  # the API's default: torch
    onnx = Colorizer.from_pretrained(HINT_MODEL, backend="onnxruntime")
    assert not onnx.takes_hints
    with pytest.raises(InputError, match=r"colour hints need the torch backend, not onnxruntime \(backend='torch-cpu'"):
        onnx.colorize_image(np.zeros((64, 64), np.uint8), hints=[(5, 5, (255, 0, 0))])


def test_ray_tasks_run_the_backend_asked_for():
    """Until session 31 a Ray task ran torch-cuda on a GPU and ``auto`` otherwise, whatever
    ``--backend`` said (docs/scaling.md promised TensorRT on GPU tasks)."""
    from streamcolor import Colorizer
    from streamcolor.distributed import colorizer_from, model_payload

    asked = Colorizer.from_pretrained(backend="torch-cpu")
    assert asked.backend_request == "torch-cpu"
    assert colorizer_from(model_payload(asked)).backend.name == "torch-cpu"
    default = Colorizer.from_pretrained(device="cpu")  # a device only: the task takes the best there
    assert colorizer_from(model_payload(default)).backend.name == select_backend("auto", default.model).name


def test_colorizer_takes_a_backend_name_and_refuses_anything_else():
    """Until session 31 ``Colorizer(model, backend="onnxruntime")`` was accepted and failed at
    the first picture with an AttributeError."""
    from streamcolor import Colorizer
    from streamcolor.models import from_pretrained

    model = from_pretrained("lite0_unet_v6")
    assert Colorizer(model, backend="torch-cpu").backend.name == "torch-cpu"
    with pytest.raises(InputError, match="unknown backend 'nope'"):
        Colorizer(model, backend="nope")
    with pytest.raises(InputError, match="backend must be a name .* or a Backend, not int"):
        Colorizer(model, backend=5)


def test_cache_key_follows_the_model_arguments_and_every_module_it_runs(monkeypatch):
    """Session 32's review: a classifier's temperature (no weight) and the encoder's module
    (SameConv2d's padding is baked into the graph) did not change the key, so a stale graph
    ran; a bytecode-only install (no source) was a traceback."""
    from streamcolor.backends import cache

    model = create_model("lite0_unet_bins")
    warmer = create_model("lite0_unet_bins", temperature=2.0)
    warmer.load_state_dict(model.state_dict())
    assert model_digest(warmer) != model_digest(model)
    seen = []
    monkeypatch.setattr(cache, "_source", lambda module: seen.append(module) or module)
    model_digest(model)
    assert {"streamcolor.models.efficientnet", "streamcolor.models.lite_unet", "streamcolor.color"} <= set(seen)
    monkeypatch.undo()

    def no_source(module):
        raise OSError("could not get source code")

    monkeypatch.setattr(inspect, "getsource", no_source)
    assert len(model_digest(model)) == 64


def test_auto_says_when_the_onnx_cache_cannot_be_written(no_tensorrt, tmp_path, monkeypatch, caplog):
    """A cache path that is a file (or a read-only disk) silently cost every run ONNX Runtime
    until session 32."""
    (tmp_path / "streamcolor").write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert select_backend("auto", create_model("unet_tiny")).name == "torch-cpu"
    assert "the ONNX cache in" in caplog.text and "cannot be written" in caplog.text


def test_tensorrt_keeps_the_callers_model_and_a_failed_compile_is_one_line(monkeypatch):
    """By simulation (no GPU here): the backend turned the caller's model to float16 in place,
    and a model TensorRT cannot compile failed at the first picture with a traceback."""
    import types

    from streamcolor.backends.tensorrt import TensorRTBackend

    def refuse(*args, **kwargs):
        raise RuntimeError("[TensorRT] Unsupported operator: aten::grid_sampler\nmore")

    fake = types.SimpleNamespace(Input=lambda **kwargs: kwargs, compile=refuse)
    monkeypatch.setitem(sys.modules, "torch_tensorrt", fake)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "a simulated GPU")
    model = create_model("unet_tiny")
    backend = TensorRTBackend(model, device="cpu")
    assert next(model.parameters()).dtype == torch.float32
    with pytest.raises(InputError, match=r"TensorRT cannot compile the generator for 32x16 pictures \(\[TensorRT\] "
                                         r"Unsupported operator: aten::grid_sampler\); run it with --backend torch-cuda"):
        backend.predict_ab(np.zeros((1, 16, 32), np.float32))


def test_a_damaged_cache_entry_that_still_parses_is_rebuilt(no_tensorrt, tmp_path, monkeypatch, caplog):
    """64 bytes flipped inside the cached graph's weights loaded without a word and painted
    other colours until session 32: each entry is sealed with its sha256 now."""
    from streamcolor.backends.onnx_backend import onnx_cache_path

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model = create_model("unet_tiny").eval()
    L = np.random.default_rng(0).uniform(0, 100, (1, 32, 32)).astype(np.float32)
    expected = select_backend("onnxruntime", model).predict_ab(L)
    path = onnx_cache_path(model)
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = bytes(64)
    path.write_bytes(bytes(data))
    np.testing.assert_allclose(select_backend("onnxruntime", model).predict_ab(L), expected, atol=1e-5)
    assert "is unusable (its sha256 is not the one it was written with): rebuilding" in caplog.text
