"""``python -m streamcolor.train [--flags]``: train a generator (see TrainConfig for flags)."""

import sys
from pathlib import Path

from streamcolor.errors import InputError, StreamcolorError
from streamcolor.train.checkpoint import read_metadata
from streamcolor.train.config import parse_args
from streamcolor.train.loop import CHECKPOINT, Trainer


def main(argv: list[str] | None = None) -> int:
    config = None
    try:
        config, resume = parse_args(argv)
        if not resume and (Path(config.out) / CHECKPOINT).is_file():
            # starting over would overwrite the checkpoint of hours of training
            raise InputError(f"{config.out!r} holds a run: add --resume to continue it, or choose another --out")
        trainer = Trainer(config)
        if resume:
            trainer.resume()
        final = trainer.fit()
    except StreamcolorError as exc:
        print(f"streamcolor.train: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        where = f"; {_resume_point(Path(config.out))}" if config else ""
        print(f"streamcolor.train: interrupted{where}", file=sys.stderr)
        return 130
    print(f"saved {final}")
    return 0


def _resume_point(out: Path) -> str:
    """Where ``--resume`` would continue the run in ``out``."""
    if not (out / CHECKPOINT).is_file():
        return "no checkpoint was written yet"
    return f"the same command with --resume continues from step {read_metadata(out / CHECKPOINT)['step']}"


if __name__ == "__main__":
    sys.exit(main())
