"""Starting a network from saved ones: weight transfer between architectures that share parts, and
the weight average of fine-tunes (a "model soup", Wortsman et al. 2022, "Model soups: averaging
weights of multiple fine-tuned models improves accuracy without increasing inference time").

Transfer is by name and shape, so it carries what two registered networks have in common: the
pretrained encoder and decoder of ``lite0_unet`` and ``lite0_classification``, a plain colorizer
inside its hint model (whose first layer takes more input channels: their extra weights start at
zero, so the hint model starts as the plain one), blocks one model lacks (they keep their own
initialisation; :class:`~streamcolor.models.blocks.NonLocalBlock` and
:class:`~streamcolor.models.blocks.ResidualBlock` start as the identity).
"""

from __future__ import annotations

import torch
from torch import nn

from streamcolor.errors import InputError


def _fitted(tensor: torch.Tensor, target: torch.Tensor) -> torch.Tensor | None:
    """``tensor`` shaped as ``target``: as is, or a conv weight zero-padded over extra input
    channels; None when it cannot take that place."""
    if tensor.shape == target.shape:
        return tensor.to(target.dtype)
    if tensor.ndim == 4 and tensor.shape[1] < target.shape[1] and tensor.shape[0] == target.shape[0] \
            and tensor.shape[2:] == target.shape[2:]:
        padded = target.new_zeros(target.shape)
        padded[:, : tensor.shape[1]] = tensor
        return padded
    return None


def transfer_state(model: nn.Module, *states: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """``model``'s state dict with the tensors of ``states`` put in, in order (a later state
    overrides an earlier one where both have a tensor), each where the name matches and the
    shape fits (see the module docstring).

    Returns:
        The state to load with ``model.load_state_dict`` and the sorted names that kept the
        model's own initialisation.

    Raises:
        InputError: a state that shares no tensor with ``model`` (another family of network).
    """
    merged = dict(model.state_dict())
    fresh = set(merged)
    for index, state in enumerate(states):
        taken = {name: fitted for name, tensor in state.items()
                 if name in merged and (fitted := _fitted(tensor, merged[name])) is not None}
        if not taken:
            raise InputError(f"init #{index + 1} shares no weights with this model: "
                             f"a saved model of another family of network")
        merged.update(taken)
        fresh -= taken.keys()
    return merged, sorted(fresh)


def average_states(states: list[dict[str, torch.Tensor]], weights: list[float]) -> dict[str, torch.Tensor]:
    """The weighted average of state dicts of one architecture, tensor by tensor, BatchNorm
    statistics included (integer tensors, such as BatchNorm's batch counts, are the first's).
    Fine-tunes that share a start average into one network that often keeps the best of each.

    Args:
        states: two or more state dicts with the same names and shapes.
        weights: one per state, each > 0, summing to 1.

    Raises:
        InputError: fewer than two states, bad weights, or states that differ in names or shapes.
    """
    if len(states) < 2 or len(weights) != len(states):
        raise InputError(f"a soup needs two or more models, each with a weight; got {len(states)} "
                         f"model{'s' * (len(states) != 1)} and {len(weights)} weight{'s' * (len(weights) != 1)}")
    if not (all(w > 0 for w in weights) and abs(sum(weights) - 1) <= 1e-6):  # written so that NaN fails too
        raise InputError(f"soup weights must be > 0 and sum to 1; got {weights}")
    first = states[0]
    for state in states[1:]:
        if state.keys() != first.keys() or any(state[k].shape != first[k].shape for k in first):
            raise InputError("soup: the models differ in their tensors' names or shapes: average only "
                             "fine-tunes of one architecture")
    return {name: sum(w * s[name].float() for s, w in zip(states, weights)) if tensor.is_floating_point()
            else tensor for name, tensor in first.items()}
