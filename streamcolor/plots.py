"""Line plots as PNG (matplotlib, headless): loss curves and per-frame flicker."""

from __future__ import annotations

import csv
from pathlib import Path


def plot_series(series: dict[str, list[float]], png_path: str | Path, *, xlabel: str = "frame",
                ylabel: str = "", title: str = "", log: bool = False) -> None:
    """One line per named series (x: index, or ``steps`` given as a series named ``"x"``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = series.get("x")
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    for name, values in series.items():
        if name != "x":
            ax.plot(x if x is not None else range(len(values)), values, label=name, linewidth=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    if log:
        ax.set_yscale("log")
    if any(name != "x" for name in series):  # a run whose losses are all 0 has no line to name
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)


def plot_losses(csv_path: Path, png_path: Path) -> None:
    """Loss curves of a training run's ``losses.csv`` (log scale)."""
    with csv_path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    series = {"x": [int(r["step"]) for r in rows]}
    for key in rows[0]:
        values = [float(r[key]) for r in rows]
        if key != "step" and min(values) > 0:
            series[key] = values
    plot_series(series, png_path, xlabel="step", ylabel="loss", log=True)
