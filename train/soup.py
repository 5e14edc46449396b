"""``python -m streamcolor.train.soup OUT MODEL:WEIGHT MODEL:WEIGHT ...``: average saved models of one
architecture, weight for weight (:func:`streamcolor.models.transfer.average_states`), into a new saved
model in float16, with the first model's inference size, named after OUT."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from streamcolor.errors import InputError, StreamcolorError
from streamcolor.models import from_pretrained, save_pretrained
from streamcolor.models.io import load_weights, read_config
from streamcolor.models.transfer import average_states


def _ingredient(text: str) -> tuple[str, float]:
    model, _, weight = text.rpartition(":")
    try:
        if not model:
            raise ValueError
        return model, float(weight)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MODEL:WEIGHT, e.g. runs/a/final:0.5; got {text!r}") from None


def soup(out: Path, ingredients: list[tuple[str, float]]) -> Path:
    """Write the weighted average of the saved models ``(folder or shipped name, weight)`` to ``out``.

    Raises:
        InputError: see :func:`average_states`; UnknownModelError: a model that is not there.
    """
    models, weights = zip(*ingredients)
    architectures = {read_config(m)["architecture"] for m in models}
    if len(architectures) > 1:
        raise InputError(f"soup: the models are of different architectures ({', '.join(sorted(architectures))})")
    base = from_pretrained(models[0])
    base.load_state_dict(average_states([load_weights(m) for m in models], list(weights)))
    size = {k: base.config[k] for k in ("inference_short_side",) if k in base.config}
    return save_pretrained(base, out, dtype=torch.float16, name=out.name, **size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamcolor.train.soup", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the averaged model")
    parser.add_argument("ingredients", nargs="+", type=_ingredient, metavar="MODEL:WEIGHT",
                        help="saved model folder or shipped name, and its weight (weights sum to 1)")
    args = parser.parse_args(argv)
    try:
        print(f"saved {soup(args.out, args.ingredients)}")
    except StreamcolorError as exc:
        print(f"streamcolor.train.soup: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
