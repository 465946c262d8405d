"""The fast kernels (``digitnet.fast``) against the textbook implementation (``digitnet.nn``).

Each kernel computes the function of its textbook twin with the operations in another order, so
they agree within float rounding, not to the bit: float32 results are compared with a tolerance
that grows with the length of the sums behind them (``close``), on one thread and on two worker
threads. Nothing here assumes a BLAS, a CPU kernel or a thread count; the OpenBLAS-specific parts
of ``blas`` are checked only where NumPy multiplies with OpenBLAS.
"""

import dataclasses

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from digitnet import fast
from digitnet.data import Split, load_dataset, one_hot
from digitnet.fast import blas
from digitnet.fast.layers import FastBatchNorm, FastConv2D, FastDense, FastMaxPool2D
from digitnet.fast.optimizers import FastAdam, FastSGD
from digitnet.nn.layers import BatchNorm, Conv2D, Dense, MaxPool2D, layer_from_config
from digitnet.nn.network import Network
from digitnet.nn.optimizers import SGD, Adam
from digitnet.presets import PRESETS
from digitnet.training import TrainConfig, fit

EPS32 = float(np.finfo(np.float32).eps)


def close(actual, expected, terms, scale=None):
    """``actual`` within float32 rounding of ``expected``, for values that are sums of ``terms``
    products: each may be off by about ``terms * eps`` times the size of the values summed
    (``scale``, default the largest magnitude in ``expected``); a few eps more for what follows."""
    expected = np.asarray(expected, np.float64)
    scale = np.abs(expected).max() if scale is None else scale
    np.testing.assert_allclose(actual, expected, rtol=0, atol=4 * (terms + 8) * EPS32 * max(scale, 1e-30))


def twins(textbook, kernel, input_shape, seed=0):
    """A textbook layer and its kernel, built alike (the same parameters)."""
    for layer in (textbook, kernel):
        layer.build(input_shape, np.random.default_rng(seed), np.dtype(np.float32))
    kernel.prepare() if hasattr(kernel, "prepare") else None
    return textbook, kernel


def run(layer, X, dY, training=True):
    """Forward and backward: ``(Y, dX, grads)``."""
    Y = layer.forward(X, training)
    dX = layer.backward(dY.copy(), need_dX=True)
    return Y, dX, {k: g.copy() for k, g in layer.grads.items()}


