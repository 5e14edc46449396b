"""ONNX Runtime backend: the fast CPU path, in fp32 or int8.

The generator is exported once to ONNX (batch, height and width dynamic; fp32) and cached
in the user cache directory under a key of weights sha256 + torch / onnx versions; an
unreadable entry, or one whose sha256 is not the one it was written with, is rebuilt. On this project's 2-core CPU the default U-Net runs
about 1.3x faster under ONNX Runtime than in eager PyTorch (docs/performance.md).

int8: ONNX Runtime's static quantization of that graph (QDQ; int8 weights per output
channel, uint8 activations whose ranges are the min/max over the model's calibration frames,
``calibration.safetensors`` beside its weights), cached under a key that adds the frames'
sha256 and the onnxruntime version. For the default ``lite0_unet`` the generator runs 2.5x faster than
in fp32, with hue accuracy within 0.01 and colourfulness up to 1.0 lower (docs/performance.md,
session 15, measured with ``lite0_unet_v4``). onnxruntime is imported lazily.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from streamcolor.backends.base import Backend
from streamcolor.backends.cache import cache_dir, model_digest, package_version, seal, sealed

log = logging.getLogger("streamcolor")

OPSET = 17


#: precision -> what the backend is called in the registry and in logs
PRECISIONS = {"fp32": "onnxruntime", "int8": "onnxruntime-int8"}
#: the calibration frames are also seen through these tone curves (L ** gamma): films lighter or
#: darker than the calibration clip then stay inside the activation ranges (kodak24 colourfulness
#: 28.1 -> 28.5, mcmaster18 29.3 -> 30.4 with chaplin's frames; fp32: 28.8, 30.9)
CALIBRATION_GAMMAS = (1.0, 0.6, 1.6)
#: the arguments :func:`quantize_int8` gives ONNX Runtime's ``quantize_static`` (names of its enums;
#: min/max calibration, its default); the int8 cache key is built from them, so a change here
#: makes a new cache entry
INT8_SETTINGS = {"quant_format": "QDQ", "per_channel": True, "activation_type": "QUInt8", "weight_type": "QInt8"}
_X86 = {"x86_64", "amd64", "i386", "i686", "x86"}


def int8_supported(machine: str, cpu_features: dict[str, bool]) -> bool:
    """Whether the int8 graph runs here: x86 with AVX-512 VNNI only. Without VNNI, x86 multiplies
    uint8 x int8 with instructions that add pairs of products in int16 and can saturate (ONNX
    Runtime's quantization docs); the 7-bit weights that avoid it took the colour 3x further from
    fp32 (mean |Δab| 2.07 against 0.68 on three kodak24 photos, session 15), and ARM was never
    measured, so both keep fp32. ``machine`` is :func:`platform.machine`, ``cpu_features``
    numpy's table of the CPU's features."""
    return machine.lower() in _X86 and bool(cpu_features.get("AVX512VNNI"))


def _usable_cores() -> int:
    """The cores this process may run on (its affinity, a container's CPU set), not the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 2


def _cpu_features() -> dict[str, bool]:
    try:  # numpy detects the CPU's features at import, on every OS
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__
    return __cpu_features__


def onnx_cache_path(model: nn.Module) -> Path:
    """Where the exported ``model`` is cached (changes with its weights, its code and the exporter's versions)."""
    parts = [model_digest(model), f"opset{OPSET}", *(f"{p}={package_version(p)}" for p in ("torch", "onnx"))]
    return cache_dir("onnx") / f"{hashlib.sha256('|'.join(parts).encode()).hexdigest()[:32]}.onnx"


def int8_cache_path(fp32: Path, calibration: torch.Tensor) -> Path:
    """Where the int8 quantization of the export cached at ``fp32`` (:func:`onnx_cache_path`) is
    cached: it changes with that export, the calibration frames and :data:`INT8_SETTINGS`."""
    parts = [fp32.stem, repr(sorted(INT8_SETTINGS.items())), "fp32 output tail",
             f"gammas={CALIBRATION_GAMMAS}", hashlib.sha256(calibration.numpy().tobytes()).hexdigest(),
             f"onnxruntime={package_version('onnxruntime')}"]
    return fp32.with_name(f"{hashlib.sha256('|'.join(parts).encode()).hexdigest()[:32]}.onnx")


def output_tail(graph) -> list[str]:
    """Names of the nodes of an ONNX ``graph`` from which no convolution can be reached: the output
    layers (the ab conv; a classifier's bin logits, whose errors a softmax at a low temperature
    multiplies) and whatever combines them into ab. :func:`quantize_int8` leaves them in fp32: ranges
    calibrated on film frames that ask for little colour would clip colourful scenes."""
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    feeds_conv: dict[str, bool] = {}

    def reaches_conv(node) -> bool:
        if node.name not in feeds_conv:
            feeds_conv[node.name] = False  # the graph is acyclic; this only stops a revisit
            children = [child for output in node.output for child in consumers.get(output, [])]
            feeds_conv[node.name] = any(child.op_type == "Conv" or reaches_conv(child) for child in children)
        return feeds_conv[node.name]

    return [node.name for node in graph.node if not reaches_conv(node)]


def export_onnx(model: nn.Module, path: Path) -> None:
    """Export ``model`` (L ``(N, 1, H, W)`` in [-1, 1] -> ab ``(N, 2, H, W)``) to ``path``
    with dynamic N, H, W; written to a temporary file, renamed, and sealed (:func:`seal`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")  # concurrent first runs do not collide
    example = torch.zeros(1, 1, 64, 64)
    axes = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation on every call
        try:
            torch.onnx.export(model, (example,), str(tmp), input_names=["L"], output_names=["ab"], opset_version=OPSET,
                              dynamic_axes={"L": axes, "ab": axes}, dynamo=False)
            tmp.replace(path)
            seal(path)
        finally:
            tmp.unlink(missing_ok=True)


def quantize_int8(fp32: Path, path: Path, calibration: torch.Tensor) -> None:
    """Quantize the exported graph ``fp32`` to int8 QDQ at ``path`` with ONNX Runtime's tool:
    weights per output channel, activations to uint8 over their min/max on ``calibration``
    (float32 L ``(N, 1, H, W)`` in [-1, 1], one frame at a time, each also through
    :data:`CALIBRATION_GAMMAS`); the output layers and what follows them stay fp32
    (:func:`output_tail`). Written to a temporary file and renamed."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            unit = (calibration.numpy()[:, None] + 1) / 2
            self.frames = iter(np.concatenate([unit**gamma * 2 - 1 for gamma in CALIBRATION_GAMMAS]).astype(np.float32))

        def get_next(self) -> dict | None:
            return next(({"L": frame} for frame in self.frames), None)

    prepared = path.with_name(f"{path.stem}.{os.getpid()}.pre")
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
    # the tool logs through the root logger, which gives it a handler of its own: our log lines
    # would then print twice for the rest of the run
    root_handlers = list(logging.getLogger().handlers)
    try:
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)  # folds BatchNorm into the convs
        # the ab layer's range, set on film frames that ask for little colour, would clip colourful
        # scenes (kodak24 colourfulness 28.8 -> 25.1 with it in int8, 28.1 without, for 5 % more time)
        tail = output_tail(onnx.load(str(prepared)).graph)
        enums = {"quant_format": QuantFormat, "activation_type": QuantType, "weight_type": QuantType}
        settings = {name: enums[name][value] if name in enums else value for name, value in INT8_SETTINGS.items()}
        quantize_static(str(prepared), str(tmp), Frames(), nodes_to_exclude=tail, **settings)
        tmp.replace(path)
        seal(path)
    finally:
        logging.getLogger().handlers[:] = root_handlers
        prepared.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)


