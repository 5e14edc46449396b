"""``python -m streamcolor.train.soup OUT MODEL:WEIGHT MODEL:WEIGHT ... [--renormalize DIR ...] [--overwrite]``: average
saved models of one architecture, weight for weight (:func:`streamcolor.models.transfer.average_states`),
into a new saved model in float16, with the first model's inference size (and ``via_short_side``), named after OUT.

Averaged weights spread their activations less than the averaged BatchNorm statistics say ("variance
collapse", Jordan et al. 2022, "REPAIR"), which mutes the colour; ``--renormalize`` re-estimates the
statistics on training photos, as SWA does after averaging (docs/quality.md, "Session 18")."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch
from torch.optim.swa_utils import update_bn
from torch.utils.data import DataLoader

from streamcolor.argtypes import Parser
from streamcolor.errors import InputError, StreamcolorError
from streamcolor.media import check_writable
from streamcolor.models import from_pretrained, save_pretrained
from streamcolor.models.io import CALIBRATION_FILE, load_weights, read_config, resolve
from streamcolor.models.transfer import average_states
from streamcolor.train.datasets import ColorizationDataset, RunSampler

#: --renormalize: batches of 16 random 128 px crops of photos scaled to 160, half through a film stock
#: (the training recipe of the shipped models)
RENORMALIZE_BATCHES = 300


def _ingredient(text: str) -> tuple[str, float]:
    model, _, weight = text.rpartition(":")
    try:
        if not model:
            raise ValueError
        return model, float(weight)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MODEL:WEIGHT, e.g. runs/a/final:0.5; got {text!r}") from None


def renormalize(model: torch.nn.Module, dirs: tuple[str, ...], batches: int = RENORMALIZE_BATCHES) -> None:
    """Re-estimate ``model``'s BatchNorm running statistics (the cumulative average over ``batches``
    batches of training crops from the photo folders ``dirs``, at the model's training scale and
    at least its size multiple); leaves it in eval mode. A part the model keeps in eval mode
    while it trains (a frozen ImageNet classifier) keeps its statistics.

    Raises:
        InputError: no photos in ``dirs``.
    """
    scale, multiple = _training_scale(model), getattr(model, "multiple", 1)
    crop = max(multiple, min(128, scale) // multiple * multiple)
    data = ColorizationDataset(dirs, scale=max(scale, crop), crop=crop, seed=0, film=0.5)
    if len(data) < 16:
        raise InputError(f"--renormalize: {len(data)} photos in {', '.join(dirs)}; needs at least 16")
    loader = DataLoader(data, batch_sampler=RunSampler(len(data), 16, 0, 0, batches))
    model.float().train()
    frozen = {name: {k: v.clone() for k, v in m.state_dict().items()} for name, m in model.named_modules()
              if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and not m.training}
    with torch.no_grad():
        update_bn((L for L, _ in loader), model)
    modules = dict(model.named_modules())
    for name, state in frozen.items():  # update_bn resets every BatchNorm, trained or not
        modules[name].load_state_dict(state)
    model.eval()


def _training_scale(model: torch.nn.Module) -> int:
    """The short side, in pixels, the model's training photos were scaled to (160, the shipped
    models', where its config does not say)."""
    try:
        return int(json.loads(model.config["train_config"])["scale"])
    except (AttributeError, KeyError, TypeError, ValueError):
        return 160


def soup(out: Path, ingredients: list[tuple[str, float]], photos: tuple[str, ...] = ()) -> Path:
    """Write the weighted average of the saved models ``(folder or shipped name, weight)`` to ``out``;
    with ``photos`` (folders), its BatchNorm statistics re-estimated on them (:func:`renormalize`).
    The first model's calibration frames (for int8 backends) come along. ``out`` is replaced
    whole when the soup is ready: a stopped run leaves it as it was.

    Raises:
        InputError: models of other architectures or other model arguments (a classifier's
            temperature ...), see :func:`average_states` and :func:`renormalize`;
            UnknownModelError: a model that is not there.
    """
    models, weights = zip(*ingredients)
    configs = [read_config(m) for m in models]
    for key in ("architecture", "model_args"):
        if any(c[key] != configs[0][key] for c in configs):
            raise InputError(f"soup: the models differ in {key} ("
                             + "; ".join(f"{m}: {json.dumps(c[key])}" for m, c in zip(models, configs)) + ")")
    base = from_pretrained(models[0])
    base.load_state_dict(average_states([load_weights(m) for m in models], list(weights)))
    if photos:
        renormalize(base, photos)
    scales = {k: base.config[k] for k in ("inference_short_side", "via_short_side") if k in base.config}
    partial = out.with_name(f".{out.name}.soup-partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        save_pretrained(base, partial, dtype=torch.float16, name=out.name, **scales)
        calibration = resolve(models[0]) / CALIBRATION_FILE
        if calibration.is_file():
            shutil.copy(calibration, partial)
        shutil.rmtree(out, ignore_errors=True)  # what it held was checked (_check_out): replaced whole
        partial.rename(out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return out


def _check_out(out: Path, overwrite: bool) -> None:
    """Before any work: ``out`` can take the soup without losing a saved model.

    Raises:
        InputError: ``out`` is a file, its folder is missing or not writable, or it is a folder
            with files in it and ``overwrite`` is False.
    """
    try:
        check_writable(out, folder=True)
    except StreamcolorError as exc:
        raise InputError(f"OUT {str(out)!r}: {exc}") from exc
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(f"OUT {str(out)!r} is not empty: add --overwrite to replace what it holds, or choose "
                         "another folder")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m streamcolor.train.soup", description=(
        "Average saved models of one architecture, weight for weight, into a new saved model in float16 with the "
        "first model's inference size, named after OUT; --renormalize re-estimates the BatchNorm statistics "
        "on training photos (docs/quality.md, \"Session 18\")."))
    parser.add_argument("out", type=Path, help="folder for the averaged model")
    parser.add_argument("ingredients", nargs="+", type=_ingredient, metavar="MODEL:WEIGHT",
                        help="saved model folder or shipped name, and its weight (weights sum to 1)")
    parser.add_argument("--renormalize", nargs="+", default=[], metavar="DIR",
                        help="re-estimate BatchNorm statistics on the photos in these folders")
    parser.add_argument("--overwrite", action="store_true", help="write the soup over the model already in OUT")
    args = parser.parse_args(argv)
    try:
        _check_out(args.out, args.overwrite)
        print(f"saved {soup(args.out, args.ingredients, tuple(args.renormalize))}")
    except StreamcolorError as exc:
        print(f"streamcolor.train.soup: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"streamcolor.train.soup: interrupted; {str(args.out)!r} is as it was", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
