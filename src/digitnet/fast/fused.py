"""The classic network's SGD epoch in fewer NumPy calls: the same arithmetic, rearranged.

At batch 10 a step of the classic 784-16-16-10 network multiplies matrices of a few thousand
values, so its time goes to calling NumPy (about half a microsecond a call), not to arithmetic.
Through the layer objects (``Network.backprop`` then ``SGD.step``) a step takes about 48 calls;
``sgd_epoch`` takes 32 for a three-layer network, by three rewrites that change nothing but the
rounding (the tests check it against ``backprop`` and the book's per-example loop in float64):

* **Biases ride as a last weight row.** Each layer's input rows carry a constant last column
  (kept in a buffer the batch is gathered into), so ``[A, 1] @ [W; b] = A W + b`` is one product
  and ``[A, 1]^T @ dZ`` gives ``dW`` and ``db`` at once. All of them lie in one flat vector, so
  the step ``w -= eta * grad`` is a single subtraction (the learning rate rides on the output
  delta, as in ``Network.backprop(..., scale)``).
* **The chain carries negated activations, ``N = -A``.** The sigmoid is ``1 / (1 + e^-z)``; with
  ``-z`` at hand it is three calls (``exp``, ``+= 1``, ``divide(-1, .)`` giving ``-a`` straight
  away), against four for the tanh form plus the bias addition. A layer that reads ``N`` computes
  ``[N, -1] @ [W; b] = -(A W + b) = -Z``, so the constant column of every hidden input is -1. The
  first layer reads the pixels themselves, ``[X, 1]``, and keeps its parameters negated instead,
  ``V = -[W; b]``, so that ``[X, 1] @ V = -Z`` as well.
* **The backward pass carries ``Q = -eta dC/dZ``.** Every layer computes ``-Z = input @ params``
  (params as stored), so ``eta dC/dparams = input^T @ Q`` and the step is ``params -= input^T @ Q``.
  Into the layer below, ``-eta dC/dA = Q W^T``, and ``sigma'(z) = a (1 - a) = N (-1 - N)``, so
  ``Q_below = (Q W^T) * N * (-1 - N)``. At the output, the quadratic cost's
  ``dC/dZ = (a - y) a (1 - a) / m`` gives ``Q = -(eta / m) * D * N * (1 + N)`` with
  ``D = N + y = -(a - y)``, and the batch's cost is ``|D|^2 / (2m)``.

It applies to the classic design only (``supports``): dense layers with biases, each followed by a
sigmoid, quadratic cost, plain SGD without weight decay. Everything else trains through the layers.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..nn.layers import ActivationLayer, Dense
from ..nn.network import Network
from ..nn.optimizers import SGD

PROGRESS_EVERY = 100  # batches between calls of ``on_batch``: a progress bar's update costs a call too


def supports(net: Network, optimizer: Any) -> bool:
    """Whether ``sgd_epoch`` can train ``net`` with ``optimizer``: the layers' arithmetic, up to rounding."""
    dense, acts = net.layers[0::2], net.layers[1::2]
    return (isinstance(optimizer, SGD) and not optimizer.weight_decay and net.cost_name == "quadratic"
            and len(dense) == len(acts) > 0
            and all(isinstance(d, Dense) and d.bias for d in dense)
            and all(isinstance(a, ActivationLayer) and a.name == "sigmoid" for a in acts))


def _views(flat: np.ndarray, shapes: list[tuple[int, int]]) -> list[np.ndarray]:
    """Consecutive pieces of ``flat`` with the given shapes."""
    ends = np.cumsum([0] + [r * c for r, c in shapes])
    return [flat[a:b].reshape(shape) for a, b, shape in zip(ends[:-1], ends[1:], shapes)]


