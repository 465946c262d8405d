"""The command line, called as ``main([...])``: exit codes, one-line errors, files written."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digitnet import cli
from digitnet.persistence import load_model

from test_training import synthetic


@pytest.fixture
def tiny_data(monkeypatch):
    """Replace the MNIST loader by tiny synthetic 784-pixel data (the CLI logic is what is tested)."""
    small = synthetic(n=300, d=784)
    calls = []
    def fake_load(name, data_dir=None, validation=10_000, **kwargs):
        calls.append((name, data_dir, validation))
        return small

    def fake_test_set(name, data_dir=None, **kwargs):
        calls.append((name, data_dir, None))
        return small.test
    monkeypatch.setattr(cli, "load_dataset", fake_load)
    monkeypatch.setattr(cli, "load_test_set", fake_test_set)
    return calls


def test_train_writes_a_model_with_metadata(tiny_data, tmp_path, capsys):
    out = tmp_path / "m.npz"
    argv = ["train", "--preset", "seed", "--epochs", "2", "--sizes", "784,20,10", "--seed", "3",
            "--no-progress", "-o", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "epoch   1/2" in printed and "epoch   2/2" in printed and "test accuracy" in printed
    net, meta = load_model(out)
    assert net.describe() == "784-20-10 sigmoid, quadratic"
    assert meta["training"]["command"] == "digitnet " + " ".join(argv)
    assert meta["training"]["config"]["lr"] == 3.0 and meta["training"]["config"]["batch_size"] == 10
    assert [r["epoch"] for r in meta["history"]] == [1, 2]
    assert 0 <= meta["test_accuracy"] <= 1
    assert meta["dataset"]["name"] == "synthetic"


def test_same_command_same_bytes_of_weights(tiny_data, tmp_path):
    outs = [tmp_path / "a.npz", tmp_path / "b.npz"]
    for out in outs:
        assert cli.main(["train", "--epochs", "1", "--sizes", "784,8,10", "--no-progress", "-o", str(out)]) == 0
    (a, _), (b, _) = load_model(outs[0]), load_model(outs[1])
    assert all(x.tobytes() == y.tobytes() for x, y in zip(a.params, b.params))


def test_evaluate_json(tiny_data, tmp_path, capsys):
    out = tmp_path / "m.npz"
    cli.main(["train", "--epochs", "3", "--sizes", "784,30,10", "--no-progress", "-o", str(out)])
    capsys.readouterr()
    assert cli.main(["evaluate", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    net, _ = load_model(out)
    data = synthetic(n=300, d=784)
    assert report["accuracy"] == pytest.approx(net.evaluate(data.test.X, data.test.y))
    C = np.array(report["confusion_matrix"])
    assert C.shape == (10, 10) and C.sum() == 200 and np.trace(C) / 200 == pytest.approx(report["accuracy"])
    assert len(report["per_digit_accuracy"]) == 10
    assert cli.main(["evaluate", str(out)]) == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and "confusion matrix" in text


def test_divergence_writes_nothing(tiny_data, tmp_path, capsys):
    out = tmp_path / "m.npz"
    out.write_bytes(b"previous model")
    code = cli.main(["train", "--epochs", "2", "--sizes", "784,30,10", "--activation", "relu",
                     "--output-activation", "softmax", "--cost", "cross-entropy", "--eta", "1e30",
                     "--no-progress", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "learning rate" in err and "was not written" in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == b"previous model"


@pytest.mark.parametrize("argv,message", [
    (["train", "--epochs", "0"], "epochs must be at least 1"),
    (["train", "--eta", "-1"], "learning rate"),
    (["train", "--dropout", "1.5"], "dropout rate"),
    (["evaluate", "missing.npz"], "model file not found"),
    (["train", "--limit", "0"], "--limit: must be at least 1, not 0"),
    (["train", "--limit", "-5"], "--limit: must be at least 1, not -5"),  # [:-5] would train on almost all
    (["train", "--warmup", "-1"], "--warmup: must be at least 0"),
    (["train", "--seed", "-1"], "--seed: must be at least 0"),
])
def test_bad_input_gives_one_line_and_exit_2(tiny_data, argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_an_unwritable_output_is_refused_before_training(tiny_data, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for flag, path, message in [("-o", tmp_path, "is a folder"),
                                ("-o", blocker / "m.npz", "cannot write -o"),
                                ("--checkpoint", tmp_path, "is a folder")]:
        flag_name = "--output" if flag == "-o" else flag
        assert cli.main(["train", "--epochs", "1", "--sizes", "784,8,10", "--no-progress", flag, str(path),
                         *(["-o", str(tmp_path / "m.npz")] if flag != "-o" else [])]) == 2
        err = capsys.readouterr().err.strip()
        assert message.replace("-o", flag_name) in err and len(err.splitlines()) == 1
    # A bad flag beside a new folder: refused, and the folder is not created.
    assert cli.main(["train", "--eta", "-1", "-o", str(tmp_path / "new" / "deep" / "m.npz")]) == 2
    assert "learning rate" in capsys.readouterr().err
    assert tiny_data == []  # refused before the data was even loaded
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # and nothing left behind


def test_a_file_that_is_not_a_model_is_named_as_such(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert cli.main(["evaluate", str(text)]) == 2
    assert "not a digitnet model file (not an .npz archive)" in capsys.readouterr().err
    assert cli.main(["predict", "--model", str(text), str(text)]) == 2
    err = capsys.readouterr().err
    assert "not an .npz archive" in err and "train one with" not in err  # the hint is for a missing file
    assert cli.main(["predict", "--model", str(tmp_path / "missing.npz"), str(text)]) == 2
    assert "train one with: digitnet train -o" in capsys.readouterr().err


def test_argparse_errors_return_2(capsys):
    assert cli.main(["train", "--sizes", "784,x"]) == 2
    assert cli.main(["train", "--activation", "swish"]) == 2
    assert cli.main(["frobnicate"]) == 2
    assert cli.main(["--version"]) == 0


def test_corrupted_model_is_refused_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 definitely not a model")
    assert cli.main(["evaluate", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.npz" in err


def test_checkpoint_and_resume_through_the_cli(tiny_data, tmp_path):
    ck, full, resumed = tmp_path / "run.ckpt.npz", tmp_path / "full.npz", tmp_path / "resumed.npz"
    common = ["--sizes", "784,16,10", "--optimizer", "momentum", "--eta", "0.5", "--no-progress"]
    assert cli.main(["train", "--epochs", "3", *common, "-o", str(full)]) == 0
    assert cli.main(["train", "--epochs", "3", *common, "--checkpoint", str(ck), "-o", str(tmp_path / "x.npz")]) == 0
    assert cli.main(["train", "--resume", str(ck), "--no-progress", "-o", str(resumed)]) == 0
    # Resuming a finished run changes nothing; its weights equal the uninterrupted run's.
    (a, _), (b, meta) = load_model(full), load_model(resumed)
    assert all(x.tobytes() == y.tobytes() for x, y in zip(a.params, b.params))
    assert len(meta["history"]) == 3


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "digitnet", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "train" in result.stdout and "evaluate" in result.stdout


def ctrl_c_in_second_epoch(monkeypatch) -> None:
    """Make the next training run raise KeyboardInterrupt as its second epoch starts."""
    from digitnet import training

    real = training.run_epoch
    calls = {"n": 0}
    def interrupted_second_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(training, "run_epoch", interrupted_second_epoch)


def test_ctrl_c_saves_the_last_completed_epoch_and_exits_130(tiny_data, tmp_path, monkeypatch, capsys):
    ctrl_c_in_second_epoch(monkeypatch)
    out = tmp_path / "m.npz"
    assert cli.main(["train", "--epochs", "5", "--sizes", "784,8,10", "--no-progress", "-o", str(out)]) == 130
    assert "saved the model of epoch 1" in capsys.readouterr().err
    _, meta = load_model(out)
    assert meta["epochs_completed"] == 1 and len(meta["history"]) == 1


def test_refresh_bn_flag_is_recorded_and_the_drawn_preset_sets_it(tiny_data, tmp_path):
    out = tmp_path / "m.npz"
    assert cli.main(["train", "--epochs", "1", "--sizes", "784,8,10", "--refresh-bn", "--no-progress", "-o", str(out)]) == 0
    assert load_model(out)[1]["training"]["config"]["refresh_bn"] is True
    assert cli.main(["train", "--epochs", "1", "--sizes", "784,8,10", "--no-progress", "-o", str(out)]) == 0
    assert load_model(out)[1]["training"]["config"]["refresh_bn"] is False
    drawn = cli._options(cli.build_parser().parse_args(["train", "--preset", "cnn-drawn"]))
    assert drawn["refresh_bn"] and drawn["styles"] == 1000 and drawn["fat_strokes"] == 12_000 and drawn["epochs"] == 30


def test_augment_flag(tiny_data, tmp_path, capsys):
    out = tmp_path / "m.npz"
    assert cli.main(["train", "--epochs", "1", "--sizes", "784,8,10", "--augment", "--no-progress", "-o", str(out)]) == 0
    _, meta = load_model(out)
    assert meta["training"]["config"]["augment"] == {"shift": 2.0, "rotate": 10.0, "scale": 0.1}
    assert cli.main(["train", "--epochs", "1", "--sizes", "784,8,10", "--augment", "shift=1,elastic_alpha=8",
                     "--no-progress", "-o", str(out)]) == 0
    assert load_model(out)[1]["training"]["config"]["augment"] == {"shift": 1.0, "elastic_alpha": 8.0}
    capsys.readouterr()
    assert cli.main(["train", "--augment", "wobble=3", "-o", str(out)]) == 2
    assert "unknown --augment setting" in capsys.readouterr().err
    assert cli.main(["train", "--augment", "shift=-1", "-o", str(out)]) == 2
    assert cli.main(["train", "--augment", "shift", "-o", str(out)]) == 2


def test_a_failed_write_is_one_line_and_exit_1(tiny_data, tmp_path, monkeypatch, capsys):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(cli, "save_model", disk_full)
    out = tmp_path / "m.npz"
    assert cli.main(["train", "--epochs", "1", "--sizes", "784,8,10", "--no-progress", "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "digitnet: error: [Errno 28] No space left on device"


def test_resume_keeps_the_limit_and_refuses_flags_that_would_change_the_run(tiny_data, tmp_path, monkeypatch,
                                                                             capsys):
    common = ["--sizes", "784,16,10", "--epochs", "3", "--limit", "100", "--no-progress"]
    full = tmp_path / "full.npz"
    assert cli.main(["train", *common, "-o", str(full)]) == 0
    with monkeypatch.context() as patch:
        ctrl_c_in_second_epoch(patch)
        ck = tmp_path / "run.ckpt.npz"
        assert cli.main(["train", *common, "--checkpoint", str(ck), "-o", str(tmp_path / "x.npz")]) == 130
    capsys.readouterr()
    for flags, named in [(["--eta", "0.1", "--limit", "100"], "--eta, --limit"),
                         (["--seed", "0", "--dtype", "float32", "--validation", "10000"],  # default values too
                          "--dtype, --seed, --validation")]:
        assert cli.main(["train", "--resume", str(ck), *flags, "-o", str(tmp_path / "r.npz")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.endswith(f"leave out {named}") and len(err.splitlines()) == 1
    resumed = tmp_path / "resumed.npz"
    assert cli.main(["train", "--resume", str(ck), "--no-progress", "-o", str(resumed)]) == 0
    (a, _), (b, meta) = load_model(full), load_model(resumed)
    assert all(x.tobytes() == y.tobytes() for x, y in zip(a.params, b.params))  # trained on the same 100
    assert meta["training"]["limit"] == 100 and len(meta["history"]) == 3


@pytest.mark.parametrize("argv,message", [
    (["--preset", "mlp", "--sizes", "784,30,10", "--dropout", "0.5"],
     "--preset mlp has its own layers, which --sizes, --dropout cannot change"),
    (["--sizes", "100,10"], "--sizes must start with the 784 pixels and end with the 10 classes"),
    (["--sizes", "784,30,5"], "such as 784,30,10; not 784,30,5"),
])
def test_architecture_flags_that_cannot_apply_are_refused(tiny_data, tmp_path, argv, message, capsys):
    assert cli.main(["train", *argv, "--no-progress", "-o", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "m.npz").exists()


def test_a_model_of_the_legacy_pickle_is_evaluated_on_mnist(tiny_data, tmp_path, capsys):
    from digitnet.nn.network import Network
    from digitnet.persistence import save_model

    path = tmp_path / "legacy.npz"
    save_model(path, Network([784, 10], seed=0), {"dataset": {"name": "mnist-legacy", "sha256": "0" * 64}})
    assert cli.main(["evaluate", str(path), "--json"]) == 0
    assert tiny_data[-1][0] == "mnist" and json.loads(capsys.readouterr().out)["dataset"] == "mnist"


@pytest.mark.parametrize("reference", [False, True])
def test_reference_trains_on_the_textbook_path_only(tiny_data, tmp_path, monkeypatch, reference):
    """``--reference``: no fast kernel is swapped in and the fused epoch is not taken; without it
    both are; either way the model trains and is written."""
    from digitnet import fast, training

    used = []
    kernels, epoch = fast.kernels, training.fused.sgd_epoch
    monkeypatch.setattr(fast, "kernels", lambda *a: used.append("kernels") or kernels(*a))
    monkeypatch.setattr(training.fused, "sgd_epoch", lambda *a: used.append("fused") or epoch(*a))
    for preset in ("seed", "mlp"):
        out = tmp_path / f"{preset}.npz"
        argv = ["train", "--preset", preset, "--epochs", "1", "--no-progress", "-o", str(out)]
        assert cli.main(argv + ["--reference"] * reference) == 0
        assert load_model(out)[1]["history"][0]["epoch"] == 1
    assert (used == []) is reference and ("fused" in used) is not reference


def test_outputs_that_are_not_regular_files_are_refused_up_front(tiny_data, tmp_path, capsys):
    """-o /dev/null must never replace the device (the atomic rename would, run as root)."""
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to("/dev/null")
    for flag, path, kind in [("-o", "/dev/null", "a character device"), ("--checkpoint", fifo, "a FIFO"),
                             ("-o", link, "a symlink to a character device"),
                             ("-o", tmp_path / ("x" * 300), "File name too long")]:
        extra = ["-o", str(tmp_path / "m.npz")] if flag != "-o" else []
        assert cli.main(["train", "--epochs", "1", "--sizes", "784,8,10", "--no-progress", flag, str(path),
                         *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert kind in err and len(err.splitlines()) == 1
    assert tiny_data == [] and not os.path.isfile("/dev/null")


def test_a_network_too_large_is_refused_before_allocation(tiny_data, tmp_path, capsys, monkeypatch):
    assert cli.main(["train", "--sizes", "784,100000000,10", "-o", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("digitnet: error: the network needs 1288.00 GB, the limit is 4.00 GB "
                   "(raise DIGITNET_MAX_MODEL_GB)")
    monkeypatch.setenv("DIGITNET_MAX_MODEL_GB", "0.001")
    assert cli.main(["train", "--sizes", "784,100,10", "-o", str(tmp_path / "m.npz")]) == 2
    assert "the limit is 1.0 MB" in capsys.readouterr().err
    assert tiny_data == []


# -- a newcomer's command line ----------------------------------------------------------------
def _test_files_only(folder: Path, mnist_dir: Path) -> Path:
    """``folder/mnist`` holding MNIST's two test files and nothing else."""
    import shutil

    data = folder / "mnist"
    data.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        found = next(p for p in (mnist_dir / name, mnist_dir / f"{name}.gz") if p.is_file())
        shutil.copy(found, data / found.name)
    return data


