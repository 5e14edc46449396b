"""Model registry: names -> constructor functions, in the style of timm's ``_registry``."""

from __future__ import annotations

import fnmatch
from typing import Any, Callable

from torch import nn

from streamcolor.errors import InputError, UnknownModelError

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Decorator: register ``fn`` under its function name.

    Raises:
        ValueError: a model of that name is already registered.
    """
    name = fn.__name__
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is already registered; pick another function name")
    _REGISTRY[name] = fn
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Sorted registered names matching the shell-style ``pattern``."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def is_model(name: str) -> bool:
    """True when ``name`` is registered."""
    return name in _REGISTRY


def create_model(name: str, pretrained: bool = False, **config: Any) -> nn.Module:
    """Build the registered model ``name``; ``config`` entries that are None are dropped,
    so unset command-line flags never override the variant's defaults.

    ``pretrained`` loads the ImageNet weights of the model's encoder (``model.load_pretrained()``,
    a training-time step: the ``train`` extra provides them). It is not stored in
    ``model_args``: a saved model holds the whole network and never needs them again.

    The built module gets ``architecture`` (its name) and ``model_args`` (the merged
    keyword arguments) attributes, which :func:`streamcolor.models.save_pretrained` stores.

    Raises:
        UnknownModelError: ``name`` is not registered.
        InputError: ``pretrained`` for a model without a pretrained encoder, or its weights missing.
    """
    if name not in _REGISTRY:
        raise UnknownModelError(f"unknown model {name!r}; registered models: {', '.join(list_models())}")
    kwargs = {k: v for k, v in config.items() if v is not None}
    model = _REGISTRY[name](**kwargs)
    model.architecture = name
    model.model_args = {**getattr(model, "model_args", {}), **kwargs}
    if pretrained:
        if not hasattr(model, "load_pretrained"):
            raise InputError(f"model {name!r} has no pretrained encoder; drop --pretrained")
        model.load_pretrained()
    return model
