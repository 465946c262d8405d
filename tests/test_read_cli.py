"""``digitnet read``: the number in each image file, JSON with digits, boxes, confidences and
rejected parts, one error line per bad file; ``predict`` and ``evaluate`` with the reject option."""

import io
import json
import os
import pty
import subprocess
import sys

import numpy as np
from PIL import Image

from digitnet import cli
from digitnet.data import load_dataset
from test_segment import zigzag


def number_png(path, images, gap=8, ink=0):
    """Digits side by side as dark ink on white paper, 3x enlarged, like a photo of a note."""
    crops = []
    for img in images:
        cols = np.flatnonzero(img.max(axis=0) > 0.1)
        crops.append(img[:, cols[0]:cols[-1] + 1])
    width = 16 + sum(c.shape[1] for c in crops) + gap * (len(crops) - 1)
    canvas = np.zeros((36, width), np.float32)
    x = 8
    for c in crops:
        canvas[4:32, x:x + c.shape[1]] = c
        x += c.shape[1] + gap
    paper = (255 - canvas * (255 - ink)).astype(np.uint8)
    Image.fromarray(paper).resize((width * 3, 108), Image.Resampling.BILINEAR).save(path)


def test_read_prints_the_number_of_each_image(mnist_dir, tmp_path, capsys):
    test = load_dataset("mnist", mnist_dir, validation=0).test
    X, y = test.X.reshape(-1, 28, 28), test.y
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    number_png(a, X[:4])
    number_png(b, X[10:12])
    assert cli.main(["read", str(a), str(b)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{a} {''.join(map(str, y[:4]))}", f"{b} {''.join(map(str, y[10:12]))}"]


def test_read_json_gives_digits_boxes_confidences_and_rejected_parts(mnist_dir, tmp_path, capsys):
    test = load_dataset("mnist", mnist_dir, validation=0).test
    path = tmp_path / "n.png"
    number_png(path, test.X[:3].reshape(-1, 28, 28))
    assert cli.main(["read", "--json", str(path)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert set(record) == {"path", "number", "digits", "boxes", "confidences", "rejected"}
    assert record["number"] == "721" and record["digits"] == [7, 2, 1] and record["rejected"] == []
    assert len(record["boxes"]) == 3 and all(len(b) == 4 for b in record["boxes"])
    assert all(b[2] <= c[0] for b, c in zip(record["boxes"], record["boxes"][1:]))  # left to right
    assert all(0 < c <= 1 for c in record["confidences"])


def test_bad_files_get_one_line_each_and_the_rest_are_read(mnist_dir, tmp_path, capsys):
    test = load_dataset("mnist", mnist_dir, validation=0).test
    good, blank, text = tmp_path / "good.png", tmp_path / "blank.png", tmp_path / "t.png"
    number_png(good, test.X[:2].reshape(-1, 28, 28))
    Image.new("L", (90, 60), 255).save(blank)
    text.write_text("not an image")
    checks = tmp_path / "checks.png"  # ink to every edge: no paper to read it on
    squares = np.kron(np.indices((6, 20)).sum(axis=0) % 2, np.ones((20, 20)))  # (120, 400) of 0 and 1
    Image.fromarray(squares.astype(np.uint8) * 255).save(checks)
    assert cli.main(["read", str(blank), str(good), str(text), str(tmp_path), str(checks)]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{good} 72"]
    errors = err.splitlines()
    assert len(errors) == 4 and all(e.startswith("digitnet: error: ") for e in errors)
    assert "blank" in errors[0] and "Traceback" not in err
    assert errors[3] == f"digitnet: error: {checks}: no digit found: no plain background around the ink"


def _digitnet(*argv, stdin):
    """``digitnet argv...`` in a subprocess whose standard input is ``stdin`` (bytes through a pipe,
    or a file descriptor)."""
    pipe = isinstance(stdin, bytes)
    return subprocess.run([sys.executable, "-m", "digitnet", *argv], input=stdin if pipe else None,
                          stdin=None if pipe else stdin, capture_output=True, timeout=120)


def test_a_dash_reads_the_image_piped_to_standard_input(mnist_dir, tmp_path):
    test = load_dataset("mnist", mnist_dir, validation=0).test
    path = tmp_path / "n.png"
    number_png(path, test.X[:4].reshape(-1, 28, 28))
    png = path.read_bytes()
    run = _digitnet("read", "-", str(path), stdin=png)
    assert run.returncode == 0 and run.stdout.decode().splitlines() == ["- 7210", f"{path} 7210"]
    single = tmp_path / "7.png"
    number_png(single, test.X[:1].reshape(-1, 28, 28))
    run = _digitnet("predict", "--json", "-", stdin=single.read_bytes())
    assert run.returncode == 0 and json.loads(run.stdout)["path"] == "-" and json.loads(run.stdout)["digit"] == 7

    def error(*argv, stdin):
        run = _digitnet(*argv, stdin=stdin)
        lines = run.stderr.decode().splitlines()
        assert run.returncode == 2 and run.stdout == b"" and len(lines) == 1, run.stderr
        return lines[0]

    assert error("read", "-", stdin=b"") == "digitnet: error: standard input is empty: no image was piped in"
    assert error("predict", "-", stdin=b"not an image") == \
        "digitnet: error: cannot read image from standard input: cannot identify image file"
    assert error("read", "-", "-", stdin=png) == "digitnet: error: standard input holds one image: give - once"
    main, other = pty.openpty()  # a terminal: nothing was piped in, so nothing waits for a keyboard
    try:
        assert "standard input is a terminal" in error("read", "-", stdin=other)
    finally:
        os.close(main)
        os.close(other)


def test_standard_input_is_read_up_to_an_image_s_size_and_no_further(monkeypatch, capsys):
    """At most the bytes of an uncompressed image at the pixel limit, and a MiB for its headers,
    are read: a longer stream is refused there, not held in memory to its end."""
    from digitnet import preprocess

    monkeypatch.setattr(preprocess, "MAX_PIXELS", 1000)  # 4,000 bytes of pixels and 1 MiB
    endless = io.BufferedReader(io.BytesIO(b"\0" * (4000 + (1 << 20) + 1)))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(endless))
    assert cli.main(["read", "-"]) == 2
    assert capsys.readouterr().err == "digitnet: error: standard input holds more than 1 MiB: too large for an image\n"


def test_predict_says_not_a_digit_and_no_reject_turns_it_off(mnist_dir, tmp_path, capsys):
    """A model whose threshold nothing reaches, and whose temperature flattens every score to about
    0.1 (so that ``read`` refuses a digit-sized part too), answers "not a digit" with the scores;
    --no-reject answers the digit."""
    from digitnet.models import default_model_path
    from digitnet.persistence import load_model, save_model

    net, meta = load_model(default_model_path())
    net.detector = None  # the threshold on the top probability decides
    strict = tmp_path / "strict.npz"
    save_model(strict, net, {"training": meta["training"],
                             "reject": {k: v for k, v in meta["reject"].items() if k != "detector"}
                             | {"threshold": 1.01, "temperature": 1000.0}})
    test = load_dataset("mnist", mnist_dir, validation=0).test
    seven = tmp_path / "seven.png"
    Image.fromarray((test.X[0].reshape(28, 28) * 255).astype(np.uint8)).save(seven)
    assert cli.main(["predict", "--json", "--model", str(strict), str(seven)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["digit"] is None and record["reason"] == "not a digit"
    assert len(record["scores"]) == 10 and record["confidence"] == max(record["scores"])
    assert cli.main(["predict", "--model", str(strict), str(seven)]) == 0
    assert capsys.readouterr().out.startswith(f"{seven} not a digit ")
    assert cli.main(["predict", "--no-reject", "--json", "--model", str(strict), str(seven)]) == 0
    assert json.loads(capsys.readouterr().out)["digit"] == 7
    assert cli.main(["read", "--json", "--model", str(strict), str(seven)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["number"] == "" and record["rejected"][0]["reason"] == "not a digit"


def test_evaluate_reports_coverage_and_accuracy_on_kept(mnist_dir, capsys):
    from digitnet.models import default_model_path

    model = str(default_model_path())
    assert cli.main(["evaluate", model, "--data-dir", str(mnist_dir), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert 0.98 <= record["coverage"] < 1 and record["accuracy_on_kept"] >= record["accuracy"]
    assert cli.main(["evaluate", model, "--data-dir", str(mnist_dir), "--json", "--no-reject"]) == 0
    assert "coverage" not in json.loads(capsys.readouterr().out)


def test_a_line_too_long_to_cut_gets_one_line_and_the_rest_are_read(mnist_dir, tmp_path, capsys):
    """Eleven scribbles side by side, each 8 line heights long: too many ways to cut them into
    digits (``segment.MAX_PIECES``); ``read`` says so in one line and goes on."""
    test = load_dataset("mnist", mnist_dir, validation=0).test
    good, long = tmp_path / "good.png", tmp_path / "long.png"
    number_png(good, test.X[:2].reshape(-1, 28, 28))
    Image.fromarray((zigzag(2400, gap=40, every=180) * 255).astype(np.uint8)).save(long)
    assert cli.main(["read", str(long), str(good)]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{good} 72"]
    (line,) = err.splitlines()
    assert line.startswith(f"digitnet: error: {long}: too many ways to cut this into digits (")
    assert line.endswith(", at most 1,000): write fewer digits, larger and apart")
