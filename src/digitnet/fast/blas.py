"""How to hand tall matrix products to the BLAS under NumPy so that it runs them fastest.

NumPy's wheels multiply float32 matrices with OpenBLAS. On one thread, OpenBLAS runs a product of
at most ``SMALL_MNK`` multiply-adds (``m * k * n``) with a "small matrix" kernel that reads its
operands in place, and a larger one with its general kernel, which first copies both operands
into cache-sized panels. For the tall, narrow products of a convolution (im2col rows times a
``(k, n)`` kernel with ``n`` of 32 or 64) the small kernel can be the faster: on an AVX-512
Xeon, ``(576, 288) @ (288, 32)`` ran at 125-137 GFLOP/s in one product and at 165-170 GFLOP/s
in pieces of about 100 rows. ``matmul_rows`` cuts a tall product into such pieces, given to
``np.matmul`` as one stack (one Python call; NumPy loops over the stack in C). The result is the
same product; whether its bits equal one call's depends on the OpenBLAS kernel, so the tests
compare within float tolerance.

With more than one thread OpenBLAS splits a large product between them, while the small kernel
stays on one: there, and for any other BLAS, ``matmul_rows`` is ``np.matmul``.

``for_workers`` runs a loop over chunks (a convolution's images) on as many Python threads as
OpenBLAS may use, each chunk on one BLAS thread, each thread taking the next chunk when free:
NumPy releases the GIL inside its copies and products, so the chunks of a 26 x 26 x 32
convolution run 1.7x faster on two threads than on one, where OpenBLAS sharing each product
between two threads gained nothing. ``cache_blocks`` gives
the memory-bound passes of batch norm and pooling their chunks: blocks of rows that stay in the
cache while several operations run over them.
"""

from __future__ import annotations

import functools
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import numpy as np
from threadpoolctl import ThreadpoolController


T = TypeVar("T")
C = TypeVar("C")  # a chunk: a slice of the batch, or a numbered block

SMALL_MNK = 100**3  # OpenBLAS takes its small-matrix kernel up to this many multiply-adds
# Fewer rows per piece measured no faster than one large product, on the cnn preset's layers:
# faster with 108 rows (k*n of 9,216), 244 and 488 (the scattered dX products); as fast or slower
# with 54.
MIN_ROWS = 64
# Pieces are cut to a multiple of the kernel's tile of rows (16 float32 in an AVX-512 register), so
# that no piece ends in a partial tile: (576, 288) @ (288, 32) as 6 pieces of 96 rows ran about 10%
# faster than as 5 of 108 and one of 36, on one thread and on two workers.
TILE_ROWS = 16


_loaded: tuple[int, list] = (-1, [])  # (len(sys.modules) when scanned, the controllers found)


def _openblases() -> list:
    """The controllers of every OpenBLAS loaded in the process (NumPy's; SciPy's wheels bring their own).

    Finding them reads the process's list of shared libraries (about a millisecond), so the list
    is kept and found again only after a module was imported: a BLAS comes with the extension
    module that links it (``import scipy.ndimage`` brings SciPy's)."""
    global _loaded
    modules, found = _loaded
    if modules != len(sys.modules):
        modules = len(sys.modules)
        found = ThreadpoolController().select(internal_api="openblas").lib_controllers
        _loaded = (modules, found)
    return found


@functools.cache
def _openblas():
    """The controller of the OpenBLAS that NumPy multiplies with, or None for another BLAS.

    With SciPy loaded there are two, in an order that follows the interpreter's hash seed: taking
    the first would hold SciPy's to one thread in half the runs and leave NumPy's on two inside
    the worker threads, whose products then fight over the cores (a ``cnn`` batch on two threads
    takes the time of one thread). NumPy's wheels keep theirs in ``numpy.libs`` beside the
    package; elsewhere (one system OpenBLAS) the first is the one."""
    blas = _openblases()
    own = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    return next((c for c in blas if Path(c.filepath).resolve().parent == own), blas[0] if blas else None)