CASES = [
    # (textbook, kernel, input shape, terms in the longest sum of forward / backward)
    ("dense", lambda: Dense(256, init="he"), lambda: FastDense(256, init="he"), (300,), 300),
    ("conv-26x26x32", lambda: Conv2D(32, 3, bias=False), lambda: FastConv2D(32, 3, bias=False), (26, 26, 32), 24 * 24 * 32),
    ("conv-28x28x1", lambda: Conv2D(32, 3), lambda: FastConv2D(32, 3), (28, 28, 1), 26 * 26 * 32),
    ("conv-10x10x64", lambda: Conv2D(64, 3), lambda: FastConv2D(64, 3), (10, 10, 64), 8 * 8 * 64),
    ("conv-stride2-same", lambda: Conv2D(8, 3, stride=2, padding="same"),
     lambda: FastConv2D(8, 3, stride=2, padding="same"), (9, 9, 3), 5 * 5 * 8),
    ("maxpool", lambda: MaxPool2D(2), lambda: FastMaxPool2D(2), (12, 12, 8), 1),
    ("maxpool-overlapping", lambda: MaxPool2D(3, 2), lambda: FastMaxPool2D(3, 2), (9, 9, 4), 4),
    ("batchnorm", lambda: BatchNorm(), lambda: FastBatchNorm(), (6, 6, 16), 6 * 6 * 16),
    ("batchnorm-relu", lambda: BatchNorm(relu=True), lambda: FastBatchNorm(relu=True), (6, 6, 16), 6 * 6 * 16),
    ("batchnorm-dense", lambda: BatchNorm(relu=True), lambda: FastBatchNorm(relu=True), (40,), 40),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name,book,kernel,shape,terms", CASES, ids=[c[0] for c in CASES])
def test_each_kernel_computes_its_textbook_layer(name, book, kernel, shape, terms, training, threads, monkeypatch):
    """Outputs, input gradients and parameter gradients, float32, over several chunks and blocks."""
    monkeypatch.setattr(blas, "BLOCK_VALUES", 4096)  # several cache blocks for these small batches
    monkeypatch.setattr(FastConv2D, "CHUNK_ELEMENTS", 20000)  # several chunks
    rng = np.random.default_rng(1)
    n = 24
    X = rng.standard_normal((n, *shape)).astype(np.float32)
    if name == "dense":
        X[:, :200] = 0  # zero columns, as raw pixels have: the first layer skips them
    textbook, fast_layer = twins(book(), kernel(), shape)
    if name == "dense":
        fast_layer.sparse_input = True
        assert fast_layer._active_columns(X) is not None
    if "batchnorm" in name:
        for layer in (textbook, fast_layer):
            layer.params["beta"][...] = np.linspace(-1, 1, shape[-1])
            layer.buffers["running_var"][...] = 2.0
    out_shape = textbook.forward(X).shape
    dY = rng.standard_normal(out_shape).astype(np.float32)
    with threadpool_limits(threads):
        Y1, dX1, g1 = run(fast_layer, X, dY, training)
    Y0, dX0, g0 = run(textbook, X, dY, training)
    close(Y1, Y0, terms if "conv" in name or name == "dense" else 8)
    close(dX1, dX0, terms, scale=np.abs(dX0).max())
    for k in g0:
        close(g1[k], g0[k], n * terms)
    for k in textbook.buffers:
        close(fast_layer.buffers[k], textbook.buffers[k], n * terms)


@pytest.mark.parametrize("variant", ["scatter-dX", "full-dX", "grid-dW", "kept-cols"])
def test_every_way_of_the_convolution_kernel_computes_the_textbook_layer(variant):
    rng = np.random.default_rng(2)
    textbook, kernel = twins(Conv2D(6, 3, padding=1), FastConv2D(6, 3, padding=1), (9, 9, 4))
    kernel.full_dX = kernel.full_dX_workers = variant == "full-dX"
    kernel.grid_dW = variant == "grid-dW"
    kernel.keep_cols = variant == "kept-cols"
    X = rng.standard_normal((5, 9, 9, 4)).astype(np.float32)
    dY = rng.standard_normal((5, 9, 9, 6)).astype(np.float32)
    for a, b in zip(run(kernel, X, dY)[:2], run(textbook, X, dY)[:2]):
        close(a, b, 9 * 9 * 6)
    close(kernel.grads["W"], textbook.grads["W"], 5 * 81)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_adam_computes_textbook_adam(threads, dtype, monkeypatch):
    """Blocks of 100 values over a (37, 29) array; eight steps, each from the same gradients."""
    monkeypatch.setattr(blas, "BLOCK_VALUES", 600)
    rng = np.random.default_rng(0)
    p = rng.standard_normal((37, 29)).astype(dtype)
    ours, book = p.copy(), p.copy()
    opt_ours, opt_book = FastAdam(0.01), Adam(0.01)
    with threadpool_limits(threads):
        for _ in range(8):
            g = rng.standard_normal(p.shape).astype(dtype)
            opt_ours.step([ours], [g.copy()])
            opt_book.step([book], [g.copy()])
    assert ours.dtype == dtype
    tol = 64 * np.finfo(dtype).eps
    np.testing.assert_allclose(ours, book, rtol=tol, atol=tol)
    np.testing.assert_allclose(opt_ours.state[0]["v"], opt_book.state[0]["v"], rtol=tol)


@pytest.mark.parametrize("decay", [0.0, 0.01])
def test_fast_sgd_computes_textbook_sgd(decay):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((30, 20)).astype(np.float32)
    ours, book = W.copy(), W.copy()
    for _ in range(3):
        g = rng.standard_normal(W.shape).astype(np.float32)
        FastSGD(0.5, weight_decay=decay).step([ours], [g.copy()])
        SGD(0.5, weight_decay=decay).step([book], [g])
    close(ours, book, 4)


def test_fast_adam_refuses_a_parameter_it_cannot_update_in_place():
    with pytest.raises(ValueError, match="C-contiguous"):
        FastAdam(0.1).step([np.zeros((4, 6))[:, ::2]], [np.ones((4, 3))])


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_a_preset_computes_the_same_gradients_with_kernels_as_without(name):
    """A whole preset network's backprop, kernels swapped in and then out again. (Adam's step is
    compared on its own above: its first step divides by the gradient's size, so it would turn
    the rounding of a gradient near zero into a step of up to 2 * lr.)"""
    rng = np.random.default_rng(0)
    X, Y = rng.random((16, 784), dtype=np.float32), one_hot(rng.integers(0, 10, 16))
    nets = [Network([layer_from_config(c) for c in PRESETS[name]["layers"]], cost="cross-entropy", seed=0)
            for _ in range(2)]
    optimizer = Adam(1e-3)
    costs = [nets[0].backprop(X, Y)]
    with fast.kernels(nets[1], optimizer):
        assert type(nets[1].layers[1]) is not type(nets[0].layers[1]) and type(optimizer) is FastAdam
        costs.append(nets[1].backprop(X, Y))
    assert [type(l) for l in nets[1].layers] == [type(l) for l in nets[0].layers] and type(optimizer) is Adam
    assert costs[1] == pytest.approx(costs[0], rel=1e-4)
    for a, b in zip(nets[1].grads, nets[0].grads):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-4 * np.abs(b).max())


