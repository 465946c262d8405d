"""Faster optimizer updates: the textbook rules of ``digitnet.nn.optimizers``, in fewer passes.

``FastSGD`` scales the gradient in place and subtracts it (two passes), where ``p -= lr * g``
also allocates and fills a temporary the size of ``p`` every step (1.7x slower on a 784 x 512
matrix). The gradient is spent afterwards, which the network allows: it makes new ones each batch.

``FastAdam``: the update over cache-sized blocks.

Written over whole arrays, Adam's update makes six temporaries the size of the parameter (a
1024 x 1024 layer took 11.7 ms a step, most of it allocating and page-faulting them). Here each
block of the flat arrays goes through the same operations in the same order while it stays in
the cache, with two scratch arrays, and the blocks are spread over the worker threads. The step
size folds both bias corrections in, as Kingma & Ba's section 2 suggests:
``eta * m_hat / (sqrt(v_hat) + eps) = step * m / (sqrt(v) + eps * c2)`` with ``c2 = sqrt(1 - b2^t)``
and ``step = eta * c2 / (1 - b1^t)``: the same function, rounded differently (the tests hold the
two versions together within float tolerance).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from ..nn.optimizers import SGD, Adam
from .blas import cache_blocks, for_workers


class FastSGD(SGD):
    """``SGD`` with the step ``lr * g`` made in the gradient's own memory."""

    def update(self, p, g, s):
        g *= self.lr
        p -= g


class FastAdam(Adam):
    """``Adam`` with ``update`` over cache-sized blocks on the worker threads (see the module)."""

    def update(self, p, g, s):
        if not p.flags.c_contiguous:  # its flat view below would be a copy, and the update lost
            raise ValueError(f"Adam updates parameters in place: they must be C-contiguous, got shape {p.shape}")
        b1, b2 = self.beta1, self.beta2
        c2 = np.sqrt(1 - b2 ** self.t)
        step, eps = self.lr * c2 / (1 - b1 ** self.t), self.eps * c2  # the bias corrections, folded in
        arrays = [a.reshape(-1) for a in (p, g, s["m"], s["v"])]  # flat views (m and v are laid out like p)

        # m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2; p <- p - step m / (sqrt(v) + eps),
        # block by block with two scratch arrays.
        blocks = cache_blocks(p.size, 6)  # six arrays share the cache
        size = max(rows.stop - rows.start for _, rows in blocks)

        def work(worker: int, feed: Iterator[tuple[int, slice]]) -> None:
            t, t_wide = np.empty(size, p.dtype), np.empty(size, np.result_type(p.dtype, step))
            for _, rows in feed:
                P, G, M, V = (a[rows] for a in arrays)
                a, w = t[:len(P)], t_wide[:len(P)]
                M *= b1
                M += np.multiply(G, 1 - b1, out=a)
                V *= b2
                np.multiply(G, G, out=a)
                a *= 1 - b2
                V += a
                np.sqrt(V, out=a)
                a += eps
                np.multiply(M, step, out=w)  # step is a float64 scalar: step * m in float64
                np.divide(w, a, out=a)  # in float64, rounded once into the parameters' type
                P -= a

        for_workers(work, blocks)
