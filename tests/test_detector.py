"""The "not a digit" detector: a head trained by outlier exposure on a model's features, saved in
the model file, deciding the reject option; ``digitnet detector`` adds one to a model."""

import json

import numpy as np
import pytest
from PIL import Image

from digitnet import cli, detector, fast, reject
from digitnet.data import load_dataset
from digitnet.models import default_model_path
from digitnet.outliers import held_out_outliers, training_outliers
from digitnet.persistence import ModelFileError, load_model, save_model


@pytest.fixture(scope="module")
def shipped():
    net, meta = load_model(default_model_path())
    fast.accelerate(net)
    return net, meta


@pytest.fixture(scope="module")
def data(mnist_dir):
    return load_dataset("mnist", mnist_dir, validation=10_000)


def test_the_features_are_the_convolutional_ones_or_the_last_hidden_layer(shipped):
    from digitnet.nn.network import Network

    net, _ = shipped
    at = detector.feature_layer(net)
    assert type(net.layers[at]).__name__ == "Flatten"
    X = np.zeros((3, 784), np.float32)
    F, A = detector.forward(net, X, at)
    assert F.shape == (3, 1024) and np.allclose(A, net.predict_raw(X), atol=1e-6)
    dense = Network([784, 30, 20, 10], activation="relu", output="softmax", cost="cross-entropy")
    assert detector.forward(dense, X, detector.feature_layer(dense))[0].shape == (3, 20)