def test_training_with_kernels_and_on_the_textbook_path_reach_the_same_accuracy(mnist_dir):
    """A small CNN, 2 epochs on 4,000 real MNIST images, trained both ways from the same seed."""
    data = load_dataset("mnist", data_dir=mnist_dir, download=False, progress=False, validation=1000)
    data = dataclasses.replace(data, train=Split(data.train.X[:4000], data.train.y[:4000]))
    layers = [{"type": "reshape", "shape": [28, 28, 1]},
              {"type": "conv2d", "filters": 8, "kernel_size": 3, "bias": False}, {"type": "batchnorm", "relu": True},
              {"type": "maxpool2d", "pool_size": 2}, {"type": "flatten"},
              {"type": "dense", "units": 10, "init": "he"}, {"type": "activation", "name": "softmax"}]
    accuracy = []
    for reference in (False, True):
        net = Network([layer_from_config(c) for c in layers], cost="cross-entropy", seed=0)
        fit(net, data, TrainConfig(epochs=2, batch_size=32, optimizer="adam", lr=3e-3), progress=False,
            log=lambda line: None, reference=reference)
        accuracy.append(net.evaluate(data.test.X[:2000], data.test.y[:2000]))
    assert min(accuracy) > 0.9, accuracy
    assert abs(accuracy[0] - accuracy[1]) < 0.01, accuracy


# -- blas: products for the small-matrix kernel, chunks on worker threads ------------------------

@pytest.mark.parametrize("m", [576, 540, 1000])
@pytest.mark.parametrize("threads", [1, 2])
def test_matmul_rows_and_cols_compute_the_products(m, threads):
    rng = np.random.default_rng(m)
    A = rng.standard_normal((m, 288), dtype=np.float32)
    B = rng.standard_normal((288, 32), dtype=np.float32)
    C = rng.standard_normal((m, 32), dtype=np.float32)
    out = np.full((m, 64), np.nan, np.float32)
    dW = np.full((288, 32), np.nan, np.float32)
    with threadpool_limits(threads):
        assert blas.matmul_rows(A, B, out=out[:, ::2]) is not None
        assert blas.matmul_cols(A, C, out=dW) is dW
    close(out[:, ::2], A.astype(np.float64) @ B, 288, scale=float(np.abs(A).max() * np.abs(B).max() * 288))
    assert np.isnan(out[:, 1::2]).all()  # a strided out: only its own columns written
    close(dW, A.astype(np.float64).T @ C, m, scale=float(np.abs(A).max() * np.abs(C).max() * m))


