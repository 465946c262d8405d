"""``digitnet convert``: a network pickled by the book's ``network.py`` becomes a model file that
predicts as it did; any other pickle is refused in one line without running its code."""

import pickle
import sys
import types

import numpy as np
import pytest

from digitnet import cli
from digitnet.data import load_dataset
from digitnet.persistence import load_model


class Network:
    """A stand-in for the book's ``network.Network``: its ``__init__`` and ``feedforward``."""

    def __init__(self, sizes, rng):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
        self.weights = [rng.standard_normal((y, x)) for x, y in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = 1.0 / (1.0 + np.exp(-(np.dot(w, a) + b)))
        return a


@pytest.fixture
def book_module(monkeypatch):
    """The stand-in class importable as ``network.Network``, as pickle records it."""
    module = types.ModuleType("network")
    module.Network = Network
    Network.__module__ = "network"
    monkeypatch.setitem(sys.modules, "network", module)
    return module


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_a_pickled_book_network_predicts_the_same_digits(tmp_path, book_module, mnist_dir, protocol, capsys):
    net = Network([784, 30, 10], np.random.default_rng(0))
    net.weights = [w * 0.1 for w in net.weights]  # some spread in the outputs, as after training
    path = tmp_path / "trained_network.pkl"
    path.write_bytes(pickle.dumps(net, protocol=protocol))
    assert cli.main(["convert", str(path), "-o", str(tmp_path / "model.npz")]) == 0
    assert "784-30-10" in capsys.readouterr().out
    ours, meta = load_model(tmp_path / "model.npz")
    assert meta["converted_from"]["file"] == "trained_network.pkl"
    X = load_dataset("mnist", data_dir=mnist_dir, download=False, progress=False).test.X  # (10000, 784)
    theirs = net.feedforward(X.T.astype(np.float64)).T  # the book's columns, as rows
    np.testing.assert_array_equal(ours.predict(X), theirs.argmax(axis=1))
    np.testing.assert_allclose(ours.predict_raw(X), theirs, rtol=1e-12, atol=1e-15)


class Exploit:
    """A pickle that would create a marker file when loaded: ``os.system`` by REDUCE."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("payload", ["exploit", "exploit-inside", "other-class", "extra-attribute", "bad-shapes",
                                     "not-a-pickle", "truncated", "nan"])
def test_anything_else_is_refused_in_one_line_without_running_code(tmp_path, book_module, payload, capsys):
    marker = tmp_path / "pwned"
    net = Network([4, 3, 2], np.random.default_rng(0))
    if payload == "exploit":
        data = pickle.dumps(Exploit(marker))
    elif payload == "exploit-inside":
        net.weights[0] = Exploit(marker)
        data = pickle.dumps(net)
    elif payload == "other-class":
        data = pickle.dumps(types.SimpleNamespace(sizes=[4, 2]))
    elif payload == "extra-attribute":
        net.cost = "quadratic"
        data = pickle.dumps(net)
    elif payload == "bad-shapes":
        net.weights[1] = net.weights[1].T
        data = pickle.dumps(net)
    elif payload == "not-a-pickle":
        data = b"PK\x03\x04 a zip file"
    elif payload == "truncated":
        data = pickle.dumps(net)[:-20]
    else:
        net.biases[0][1, 0] = np.nan
        data = pickle.dumps(net)
    path = tmp_path / "net.pkl"
    path.write_bytes(data)
    out = tmp_path / "model.npz"
    assert cli.main(["convert", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("digitnet: error: ") and err.count("\n") == 1 and str(path) in err
    assert not marker.exists() and not out.exists()
