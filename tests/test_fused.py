"""The fused epoch of the classic network (``digitnet.fast.fused``): the layers' arithmetic in fewer calls."""

import numpy as np
import pytest

from digitnet.fast import fused
from digitnet.nn.layers import ActivationLayer, Dense
from digitnet.nn.network import Network
from digitnet.nn.optimizers import SGD, Adam, Momentum
from digitnet.training import batch_bounds, run_epoch


def blobs(n, d=20, k=4, seed=5, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.random((n, d)).astype(dtype), np.eye(k)[rng.integers(0, k, n)].astype(dtype)


def layered(monkeypatch):
    """Make ``run_epoch`` take the road through the layers."""
    monkeypatch.setattr(fused, "supports", lambda net, optimizer: False)


@pytest.mark.parametrize("net, optimizer, expected", [
    (lambda: Network([784, 16, 16, 10]), lambda: SGD(3.0), True),
    (lambda: Network([784, 30, 10], dtype="float64"), lambda: SGD(0.5), True),
    (lambda: Network([784, 10]), lambda: SGD(0.5), True),
    (lambda: Network([784, 16, 10], activation="relu"), lambda: SGD(3.0), False),
    (lambda: Network([784, 16, 10], output="softmax", cost="cross-entropy"), lambda: SGD(3.0), False),
    (lambda: Network([784, 16, 10], cost="cross-entropy"), lambda: SGD(3.0), False),
    (lambda: Network([784, 16, 10]), lambda: SGD(3.0, weight_decay=1e-4), False),
    (lambda: Network([784, 16, 10]), lambda: Momentum(3.0), False),
    (lambda: Network([784, 16, 10]), lambda: Adam(1e-3), False),
    (lambda: Network([Dense(16, bias=False), ActivationLayer("sigmoid")]), lambda: SGD(3.0), False),
    (lambda: Network([Dense(16), ActivationLayer("sigmoid"), Dense(10)]), lambda: SGD(3.0), False),
])
def test_supports_the_classic_design_only(net, optimizer, expected):
    assert fused.supports(net(), optimizer()) is expected


@pytest.mark.parametrize("sizes", [[20, 7, 5, 4], [20, 4], [20, 9, 8, 7, 4]])
def test_an_epoch_equals_the_layers_in_float64(sizes, monkeypatch):
    """103 examples in batches of 10: ten full batches and a last one of three."""
    X, Y = blobs(103)
    ours, theirs = (Network(sizes, seed=1, dtype="float64") for _ in range(2))
    opt_ours, opt_theirs = SGD(3.0), SGD(3.0)
    cost = run_epoch(ours, X, Y, 10, opt_ours)
    layered(monkeypatch)
    assert cost == pytest.approx(run_epoch(theirs, X, Y, 10, opt_theirs), rel=1e-13)
    for a, b in zip(ours.params, theirs.params):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert opt_ours.t == opt_theirs.t == 11
    assert ours.rng.random() == theirs.rng.random()  # both drew one permutation


@pytest.mark.parametrize("pixels, dtype, tol", [
    (np.float32, "float64", 1e-12),  # float32 images into a float64 network: float64 all the way
    (np.float32, "float32", 1e-4),  # the default: within float32 rounding of the layers
])
def test_mixed_and_single_precision_agree_with_the_layers(pixels, dtype, tol, monkeypatch):
    X, Y = blobs(200, dtype=pixels)
    ours, theirs = (Network([20, 16, 16, 4], seed=3, dtype=dtype) for _ in range(2))
    run_epoch(ours, X, Y, 7, SGD(3.0))
    layered(monkeypatch)
    run_epoch(theirs, X, Y, 7, SGD(3.0))
    for a, b in zip(ours.params, theirs.params):
        assert a.dtype == np.dtype(dtype)
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_a_non_finite_cost_stops_the_epoch_before_its_step(monkeypatch):
    X, Y = blobs(100)
    X[37, 3] = np.nan
    ours, theirs = (Network([20, 6, 4], seed=4, dtype="float64") for _ in range(2))
    opt_ours, opt_theirs = SGD(1.0), SGD(1.0)
    assert np.isnan(run_epoch(ours, X, Y, 10, opt_ours))
    layered(monkeypatch)
    assert np.isnan(run_epoch(theirs, X, Y, 10, opt_theirs))
    assert 0 <= opt_ours.t == opt_theirs.t < 10  # the batches before the one holding row 37
    for a, b in zip(ours.params, theirs.params):
        assert np.isfinite(a).all()
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_progress_hears_of_every_batch():
    X, Y = blobs(2345)
    calls = []
    run_epoch(Network([20, 5, 4], seed=0), X, Y, 10, SGD(1.0), on_batch=lambda k, cost: calls.append(k))
    assert calls == [100, 100, 35] and sum(calls) == len(batch_bounds(2345, 10))


def test_an_interrupted_epoch_leaves_the_weights_of_its_last_step():
    """Ctrl-C during the epoch: the network holds the weights after the steps taken, 100 of them."""
    X, Y = blobs(2000)
    ours, book = (Network([20, 6, 4], seed=6, dtype="float64") for _ in range(2))
    opt = SGD(2.0)

    def interrupt(k, cost):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_epoch(ours, X, Y, 10, opt, on_batch=interrupt)
    assert opt.t == 100
    perm = book.rng.permutation(2000)  # the same draw as run_epoch's
    for i in range(0, 1000, 10):
        book.backprop(X[perm[i:i + 10]], Y[perm[i:i + 10]])
        SGD(2.0).step(book.params, book.grads)
    for a, b in zip(ours.params, book.params):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