def test_rows_per_product_cuts_only_for_openblas_on_one_thread():
    A = np.zeros((576, 288), np.float32)
    if blas._openblas() is None:
        assert blas._rows_per_product(A, 32, A) is None
        return
    with threadpool_limits(1):
        assert blas._rows_per_product(A, 32, A) == 96  # 108 * 288 * 32 <= 100**3 < 109 * 288 * 32; 108 cut to 6 tiles of 16
        assert blas._rows_per_product(A, 64, A) is None  # 54 rows per piece, cut to 48: below MIN_ROWS
        assert blas._rows_per_product(A[:96], 32, A) is None  # not taller than one piece
        assert blas._rows_per_product(A[:, :144], 32, A) is None  # not contiguous
    with threadpool_limits(2):
        assert blas._rows_per_product(A, 32, A) is None


def test_for_workers_shares_the_chunks_and_returns_in_worker_order():
    import threading
    import time

    chunks = [slice(i, i + 1) for i in range(40)]
    seen = []

    def work(worker, feed):
        seen.append((worker, threading.current_thread() is threading.main_thread(), blas.threads()))
        taken = []
        for chunk in feed:
            taken.append(chunk)
            if worker == 1:
                time.sleep(0.002)  # a slow worker
        return worker, taken

    with threadpool_limits(2):
        (w0, taken0), (w1, taken1) = blas.for_workers(work, chunks)
        assert (w0, w1) == (0, 1)
        assert sorted(taken0 + taken1, key=lambda c: c.start) == chunks  # each chunk once
        assert len(taken1) < len(taken0)  # the slow worker took fewer
        assert sorted(w for w, _, _ in seen) == [0, 1] and [main for w, main, _ in sorted(seen)] == [True, False]
        if blas._openblas() is not None:
            assert [n for _, _, n in seen] == [1, 1]  # OpenBLAS on one thread meanwhile
            assert blas.threads() == 2  # and given its threads back
    with threadpool_limits(1):
        assert blas.for_workers(work, chunks) == [(0, chunks)]
    with threadpool_limits(2):
        assert blas.for_workers(work, chunks[:1]) == [(0, chunks[:1])]  # no more workers than chunks


@pytest.mark.parametrize("n,step,sizes", [
    (128, 12, [10, 11, 11] * 4),  # 11 chunks of 12 would do: 12 of 10-11
    (128, 9, [8] * 16),  # not 14 of 9 and one of 2
    (128, 1, [1] * 128),
    (5, 1, [1] * 5),  # no more chunks than rows
    (5, 2, [1, 1, 1, 2]),
    (7, 10, [7]),
    (0, 4, []),
])
def test_even_cuts(n, step, sizes):
    cuts = blas.even_cuts(n, step)
    assert [c.stop - c.start for c in cuts] == sizes
    assert [c.start for c in cuts] == [sum(sizes[:i]) for i in range(len(sizes))]  # consecutive, from 0


def test_cache_blocks_cut_rows_the_same_for_any_number_of_workers(monkeypatch):
    monkeypatch.setattr(blas, "BLOCK_VALUES", 10)
    for threads in (1, 2):
        with threadpool_limits(threads):
            assert blas.cache_blocks(7, 3) == [(0, slice(0, 1)), (1, slice(1, 3)), (2, slice(3, 5)), (3, slice(5, 7))]
            assert blas.cache_blocks(2, 50) == [(0, slice(0, 1)), (1, slice(1, 2))]  # at least a row each


