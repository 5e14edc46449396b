"""Generator and colour-maths throughput on one device, without decoding or encoding.

    python benchmarks/gpu.py [--device cuda] [--precision fp16] [--size 256] [--batch 64]
                             [--model NAME] [--compile] [--seconds 5]

For issue 8's GPU target (generator >= 2,000 frames/s at 256 px fp16 on an H100-class GPU),
on a machine with CUDA torch but no PyAV (it imports none: needs numpy, OpenCV, safetensors). Prints frames/s of:
- the generator alone on ``--batch`` frames of ``--size`` x ``--size`` already on the device
  (eager torch, channels_last; with ``--compile`` also torch.compile; TensorRT when
  torch_tensorrt imports, else the reason it does not);
- the torch backend's ``predict_ab`` on host arrays (pinned upload, download included);
- the pipeline's Lab -> Cb/Cr maths (:func:`streamcolor.color.lab_to_cbcr`) for 854x480 frames
  (427x240 chroma), in torch on the device against OpenCV on the CPU.
``--device cpu --precision fp32`` runs the same on the CPU (a check that the script works).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch

from streamcolor.argtypes import positive_seconds, whole_number
from streamcolor.api import DEFAULT_MODEL
from streamcolor.backends.torch_backend import TorchBackend, torch_device
from streamcolor.color import lab_to_cbcr
from streamcolor.models import from_pretrained
from streamcolor.backends.device import to_device


def frames_per_second(run: Callable[[], object], frames: int, seconds: float, device: torch.device) -> float:
    """Calls ``run`` (``frames`` frames each) for about ``seconds`` after two warm-up calls."""
    for _ in range(2):
        run()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        run()
        calls += 1
    sync()
    return calls * frames / (time.perf_counter() - started)


def tensorrt_program(model: torch.nn.Module, x: torch.Tensor) -> tuple[Callable | None, str]:
    try:
        import torch_tensorrt
    except ImportError as exc:
        return None, f"torch_tensorrt not importable ({exc})"
    started = time.perf_counter()
    # torch-tensorrt 2.11+ types explicitly: the engine runs in the model's and x's dtype
    program = torch_tensorrt.compile(model, ir="dynamo", inputs=[x])
    return program, f"built in {time.perf_counter() - started:.1f} s, torch_tensorrt {torch_tensorrt.__version__}"


def main() -> None:
    parser = _cli.parser(__doc__)
    parser.add_argument("--device", default="cuda", help="torch device: cuda, cuda:N or cpu")
    parser.add_argument("--precision", choices=["fp16", "fp32"], default="fp16", help="the generator's float type")
    parser.add_argument("--size", type=whole_number("pixels", 32), default=256, help="side of the square frames")
    parser.add_argument("--batch", type=whole_number("frames", 1), default=64, help="frames per generator call")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="shipped name or folder")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--seconds", type=positive_seconds, default=5.0, help="timed seconds per measurement")
    args = parser.parse_args()
    device = torch_device(args.device)  # one line where this torch sees no GPU
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{name}, torch {torch.__version__}, {args.precision}, batch {args.batch} of {args.size}x{args.size}")
    backend = TorchBackend(from_pretrained(args.model), args.device, args.precision)
    x = torch.zeros(args.batch, 1, args.size, args.size, device=device, dtype=backend.dtype)
    x = x.contiguous(memory_format=torch.channels_last)
    runners = {"torch eager": backend.model}
    if args.compile:
        runners["torch.compile"] = torch.compile(backend.model)
    program, note = tensorrt_program(backend.model, x) if device.type == "cuda" else (None, "needs CUDA")
    if program is not None:
        runners["TensorRT"] = program
    else:
        print(f"TensorRT: not measured: {note}")
    with torch.inference_mode():
        for label, runner in runners.items():
            fps = frames_per_second(lambda: runner(x), args.batch, args.seconds, device)
            print(f"generator, {label:13}: {fps:9.0f} frames/s")
        L = np.random.default_rng(0).uniform(0, 100, (args.batch, args.size, args.size)).astype(np.float32)
        fps = frames_per_second(lambda: backend.predict_ab(L), args.batch, args.seconds, device)
        print(f"predict_ab from host arrays: {fps:9.0f} frames/s (upload, generator, download)")
    gy, gx = np.mgrid[0:240, 0:427] / 40.0  # smooth colour of about a real frame's chroma, a little out of gamut
    lab = np.dstack([20 + 60 * gy / 6, 35 * np.sin(gx), 35 * np.cos(gx + gy)]).astype(np.float32)
    fps = frames_per_second(lambda: lab_to_cbcr(to_device(lab, device)).cpu(), 1, args.seconds, device)
    print(f"Lab -> Cb/Cr at 427x240, torch on {device} (upload, download included): {fps:7.0f} frames/s")
    fps = frames_per_second(lambda: lab_to_cbcr(lab), 1, args.seconds, device)
    print(f"Lab -> Cb/Cr at 427x240, OpenCV on the CPU: {fps:7.0f} frames/s")


if __name__ == "__main__":
    import _cli  # beside this script

    _cli.run(main)
