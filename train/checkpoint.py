"""Checkpoints without pickle: tensors in safetensors, everything else in JSON.

A checkpoint holds the models, optimizers (state tensors + param-group settings),
torch's global RNG state and that of the run's own generators (the hint sampler's), step and
config, so that resuming continues the run exactly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn


def _flatten_optimizer(name: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = opt.state_dict()
    tensors = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, entries in state["state"].items():
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"{name}.state.{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(name: str, tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    prefix = f"{name}.state."
    for key, value in tensors.items():
        if key.startswith(prefix):
            pid, field = key[len(prefix):].split(".", 1)
            state.setdefault(int(pid), {})[field] = value
    for pid, entries in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(entries)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(path: Path, models: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                    meta: dict[str, Any], generators: dict[str, torch.Generator] | None = None) -> None:
    """Write ``path`` (.safetensors) and ``path.json`` atomically (temp file, then rename)."""
    tensors: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
    tensors.update({f"rng.{name}": g.get_state() for name, g in (generators or {}).items()})
    opt_meta = {}
    for name, model in models.items():
        tensors.update({f"{name}.model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()})
    for name, opt in optimizers.items():
        t, m = _flatten_optimizer(name, opt)
        tensors.update(t)
        opt_meta[name] = m
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp))
    json_tmp = path.with_suffix(".json.tmp")
    json_tmp.write_text(json.dumps({**meta, "optimizers": opt_meta}))
    os.replace(json_tmp, path.with_suffix(".json"))
    os.replace(tmp, path)


def read_metadata(path: Path) -> dict:
    """The JSON metadata of the checkpoint ``path`` (config, step, ...), without its tensors."""
    return json.loads(path.with_suffix(".json").read_text())


def load_checkpoint(path: Path, models: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                    generators: dict[str, torch.Generator] | None = None) -> dict:
    """Restore models, optimizers and the RNGs from ``path``; returns the JSON metadata. A
    generator the checkpoint does not hold (one written before session 29) keeps its state."""
    tensors = load_file(str(path))
    meta = read_metadata(path)
    for name, model in models.items():
        prefix = f"{name}.model."
        model.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
    for name, opt in optimizers.items():
        opt.load_state_dict(_unflatten_optimizer(name, tensors, meta["optimizers"][name]))
    torch.set_rng_state(tensors["rng.torch"])
    for name, g in (generators or {}).items():
        if f"rng.{name}" in tensors:
            g.set_state(tensors[f"rng.{name}"])
    return meta
