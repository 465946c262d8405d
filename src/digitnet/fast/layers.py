"""Fast kernels for the textbook layers: the same functions, computed in fewer passes over memory
and spread over worker threads.

Each class here subclasses its textbook layer in ``digitnet.nn.layers``, keeps its parameters,
configuration and shapes, and replaces ``forward`` and ``backward``; ``digitnet.fast.accelerate``
turns a network's layers into these. The tests hold every one of them to its textbook layer
within a float tolerance that grows with the length of the sums.

* ``FastDense`` skips the all-zero input columns of the first layer (raw pixels are sparse).
* ``FastConv2D`` runs im2col and its products over chunks of a few images that stay in the
  cache, on the worker threads, and picks the cheaper of two ways to take ``dX`` and ``dW``.
* ``FastMaxPool2D`` and ``FastBatchNorm`` run their elementwise passes over cache-sized blocks
  on the worker threads; batch norm takes its moments in one sweep and applies its ReLU in the
  same passes.

Sums that workers share are kept per chunk or block and added in chunk order, so the bits do
not depend on which worker took which chunk.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from ..nn.layers import BatchNorm, Conv2D, Dense, MaxPool2D
from .blas import cache_blocks, even_cuts, for_workers, matmul_cols, matmul_rows, workers


class _Scratch:
    """Reusable work arrays, so that a layer does not allocate (and page-fault) a large array per batch.

    ``get(name, shape, dtype)`` returns a view of a flat buffer that grows when needed. Only
    arrays a layer uses internally live here, never an array it returns.
    """

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}  # not Layer.buffers: nothing here is saved

    def get(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        size = math.prod(shape)
        buf = self.arrays.get(name)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = self.arrays[name] = np.empty(size, dtype)
        return buf[:size].reshape(shape)

    def bordered(self, name: str, shape: tuple[int, int, int, int], dtype, top: int, left: int,
                 hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """An array ``(n, hp, wp, c)`` that is zero outside its ``hw`` inside at ``(top, left)``,
        and a view of that inside. Zeroed only when made (the first ``n`` images of a larger one
        serve a smaller batch): callers write only the inside, so the border stays zero from one
        chunk, and one batch, to the next."""
        buf = self.arrays.get(name)
        if buf is None or len(buf) < shape[0] or buf.shape[1:] != shape[1:] or buf.dtype != dtype:
            buf = self.arrays[name] = np.zeros(shape, dtype)
        buf = buf[:shape[0]]
        return buf, buf[:, top:top + hw[0], left:left + hw[1], :]


def _pad(X: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """``X (n, h, w, c)`` with zero rows and columns around each image, C-contiguous."""
    if top == bottom == left == right == 0:
        return np.ascontiguousarray(X)
    n, h, w, c = X.shape
    Xp = np.zeros((n, h + top + bottom, w + left + right, c), X.dtype)  # (n, hp, wp, c)
    Xp[:, top:top + h, left:left + w, :] = X
    return Xp


def _patches(Xp: np.ndarray, kh: int, kw: int, stride: int, ho: int, wo: int) -> np.ndarray:
    """The ``kh x kw`` patch under each of the ``ho x wo`` output pixels, as a view
    ``(n, ho, wo, kh, kw*c)`` of ``Xp (n, hp, wp, c)``: im2col is one copy of it (of a chunk of
    images) into a buffer of that shape, seen as the matrix ``(b*ho*wo, kh*kw*c)``.

    ``Xp`` must be C-contiguous: then the ``kw x c`` values of one patch row are adjacent in
    memory and one strided view covers every patch. (Built by the ``ndarray`` constructor, which
    checks that the view stays inside ``Xp``'s memory, in a fifth of the time ``as_strided`` takes.)
    """
    n, _, _, c = Xp.shape
    sn, sh, sw, sc = Xp.strides
    return np.ndarray((n, ho, wo, kh, kw * c), Xp.dtype, buffer=Xp,
                      strides=(sn, stride * sh, stride * sw, sh, sc))  # (n, ho, wo, kh, kw*c), a view


def _column_sums(A: np.ndarray) -> np.ndarray:
    """``A.sum(axis=0)`` for a tall ``(m, c)`` array, as a matrix-vector product (several times faster)."""
    return np.ones(len(A), A.dtype) @ A  # (m,) @ (m, c) -> (c,)


def _wide_rows(A: np.ndarray) -> tuple[np.ndarray, int]:
    """``A (..., c)`` as ``(m / r, r*c)`` rows of about 1,024 values, and ``r``, where ``m`` is the
    number of ``c``-vectors in ``A``.

    A per-channel vector broadcast over ``(m, c)`` makes NumPy run its inner loop ``m`` times over
    ``c`` values; over wide rows (with the vector tiled ``r`` times) the same pass is ~20% faster.
    """
    c = A.shape[-1]
    r = math.gcd(A.size // c, max(1, 1024 // c))
    return A.reshape(-1, r * c), r  # (m / r, r*c), no copy for a contiguous A


def _channel_sums(v: np.ndarray, r: int) -> np.ndarray:
    """Per-channel totals ``(..., c)`` of reductions ``v (..., r*c)`` taken over ``_wide_rows``."""
    return v.reshape(*v.shape[:-1], r, -1).sum(axis=-2)  # (..., r*c) -> (..., r, c) -> (..., c)


def _length(rows: slice) -> int:
    """The number of rows in a slice with explicit bounds (a chunk or a block)."""
    return rows.stop - rows.start


def _sum_in_order(parts: np.ndarray) -> np.ndarray:
    """``parts (k, ...)`` summed over its first axis from the first part to the last: per-chunk
    sums added in chunk order, whichever worker made which (see ``blas.for_workers``)."""
    total = parts[0].copy()
    for part in parts[1:]:
        total += part
    return total



class FastDense(Dense):
    """``Dense`` whose first layer multiplies only the input columns that are not zero in every row."""

    # Set by ``digitnet.fast.accelerate`` on a network's first layer, which reads the data itself.
    sparse_input = False

    def _active_columns(self, X: np.ndarray) -> np.ndarray | None:
        """The input columns that are not zero in every row, where multiplying only those pays; else None.

        Raw pixels are sparse: in a batch of 128 MNIST digits about a third of the 784 columns are
        zero in every image (mostly the border). Skipping them saves ``(n_in - k) * n * units``
        multiply-adds; finding and gathering the other ``k`` costs, in the time of a multiply-add,
        about 20 per input value and 8 per gathered weight on one thread, twice that on two (taken
        here, so that it never loses: the 784-512-256-10 network at batch 128 trains 5% faster on
        one thread, as fast on two). It never pays with 40 units or fewer (the classic network),
        so that case does not even look.
        """
        n, n_in = X.shape
        if not self.sparse_input or self.units <= 40:
            return None
        active = np.flatnonzero(X.any(axis=0))  # (k,)
        k = len(active)
        return active if (n_in - k) * n * self.units > 40 * n * n_in + 16 * k * self.units else None

    def forward(self, X, training=False):
        self.X = X
        W = self.params["W"]
        active = self._active_columns(X)
        if active is None:
            Z = X @ W  # (n, n_in) @ (n_in, units) -> (n, units)
        else:
            Z = X[:, active] @ W.take(active, axis=0)  # (n, k) @ (k, units): the same sums, less the zero terms
        if self.bias:
            Z += self.params["b"]  # (n, units) + (units,)
        return Z


class FastConv2D(Conv2D):
    """``Conv2D`` over chunks of images on the worker threads.

    The textbook layer's im2col, ``Z = cols @ W + b``, ``dW = cols^T dZ`` and ``db = sum_rows dZ``,
    chunk by chunk. ``dX`` is computed one of two ways, whichever does less work for the layer's shape:

    * scatter: each kernel offset ``(i, j)`` read one strided slice of the padded input, so col2im
      adds ``dZ W[i, j]^T`` (``(m, c)``) back onto that slice, one offset at a time: ``kh*kw``
      small GEMMs and as many slice additions. (Faster than forming ``dcols = dZ W^T`` whole.)
    * full correlation (stride 1): ``dXp`` is ``dZ``, padded by ``kh-1`` and ``kw-1`` zeros, correlated
      with the kernel flipped in space and transposed in channels,
      ``dXp[y, x] = sum_{i,j} dZpad[y+i, x+j] W[kh-1-i, kw-1-j]^T``: one im2col and one large GEMM,
      no additions, but ``hp*wp / (ho*wo)`` times the multiplications. On one thread it pays where
      the output is nearly as large as the input (a 3 x 3 kernel on 26 x 26: 1.17x), not on small
      maps (10 x 10: 1.56x). On several worker threads it pays on those too: the scatter's many
      short calls (two per offset and chunk) keep passing the GIL between the workers, and it ran
      no faster on two threads than on one, where full correlation ran 1.8x faster.

    Both passes run over chunks of a few images: ``cols`` of one chunk stays in the cache between
    its copy and its matrix product (a 128-image ``cols`` is ~85 MB for a 26 x 26 x 32 input), and
    backward recomputes it rather than keeping it, which is cheaper than reading it back from memory.
    ``dW`` is then the sum of the chunks' ``cols^T dZ``. Except where a patch row is shorter than
    ``KEEP_COLS_RUN`` values (``kw*c``: a first layer on one-channel images copies runs of 3): such
    an im2col is slow for its size, so training keeps the whole batch's ``cols`` from forward
    (3 MB for the cnn preset's first layer, whose pass got 25% faster).

    The chunks go to as many worker threads as OpenBLAS may use (``blas.for_workers``), each
    with its own scratch memory, each taking the next chunk when free; their products go through
    ``blas.matmul_rows`` and ``blas.matmul_cols``, which cut them for OpenBLAS's small-matrix
    kernel. ``dW`` is kept per chunk and the chunks' parts added in chunk order, so its bits do not
    depend on which worker took which chunk.
    """

    # Keep a training batch's im2col matrix from forward when its patch rows are shorter than this.
    KEEP_COLS_RUN = 16
    # A chunk holds as many images as keep its im2col matrix under this many elements (1 MB in
    # float32, half a 2 MB L2 cache; at least one image): 5% faster per cnn batch on one thread
    # than 4 MB, as fast on two (docs/performance.md).
    CHUNK_ELEMENTS = 1 << 18
    # Full correlation for dX when it multiplies at most this many times as often as scattering,
    # on one worker thread (measured on the cnn preset's layers: faster at 1.17, slower at 1.44 and
    # 1.56) and on several (faster at 1.44 and 1.56: 3.6 against 4.4 ms, 3.9 against 5.4).
    FULL_DX_MAX_RATIO = 1.25
    FULL_DX_MAX_RATIO_WORKERS = 1.6

    def prepare(self) -> None:
        """Choose the ways of the backward pass for the built layer's shapes (see the class)."""
        (h, w, c), (kh, kw), (ho, wo) = self.input_shape, self.kernel_size, self.out_hw
        top, bottom, left, right = self.pads
        hp, wp = h + top + bottom, w + left + right
        self.full_dX = self.stride == 1 and hp * wp <= self.FULL_DX_MAX_RATIO * ho * wo
        self.full_dX_workers = self.stride == 1 and hp * wp <= self.FULL_DX_MAX_RATIO_WORKERS * ho * wo
        self.keep_cols, self.kept = kw * c < self.KEEP_COLS_RUN, None
        self.grid_dW = self.full_dX and not self.keep_cols
        self.scratch: list[_Scratch] = []  # one per worker thread (see ``blas.for_workers``)

    def _chunks(self, n: int, per_image: int | None = None) -> tuple[list[slice], int]:
        """Slices of the batch axis (``blas.even_cuts``), each of at most as many images as
        ``CHUNK_ELEMENTS`` allows at ``per_image`` values each (default: one image's im2col
        matrix), and the number of images in the largest."""
        (kh, kw), (ho, wo) = self.kernel_size, self.out_hw
        chunks = even_cuts(n, max(1, self.CHUNK_ELEMENTS // (per_image or ho * wo * kh * kw * self.input_shape[2])))
        return chunks, max(map(_length, chunks), default=0)

    def _scratch(self, worker: int) -> _Scratch:
        while len(self.scratch) <= worker:
            self.scratch.append(_Scratch())
        return self.scratch[worker]

    def _cols(self, worker: int, b: int, patches: np.ndarray) -> np.ndarray:
        """``worker``'s im2col buffer ``(b, ho, wo, kh, kw*c)`` for chunks of up to ``b`` images of
        ``patches`` (see ``_patches``), taken once per pass, not per chunk: the loops over chunks
        run on two threads that share one interpreter, and every Python step between two NumPy
        calls is time the other worker may wait for it."""
        return self._scratch(worker).get("cols", (b, *patches.shape[1:]), patches.dtype)

    def forward(self, X, training=False):
        (kh, kw), (ho, wo), f = self.kernel_size, self.out_hw, self.filters
        n, c = len(X), self.input_shape[2]
        W2 = self.params["W"].reshape(kh * kw * c, f)  # (K, f), K = kh*kw*c
        self.Xp = _pad(X, *self.pads)  # (n, hp, wp, c), kept for backward
        patches = _patches(self.Xp, kh, kw, self.stride, ho, wo)  # (n, ho, wo, kh, kw*c), a view
        Z = np.empty((n, ho, wo, f), np.result_type(X.dtype, W2.dtype))
        self.kept = np.empty(patches.shape, X.dtype) if training and self.keep_cols else None
        chunks, step = self._chunks(n)

        def work(worker: int, feed: Iterator[slice]) -> None:
            cols = self._cols(worker, step, patches) if self.kept is None else None
            for rows in feed:
                part = self.kept[rows] if cols is None else cols[:_length(rows)]  # (b, ho, wo, kh, kw*c)
                np.copyto(part, patches[rows])
                matmul_rows(part.reshape(-1, W2.shape[0]), W2, out=Z[rows].reshape(-1, f))  # (b*ho*wo, K) @ (K, f)
                if self.bias:
                    Z[rows] += self.params["b"]  # (b, ho, wo, f) + (f,)

        for_workers(work, chunks)
        return Z

    def backward(self, dZ, need_dX=True):
        f = self.filters
        self.grads["W"] = self._dW_grid(dZ) if self.grid_dW else self._dW_im2col(dZ)  # (kh, kw, c, f)
        if self.bias:
            self.grads["b"] = _column_sums(dZ.reshape(-1, f))  # (f,)
        if not need_dX:
            return None
        full = self.full_dX_workers if workers() > 1 else self.full_dX
        dXp = self._dXp_full(dZ) if full else self._dXp_scatter(dZ)  # (n, hp, wp, c)
        (h, w, _), (top, _, left, _) = self.input_shape, self.pads
        return dXp[:, top:top + h, left:left + w, :]  # (n, h, w, c): drop the padding

    def _dW_im2col(self, dZ: np.ndarray) -> np.ndarray:
        """``dW = cols^T dZ``, summed over the chunks of images (their im2col rebuilt, or kept)."""
        W, f, (ho, wo) = self.params["W"], self.filters, self.out_hw  # W (kh, kw, c, f)
        kh, kw, c, _ = W.shape
        patches = _patches(self.Xp, kh, kw, self.stride, ho, wo)  # (n, ho, wo, kh, kw*c), a view
        chunks, step = self._chunks(len(dZ))
        dWs = np.empty((len(chunks), kh * kw * c, f), dZ.dtype)  # (chunks, K, f): each chunk's sum

        def work(worker: int, feed: Iterator[tuple[int, slice]]) -> None:
            cols = self._cols(worker, step, patches) if self.kept is None else None
            for k, rows in feed:
                if cols is None:
                    part = self.kept[rows]  # (b, ho, wo, kh, kw*c), from forward
                else:
                    part = cols[:_length(rows)]
                    np.copyto(part, patches[rows])
                matmul_cols(part.reshape(-1, dWs.shape[1]), dZ[rows].reshape(-1, f), out=dWs[k])  # (K, m) @ (m, f)

        for_workers(work, list(enumerate(chunks)))
        return _sum_in_order(dWs).reshape(W.shape)  # (K, f) -> (kh, kw, c, f)

    def _dW_grid(self, dZ: np.ndarray) -> np.ndarray:
        """``dW`` without im2col (stride 1): ``dW[i, j] = sum_p Xp[p + (i, j)]^T dZ[p]``, with ``p`` run
        over the whole padded grid (``dZ`` padded with zeros to it), so that each offset's slice of
        the flat input is one strided matrix and the ``kh*kw`` products of a chunk one stacked call."""
        (kh, kw), (ho, wo), f = self.kernel_size, self.out_hw, self.filters
        n, hp, wp, c = self.Xp.shape
        m = hp * wp - (kh - 1) * wp - (kw - 1)  # grid positions whose patch lies inside the image
        sn, sh, sw, sc = self.Xp.strides
        chunks, step = self._chunks(n, hp * wp * c)
        dWs = np.empty((len(chunks), kh * kw * c * f), dZ.dtype)  # each chunk's sum

        def work(worker: int, feed: Iterator[tuple[int, slice]]) -> None:
            grid, inside = self._scratch(worker).bordered("dZ_grid", (step, hp, wp, f), dZ.dtype, 0, 0, (ho, wo))
            parts = self._scratch(worker).get("dW_parts", (step, kh * kw * c * f), dZ.dtype)
            for k, rows in feed:
                Xc = self.Xp[rows]  # (b, hp, wp, c), contiguous
                b = len(Xc)
                inside[:b] = dZ[rows]
                dZg = grid[:b]  # (b, hp, wp, f): dZ, zero outside the output's pixels
                V = np.ndarray((b, kh, kw, c, m), Xc.dtype, buffer=Xc, strides=(sn, sh, sw, sc, sw))  # (b, kh, kw, c, m), a view
                G = np.ndarray((b, 1, 1, m, f), dZg.dtype, buffer=dZg,
                               strides=(dZg.strides[0], 0, 0, *dZg.strides[2:]))  # (b, 1, 1, m, f), a view
                np.matmul(V, G, out=parts[:b].reshape(b, kh, kw, c, f))  # (b, kh, kw, c, m) @ (b, 1, 1, m, f) -> (b, kh, kw, c, f)
                dWs[k] = _column_sums(parts[:b])  # (b, kh*kw*c*f) -> the chunk's sum

        for_workers(work, list(enumerate(chunks)))
        return _sum_in_order(dWs).reshape(kh, kw, c, f)

    def _dXp_scatter(self, dZ: np.ndarray) -> np.ndarray:
        """d(cost)/d(padded input) by adding ``dZ W[i, j]^T`` onto each offset's slice."""
        (kh, kw), (ho, wo), s, f = self.kernel_size, self.out_hw, self.stride, self.filters
        W_T, c = np.ascontiguousarray(self.params["W"].swapaxes(2, 3)), self.input_shape[2]  # (kh, kw, f, c)
        dXp = np.empty(self.Xp.shape, dZ.dtype)  # (n, hp, wp, c), zeroed chunk by chunk
        chunks, step = self._chunks(len(dZ))

        def work(worker: int, feed: Iterator[slice]) -> None:
            dcols = self._scratch(worker).get("dcol", (step, ho, wo, c), dZ.dtype)  # (b, ho, wo, c)
            for rows in feed:
                dZc = dZ[rows].reshape(-1, f)  # (m, f), m = b*ho*wo
                dXc = dXp[rows]  # (b, hp, wp, c), a view
                dXc.fill(0)
                dcol = dcols[:len(dXc)]
                for i in range(kh):
                    for j in range(kw):
                        matmul_rows(dZc, W_T[i, j], out=dcol.reshape(-1, c))  # (m, f) @ (f, c) -> (m, c)
                        dXc[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s, :] += dcol

        for_workers(work, chunks)
        return dXp

    def _dXp_full(self, dZ: np.ndarray) -> np.ndarray:
        """d(cost)/d(padded input) as the full correlation of ``dZ`` with the flipped kernel (stride 1)."""
        (kh, kw), f = self.kernel_size, self.filters
        n, hp, wp, c = self.Xp.shape
        W_flip = self.params["W"][::-1, ::-1].transpose(0, 1, 3, 2).reshape(kh * kw * f, c)  # (kh*kw*f, c)
        dXp = np.empty(self.Xp.shape, dZ.dtype)  # (n, hp, wp, c)
        chunks, step = self._chunks(n, hp * wp * kh * kw * f)

        def work(worker: int, feed: Iterator[slice]) -> None:
            shape = (step, hp + kh - 1, wp + kw - 1, f)
            dZpad, inside = self._scratch(worker).bordered("dZ_padded", shape, dZ.dtype, kh - 1, kw - 1, dZ.shape[1:3])
            patches = _patches(dZpad, kh, kw, 1, hp, wp)  # (b, hp, wp, kh, kw*f), a view
            cols = self._cols(worker, len(dZpad), patches)  # (b, hp, wp, kh, kw*f)
            for rows in feed:
                b = _length(rows)
                inside[:b] = dZ[rows]
                np.copyto(cols[:b], patches[:b])
                matmul_rows(cols[:b].reshape(-1, W_flip.shape[0]), W_flip, out=dXp[rows].reshape(-1, c))  # (b*hp*wp, kh*kw*f) @ (kh*kw*f, c)

        for_workers(work, chunks)
        return dXp


def _keep_first(hits: list[np.ndarray]) -> None:
    """Clear, in place, every hit that an earlier array in ``hits`` already has at the same place,
    so that each window's gradient goes to its first maximum only (row-major window order)."""
    taken = hits[0].copy()
    for hit in hits[1:]:
        np.greater(hit, taken, out=hit)  # hit and not taken
        taken |= hit


class FastMaxPool2D(MaxPool2D):
    """``MaxPool2D`` over cache-sized blocks of images on the worker threads; where the windows tile
    the image, backward is one comparison and one product over the whole input."""

    def forward(self, X, training=False):
        A = np.empty((len(X), *self.out_shape), X.dtype)  # (n, ho, wo, c)

        def work(worker: int, feed: Iterator[tuple[int, slice]]) -> None:
            for _, rows in feed:
                first, *views = self._windows(X[rows])  # p*p views (b, ho, wo, c)
                np.copyto(A[rows], first)
                for V in views:
                    np.maximum(A[rows], V, out=A[rows])

        for_workers(work, cache_blocks(len(X), X[0].size))
        self.X, self.A = X, A
        return A

    def backward(self, dA, need_dX=True):
        p, s = self.pool_size, self.stride or self.pool_size
        (n, h, w, c), (ho, wo, _) = self.X.shape, self.out_shape
        if not need_dX or s != p or (h, w) != (ho * p, wo * p):
            return super().backward(dA, need_dX)
        # The windows tile the image: one comparison and one product over the whole input.
        dX = np.empty((n, ho, p, wo, p, c), dA.dtype)  # a window's p x p inputs on axes 2 and 4

        def work(worker: int, feed: Iterator[tuple[int, slice]]) -> None:
            for _, rows in feed:
                X6, A = self.X[rows].reshape(-1, ho, p, wo, p, c), self.A[rows]  # views
                hit = X6 == A[:, :, None, :, None, :]  # (b, ho, p, wo, p, c): equal to the window's maximum
                if np.count_nonzero(hit) > A.size:  # some window ties
                    _keep_first([hit[:, :, i, :, j, :] for i in range(p) for j in range(p)])
                np.multiply(dA[rows, :, None, :, None, :], hit, out=dX[rows])

        for_workers(work, cache_blocks(n, self.X[0].size))
        return dX.reshape(self.X.shape)  # (n, h, w, c)


class FastBatchNorm(BatchNorm):
    """``BatchNorm`` in as few passes over memory as may be, over cache-sized blocks on the workers.

    Each pass reads the input once: the variance is ``mean(X**2) - mu**2`` (the two means in one
    sweep each, their difference in float64), and ``sum_rows dY * (X - mu)`` is
    ``sum_rows dY * X - mu * dbeta``; no centred copy of ``X`` is kept. The difference of means
    cancels the more digits the farther a channel's mean lies from zero in standard deviations
    (in float32 about 1e-4 of error at 10, 1e-2 at 100): past ``FAR_MEAN`` the variance is taken
    the two-pass way, from the centred input. (The shipped model's channels lie within 4.5.)
    ``relu=True`` applies the ReLU inside the same passes. The operations of one block (a sum and
    a sum of products; or a product, a sum and the ReLU) find it in the cache, and the per-block
    sums are added in block order.
    """

    FAR_MEAN = 8.0  # standard deviations

    def forward(self, X, training=False):
        c = X.shape[-1]
        Xw, r = _wide_rows(X)  # (m / r, r*c): each row holds r consecutive (m, c) rows
        m = Xw.size // c
        blocks = cache_blocks(len(Xw), Xw.shape[1])
        if training:
            if m < 2:
                raise ValueError(f"batch normalisation needs at least 2 values per channel in training, got {m}")
            sums = np.empty((len(blocks), 2, Xw.shape[1]), Xw.dtype)  # per block: sum_rows X, sum_rows X**2

            def moments(worker: int, feed: Iterator[tuple[int, slice]]) -> None:
                for k, rows in feed:
                    sums[k, 0] = _column_sums(Xw[rows])
                    sums[k, 1] = np.einsum("ij,ij->j", Xw[rows], Xw[rows])

            for_workers(moments, blocks)
            total = _channel_sums(sums.sum(axis=0, dtype=np.float64), r) / m  # (2, c): mean of X, of X**2
            mu, var = total[0], total[1] - total[0] ** 2  # (c,), the biased variance
            if np.any(mu * mu > self.FAR_MEAN ** 2 * var):  # too many digits cancelled: centre first
                xc = Xw - np.tile(mu.astype(X.dtype), r)  # (m / r, r*c)
                var = _channel_sums(np.einsum("ij,ij->j", xc, xc), r).astype(np.float64) / m  # (c,)
            mom = self.momentum
            self.buffers["running_mean"] *= mom
            self.buffers["running_mean"] += (1 - mom) * mu
            self.buffers["running_var"] *= mom
            self.buffers["running_var"] += (1 - mom) * var * (m / (m - 1))  # unbiased; m >= 2
        else:
            mu, var = self.buffers["running_mean"], self.buffers["running_var"]
        self.mu, self.inv_std = mu.astype(X.dtype), (1.0 / np.sqrt(var + self.eps)).astype(X.dtype)  # (c,)
        scale = self.params["gamma"] * self.inv_std  # (c,)
        # Y = gamma * (X - mu) * inv_std + beta as one product and one sum: X is kept for backward
        # (as the wide rows, so that a non-contiguous X is copied once, here) instead of the
        # centred input, a pass fewer over the largest arrays.
        self.Xw, self.training = Xw, training
        s, t = np.tile(scale, r), np.tile(self.params["beta"] - self.mu * scale, r)  # (r*c,)
        Y = np.empty(Xw.shape, np.result_type(Xw, s))  # (m / r, r*c)

        def normalise(worker: int, feed: Iterator[tuple[int, slice]]) -> None:
            for _, rows in feed:
                y = Y[rows]
                np.multiply(Xw[rows], s, out=y)
                y += t
                if self.relu:
                    np.maximum(y, 0, out=y)

        for_workers(normalise, blocks)
        self.Yw = Y if self.relu else None  # where it is 0, ReLU passes no gradient
        return Y.reshape(X.shape)

    def backward(self, dY, need_dX=True):
        c = dY.shape[-1]
        dYw, r = _wide_rows(dY)  # (m / r, r*c), the same r as forward's for the same shape
        Xw, Yw = self.Xw, self.Yw  # (m / r, r*c)
        m = dYw.size // c
        blocks = cache_blocks(len(dYw), dYw.shape[1])
        sums = np.empty((len(blocks), 2, dYw.shape[1]), dYw.dtype)  # per block: sum_rows dY, sum_rows dY * X

        def moments(worker: int, feed: Iterator[tuple[int, slice]]) -> None:
            for k, rows in feed:
                d = dYw[rows]
                if Yw is not None:
                    np.multiply(d, Yw[rows] > 0, out=d)  # ReLU's backward, in the gradient handed to us
                sums[k, 0] = _column_sums(d)
                sums[k, 1] = np.einsum("ij,ij->j", d, Xw[rows])

        for_workers(moments, blocks)
        total = _channel_sums(sums.sum(axis=0, dtype=np.float64), r).astype(dYw.dtype)  # (2, c)
        dbeta, dY_xc = total[0], total[1] - self.mu * total[0]  # (c,): sum_rows dY, sum_rows dY * (X - mu)
        self.grads.update(gamma=dY_xc * self.inv_std, beta=dbeta)  # dgamma = sum_rows dY * xhat
        if not need_dX:
            return None
        scale = self.params["gamma"] * self.inv_std  # (c,)
        if not self.training:
            return (dYw * np.tile(scale, r)).reshape(dY.shape)
        # dY - dbeta / m - xhat * dgamma / m, with xhat * dgamma = (X - mu) * inv_std**2 * dY_xc:
        k = self.inv_std ** 2 * dY_xc / m  # (c,)
        tk, tb, ts = np.tile(k, r), np.tile(dbeta / m - self.mu * k, r), np.tile(scale, r)  # (r*c,)
        dX = np.empty(dYw.shape, np.result_type(dYw, Xw, tk))  # (m / r, r*c)

        def gradient(worker: int, feed: Iterator[tuple[int, slice]]) -> None:
            for _, rows in feed:
                d = dX[rows]
                np.multiply(Xw[rows], tk, out=d)
                d += tb
                np.subtract(dYw[rows], d, out=d)
                d *= ts

        for_workers(gradient, blocks)
        return dX.reshape(dY.shape)

