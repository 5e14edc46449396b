"""Colour quality of several models side by side: photos made grey and through old film stocks.

    python benchmarks/quality.py --models runs/unet_small_v1 lite0_unet_v6 [--sets kodak24 mcmaster18 coco_val]
                                 [--render-sizes 150 224] [--table docs/quality_table.md]
                                 [--figure docs/quality.jpg] [--figure-photos kodim03 kodim05 ...]

For each model (shipped name or folder), render size and set: ``streamcolor eval``'s scores
(PSNR, SSIM, CIEDE2000, colourfulness, hue accuracy per hue sector) on the photos made grey by
their Lab L and, in the ``+film`` rows, on the same photos as random old film stocks render them
(the colour scored on the photo's own L). Grey and a constant sepia tint are the baselines.
Sets are folder names under ../shared/data/eval or ../shared/data/train. The figure: per photo,
grey | each model | the original, at 256 px high. A retired model is a folder taken from git
history, e.g. ``git show 3b044a7:streamcolor/weights/unet_small_v1/model.safetensors``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from streamcolor import Colorizer
from streamcolor.errors import InputError, StreamcolorError
from streamcolor.evaluate import Scores, evaluate_images, markdown_table, photo_to_grey, unique_labels
from streamcolor.images import list_images, read_rgb
from streamcolor.media import check_writable

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def set_folder(name: str) -> Path:
    for parent in ("eval", "train"):
        if (DATA / parent / name).is_dir():
            return DATA / parent / name
    raise SystemExit(f"no set {name!r} under {DATA}/eval or {DATA}/train")


def score(models: list[str], sizes: list[int | None], sets: list[str]) -> dict[str, dict[str, Scores]]:
    results: dict[str, dict[str, Scores]] = {}
    labels = dict(zip(models, unique_labels(models)))
    for name in sets:
        files = list_images([str(set_folder(name))])
        for film in (False, True):
            row = f"{name}+film" if film else name
            for model in models:
                for size in sizes:
                    colorizer = Colorizer.from_pretrained(model, **({} if size is None else {"inference_short_side": size}))
                    label = f"{labels[model]} @{colorizer.settings.inference_short_side}"
                    scores = evaluate_images(colorizer.colorize_image, files, film=film)
                    results.setdefault(row, {})[label] = scores["model"]
                    print(row, label, f"PSNR {scores['model'].psnr:.2f} hue {scores['model'].hue['mean']:.2f}", flush=True)
            results[row].update(grey=scores["grey"], sepia=scores["sepia"])
    return results


def figure(models: list[str], photos: list[str], path: Path) -> None:
    colorizers = [Colorizer.from_pretrained(m) for m in models]
    rows = []
    for stem in photos:
        rgb = _cover(read_rgb(DATA / "eval" / "kodak24" / f"{stem}.png"), 384, 256)
        grey = photo_to_grey(rgb)
        tiles = [np.repeat(grey[..., None], 3, 2), *(c.colorize_image(grey) for c in colorizers), rgb]
        rows.append(np.concatenate(tiles, 1))
    labels = ["grey", *unique_labels(models), "original"]
    strip = np.concatenate(rows, 0)
    for i, label in enumerate(labels):
        cv2.putText(strip, label, (i * 384 + 6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    if not cv2.imwrite(str(path), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88]):
        raise InputError(f"--figure {str(path)!r}: not written (a suffix OpenCV writes: .jpg, .png)")


def _cover(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """``rgb`` scaled to cover ``width`` x ``height``, its middle cut out (portrait photos too)."""
    h, w = rgb.shape[:2]
    scale = max(width / w, height / h)
    rgb = cv2.resize(rgb, (max(width, round(w * scale)), max(height, round(h * scale))), interpolation=cv2.INTER_AREA)
    top, left = (rgb.shape[0] - height) // 2, (rgb.shape[1] - width) // 2
    return rgb[top:top + height, left:left + width]


def main() -> None:
    parser = _cli.parser(__doc__)
    parser.add_argument("--models", nargs="+", required=True, help="shipped names or folders")
    parser.add_argument("--sets", nargs="+", default=["kodak24", "mcmaster18", "coco_val"], help="folders of ../shared/data/eval or train")
    parser.add_argument("--render-sizes", nargs="+", type=int, default=None,
                        help="inference short sides to try (default: each model's own)")
    parser.add_argument("--table", type=Path, default=None, help="also write the markdown table here")
    parser.add_argument("--figure", type=Path, default=None, help="also write a figure (grey | models | truth) here")
    parser.add_argument("--figure-photos", nargs="+", default=["kodim03", "kodim05", "kodim14", "kodim22", "kodim23"],
                        help="the photos of the figure, by file stem")
    args = parser.parse_args()
    for option, path in (("--table", args.table), ("--figure", args.figure)):
        if path is not None:  # before the scoring, which takes minutes
            try:
                check_writable(path)
            except StreamcolorError as exc:
                raise InputError(f"{option} {str(path)!r}: {exc}") from exc
    if args.figure:
        figure(args.models, args.figure_photos, args.figure)
    table = markdown_table(score(args.models, args.render_sizes or [None], args.sets))
    print(table)
    if args.table:
        args.table.write_text(table + "\n")


if __name__ == "__main__":
    import _cli  # beside this script

    _cli.run(main)
