"""Host -> device copies of frame data.

On CUDA a batch is copied into page-locked (pinned) host memory first, so that the copy
to the GPU is a DMA transfer that runs without blocking the host thread
(``non_blocking=True``); work queued after it on the same CUDA stream waits for it. On
the CPU the array is wrapped without a copy.
"""

from __future__ import annotations

import numpy as np
import torch


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """float32 tensor of ``array`` (any shape) on ``device``.

    Args:
        array: numeric array; converted to float32 (C-contiguous) first.
        device: where the tensor lives; on a CUDA device the copy goes through pinned host
            memory and does not block (see the module docstring).

    Returns:
        float32 tensor of the same shape and values. On the CPU it shares memory with
        ``array`` when that is already float32 and contiguous.
    """
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def maths_device(backend: object) -> torch.device | None:
    """The CUDA device ``backend`` runs its generator on, where the pipeline's Lab -> Y'CbCr
    maths should run too (the frames' ab already come from there, and the CPU is busy
    decoding and encoding); None for a CPU backend, whose maths stay in OpenCV."""
    device = getattr(backend, "device", None)
    return device if isinstance(device, torch.device) and device.type == "cuda" else None
