"""Model registry: names -> constructor functions, in the style of timm's ``_registry``."""

from __future__ import annotations

import fnmatch
import inspect
from typing import Any, Callable, Protocol, runtime_checkable

import torch
from torch import nn

from streamcolor.errors import InputError, ModelArgumentsError, UnknownModelError

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


@runtime_checkable
class Generator(Protocol):
    """What the backends, the runtime and training use of a colorizer built by
    :func:`create_model` (an ``nn.Module``; :func:`create_model` gives every one these).

    Attributes:
        architecture: its registered name.
        model_args: the keyword arguments it was built with (stored in a saved model's config).
        config: a saved model's ``config.json`` (:func:`streamcolor.models.from_pretrained`);
            empty for a model just built.
        multiple: H and W of its input must be multiples of this (inputs are padded to it).
        hint_channels: input channels after L for colour hints (0: it takes L only).
    """

    architecture: str
    model_args: dict[str, Any]
    config: dict[str, Any]
    multiple: int
    hint_channels: int

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1 + hint_channels, H, W)`` L (then hints) in [-1, 1] -> ``(N, 2, H, W)`` ab in [-1, 1]."""


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


def list_models(pattern: str = "*", role: str | None = None) -> list[str]:
    """Sorted registered names matching the shell-style ``pattern``; with ``role``, only the
    ``"generator"`` (colorizers) or the ``"discriminator"`` ones (a class that sets
    ``is_discriminator``, as the PatchGAN does).

    Raises:
        ValueError: another ``role``.
    """
    if role not in (None, "generator", "discriminator"):
        raise ValueError(f"role must be None, 'generator' or 'discriminator', got {role!r}")
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern) and role in (None, _role(_REGISTRY[n])))


def _role(constructor: Callable[..., nn.Module]) -> str:
    """The role of what a variant builds: ``"discriminator"`` where its class says so, else ``"generator"``."""
    return "discriminator" if getattr(_built_class(constructor), "is_discriminator", False) else "generator"


def _built_class(constructor: Callable[..., nn.Module]) -> type | None:
    """The class a variant's return annotation names (None where that cannot be told)."""
    try:
        cls = inspect.signature(constructor, eval_str=True).return_annotation
    except Exception:  # noqa: BLE001  (any annotation that does not evaluate)
        return None
    return cls if isinstance(cls, type) else None


def is_model(name: str) -> bool:
    """True when ``name`` is registered."""
    return name in _REGISTRY


def _parameters(constructor: Callable[..., nn.Module]) -> set[str] | None:
    """The keyword arguments a registered variant takes: those of the class its return annotation
    names, and of that class's bases where its ``__init__`` passes ``**kwargs`` on (the variants
    forward theirs, timm-style); None where that cannot be told."""
    cls = _built_class(constructor)
    if cls is None:  # the names go unchecked
        return None
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = list(inspect.signature(klass.__init__).parameters.values())[1:]  # after self
        names |= {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return names
    return None


def _fails_bare(constructor: Callable[..., nn.Module]) -> bool:
    """Whether the variant raises TypeError with no arguments too: then a TypeError it raised with
    arguments whose names it takes is a bug in it, not a value of the wrong type from the caller."""
    try:
        constructor()
    except TypeError:
        return True
    return False


def create_model(name: str, /, pretrained: bool = False, **config: Any) -> Generator:
    """Build the registered model ``name``; ``config`` entries that are None are dropped,
    so unset command-line flags never override the variant's defaults.

    ``pretrained`` loads the ImageNet weights of the model's encoder (``model.load_pretrained()``,
    a training-time step: the ``train`` extra provides them). It is not stored in
    ``model_args``: a saved model holds the whole network and never needs them again.

    The built module is a :class:`Generator`: it gets ``architecture`` (its name), ``model_args``
    (the merged keyword arguments, which :func:`streamcolor.models.save_pretrained` stores), an
    empty ``config``, and ``multiple`` 1 and ``hint_channels`` 0 unless it sets them.

    Raises:
        UnknownModelError: ``name`` is not registered.
        ModelArgumentsError: ``config`` names an argument the model does not take, or the model
            refuses a value (its ``ValueError`` or ``TypeError``, e.g. a width given as a string,
            or torch's ``RuntimeError`` for a width of -1). Names are checked against the class
            the variant's return annotation names (and its bases where ``**kwargs`` is passed on).
        TypeError: the constructor fails with no arguments as well as with ``config``: a bug in
            it, not the caller's.
        InputError: ``pretrained`` for a model without a pretrained encoder, or its weights missing.
    """
    if name not in _REGISTRY:
        raise UnknownModelError(f"unknown model {name!r}; registered models: {', '.join(list_models())}")
    constructor = _REGISTRY[name]
    kwargs = {k: v for k, v in config.items() if v is not None}
    takes = _parameters(constructor)
    unknown = sorted(set(kwargs) - takes) if takes is not None else []
    if unknown:
        raise ModelArgumentsError(f"model {name!r} cannot be built with the arguments {kwargs}: it takes no "
                                  f"{', '.join(unknown)} (it takes {', '.join(sorted(takes)) or 'none'})")
    try:
        model = constructor(**kwargs)
    except (TypeError, ValueError, RuntimeError) as exc:  # RuntimeError: torch refusing a width, e.g. -1
        if not kwargs or (isinstance(exc, TypeError) and _fails_bare(constructor)):
            raise
        raise ModelArgumentsError(f"model {name!r} cannot be built with the arguments {kwargs}: {exc}") from exc
    model.architecture = name
    model.model_args = {**getattr(model, "model_args", {}), **kwargs}
    model.config = {}
    for attribute, default in (("multiple", 1), ("hint_channels", 0)):
        if not hasattr(model, attribute):
            setattr(model, attribute, default)
    if pretrained:
        if not hasattr(model, "load_pretrained"):
            raise InputError(f"model {name!r} has no pretrained encoder; drop --pretrained")
        model.load_pretrained()
    return model