def test_the_pass_goes_in_chunks_that_bound_memory(shipped, data):
    """Features and outputs of 60 digits read 25 at a time (the cnn's im2col patches bound the
    chunk, ``Network.chunk_rows``) equal those read one at a time."""
    net, _ = shipped
    at = detector.feature_layer(net)
    assert net.chunk_rows() == 25
    rows = []
    forward = net.layers[0].forward
    net.layers[0].forward = lambda A, training=False: rows.append(len(A)) or forward(A, training)
    try:
        F, A = detector.forward(net, data.validation.X[:60], at)
    finally:
        del net.layers[0].forward
    assert rows == [25, 25, 10]
    for i in (0, 30, 59):
        F1, A1 = detector.forward(net, data.validation.X[i:i + 1], at)
        np.testing.assert_allclose(F[i], F1[0], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(A[i], A1[0], rtol=1e-4, atol=1e-6)


def test_a_head_on_frozen_features_learns_to_reject_held_out_non_digits(shipped, data):
    """Trained on 3000 digits against 1500 generated non-digits, the head rejects most of the
    held-out family (other fonts, spirals, zigzags, stars) at a threshold that keeps 99 % of the
    validation digits; the classifier's own answers do not change."""
    net, _ = shipped
    before = net.predict_raw(data.test.X[:500])
    rng = np.random.default_rng(0)
    head = detector.train(net, data.train.X[:3000], training_outliers(1500, data.train.X[:3000], rng), seed=0)
    assert np.array_equal(net.predict_raw(data.test.X[:500]), before)
    at = detector.feature_layer(net)
    digits = head.predict_raw(detector.forward(net, data.validation.X[:2000], at)[0])[:, 0]
    others = head.predict_raw(detector.forward(net, held_out_outliers(400, np.random.default_rng(5)), at)[0])[:, 0]
    threshold = np.quantile(digits, 0.01)
    assert np.mean(others < threshold) >= 0.8


def test_the_shipped_detector_keeps_digits_and_rejects_held_out_non_digits(shipped, data):
    """The shipped model's reject option against issue 16's targets on the whole MNIST test set:
    99 % of the digits kept, 99.6 % of those kept read right (docs/reading.md; bench_reject.py
    for the full figures)."""
    net, meta = shipped
    assert net.detector is not None and meta["reject"]["detector"]["keep"] == reject.KEEP_DETECTOR
    digits, _, _ = reject.classify(net, meta, data.test.X)
    kept = np.array([d is not None for d in digits])
    assert kept.mean() >= 0.99
    assert np.mean(np.array(digits, dtype=object)[kept] == data.test.y[kept]) >= 0.996
    others, _, reasons = reject.classify(net, meta, held_out_outliers(500, np.random.default_rng(7)))
    assert np.mean([d is None for d in others]) >= 0.88
    assert set(reasons) <= {None, reject.REASON}


def test_a_row_the_model_cannot_place_is_refused_even_where_the_detector_passes_it(shipped, data):
    """Evidence 0 under the floor on the top calibrated probability; the floor keeps 99.9 % of
    the validation digits. ``floor=0`` gives the detector's score alone."""
    net, meta = shipped
    section = meta["reject"]["detector"]
    scores, evidence, threshold = reject.assess(net, meta, data.validation.X)
    assert threshold == section["threshold"]
    low = scores.max(axis=1) < section["floor"]
    assert 0 < low.mean() <= 0.002 and np.all(evidence[low] == 0.0)
    assert np.mean(evidence >= threshold) >= 0.995
    _, alone, _ = reject.assess(net, meta, data.validation.X, floor=0.0)
    assert np.array_equal(alone[~low], evidence[~low]) and np.all(alone[low] > 0.0)


def test_the_detector_is_saved_with_the_model_and_checked_on_load(shipped, tmp_path):
    net, meta = shipped
    kept = {k: v for k, v in meta.items() if k not in ("arrays", "architecture", "format", "format_version")}
    save_model(tmp_path / "m.npz", net, kept)
    again, meta2 = load_model(tmp_path / "m.npz")
    assert set(meta2["arrays"]) >= {f"detector.{k}" for k in net.detector.state_dict()}
    for k, v in net.detector.state_dict().items():
        assert np.array_equal(again.detector.state_dict()[k], v)
    X = np.random.default_rng(0).random((5, 784), np.float32)
    assert np.array_equal(reject.assess(again, meta2, X)[1], reject.assess(net, meta, X)[1])

    def refused(section, path):
        save_model(path, net, {**kept, "reject": section})
        with pytest.raises(ModelFileError, match="detector"):
            load_model(path)

    sec = meta["reject"]
    refused({k: v for k, v in sec.items() if k != "detector"}, tmp_path / "no-section.npz")
    refused({**sec, "detector": {**sec["detector"], "features": 3}}, tmp_path / "other-layer.npz")
    refused({**sec, "detector": {**sec["detector"], "threshold": 2.0}}, tmp_path / "bad-threshold.npz")


def test_digitnet_detector_adds_a_detector_that_predict_uses(tmp_path, mnist_dir, capsys):
    """A quick run (--limit 3000 --outliers 1500) on the shipped classifier: the written model
    reads a digit, calls a zigzag not a digit, and --no-reject reads the zigzag as a digit."""
    net, meta = load_model(default_model_path())
    net.detector = None
    base = tmp_path / "base.npz"
    save_model(base, net, {k: v for k, v in meta.items() if k not in ("arrays", "architecture", "reject")})
    out = tmp_path / "with-detector.npz"
    assert cli.main(["detector", str(base), "-o", str(out), "--limit", "3000", "--outliers", "1500",
                     "--data-dir", str(mnist_dir)]) == 0
    assert "detector trained" in capsys.readouterr().out
    new, new_meta = load_model(out)
    assert new.detector is not None and new_meta["reject"]["detector"]["command"].startswith("digitnet detector")
    test = load_dataset("mnist", mnist_dir, validation=0).test
    seven, zigzag = tmp_path / "seven.png", tmp_path / "zigzag.png"
    Image.fromarray((test.X[0].reshape(28, 28) * 255).astype(np.uint8)).save(seven)
    canvas = Image.new("L", (280, 280))
    from PIL import ImageDraw

    ImageDraw.Draw(canvas).line([(30, 180), (80, 90), (130, 180), (180, 90), (230, 180), (260, 100)], fill=255, width=16)
    canvas.save(zigzag)
    assert cli.main(["predict", "--json", "--model", str(out), str(seven), str(zigzag)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[0]["digit"] == 7 and records[1]["digit"] is None and records[1]["reason"] == "not a digit"
    assert cli.main(["predict", "--json", "--no-reject", "--model", str(out), str(zigzag)]) == 0
    assert json.loads(capsys.readouterr().out)["digit"] is not None


def test_digitnet_detector_refuses_a_model_without_a_validation_split(tmp_path, mnist_dir, capsys):
    net, meta = load_model(default_model_path())
    net.detector = None
    base = tmp_path / "all-60k.npz"
    save_model(base, net, {"training": {**meta["training"], "validation": 0}, "dataset": meta["dataset"]})
    assert cli.main(["detector", str(base), "-o", str(tmp_path / "out.npz"), "--data-dir", str(mnist_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "validation" in err and not (tmp_path / "out.npz").exists()