def sgd_epoch(net: Network, X: np.ndarray, Y: np.ndarray, bounds: list[tuple[int, int]], optimizer: SGD,
              on_batch: Callable[[int, float], Any] = lambda k, cost: None) -> float:
    """One epoch of ``optimizer`` (plain SGD) over the batches ``bounds`` of a permutation of
    ``(X, Y)`` drawn from ``net.rng``, as ``training.run_epoch`` does; returns the mean batch cost.

    ``net`` and ``optimizer`` must be ones that ``supports`` accepts. The weights are copied into
    one flat vector at the start and back at the end (also when a batch's cost is not finite,
    where the epoch stops and returns that cost, or when the run is interrupted).
    """
    dense = net.layers[0::2]
    dtype = net.dtype
    shapes = [(d.params["W"].shape[0] + 1, d.units) for d in dense]
    P = np.empty(sum(r * c for r, c in shapes), dtype)
    G = np.empty_like(P)
    params, grads = _views(P, shapes), _views(G, shapes)
    for d, p in zip(dense, params):
        p[:-1], p[-1] = d.params["W"], d.params["b"]
    np.negative(params[0], out=params[0])  # the first layer keeps -[W; b] (see the module's notes)
    weights_t = [p[:-1].T for p in params[1:]]  # W^T of each layer after the first, views
    # Every layer's input with its constant column: 1 beside the pixels, -1 beside N = -A.
    size = max(j - i for i, j in bounds)
    inputs = [np.full((size, r), 1.0 if k == 0 else -1.0, dtype) for k, (r, _) in enumerate(shapes)]
    same_dtype = X.dtype == dtype
    perm = net.rng.permutation(len(X))  # (n,)
    matmul, exp, divide, add, subtract, vdot = np.matmul, np.exp, np.divide, np.add, np.subtract, np.vdot
    total, m, done = 0.0, 0, 0
    try:
        with np.errstate(over="ignore"):  # exp(-z) overflows to inf for a saturated unit: a = 0
            for i, j in bounds:
                if j - i != m:  # the first batch, and a smaller last one: views of m rows
                    m = j - i
                    ins = [a[:m] for a in inputs]  # (m, n_in + 1) each
                    outs = [a[:, :-1] for a in ins[1:]]  # where each hidden layer writes N
                    pixels = ins[0][:, :-1]  # (m, n_in)
                    scale = -optimizer.lr / m
                    forward = list(zip(ins, params, outs + [None]))
                    backward = list(zip(ins[:0:-1], grads[:0:-1], weights_t[::-1], outs[::-1]))
                idx = perm[i:j]  # (m,)
                if same_dtype:
                    X.take(idx, axis=0, out=pixels)  # (m, n_in), beside the column of ones
                else:
                    pixels[...] = X[idx]
                for A, W, out in forward:
                    N = matmul(A, W)  # (m, n_in + 1) @ (n_in + 1, n_out): -Z
                    exp(N, out=N)
                    N += 1.0
                    N = divide(-1.0, N, out=N if out is None else out)  # -sigmoid(Z)
                D = add(N, Y[idx])  # (m, k): -(a - y)
                cost = float(vdot(D, D))
                if not math.isfinite(cost):
                    return cost
                total += cost
                Q = add(N, 1.0)  # (m, k): Q = -(eta / m) D N (1 + N)
                Q *= N
                Q *= D
                Q *= scale
                for A, g, Wt, N in backward:
                    matmul(A.T, Q, out=g)  # (n_in + 1, m) @ (m, n_out): eta * gradient
                    H = matmul(Q, Wt)  # (m, n_out) @ (n_out, n_in): -eta dC/dA
                    Q = subtract(-1.0, N)  # (m, n_in): sigma'(z) = N (-1 - N)
                    Q *= N
                    Q *= H
                matmul(ins[0].T, Q, out=grads[0])  # (n_in + 1, m) @ (m, n_out): the first layer's
                P -= G
                done += 1
                if done % PROGRESS_EVERY == 0:
                    on_batch(PROGRESS_EVERY, 0.5 * cost / m)
    finally:
        optimizer.t += done
        np.negative(params[0], out=params[0])
        for d, p in zip(dense, params):
            d.params["W"][...], d.params["b"][...] = p[:-1], p[-1]
    if done % PROGRESS_EVERY:
        on_batch(done % PROGRESS_EVERY, 0.5 * cost / m)
    return 0.5 * total / len(X)