class OnnxBackend(Backend):
    """Run a generator with ONNX Runtime on the CPU, in fp32 or int8.

    Args:
        model: the generator (its ``multiple`` attribute sets the padding; int8 needs its
            ``calibration`` frames, which :func:`streamcolor.models.from_pretrained` reads).
        threads: intra-op threads (None = half the cores, at least one: the pipeline's decoder,
            encoder and colour maths run on the rest; on 2 cores one thread colorized the
            bunny clip 10-13 % faster than two, docs/performance.md).
        precision: ``"fp32"`` or ``"int8"`` (module docstring).

    Raises:
        ImportError: onnxruntime or onnx is not installed.
        ValueError: an unknown ``precision``.
        RuntimeError: the model cannot be exported, quantized (int8 without calibration
            frames, with frames of sides that are not multiples of the model's, or on a CPU
            without VNNI: :func:`int8_supported`) or loaded.
    """

    name = "onnxruntime"

    def __init__(self, model: nn.Module, threads: int | None = None, precision: str = "fp32") -> None:
        import onnxruntime

        if precision not in PRECISIONS:
            raise ValueError(f"precision: one of {', '.join(PRECISIONS)}; got {precision!r}")
        calibration = getattr(model, "calibration", None) if precision == "int8" else None
        if precision == "int8":
            self._check_int8(calibration, model.multiple)
        model = model.eval().float().cpu()
        fp32 = onnx_cache_path(model)
        path = fp32 if calibration is None else int8_cache_path(fp32, calibration)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or max(1, _usable_cores() // 2)
        # idle pool threads would otherwise spin, taking the cores the decoder, the encoder
        # and the colour maths run on between batches
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = self._load(onnxruntime, path, options)
        if session is None:
            started = time.perf_counter()
            try:
                # a corrupt fp32 entry would fail every int8 build: loading it checks it (and drops it)
                if path == fp32 or self._load(onnxruntime, fp32, options) is None:
                    export_onnx(model, fp32)
                if calibration is not None:
                    quantize_int8(fp32, path, calibration)
            except Exception as exc:  # the exporter and quantizer raise many kinds; all mean "not this backend"
                if isinstance(exc, OSError):  # said at the default verbosity: it costs every run ONNX's speed
                    log.warning("the ONNX cache in %s cannot be written (%s): the generator runs without ONNX "
                                "Runtime", path.parent, exc.strerror or exc)
                raise RuntimeError(f"ONNX {precision} export failed: {exc}") from exc
            log.info("exported the generator to ONNX %s in %.1f s (cached as %s)", precision,
                     time.perf_counter() - started, path.name)
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.session = session
        self.multiple = model.multiple
        self.name = PRECISIONS[precision]

    @staticmethod
    def _check_int8(calibration: torch.Tensor | None, multiple: int) -> None:
        if calibration is None:
            raise RuntimeError("int8 needs the model's calibration frames (calibration.safetensors beside its weights)")
        if calibration.shape[-2] % multiple or calibration.shape[-1] % multiple:
            raise RuntimeError(f"the calibration frames are {calibration.shape[-1]}x{calibration.shape[-2]}; "
                               f"int8 needs sides that are multiples of {multiple}")
        if not int8_supported(platform.machine(), _cpu_features()):
            raise RuntimeError("int8 is used on x86 CPUs with AVX-512 VNNI only (elsewhere its colour was not kept)")

    @staticmethod
    def _load(onnxruntime, path: Path, options):
        if not path.is_file():
            return None
        try:
            if not sealed(path):
                raise ValueError("its sha256 is not the one it was written with")
            return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own error types: any failure means rebuild
            log.warning("ONNX cache entry %s is unusable (%s): rebuilding", path.name, exc)
            with contextlib.suppress(OSError):  # a read-only cache: the rebuild says so
                path.unlink(missing_ok=True)
            return None

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.session.run(None, {"L": x.numpy()})[0])
