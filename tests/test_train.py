"""Training: a tiny run on real photos, exact resume, the outputs a run promises."""

from __future__ import annotations

import csv

import pytest
import torch
from safetensors.torch import load_file

from conftest import data_file
from streamcolor.train.__main__ import main as train_main
from streamcolor.train.config import TrainConfig, parse_args
from streamcolor.train.loop import Trainer, learning_rate


def _config(tmp_path, **overrides):
    base = dict(train_dirs=(str(data_file("train/val")),), val_dirs=(str(data_file("train/faces_val")),),
                out=str(tmp_path / "run"), model="unet_tiny", scale=64, crop=32, batch_size=4,
                steps=6, checkpoint_every=3, log_every=1, val_images=4, threads=1)
    return TrainConfig(**{**base, **overrides})


def _weights(run_dir):
    return {k: v for k, v in load_file(str(run_dir / "checkpoint.safetensors")).items() if k.startswith("G.")}


def test_resume_continues_exactly(tmp_path):
    straight = Trainer(_config(tmp_path / "a"))
    straight.fit()

    first = Trainer(_config(tmp_path / "b", steps=3))
    first.fit()
    resumed = Trainer(_config(tmp_path / "b"))  # the same run, trained longer
    resumed.resume()
    assert resumed.step == 3
    resumed.fit()
    a, b = _weights(tmp_path / "a" / "run"), _weights(tmp_path / "b" / "run")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_outputs_of_a_run(tmp_path):
    config = _config(tmp_path, batch_size=8, steps=len(list(data_file("train/val").glob("*.jpg"))) // 8)
    final = Trainer(config).fit()
    run = tmp_path / "run"
    assert (final / "model.safetensors").is_file() and (run / "grid_epoch001.png").is_file()
    rows = list(csv.DictReader((run / "losses.csv").open()))
    assert len(rows) == config.steps and float(rows[-1]["G"]) > 0 and (run / "losses.png").is_file()
    val = list(csv.DictReader((run / "val.csv").open()))
    assert float(val[0]["val_psnr"]) > 10 and float(val[0]["val_psnr_grey"]) > 10


def test_cgan_objective_trains_both_networks(tmp_path):
    trainer = Trainer(_config(tmp_path, objective="cgan", steps=2, checkpoint_every=2))
    D = trainer.objective.models["D"]
    D_before = [p.clone() for p in D.parameters()]
    trainer.fit()
    assert any(not torch.equal(a, b) for a, b in zip(D_before, D.parameters()))
    assert any(k.startswith("D.model.") for k in load_file(str(tmp_path / "run" / "checkpoint.safetensors")))


def test_cli_flags_map_to_config_and_bad_resume(tmp_path, capsys):
    config, resume = parse_args(["--batch-size", "3", "--train-dirs", "a", "b", "--resume"])
    assert config.batch_size == 3 and config.train_dirs == ("a", "b") and resume
    assert TrainConfig.from_json(config.to_json()) == config
    code = train_main(["--out", str(tmp_path / "none"), "--resume", "--model", "unet_tiny",
                       "--train-dirs", str(data_file("train/val")), "--val-dirs", str(data_file("train/val"))])
    assert code == 1 and "nothing to resume" in capsys.readouterr().err


def test_resume_refuses_other_flags_and_a_new_run_keeps_the_old_checkpoint(tmp_path, capsys):
    Trainer(_config(tmp_path, steps=1)).fit()
    with pytest.raises(ValueError, match="flags differ"):
        Trainer(_config(tmp_path, lr=1e-3)).resume()
    checkpoint = tmp_path / "run" / "checkpoint.safetensors"
    before = checkpoint.read_bytes()
    code = train_main(["--out", str(tmp_path / "run"), "--model", "unet_tiny", "--steps", "1",
                       "--train-dirs", str(data_file("train/val")), "--val-dirs", str(data_file("train/val"))])
    assert code == 1 and "add --resume" in capsys.readouterr().err and checkpoint.read_bytes() == before


def test_cosine_schedule_decays_to_zero(tmp_path):
    config = _config(tmp_path, lr=1e-3, lr_schedule="cosine", steps=4)
    assert [learning_rate(config, s) for s in (0, 2, 4)] == pytest.approx([1e-3, 5e-4, 0.0])
    assert learning_rate(_config(tmp_path, lr=1e-3), 3) == 1e-3
    trainer = Trainer(config)
    trainer.fit()
    # the last step (index 3) ran at lr * (1 + cos(3 pi / 4)) / 2
    assert trainer.objective.optimizers["G"].param_groups[0]["lr"] == pytest.approx(1e-3 * 0.1464466, rel=1e-5)
    with pytest.raises(ValueError, match="lr-schedule"):
        Trainer(_config(tmp_path, lr_schedule="linear"))


def test_bad_objective(tmp_path):
    with pytest.raises(ValueError, match="objective"):
        Trainer(_config(tmp_path, objective="nope"))
    with pytest.raises(ValueError, match="classification model"):
        Trainer(_config(tmp_path, objective="classification"))
