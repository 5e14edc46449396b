"""Training: a tiny run on real photos, exact resume, the outputs a run promises."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import warnings

import pytest
import torch
from safetensors.torch import load_file

from conftest import data_file
from streamcolor.errors import InputError
from streamcolor.images import resize_short_side
from streamcolor.train import datasets
from streamcolor.train.__main__ import main as train_main
from streamcolor.train.config import TrainConfig, parse_args
from streamcolor.train.datasets import ColorizationDataset
from streamcolor.train.loop import Trainer, learning_rate
from streamcolor.train.validation import validate


def _config(tmp_path, **overrides):
    base = dict(train_dirs=(str(data_file("train/val")),), val_dirs=(str(data_file("train/faces_val")),),
                out=str(tmp_path / "run"), model="unet_tiny", scale=64, crop=32, batch_size=4,
                steps=6, checkpoint_every=3, log_every=1, val_images=4, threads=1)
    return TrainConfig(**{**base, **overrides})


def _weights(run_dir, model="G"):
    return {k: v for k, v in load_file(str(run_dir / "checkpoint.safetensors")).items() if k.startswith(f"{model}.")}


@pytest.mark.parametrize("ema", [0.0, 0.5])
def test_resume_continues_exactly(tmp_path, ema):
    straight = Trainer(_config(tmp_path / "a", ema=ema))
    straight.fit()

    first = Trainer(_config(tmp_path / "b", steps=3, ema=ema))
    first.fit()
    resumed = Trainer(_config(tmp_path / "b", ema=ema))  # the same run, trained longer
    resumed.resume()
    assert resumed.step == 3
    resumed.fit()
    for model in ["G"] + (["EMA"] if ema else []):
        a, b = _weights(tmp_path / "a" / "run", model), _weights(tmp_path / "b" / "run", model)
        assert a.keys() == b.keys() and a
        for key in a:
            assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("model", ["unet_tiny", "unet_small_hints"])
def test_interrupted_run_resumes_exactly_and_logs_each_step_once(tmp_path, model):
    """Stopped after step 5, a run resumes from its step-3 checkpoint to the same weights and
    losses as one that ran straight. Before session 29 the hint model's hint sampler restarted
    from its seed (other weights), and the log kept steps 4 and 5 twice."""
    straight = _config(tmp_path / "a", model=model)
    Trainer(straight).fit()
    config = _config(tmp_path / "b", model=model)
    trainer = Trainer(config)
    step = trainer.objective.step

    def stop_after_5(*args):
        if trainer.step == 5:
            raise KeyboardInterrupt
        return step(*args)
    trainer.objective.step = stop_after_5
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    resumed = Trainer(config)
    resumed.resume()
    assert resumed.step == 3
    resumed.fit()
    a, b = _weights(tmp_path / "a" / "run"), _weights(tmp_path / "b" / "run")
    assert all(torch.equal(a[key], b[key]) for key in a)
    logs = [list(csv.DictReader((tmp_path / run / "run" / "losses.csv").open())) for run in ("a", "b")]
    assert [row["step"] for row in logs[1]] == ["1", "2", "3", "4", "5", "6"] and logs[0] == logs[1]


def test_ema_is_what_validation_and_final_use(tmp_path):
    """--ema: each float tensor becomes d * its average + (1 - d) * the trained one every step, with
    d = min(decay, (1 + n) / (10 + n)) after n updates; integer buffers are copied, not averaged."""
    config = _config(tmp_path, ema=0.5, steps=2, checkpoint_every=1, val_images=2)
    trainer = Trainer(config)
    trainer.config = dataclasses.replace(config, steps=1)
    trainer.fit()  # one step: the average starts as a copy of the trained weights
    after_one = _weights(tmp_path / "run")
    trainer.config = config
    final = trainer.fit()
    trained, averaged = _weights(tmp_path / "run"), _weights(tmp_path / "run", "EMA")
    saved = load_file(str(final / "model.safetensors"))
    d = min(0.5, 2 / 11)
    assert any("running_mean" in k for k in saved) and any("num_batches_tracked" in k for k in saved)
    for key in saved:
        expected = (d * after_one[f"G.model.{key}"] + (1 - d) * trained[f"G.model.{key}"]
                    if saved[key].is_floating_point() else trained[f"G.model.{key}"])
        assert torch.allclose(averaged[f"EMA.model.module.{key}"], expected, atol=1e-6), key
        assert torch.equal(saved[key], averaged[f"EMA.model.module.{key}"]), key
    assert any(not torch.equal(saved[k], trained[f"G.model.{k}"]) for k in saved)
    scored = json.loads((final / "config.json").read_text())["val_psnr"]
    assert scored == validate(trainer.ema.module, trainer.val_files, config.scale)["val_psnr"]
    assert scored != validate(trainer.generator, trainer.val_files, config.scale)["val_psnr"]


def test_ema_before_any_step_and_added_on_resume(tmp_path, capsys):
    """With no step the average holds nothing yet: final/ is the generator (with the prior a
    classification model measured). Adding --ema to a run is a change of flags, refused in one line."""
    final = Trainer(_config(tmp_path / "a", model="lite0_unet_bins", scale=64, crop=64, steps=0, ema=0.9,
                            val_images=2)).fit()
    trainer_prior = load_file(str(final / "model.safetensors"))["prior"]
    assert trainer_prior.sum() > 0 and trainer_prior.std() > 0
    Trainer(_config(tmp_path / "b", steps=1)).fit()
    with pytest.raises(InputError, match="was started with --ema 0.0; give the same"):
        Trainer(_config(tmp_path / "b", steps=2, ema=0.9)).resume()


def test_outputs_of_a_run(tmp_path):
    config = _config(tmp_path, batch_size=8, steps=len(list(data_file("train/val").glob("*.jpg"))) // 8)
    final = Trainer(config).fit()
    run = tmp_path / "run"
    assert (final / "model.safetensors").is_file() and (run / "grid_epoch001.png").is_file()
    rows = list(csv.DictReader((run / "losses.csv").open()))
    assert len(rows) == config.steps and float(rows[-1]["G"]) > 0 and (run / "losses.png").is_file()
    val = list(csv.DictReader((run / "val.csv").open()))
    assert float(val[0]["val_psnr"]) > 10 and float(val[0]["val_psnr_grey"]) > 10


def test_no_validation_photos_means_no_validation(tmp_path):
    """Before session 27, --val-images 0 scored an empty list: NaN PSNR in final/ and numpy warnings."""
    config = _config(tmp_path, val_images=0, batch_size=8, steps=len(list(data_file("train/val").glob("*.jpg"))) // 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        final = Trainer(config).fit()
    assert "val_psnr" not in json.loads((final / "config.json").read_text())
    assert not (tmp_path / "run" / "val.csv").exists() and not list((tmp_path / "run").glob("grid_*.png"))


def test_teacher_output_is_the_target(tmp_path, capsys):
    """--teacher: the teacher's ab for the photo's own L replaces the photo's ab. A generator that
    starts as its teacher (BatchNorm statistics held) has nothing to learn from photos, and
    something from film renderings of them, whose target is still the photo's colouring."""
    teacher = Trainer(_config(tmp_path / "t", steps=2, val_images=0)).fit()
    losses = {}
    for film in (0.0, 1.0):
        out = tmp_path / f"film{film}"
        Trainer(_config(out, init=(str(teacher),), teacher=str(teacher), freeze_bn=True, film=film, lr=1e-12,
                        steps=2, val_images=0)).fit()
        losses[film] = [float(row["G"]) for row in csv.DictReader((out / "run" / "losses.csv").open())]
    assert losses[0.0] == [0.0, 0.0] and min(losses[1.0]) > 0.001
    capsys.readouterr()
    assert train_main(["--teacher", str(tmp_path / "nothing"), "--steps", "1", "--out", str(tmp_path / "x")]) != 0
    err = capsys.readouterr().err
    assert "--teacher: " in err and "nothing" in err and err.count("\n") == 1
    with pytest.raises(InputError, match="needs colour hints"):
        Trainer(_config(tmp_path / "h", teacher="unet_small_hints_v3"))


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
                       "--train-dirs", str(data_file("train/val")), "--val-dirs", str(data_file("train/faces_val"))])
    assert code == 1 and "nothing to resume" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value, message", [
    ("--lr", "nan", "--lr must be a finite number above 0"), ("--lr", "-1", "--lr must be a finite number above 0"),
    ("--beta1", "1", "--beta1 must be in [0, 1)"), ("--batch-size", "0", "--batch-size must be a whole number, 1 or"),
    ("--seed", "-1", "--seed must be a whole number, 0 to"), ("--device", "tpu", "--device must be cpu, cuda"),
    ("--rebalance-lambda", "3", "--rebalance-lambda must be in [0, 1]"),
    ("--max-seconds", "-5", "--max-seconds must be a finite number of seconds"),
])
def test_every_flag_checked_where_defined(flag, value, message, capsys):
    """A bad value is one line before any work (optimizer and seed tracebacks before session 24)."""
    with pytest.raises(InputError, match=re.escape(message)):
        parse_args([flag, value])
    assert train_main([flag, value, "--out", "/nonexistent/never-made"]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert TrainConfig(batch_size=1, lr=1e-4, beta1=0.0, seed=0, device="cuda:1", steps=0).steps == 0


def test_resume_refuses_other_flags_and_a_new_run_keeps_the_old_checkpoint(tmp_path, capsys):
    """The refusal names the flags (before session 29 it did not), and how the run is driven
    (time limit, threads, a trailing slash in --out) may change; fewer steps than done may not."""
    Trainer(_config(tmp_path, steps=2, max_seconds=1e-9)).fit()  # stopped by the time limit after step 1
    with pytest.raises(ValueError, match=re.escape("was started with --lr 0.0002, --seed 0; give the same")):
        Trainer(_config(tmp_path, lr=1e-3, seed=1)).resume()
    with pytest.raises(InputError, match="--steps 0 is below the 1 steps the run has done"):
        Trainer(_config(tmp_path, steps=0, max_seconds=1e-9)).resume()
    more = Trainer(_config(tmp_path, steps=2, max_seconds=0, threads=2, out=str(tmp_path / "run") + "/"))
    more.resume()
    assert more.step == 1 and more.fit() and more.step == 2
    checkpoint = tmp_path / "run" / "checkpoint.safetensors"
    before = checkpoint.read_bytes()
    code = train_main(["--out", str(tmp_path / "run"), "--model", "unet_tiny", "--steps", "1",
                       "--train-dirs", str(data_file("train/val")), "--val-dirs", str(data_file("train/faces_val"))])
    assert code == 1 and "add --resume" in capsys.readouterr().err and checkpoint.read_bytes() == before


@pytest.mark.parametrize("flags, message", [(["--film", "1.5"], "--film is a probability"),
                                             (["--scale", "160", "--scale-max", "100"], "--scale-max must be"),
                                             (["--crop", "0"], "--crop must be"),
                                             (["--scale", "8"], "--scale must be >= 16 pixels")])
def test_bad_sizes_and_probabilities_get_one_line(flags, message, capsys):
    assert train_main(flags) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("flags, message", [
    (["--model-args", "[1]"], "argument --model-args: must be a JSON object"),
    (["--model-args", "{bad"], "argument --model-args: must be a JSON object"),
    (["--model-args", '{"depth": 1}'], "--model-args: model 'unet_tiny' cannot be built with the arguments {'depth': 1}: "
                                       "it takes no depth (it takes dropout, in_channels, ngf"),
    (["--model", "lite0_classification", "--model-args", '{"lam": "x"}'], "lam must be a number in [0, 1], got 'x'"),
    (["--model", "lite0_unet_bins", "--model-args", '{"temperature": 0}'], "temperature must be a number above 0"),
    (["--objective", "cgan", "--discriminator", "patchgan_nope"], "--discriminator 'patchgan_nope': unknown model"),
    (["--objective", "cgan", "--discriminator-args", '{"x": 1}'], "--discriminator-args: model 'patchgan70' cannot be built"),
    (["--out", "{file}/run"], "cannot write the run there (Not a directory)"),
    (["--model-args", '{"pretrained": true}'], "(--pretrained is a flag of its own)"),
    (["--model-args", '{"ngf": "8"}'], "--model-args: model 'unet_tiny' cannot be built with the arguments {'ngf': '8'}"),
    (["--model-args", '{"name": "x"}'], "--model-args: model 'unet_tiny' cannot be built with the arguments {'name': 'x'}"),
    (["--objective", "cgan", "--discriminator-args", '{"ndf": -1}'], "--discriminator-args: model 'patchgan70' cannot be built"),
    (["--model", "patchgan70"], "--model 'patchgan70' is a discriminator; give it as --discriminator"),
    (["--objective", "cgan", "--discriminator", "unet_tiny"], "--discriminator 'unet_tiny' is a generator"),
    (["--batch-size", "500"], "--batch-size 500 is more than the 204 training photos"),
    (["--device", "cuda:99"], "--device cuda:99: this machine has"),
    (["--init", "{file}"], "--init: no model at"),
    # session 32's review of the training module: each of these trained before
    (["--crop", "80"], "--crop must be 1 pixel to --scale (64)"),
    (["--scale", "100000"], "--scale and --scale-max must be at most 2160 pixels"),
    (["--val-dirs", "{photos}"], "is in both --train-dirs and --val-dirs"),
    (["--train-dirs", "{photos}", "{photos}/"], "--train-dirs names"),
    (["--model", "koalarization_lite0"], "--model koalarization_lite0 keeps its ImageNet network frozen"),
    (["--model", "koalarization", "--model-args", '{"global_keep": 2000}'], "global_keep must be a whole number"),
    (["--model", "lite2_unet", "--init", "lite0_unet_v6"], "lite0_unet_v6 is built on the lite0 encoder"),
    (["--model-args", '{"dropout": NaN}'], "cannot run on 32 px crops: dropout probability has to be between 0"),
    (["--objective", "cgan", "--discriminator-args", '{"n_layers": 6}'], "--discriminator patchgan70 with"),
    (["--model", "unet_small_hints", "--model-args", '{"spreads": [-1]}'], "spreads are smoothness weights"),
])
def test_model_arguments_and_out_get_one_line(flags, message, tmp_path, capsys):
    """Tracebacks before session 25: a list or unknown name in --model-args, a string for lam
    (at the first step), a file in --out's path; an unknown discriminator was named a model."""
    (tmp_path / "file").write_text("")
    photos = str(data_file("train/val"))
    base = ["--model", "unet_tiny", "--train-dirs", photos, "--val-dirs", str(data_file("train/faces_val")), "--scale", "64", "--crop", "32",
            "--batch-size", "2", "--steps", "1", "--val-images", "0", "--threads", "1", "--out", str(tmp_path / "run")]
    try:
        code = train_main(base + [flag.replace("{file}", str(tmp_path / "file")).replace("{photos}", photos)
                                  for flag in flags])
    except SystemExit as exc:  # argparse's own checks
        code = exc.code
    err = capsys.readouterr().err
    assert code == 1 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists()


def test_a_run_folder_given_as_a_model_is_one_line(tmp_path, capsys):
    """Its config.json is the run's: a KeyError or FileNotFoundError traceback before session 29."""
    Trainer(_config(tmp_path, steps=1, val_images=0)).fit()
    run = str(tmp_path / "run")
    message = f"{run!r} holds no model.safetensors: not a saved model (a training run saves its model in"
    assert train_main(["--init", run, "--out", str(tmp_path / "next")]) == 1
    assert message in capsys.readouterr().err
    with pytest.raises(InputError, match="--teacher: " + re.escape(message)):
        Trainer(_config(tmp_path / "t", teacher=run))
    assert Trainer(_config(tmp_path / "f", teacher=run + "/final", steps=0)).teacher is not None


def test_interrupt_is_one_line_with_the_resume_point(tmp_path, monkeypatch, capsys):
    photos = str(data_file("train/val"))
    args = ["--model", "unet_tiny", "--train-dirs", photos, "--val-dirs", str(data_file("train/faces_val")), "--scale", "64", "--crop", "32",
            "--steps", "2", "--checkpoint-every", "1", "--val-images", "0", "--out", str(tmp_path / "run")]
    assert train_main(args) == 0
    capsys.readouterr()
    monkeypatch.setattr(Trainer, "fit", lambda self: (_ for _ in ()).throw(KeyboardInterrupt))
    assert train_main(args + ["--resume", "--steps", "4"]) == 130
    err = capsys.readouterr().err
    assert err == "streamcolor.train: interrupted; the same command with --resume continues from step 2\n"


def test_scale_max_draws_each_photos_short_side_from_the_range(monkeypatch):
    sizes = []

    def record(image, short_side):
        sizes.append(short_side)
        return resize_short_side(image, short_side)

    monkeypatch.setattr(datasets, "resize_short_side", record)
    photos = (str(data_file("train/faces_val")),)
    jittered = ColorizationDataset(photos, scale=64, crop=48, scale_max=96)
    items = [jittered[(0, i)] for i in range(20)]
    assert all(L.shape == (1, 48, 48) and ab.shape == (2, 48, 48) for L, ab in items)
    assert set(sizes) <= set(range(64, 97)) and len(set(sizes)) > 5
    assert torch.equal(jittered[(0, 3)][1], items[3][1])  # the same key, the same item: exact resume
    sizes.clear()
    [ColorizationDataset(photos, scale=64, crop=48)[(0, i)] for i in range(5)]
    assert sizes == [64] * 5


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
    assert learning_rate(_config(tmp_path, lr_schedule="cosine", steps=0), 0) == 2e-4  # --steps 0 saves the model


def test_bad_objective(tmp_path):
    with pytest.raises(ValueError, match="objective"):
        Trainer(_config(tmp_path, objective="nope"))
    with pytest.raises(ValueError, match="classification model"):
        Trainer(_config(tmp_path, objective="classification"))
    with pytest.raises(ValueError, match="two-head model"):
        Trainer(_config(tmp_path, objective="multitask"))
    with pytest.raises(ValueError, match="lambda-classification"):
        Trainer(_config(tmp_path, objective="multitask", model="lite0_unet_bins", lambda_classification=-1.0))


def test_init_carries_shared_weights_across_architectures_in_order():
    from streamcolor.api import DEFAULT_MODEL
    from streamcolor.models import create_model
    from streamcolor.models.io import load_weights
    from streamcolor.models.transfer import transfer_state

    torch.manual_seed(0)
    regression = {k: v for k, v in load_weights(DEFAULT_MODEL).items()
                  if k.startswith(("encoder.", "decoder.", "head."))}  # its lite0_unet part
    classifier = create_model("lite0_classification")
    own_head = classifier.classifier.weight.detach().clone()
    state, fresh = transfer_state(classifier, regression)
    assert fresh == ["centres", "class_weights", "classifier.bias", "classifier.weight", "prior"]
    classifier.load_state_dict(state)
    carried = {k: v for k, v in classifier.state_dict().items() if k.startswith(("encoder.", "decoder."))}
    assert len(carried) > 300 and all(torch.equal(v, regression[k].to(v.dtype)) for k, v in carried.items())
    assert torch.equal(classifier.classifier.weight, own_head)
    # a regression model from the shipped one, then the classifier's encoder and decoder over it
    unet = create_model("lite0_unet")
    moved = {k: v + 1 if k.startswith("decoder.0.") and v.is_floating_point() else v
             for k, v in classifier.state_dict().items()}
    state, fresh = transfer_state(unet, regression, moved)
    assert fresh == []
    assert torch.equal(state["decoder.0.conv.0.weight"], moved["decoder.0.conv.0.weight"])
    assert torch.equal(state["head.0.weight"], regression["head.0.weight"].float())
    with pytest.raises(ValueError, match="shares no weights"):
        transfer_state(unet, create_model("unet_tiny").state_dict())


def test_soup_averages_saved_models_weight_for_weight(tmp_path, capsys):
    from streamcolor.api import DEFAULT_MODEL
    from streamcolor.models import from_pretrained, save_pretrained
    from streamcolor.models.io import load_weights, read_config
    from streamcolor.train.soup import main as soup_main

    shipped = from_pretrained(DEFAULT_MODEL)
    with torch.no_grad():
        for p in shipped.parameters():
            p.add_(0.25)
    save_pretrained(shipped, tmp_path / "moved", dtype=torch.float16)
    assert soup_main([str(tmp_path / "soup"), f"{DEFAULT_MODEL}:0.5", f"{tmp_path / 'moved'}:0.5"]) == 0
    a, b, soup = load_weights(DEFAULT_MODEL), load_weights(tmp_path / "moved"), load_weights(tmp_path / "soup")
    name = "head.0.weight"
    torch.testing.assert_close(soup[name].float(), (a[name].float() + b[name].float()) / 2, atol=2e-3, rtol=0)
    assert not torch.equal(soup[name], a[name])
    config = read_config(tmp_path / "soup")
    shipped_config = read_config(DEFAULT_MODEL)
    assert config["name"] == "soup"
    assert all(config[k] == shipped_config[k] for k in ("inference_short_side", "via_short_side"))
    capsys.readouterr()
    for weight in ("0.7", "nan"):  # NaN compared false both ways and once went through
        assert soup_main([str(tmp_path / "bad"), f"{DEFAULT_MODEL}:{weight}", f"{tmp_path / 'moved'}:0.5"]) == 1
        assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "bad").exists()
    assert soup_main([str(tmp_path / "bad"), f"{DEFAULT_MODEL}:0.5", "unet_small_hints_v3:0.5"]) == 1
    assert "the models differ in architecture" in capsys.readouterr().err
    # other model arguments (a classifier's temperature) were averaged as the first's until session 30
    save_pretrained(from_pretrained(DEFAULT_MODEL), tmp_path / "colder", dtype=torch.float16)
    config = read_config(tmp_path / "colder")
    (tmp_path / "colder" / "config.json").write_text(json.dumps({**config, "model_args": {**config["model_args"],
                                                                                          "temperature": 0.05}}))
    assert soup_main([str(tmp_path / "bad"), f"{DEFAULT_MODEL}:0.5", f"{tmp_path / 'colder'}:0.5"]) == 1
    assert "the models differ in model_args" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    # OUT checked before any work (session 25: a traceback, or a saved model silently replaced)
    before = (tmp_path / "soup" / "model.safetensors").read_bytes()
    (tmp_path / "file").write_text("")
    for out, message in ((tmp_path / "soup", "is not empty: add --overwrite"), (tmp_path / "file", "a file, not a folder"),
                         ("/proc/soup", "output folder '/proc' is not writable")):
        assert soup_main([str(out), f"{DEFAULT_MODEL}:0.5", f"{tmp_path / 'moved'}:0.5"]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert (tmp_path / "soup" / "model.safetensors").read_bytes() == before
    (tmp_path / "soup" / "README.md").write_text("the model that was here")  # went on beside the soup until session 30
    assert soup_main([str(tmp_path / "soup"), f"{DEFAULT_MODEL}:0.5", f"{tmp_path / 'moved'}:0.5", "--overwrite"]) == 0
    # the first model's calibration frames come along, so that int8 backends can run the soup
    assert sorted(p.name for p in (tmp_path / "soup").iterdir()) == ["calibration.safetensors", "config.json",
                                                                    "model.safetensors"]


def test_freeze_keeps_the_trunk_and_its_batchnorm_statistics(tmp_path):
    from streamcolor.api import DEFAULT_MODEL

    trunk = ("encoder", "decoder.0", "decoder.1", "decoder.2")
    # 24 photos in batches of 8: step 3 ends an epoch, whose validation must leave the trunk in eval mode
    trainer = Trainer(_config(tmp_path, model="lite0_unet", init=(str(DEFAULT_MODEL),), freeze=trunk, steps=4,
                              checkpoint_every=4, train_dirs=(str(data_file("eval/kodak24")),), batch_size=8))
    before = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    trainer.fit()
    after = trainer.generator.state_dict()
    for key, value in after.items():
        if key.startswith(trunk) and not key.endswith("num_batches_tracked"):
            assert torch.equal(value, before[key]), key  # weights and BatchNorm running statistics
    changed = [k for k in after if not k.startswith(trunk) and not torch.equal(after[k], before[k])]
    assert any(k.startswith("decoder.3.") for k in changed) and any(k.startswith("head.") for k in changed)
    with pytest.raises(ValueError, match="no submodule 'decoder.9'"):
        Trainer(_config(tmp_path, model="lite0_unet", freeze=("encoder", "decoder.9")))
    with pytest.raises(ValueError, match="nothing left to train"):
        Trainer(_config(tmp_path, freeze=("model",)))


def test_freeze_bn_keeps_every_batchnorm_statistic_and_trains_the_weights(tmp_path):
    from streamcolor.api import DEFAULT_MODEL

    trainer = Trainer(_config(tmp_path, model="lite0_unet", init=(str(DEFAULT_MODEL),), freeze_bn=True, steps=4,
                              checkpoint_every=4, train_dirs=(str(data_file("eval/kodak24")),), batch_size=8))
    before = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    trainer.fit()
    after = trainer.generator.state_dict()
    statistics = [k for k in after if k.endswith(("running_mean", "running_var"))]
    assert len(statistics) > 50 and all(torch.equal(after[k], before[k]) for k in statistics)
    changed = [k for k in after if not torch.equal(after[k], before[k])]
    assert any(k.startswith("encoder.") and k.endswith(".weight") for k in changed)
    shifts = {f"{name}.bias" for name, module in trainer.generator.named_modules()
              if isinstance(module, torch.nn.BatchNorm2d)}
    assert shifts & set(changed)  # the BatchNorm scales and shifts still train


def test_lite0_unet_bins_starts_as_its_regression_then_trains_the_classifier_and_the_gate(tmp_path):
    from streamcolor.api import DEFAULT_MODEL
    from streamcolor.images import read_rgb
    from streamcolor.models import create_model, save_pretrained
    from streamcolor.models.io import load_weights
    from streamcolor.models.transfer import transfer_state
    from streamcolor.train.datasets import to_L_ab

    L, _ = to_L_ab(read_rgb(data_file("eval/kodak24/kodim23.png"))[:128, :192])
    regression = create_model("lite0_unet")  # the shipped default's regression part
    regression.load_state_dict(transfer_state(regression, load_weights(DEFAULT_MODEL))[0])
    save_pretrained(regression.eval(), tmp_path / "regression")
    photos = dict(train_dirs=(str(data_file("eval/kodak24")),), batch_size=8, checkpoint_every=2, steps=2,
                  model="lite0_unet_bins")
    head = Trainer(_config(tmp_path / "head", init=(str(tmp_path / "regression"),),
                           freeze=("encoder", "decoder", "head"),
                           objective="classification", lr=1e-3, **photos))
    final = head.fit()
    with torch.no_grad():
        torch.testing.assert_close(head.generator.eval()(L[None]), regression(L[None]))  # gate (0, 0): the regression
    assert head.generator.gate.abs().max() == 0 and head.generator.prior.max() > 2 / len(head.generator.prior)
    gate = Trainer(_config(tmp_path / "gate", init=(str(final),), objective="mse", lr=0.05,
                           freeze=("encoder", "decoder", "head", "classifier"), **photos))
    before = {k: v.clone() for k, v in gate.generator.state_dict().items()}
    gate.fit()
    after = gate.generator.state_dict()
    assert [k for k in after if not torch.equal(after[k], before[k])] == ["gate"]
    with torch.no_grad():
        assert (gate.generator.eval()(L[None]) - regression(L[None])).abs().mean() > 1e-3


def test_multitask_trains_trunk_and_both_heads_but_not_the_gate(tmp_path):
    from streamcolor.api import DEFAULT_MODEL

    config = _config(tmp_path, model="lite0_unet_bins", init=(DEFAULT_MODEL,), objective="multitask",
                     train_dirs=(str(data_file("eval/kodak24")),), scale=160, crop=128, batch_size=4, steps=2,
                     checkpoint_every=2, lr=1e-4, lambda_classification=0.5, freeze_bn=True)
    trainer = Trainer(config)
    before = {k: v.clone() for k, v in trainer.generator.named_parameters()}
    trainer.fit()
    changed = {k.split(".")[0] for k, v in trainer.generator.named_parameters() if not torch.equal(v, before[k])}
    assert changed == {"encoder", "decoder", "head", "classifier"}  # the gate is fitted afterwards
    with open(tmp_path / "run" / "losses.csv") as f:
        header, *rows = list(csv.reader(f))
    assert {"L1", "CE"} <= set(header) and len(rows) == 2
    ce = [float(row[header.index("CE")]) for row in rows]
    assert all(0 < x < 20 for x in ce)  # finite cross-entropies over 258 bins


def test_renormalize_reestimates_batchnorm_statistics_from_photos(tmp_path, capsys):
    from streamcolor.api import DEFAULT_MODEL
    from streamcolor.images import read_rgb
    from streamcolor.models import from_pretrained
    from streamcolor.train.datasets import to_L_ab
    from streamcolor.train.soup import main as soup_main, renormalize

    L, _ = to_L_ab(read_rgb(data_file("eval/kodak24/kodim23.png"))[:256, :384])
    photos = (str(data_file("train/val")),)
    outputs = []
    for corrupt in (False, True):
        model = from_pretrained(DEFAULT_MODEL).float().eval()
        if corrupt:  # what a soup does to the statistics, exaggerated
            for module in model.modules():
                if isinstance(module, torch.nn.BatchNorm2d):
                    module.running_var.mul_(4)
                    module.running_mean.add_(0.5)
        with torch.no_grad():
            before = model(L[None])
            renormalize(model, photos, batches=4)
            outputs.append((before, model(L[None])))
    (shipped, shipped_renormalized), (corrupted, corrupted_renormalized) = outputs
    assert (corrupted - shipped).abs().mean() > 0.02
    # the stored statistics are replaced, not blended: both models end with the same ones
    torch.testing.assert_close(corrupted_renormalized, shipped_renormalized, atol=1e-4, rtol=0)
    assert soup_main([str(tmp_path / "bad"), f"{DEFAULT_MODEL}:0.5", f"{DEFAULT_MODEL}:0.5",
                      "--renormalize", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none' does not exist" in err and not (tmp_path / "bad").exists()


def test_an_unreadable_photo_is_passed_over(tmp_path, caplog):
    """One damaged photo stopped a run at the step that drew it, and a resumed run stopped there
    again, until session 32; a damaged validation photo stopped it at the first epoch's end."""
    train, val = tmp_path / "train", tmp_path / "val"
    train.mkdir(), val.mkdir()
    for photo in sorted(data_file("train/val").glob("*.jpg"))[:8]:
        (train / photo.name).symlink_to(photo)
    (val / "a.jpg").symlink_to(sorted(data_file("train/faces_val").glob("*.jpg"))[0])
    for folder in (train, val):
        (folder / "zz_broken.jpg").write_bytes(b"not a JPEG")
    config = _config(tmp_path, train_dirs=(str(train),), val_dirs=(str(val),), val_images=2, batch_size=3, steps=6)
    trainer = Trainer(config)
    assert [p.name for p in trainer.val_files] == ["a.jpg"]
    trainer.fit()
    assert (tmp_path / "run" / "final" / "model.safetensors").is_file()
    assert caplog.text.count("zz_broken.jpg: passed over") == 1


def test_renormalize_keeps_a_frozen_classifier_and_fits_the_model_multiple():
    """Session 32's review: torch's update_bn reset the frozen ImageNet classifier inside
    koalarization_lite0 (macaw -> another class), and 128 px crops crashed pix2pix_unet256."""
    from streamcolor.models import create_model
    from streamcolor.train.soup import renormalize

    photos = (str(data_file("train/val")),)
    model = create_model("koalarization_lite0", pretrained=True)
    before = {k: v.clone() for k, v in model.global_features.state_dict().items()}
    renormalize(model, photos, batches=2)
    assert all(torch.equal(v, model.global_features.state_dict()[k]) for k, v in before.items())
    renormalize(create_model("pix2pix_unet256"), photos, batches=1)  # its multiple: 256


def test_the_dry_run_leaves_a_seeded_run_as_it_was(tmp_path, monkeypatch):
    """The check before training drew dropout masks from the seeded generator, so a seeded run
    computed other losses than before it (session 32's review of the change)."""
    from streamcolor.train import loop

    def losses(folder):
        config = _config(tmp_path / folder, model_args={"dropout": 0.5}, steps=3, val_images=0)
        Trainer(config).fit()
        return (tmp_path / folder / "run" / "losses.csv").read_text()

    checked = losses("checked")
    monkeypatch.setattr(loop, "_dry_run", lambda *args: None)
    assert losses("unchecked") == checked
