"""``digitnet.fast.blas``: products cut for OpenBLAS's small-matrix kernel, and chunks run on worker threads, give the same numbers."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from digitnet.fast import blas
from digitnet.nn.layers import layer_from_config


def test_numpy_multiplies_with_openblas():
    """The rest of this file (and the speed of every convolution) assumes it: NumPy's wheels."""
    assert blas._openblas() is not None


@pytest.mark.parametrize("threads,expected", [(1, True), (2, False)])
def test_small_products_only_on_one_thread_and_follow_threadpool_limits(threads, expected):
    with threadpool_limits(threads):
        assert blas.small_products() is expected


def test_rows_per_product():
    A = np.zeros((576, 288), np.float32)
    with threadpool_limits(1):
        assert blas._rows_per_product(A, 32, A) == 96  # 108 * 288 * 32 <= 100**3 < 109 * 288 * 32; 108 cut to 6 tiles of 16
        assert blas._rows_per_product(A, 64, A) is None  # 54 rows per piece, cut to 48: below MIN_ROWS
        assert blas._rows_per_product(A[:96], 32, A) is None  # not taller than one piece
        assert blas._rows_per_product(A[:, :144], 32, A) is None  # not contiguous
    with threadpool_limits(2):
        assert blas._rows_per_product(A, 32, A) is None


@pytest.mark.parametrize("m", [576, 540, 1000])  # 96 rows a piece: 6 exactly, 5 + 60 left, 10 + 40 left
@pytest.mark.parametrize("threads", [1, 2])
def test_matmul_rows_gives_the_bits_of_one_product(m, threads):
    rng = np.random.default_rng(m)
    A = rng.standard_normal((m, 288), dtype=np.float32)
    B = rng.standard_normal((288, 32), dtype=np.float32)
    out = np.full((m, 32), np.nan, np.float32)
    with threadpool_limits(threads):
        assert blas.matmul_rows(A, B, out=out) is out
    np.testing.assert_array_equal(out, A @ B)


def test_matmul_rows_writes_into_a_strided_out():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((576, 288), dtype=np.float32)
    B = rng.standard_normal((288, 32), dtype=np.float32)
    out = np.zeros((576, 64), np.float32)
    with threadpool_limits(1):
        blas.matmul_rows(A, B, out=out[:, ::2])
    np.testing.assert_array_equal(out[:, ::2], A @ B)
    assert not out[:, 1::2].any()


@pytest.mark.parametrize("m", [576, 540, 1000])
@pytest.mark.parametrize("threads", [1, 2])
def test_matmul_cols_sums_the_pieces_to_the_product(m, threads):
    rng = np.random.default_rng(m)
    A = rng.standard_normal((m, 288), dtype=np.float32)
    B = rng.standard_normal((m, 32), dtype=np.float32)
    out = np.full((288, 32), np.nan, np.float32)
    with threadpool_limits(threads):
        assert blas.matmul_cols(A, B, out=out) is out
    np.testing.assert_allclose(out, A.astype(np.float64).T @ B, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape,filters,stride,padding,chunk", [
    ((26, 26, 32), 32, 1, 0, None),  # the cnn preset's big layer: full-correlation dX, pieces
    ((10, 10, 64), 64, 1, 0, 10 * 10 * 9 * 64),  # scattered dX, one image a chunk
    ((9, 9, 3), 8, 2, "same", 5 * 5 * 9 * 3),  # stride 2, padding, im2col kept from forward
])
def test_a_convolution_computes_the_same_on_one_thread_as_on_two(shape, filters, stride, padding, chunk):
    """A convolution on one thread and on two workers (each running its chunks' products in
    pieces, as one thread does): the same outputs and gradients to the bit (the weight gradient
    is summed per chunk, and the sums added in chunk order, whichever worker made them)."""
    from digitnet.nn.layers import Conv2D

    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, *shape), dtype=np.float32)
    results = []
    for threads in (1, 2):
        layer = Conv2D(filters, 3, stride=stride, padding=padding, bias=True)
        if chunk is not None:
            layer.CHUNK_ELEMENTS = chunk
        layer.build(shape, np.random.default_rng(1), np.dtype(np.float32))
        layer.full_dX_workers = layer.full_dX  # dX the same way on both thread counts: this is about the workers
        assert len(layer._chunks(len(X))[0]) == 5
        with threadpool_limits(threads):
            Z = layer.forward(X, training=True)
            dZ = np.random.default_rng(2).standard_normal(Z.shape, dtype=np.float32)
            results.append((Z, layer.backward(dZ), layer.grads["W"], layer.grads["b"]))
    (Z1, dX1, dW1, db1), (Z2, dX2, dW2, db2) = results
    np.testing.assert_array_equal(Z1, Z2)
    np.testing.assert_array_equal(dX1, dX2)
    np.testing.assert_array_equal(db1, db2)
    np.testing.assert_array_equal(dW1, dW2)


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
        assert sorted(seen) == [(0, True, 1), (1, False, 1)]  # OpenBLAS on one thread meanwhile
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


