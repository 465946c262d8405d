"""``digitnet predict`` on real files, and ``digitnet app``'s command line."""

from __future__ import annotations

import json
import shlex
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitnet import cli
from digitnet.app import PAGE
from digitnet.data import load_dataset
from digitnet.models import default_model_path
from digitnet.persistence import load_model


@pytest.fixture(scope="module")
def digits(mnist_dir, tmp_path_factory):
    """Eight MNIST test digits saved as files the way people have them: dark ink on white paper
    (PNG), white on black (JPEG), small and large, with their labels."""
    test = load_dataset("mnist", mnist_dir, validation=0, progress=False).test
    folder = tmp_path_factory.mktemp("digits")
    files = []
    for n, i in enumerate(range(8)):
        grey = Image.fromarray(np.round(test.X[i].reshape(28, 28) * 255).astype(np.uint8))
        big = grey.resize((28 * (2 + n), 28 * (2 + n)), Image.Resampling.BILINEAR)
        if n % 2:
            path = folder / f"digit{n}.jpg"
            big.convert("RGB").save(path, quality=95)
        else:
            path = folder / f"digit{n}.png"
            Image.eval(big, lambda v: 255 - v).save(path)
        files.append((path, int(test.y[i])))
    return files


def bomb_png(path: Path, width: int = 50_000, height: int = 50_000) -> None:
    """A PNG whose header claims ``width x height`` pixels (a decompression bomb's first bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


def test_reads_digit_files(digits, capsys):
    assert cli.main(["predict", *(str(p) for p, _ in digits)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(digits)
    for line, (path, label) in zip(lines, digits):
        name, digit, confidence = line.rsplit(" ", 2)
        assert name == str(path) and 0 < float(confidence) <= 1
        assert int(digit) == label


def test_json_lines(digits, capsys):
    assert cli.main(["predict", "--json", "--model", str(default_model_path()), str(digits[0][0])]) == 0
    record = json.loads(capsys.readouterr().out)
    assert set(record) == {"path", "digit", "probabilities", "scores", "confidence"}
    assert record["path"] == str(digits[0][0]) and record["digit"] == digits[0][1]
    p = record["probabilities"]
    assert len(p) == 10 and all(isinstance(v, float) for v in p) and sum(p) == pytest.approx(1, abs=1e-5)
    assert record["digit"] == int(np.argmax(p))


def test_bad_files_get_one_line_each_and_the_rest_are_read(digits, tmp_path, capsys):
    blank, text, bomb = tmp_path / "blank.png", tmp_path / "notes.png", tmp_path / "bomb.png"
    Image.new("L", (120, 90), 255).save(blank)
    text.write_text("not an image")
    bomb_png(bomb)
    missing = tmp_path / "missing.png"
    good = digits[1][0]
    code = cli.main(["predict", str(blank), str(text), str(good), str(bomb), str(missing), str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out.splitlines() == [f"{good} {digits[1][1]} " + out.split()[-1]]
    errors = err.splitlines()
    assert len(errors) == 5 and all(e.startswith("digitnet: error: ") for e in errors)
    assert "blank" in errors[0] and str(blank) in errors[0]
    assert "cannot read image" in errors[1] and str(text) in errors[1]
    assert "image too large" in errors[2]
    assert str(missing) in errors[3] and str(tmp_path) in errors[4]
    assert "Traceback" not in err


def test_missing_model_names_the_training_command(digits, tmp_path, capsys):
    assert cli.main(["predict", "--model", str(tmp_path / "none.npz"), str(digits[0][0])]) == 2
    assert "digitnet train -o" in capsys.readouterr().err


def test_shipped_model_is_a_readable_model_with_its_command():
    net, meta = load_model(default_model_path())
    assert meta["training"]["command"].startswith("digitnet train ")
    assert meta["test_accuracy"] > 0.97 and meta["history"]
    assert default_model_path().stat().st_size < 5_000_000


def test_shipped_model_card_commands_chain():
    """The card's detector command reads the file its training command writes: run in order,
    the two commands rebuild the shipped model."""
    _, meta = load_model(default_model_path())
    train, detect = shlex.split(meta["training"]["command"]), shlex.split(meta["reject"]["detector"]["command"])
    assert train[:2] == ["digitnet", "train"] and detect[:2] == ["digitnet", "detector"]
    assert detect[2] == train[train.index("-o") + 1]


def test_app_runs_streamlit_on_the_page(monkeypatch, tmp_path, capsys):
    model = tmp_path / "m.npz"
    model.write_bytes(default_model_path().read_bytes())
    calls = []
    monkeypatch.setattr("os.execv", lambda exe, cmd: calls.append((exe, cmd)))
    assert cli.main(["app", "--model", str(model), "--port", "8765", "--models-dir", str(tmp_path)]) == 0
    ((exe, cmd),) = calls
    assert exe == cmd[0] == sys.executable and cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == str(PAGE) and PAGE.is_file()
    assert cmd[cmd.index("--server.port") + 1] == "8765"
    assert cmd[cmd.index("--server.headless") + 1] == "true"
    assert cmd[cmd.index("--") + 1:] == ["--model", str(model), "--models-dir", str(tmp_path)]
    assert cli.main(["app", "--no-reject"]) == 0
    assert calls[1][1][calls[1][1].index("--") + 1:] == ["--models-dir", "models", "--no-reject"]


def test_app_refuses_a_missing_model(tmp_path, capsys):
    assert cli.main(["app", "--model", str(tmp_path / "none.npz")]) == 2
    assert "model file not found" in capsys.readouterr().err


def test_fifos_devices_and_folders_are_refused_without_reading(digits, tmp_path, capsys):
    """A FIFO would block the read forever and a device never end: each is refused in one line,
    as the image or as the model, and the other images are still read."""
    import os

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    path, label = digits[0]
    assert cli.main(["predict", str(fifo), "/dev/zero", str(tmp_path), str(path)]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"digitnet: error: {fifo} is a FIFO, not an image file",
                                "digitnet: error: /dev/zero is a character device, not an image file",
                                f"digitnet: error: {tmp_path} is a folder, not an image file"]
    assert out.split()[:2] == [str(path), str(label)]
    assert cli.main(["predict", "--model", str(fifo), str(path)]) == 2
    assert capsys.readouterr().err.strip() == f"digitnet: error: {fifo} is a FIFO, not a model file"
