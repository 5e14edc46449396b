"""``python -m streamcolor.train [--flags]``: train a generator (see TrainConfig for flags)."""

import sys

from streamcolor.errors import StreamcolorError
from streamcolor.train.config import parse_args
from streamcolor.train.loop import Trainer


def main(argv: list[str] | None = None) -> int:
    config, resume = parse_args(argv)
    try:
        trainer = Trainer(config)
        if resume:
            trainer.resume()
        final = trainer.fit()
    except StreamcolorError as exc:
        print(f"streamcolor.train: error: {exc}", file=sys.stderr)
        return 1
    print(f"saved {final}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
