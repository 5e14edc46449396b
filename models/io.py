"""Save and load models as ``model.safetensors`` + ``config.json`` (never pickle)."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
import torch
from torch import nn

from streamcolor.errors import InputError, UnknownModelError
from streamcolor.models.registry import create_model

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
#: optional: grey frames that set int8 activation ranges (streamcolor.backends.onnx_backend)
CALIBRATION_FILE = "calibration.safetensors"


def shipped_dir() -> Path:
    """Folder of the weights shipped inside the package (``streamcolor/weights``)."""
    return Path(str(resources.files("streamcolor") / "weights"))


#: Shipped weights that take colour hints (the demo's hint model).
HINT_MODEL = "unet_small_hints_v3"


def shipped_models() -> list[str]:
    """Names of the shipped pretrained weights."""
    root = shipped_dir()
    return sorted(p.name for p in root.iterdir() if (p / CONFIG_FILE).is_file()) if root.is_dir() else []


def save_pretrained(model: nn.Module, directory: str | os.PathLike, dtype: torch.dtype | None = None,
                    **metadata: Any) -> Path:
    """Write ``model.safetensors`` and ``config.json`` (architecture, model_args,
    format_version, L/ab scaling, plus ``metadata`` such as the inference size).

    ``dtype`` (e.g. ``torch.float16``) stores floating-point weights smaller; loading casts
    them back to the model's dtype.

    ``model`` must come from :func:`streamcolor.models.create_model` (it carries
    ``architecture`` and ``model_args``).
    """
    from streamcolor.color import AB_SCALE, L_SCALE

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    save_file(state, str(directory / WEIGHTS_FILE))
    config = {
        "architecture": model.architecture,
        "model_args": model.model_args,
        "format_version": FORMAT_VERSION,
        "L_scale": L_SCALE,
        "ab_scale": AB_SCALE,
        **metadata,
    }
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return directory


def resolve(dir_or_name: str | os.PathLike) -> Path:
    """A folder path, or the name of shipped weights -> the folder holding them.

    Raises:
        UnknownModelError: neither a folder with ``config.json`` and ``model.safetensors`` nor a
            shipped name (a training run's folder is named as such).
    """
    if not isinstance(dir_or_name, (str, os.PathLike)):
        raise UnknownModelError(f"a model is a shipped name or a folder path, got {dir_or_name!r}")
    path = Path(dir_or_name)
    if (path / CONFIG_FILE).is_file() and (path / WEIGHTS_FILE).is_file():
        return path
    if (path / CONFIG_FILE).is_file():  # a training run's folder has a config.json of its own
        raise UnknownModelError(f"{str(path)!r} holds no {WEIGHTS_FILE}: not a saved model (a training run "
                                f"saves its model in {str(path / 'final')!r} when it ends)")
    shipped = shipped_dir() / str(dir_or_name)
    if (shipped / CONFIG_FILE).is_file():
        return shipped
    raise UnknownModelError(
        f"no model at {str(dir_or_name)!r}: give a folder with {CONFIG_FILE} and {WEIGHTS_FILE}, "
        f"or a shipped name ({', '.join(shipped_models()) or 'none shipped'})"
    )


def read_config(dir_or_name: str | os.PathLike) -> dict[str, Any]:
    """The ``config.json`` of a saved model.

    Raises:
        UnknownModelError: see :func:`resolve`.
        InputError: the file is no JSON object with the architecture and its arguments.
    """
    path = resolve(dir_or_name) / CONFIG_FILE
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{str(path)!r} is damaged: {exc}") from exc
    if not (isinstance(config, dict) and isinstance(config.get("architecture"), str)
            and isinstance(config.get("model_args"), dict)):
        raise InputError(f"{str(path)!r} is damaged: it names no architecture and model_args")
    return config


def load_weights(dir_or_name: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state dict of a saved model (safetensors), without building it.

    Raises:
        UnknownModelError: see :func:`resolve`.
        InputError: the file is no safetensors file (truncated, or something else).
    """
    path = resolve(dir_or_name) / WEIGHTS_FILE
    try:
        return load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise InputError(f"{str(path)!r} is damaged: {exc}") from exc


def from_pretrained(dir_or_name: str | os.PathLike) -> nn.Module:
    """Build the saved architecture and load its weights; the model is returned in eval mode.

    Raises:
        UnknownModelError: see :func:`resolve`, or the config names an unregistered architecture.
        InputError: a damaged file (:func:`read_config`, :func:`load_weights`), or weights that
            are not the architecture's.
    """
    directory = resolve(dir_or_name)
    config = read_config(directory)
    model = create_model(config["architecture"], **config["model_args"])
    state, expected = load_weights(directory), model.state_dict()
    shapes = [k for k in state.keys() & expected.keys() if state[k].shape != expected[k].shape]
    if state.keys() != expected.keys() or shapes:
        raise InputError(f"{str(directory / WEIGHTS_FILE)!r} does not hold the weights of {config['architecture']}: "
                         f"{len(expected.keys() - state.keys())} of its tensors missing, "
                         f"{len(state.keys() - expected.keys())} others there, {len(shapes)} of another shape")
    model.load_state_dict(state)
    model.config = config
    model.calibration = load_calibration(directory)
    return model.eval()


def save_calibration(directory: str | os.PathLike, L: torch.Tensor) -> Path:
    """Write ``calibration.safetensors``: uint8 L ``(N, 1, H, W)`` (Lab L scaled to 0-255) of
    grey frames like those the model will colorize; int8 backends take their activation ranges
    from them."""
    if L.dtype != torch.uint8 or L.ndim != 4 or L.shape[1] != 1:
        raise ValueError(f"calibration L: uint8 (N, 1, H, W); got {L.dtype} {tuple(L.shape)}")
    path = Path(directory) / CALIBRATION_FILE
    save_file({"L": L.contiguous()}, str(path))
    return path


def load_calibration(directory: str | os.PathLike) -> torch.Tensor | None:
    """float32 L ``(N, 1, H, W)`` in [-1, 1] from ``calibration.safetensors``, or None without one."""
    path = Path(directory) / CALIBRATION_FILE
    return load_file(str(path))["L"].float() / 127.5 - 1 if path.is_file() else None
