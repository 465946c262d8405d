"""``digitnet.blas``: tall products cut for OpenBLAS's small-matrix kernel give the same numbers."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from digitnet import blas


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
        assert blas._rows_per_product(A, 32, A) == 108  # 108 * 288 * 32 <= 100**3 < 109 * 288 * 32
        assert blas._rows_per_product(A, 64, A) is None  # 54 rows per piece: below MIN_ROWS
        assert blas._rows_per_product(A[:100], 32, A) is None  # not taller than one piece
        assert blas._rows_per_product(A[:, :144], 32, A) is None  # not contiguous
    with threadpool_limits(2):
        assert blas._rows_per_product(A, 32, A) is None


@pytest.mark.parametrize("m", [576, 540, 1000])  # 108 rows a piece: 5 + 36 left, 5 exactly, 9 + 28 left
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


def test_a_convolution_computes_the_same_on_one_thread_as_on_two():
    """On one thread the 26 x 26 x 32 layer of the cnn preset runs its products in pieces (forward,
    dX and dW); on two in one product each: the same outputs and input gradients to the bit."""
    from digitnet.layers import Conv2D

    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 26, 26, 32), dtype=np.float32)
    dZ = rng.standard_normal((3, 24, 24, 32), dtype=np.float32)
    results = []
    for threads in (1, 2):
        layer = Conv2D(32, 3, bias=False)
        layer.build((26, 26, 32), np.random.default_rng(1), np.dtype(np.float32))
        with threadpool_limits(threads):
            assert blas._rows_per_product(np.zeros((576, 288), np.float32), 32, X) == (108 if threads == 1 else None)
            results.append((layer.forward(X, training=True), layer.backward(dZ), layer.grads["W"]))
    (Z1, dX1, dW1), (Z2, dX2, dW2) = results
    np.testing.assert_array_equal(Z1, Z2)
    np.testing.assert_array_equal(dX1, dX2)
    np.testing.assert_allclose(dW1, dW2, rtol=1e-5, atol=1e-4)