@pytest.mark.parametrize("config,shape", [
    ({"type": "batchnorm"}, (6, 5, 4, 3)),
    ({"type": "batchnorm", "relu": True}, (6, 5, 4, 3)),
    ({"type": "maxpool2d", "pool_size": 2}, (6, 6, 4, 3)),
])
def test_split_elementwise_layers_give_the_same_bits_on_two_threads(config, shape, monkeypatch):
    """Batch norm and max pooling split their passes between the workers by cache-sized blocks
    (batch norm adding its sums block by block): the same outputs and gradients to the bit as on
    one thread (ties included)."""
    monkeypatch.setattr(blas, "BLOCK_VALUES", 20)  # batch norm: 5 blocks of wide rows; pooling: 6 of one image
    rng = np.random.default_rng(0)
    X = rng.integers(-3, 4, size=shape).astype(np.float32)  # small integers: pooling windows tie
    results = []
    for threads in (1, 2):
        layer = layer_from_config(config)
        layer.build(shape[1:], np.random.default_rng(1), np.dtype(np.float32))
        with threadpool_limits(threads):
            Y = layer.forward(X, training=True)
            dY = np.random.default_rng(2).standard_normal(Y.shape, dtype=np.float32)
            results.append((Y, layer.backward(dY), *layer.grads.values()))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


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


def test_a_network_with_convolutions_holds_openblas_to_one_thread_in_each_pass():
    from digitnet.nn.layers import Conv2D, Dense, Flatten, Layer
    from digitnet.nn.network import Network

    class Probe(Layer):
        def forward(self, X, training=False):
            self.seen = blas.threads()
            return X

        def backward(self, dA, need_dX=True):
            self.seen_back = blas.threads()
            return dA

        def config(self):
            return {"type": "probe"}

    conv, dense = Probe(), Probe()
    cnn = Network([conv, Conv2D(2, 3), Flatten(), Dense(10)], input_shape=(5, 5, 1))
    mlp = Network([dense, Dense(10)], input_shape=(4,))
    assert cnn.own_threads and not mlp.own_threads
    with threadpool_limits(2):
        cnn.backward(cnn.forward(np.ones((3, 5, 5, 1))), need_dX=True)
        mlp.backward(mlp.forward(np.ones((3, 4))), need_dX=True)
        assert (conv.seen, conv.seen_back, dense.seen, dense.seen_back) == (1, 1, 2, 2)
        assert blas.threads() == 2


def test_a_small_cnn_trains_to_the_same_bits_on_one_thread_as_on_two(monkeypatch):
    """Every pass that workers share keeps its sums per chunk or block and adds them in order, so
    training gives the same weights on one thread as on two worker threads, once ``dX`` is taken
    the same way (full correlation: one thread scatters where it is faster, see ``Conv2D``).
"""
    from digitnet.nn.layers import Conv2D
    from digitnet.nn.network import Network
    from digitnet.nn.optimizers import make_optimizer
    from digitnet.training import run_epoch

    monkeypatch.setattr(blas, "BLOCK_VALUES", 500)
    monkeypatch.setattr(Conv2D, "CHUNK_ELEMENTS", 3000)  # several chunks a pass
    rng = np.random.default_rng(0)
    X = rng.random((48, 144), dtype=np.float32)
    Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 48)]
    config = [{"type": "reshape", "shape": [12, 12, 1]},
              {"type": "conv2d", "filters": 4, "kernel_size": 3, "bias": False}, {"type": "batchnorm", "relu": True},
              {"type": "conv2d", "filters": 6, "kernel_size": 3, "bias": False}, {"type": "batchnorm"},
              {"type": "maxpool2d", "pool_size": 2}, {"type": "activation", "name": "relu"},
              {"type": "flatten"}, {"type": "dense", "units": 10, "init": "glorot"},
              {"type": "activation", "name": "softmax"}]
    weights = []
    for threads in (1, 2):
        net = Network([layer_from_config(c) for c in config], cost="cross-entropy", input_shape=(144,), seed=0)
        for layer in net.layers:
            if isinstance(layer, Conv2D):
                layer.full_dX = layer.full_dX_workers = True
        with threadpool_limits(threads):
            run_epoch(net, X, Y, 16, make_optimizer("adam", 1e-2, 0.9))
        weights.append([a for layer in net.layers for a in (*layer.params.values(), *layer.buffers.values())])
    assert len(weights[0]) == 12  # W; gamma, beta, running mean and variance; W; the same four; W, b
    for one, two in zip(*weights):
        np.testing.assert_array_equal(one, two)


def test_the_openblas_of_numpy_is_found_in_either_order_and_passes_hold_every_openblas(monkeypatch):
    """SciPy's wheels load an OpenBLAS of their own, listed before or after NumPy's as the hash
    seed falls: taking the first held SciPy's to one thread in half the runs, and NumPy's
    products inside the worker threads then ran on two threads each."""
    from pathlib import Path

    import scipy.ndimage  # noqa: F401  (loads SciPy's OpenBLAS)

    libs = blas._openblases()
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