def small_products() -> bool:
    """Whether tall products should be cut for the small-matrix kernel: OpenBLAS on one thread.

    Asked at every product, so that ``threadpoolctl.threadpool_limits`` takes effect at once;
    inside ``own_threads`` (a network's pass) the answer is known without asking OpenBLAS.
    """
    blas = _openblas()
    return blas is not None and (_depth > 0 or blas.get_num_threads() == 1)


def matmul_rows(A: np.ndarray, B: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[...] = A @ B`` for ``A (m, k)`` and ``B (k, n)``, as a stack of products of ``r`` rows
    each of at most ``SMALL_MNK`` multiply-adds (and one product of the ``m % r`` rows left), where
    that pays; else one product (also when ``A`` or ``out`` is not C-contiguous: the stack is a
    view of each).
    """
    m, k = A.shape
    r = _rows_per_product(A, B.shape[1], out)
    if r is None:
        return np.matmul(A, B, out=out)  # (m, k) @ (k, n)
    full = m - m % r
    np.matmul(A[:full].reshape(-1, r, k), B, out=out[:full].reshape(-1, r, B.shape[1]))  # (m // r, r, k) @ (k, n)
    if full < m:
        np.matmul(A[full:], B, out=out[full:])  # (m % r, k) @ (k, n)
    return out


def matmul_cols(A: np.ndarray, B: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[...] = A^T @ B`` for ``A (m, k)`` and ``B (m, n)`` (a weight gradient, summed over the
    ``m`` rows), as the sum of a stack of products over ``r`` rows each, where ``matmul_rows``
    would cut ``A @ (k, n)``; else one product. Unlike ``matmul_rows`` this adds the pieces' sums in
    another order than one product does, so the last bits may differ from ``np.matmul``.
    """
    m, k = A.shape
    n = B.shape[1]
    r = _rows_per_product(A, n, B)
    if r is None:
        return np.matmul(A.T, B, out=out)  # (k, m) @ (m, n)
    full = m - m % r
    parts = np.matmul(A[:full].reshape(-1, r, k).transpose(0, 2, 1), B[:full].reshape(-1, r, n))  # (m // r, k, n)
    np.sum(parts, axis=0, out=out)  # (k, n)
    if full < m:
        out += A[full:].T @ B[full:]  # (k, m % r) @ (m % r, n)
    return out


def _rows_per_product(A: np.ndarray, n: int, other: np.ndarray) -> int | None:
    """The rows ``r`` of each small product for ``A (m, k)`` against ``n`` columns, or None for one
    large product (fewer than ``MIN_ROWS`` rows per piece, ``A`` short, ``A`` or ``other`` not
    contiguous, or not OpenBLAS on one thread)."""
    m, k = A.shape
    r = SMALL_MNK // (k * n) // TILE_ROWS * TILE_ROWS
    if r < MIN_ROWS or m <= r or not (A.flags.c_contiguous and other.flags.c_contiguous and small_products()):
        return None
    return r


def threads() -> int:
    """How many threads OpenBLAS may use (``OPENBLAS_NUM_THREADS``, ``threadpool_limits``); 1 for
    another BLAS."""
    blas = _openblas()
    return blas.get_num_threads() if blas is not None else 1


_lock = threading.Lock()
_depth = 0  # how many own_threads() blocks are open, in any thread
_held = 1  # while one is: the number of threads OpenBLAS had before
_others: list = []  # and every OpenBLAS loaded, with its number of threads before


@contextmanager
def own_threads() -> Iterator[None]:
    """Hold OpenBLAS (NumPy's, and any other loaded) to one thread, and let ``for_workers`` use as
    many as NumPy's had, until the block ends.

    Why not leave the threads to OpenBLAS between the chunk loops: after each product it shares
    between threads, OpenBLAS keeps its other threads spinning for ~0.1 s (2**28 cycles) in case
    more work comes, and a spinning thread takes the core that a worker needs. A ``cnn`` batch on
    two threads took 114 ms with the workers and OpenBLAS's threads taking turns, 90 ms with
    OpenBLAS held to one thread for the whole pass. Blocks may nest and run in several threads
    (the app serves each visitor from a thread): OpenBLAS gets its threads back when the last ends.
    """
    global _depth, _held, _others
    blas = _openblas()
    with _lock:
        if _depth == 0 and blas is not None:
            _held = blas.get_num_threads()
            _others = [(c, c.get_num_threads()) for c in _openblases()]  # any other OpenBLAS too
            for c, _ in _others:
                c.set_num_threads(1)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and blas is not None:
                for c, n in _others:
                    c.set_num_threads(n)


def workers() -> int:
    """The threads ``for_workers`` may use: OpenBLAS's own count, or inside ``own_threads`` the
    count it had before."""
    with _lock:
        return _held if _depth else threads()


# A pass of several operations over one array goes block by block, each block small enough to stay
# in a core's L2 cache (1-4 MB on current x86) from one operation to the next: 1 MB of float32.
BLOCK_VALUES = 1 << 18


def even_cuts(n: int, step: int) -> list[slice]:
    """``range(n)`` cut into slices of consecutive rows, at most ``step`` each: as few as may be,
    but an even number of them (where more than one and fewer than ``n``), of sizes that differ
    by at most one row.

    Two workers then get the same work: with 11 blocks, one did 6 while the other, done with 5,
    waited. The cut depends on ``n`` and ``step`` only, not on the number of workers."""
    k = -(-n // step)
    k += k % 2 if 1 < k < n else 0
    return [slice(i * n // k, (i + 1) * n // k) for i in range(k)]


def cache_blocks(n: int, row_values: int) -> list[tuple[int, slice]]:
    """``range(n)`` cut into numbered blocks of consecutive rows (``even_cuts``), at most about
    ``BLOCK_VALUES`` values each (at least one row) for rows of ``row_values`` values, for
    ``for_workers``. The cut does not depend on the number of workers: partial sums kept per
    block and added in block order give the same bits on one thread as on several."""
    return list(enumerate(even_cuts(n, max(1, BLOCK_VALUES // max(1, row_values)))))


_pool: tuple[ThreadPoolExecutor, int] | None = None  # the pool and its number of threads


def _executor(size: int) -> ThreadPoolExecutor:
    """A pool of at least ``size`` threads, kept for the life of the process."""
    global _pool
    with _lock:
        if _pool is None or _pool[1] < size:
            _pool = (ThreadPoolExecutor(size, thread_name_prefix="digitnet"), size)
        return _pool[0]


def for_workers(work: Callable[[int, Iterator[C]], T], chunks: list[C]) -> list[T]:
    """Run ``work(w, feed)`` for each worker ``w`` of ``k = min(workers(), len(chunks))``, where
    ``feed`` is one iterator over ``chunks`` shared by all of them; return the ``k`` results in
    worker order.

    Worker 0 runs on the calling thread, the others on a pool, with OpenBLAS held to one thread
    (``own_threads``): each product runs whole on its worker's core, with the small-matrix kernel
    where ``matmul_rows`` chooses it. Each worker takes the next chunk when it is done with one
    (taking is atomic under the GIL), so a worker that starts late (a pool thread wakes up tens
    of microseconds after the call) or runs slower takes fewer, where chunks dealt out in turn
    kept the other waiting at the end. Which worker gets which chunk therefore depends on
    timing: ``work`` must not write where another worker writes or reads, must keep any sum it
    makes per chunk (added up in chunk order afterwards, so that the bits do not depend on
    timing), and uses its own scratch memory (``w`` tells whose).
    """
    k = min(workers(), len(chunks)) if len(chunks) > 1 else 1  # one chunk: no need to ask OpenBLAS
    if k <= 1:
        return [work(0, iter(chunks))]
    feed = iter(chunks)
    with own_threads():
        futures = [_executor(k - 1).submit(work, w, feed) for w in range(1, k)]
        try:
            first = work(0, feed)
        finally:
            wait(futures)
        return [first, *(f.result() for f in futures)]