def test_evaluate_defaults_to_the_shipped_model_and_needs_only_the_test_files(tmp_path, mnist_dir, monkeypatch,
                                                                              capsys):
    from digitnet.models import default_model_path

    data = _test_files_only(tmp_path / "data", mnist_dir)
    monkeypatch.delenv("DIGITNET_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "no-cache"))  # nothing to fall back on
    assert cli.main(["evaluate", "--data-dir", str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    _, meta = load_model(default_model_path())
    assert report["model"] == str(default_model_path()) and report["n"] == 10_000
    assert report["accuracy"] == pytest.approx(meta["test_accuracy"], abs=5e-4)


@pytest.mark.parametrize("given", ["dataset folder", "parent"])
@pytest.mark.parametrize("how", ["--data-dir", "DIGITNET_DATA_DIR"])
def test_data_dir_and_the_environment_accept_the_same_folders(tmp_path, mnist_dir, monkeypatch, given, how):
    from digitnet.data import load_test_set

    data = _test_files_only(tmp_path / "data", mnist_dir)
    folder = data if given == "dataset folder" else data.parent
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "no-cache"))
    if how == "--data-dir":
        monkeypatch.delenv("DIGITNET_DATA_DIR", raising=False)
        test = load_test_set("mnist", folder, download=False)
    else:
        monkeypatch.setenv("DIGITNET_DATA_DIR", str(folder))
        test = load_test_set("mnist", download=False)
    assert test.X.shape == (10_000, 784) and test.y[0] == 7


def test_every_positional_argument_has_help_and_help_shows_defaults():
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, sub in commands.items():
        for action in sub._actions:
            if not action.option_strings and not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"digitnet {name}: {action.dest} has no help text"
    text = " ".join(commands["train"].format_help().split())  # the lines joined again
    assert "(default: 30, or the preset's)" in text and "(default: model.npz)" in text
    assert "(default: the model shipped with digitnet)" in " ".join(commands["evaluate"].format_help().split())