def test_for_workers_passes_on_a_worker_error_and_restores_the_threads():
    def work(worker, mine):
        if worker == 1:
            raise ValueError("worker 1 failed")
        return worker

    with threadpool_limits(2):
        with pytest.raises(ValueError, match="worker 1 failed"):
            blas.for_workers(work, [slice(0, 1), slice(1, 2)])
        assert blas.threads() == 2


def test_own_threads_nests_and_gives_the_threads_back():
    if blas._openblas() is None:
        with blas.own_threads():
            assert blas.workers() == 1
        return
    with threadpool_limits(2):
        with blas.own_threads():
            assert (blas.threads(), blas.workers()) == (1, 2)
            with blas.own_threads():
                assert (blas.threads(), blas.workers()) == (1, 2)
            assert blas.threads() == 1
        assert (blas.threads(), blas.workers()) == (2, 2)
        with pytest.raises(KeyError), blas.own_threads():
            raise KeyError
        assert blas.threads() == 2


def test_training_a_network_with_convolutions_holds_openblas_to_one_thread():
    """Inside ``fast.kernels`` a network with convolutions leaves the cores to the worker threads."""
    net = Network([layer_from_config(c) for c in PRESETS["cnn"]["layers"]], cost="cross-entropy", seed=0)
    mlp = Network([784, 32, 10])
    with threadpool_limits(2):
        with fast.kernels(net):
            assert blas.workers() == 2
            if blas._openblas() is not None:
                assert blas.threads() == 1
        with fast.kernels(mlp):
            assert blas.threads() == 2 or blas._openblas() is None
        assert blas.threads() == 2 or blas._openblas() is None


def test_the_loaded_openblases_are_found_again_only_after_an_import(monkeypatch):
    """Finding them reads the process's shared libraries: once, then again after each import."""
    import sys
    import types

    import threadpoolctl

    scans = []
    real = threadpoolctl.ThreadpoolController
    monkeypatch.setattr(blas, "ThreadpoolController", lambda: scans.append(1) or real())
    first = blas._openblases()
    assert blas._openblases() is first and blas._openblases() is first
    before = len(scans)
    monkeypatch.setitem(sys.modules, "digitnet_test_new_module", types.ModuleType("digitnet_test_new_module"))
    again = blas._openblases()
    assert len(scans) == before + 1 and again is not first
    assert [c.filepath for c in again] == [c.filepath for c in first]
    with blas.own_threads():
        assert blas._openblases() is again and len(scans) == before + 1


def test_the_openblas_of_numpy_is_found_in_either_order_and_passes_hold_every_openblas(monkeypatch):
    """SciPy's wheels load an OpenBLAS of their own, listed before or after NumPy's as the hash
    seed falls: taking the first held SciPy's to one thread in half the runs, and NumPy's
    products inside the worker threads then ran on two threads each."""
    from pathlib import Path

    import scipy.ndimage  # noqa: F401  (loads SciPy's OpenBLAS)

    libs = blas._openblases()
    if len(libs) < 2:  # NumPy and SciPy from elsewhere (one system BLAS): nothing to tell apart
        assert blas._openblas() is (libs[0] if libs else None)
        return
    numpy_libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    assert len(libs) == 2 and sum(Path(c.filepath).resolve().parent == numpy_libs for c in libs) == 1
    for order in (libs, libs[::-1]):
        monkeypatch.setattr(blas, "_openblases", lambda order=order: list(order))
        blas._openblas.cache_clear()
        assert Path(blas._openblas().filepath).resolve().parent == numpy_libs
        with threadpool_limits(2):
            with blas.own_threads():
                assert [c.get_num_threads() for c in libs] == [1, 1] and blas.workers() == 2
            assert [c.get_num_threads() for c in libs] == [2, 2]
    blas._openblas.cache_clear()
