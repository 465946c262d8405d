"""Activation functions, each written next to its derivative.

Convention: ``Z`` is the pre-activation of a layer, shape ``(n, k)`` (batches are rows), and
``A = fn(Z)``. ``backward(Z, A, dA)`` turns the gradient of the cost with respect to ``A`` into the
gradient with respect to ``Z``. For an elementwise function that is ``dZ = dA * f'(Z)``; the
derivative is written in terms of ``A`` where that is cheaper (sigmoid: ``A(1 - A)``, tanh:
``1 - A**2``), since ``A`` is cached by the forward pass anyway. Softmax couples the outputs of a
row, so its backward is a Jacobian-vector product rather than an elementwise product.

"""

from __future__ import annotations

import numpy as np


class Activation:
    """An activation ``fn`` with its ``backward``; subclasses set ``name``."""

    name = ""

    def fn(self, Z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, Z: np.ndarray, A: np.ndarray, dA: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Sigmoid(Activation):
    """sigma(z) = 1 / (1 + e^-z); sigma'(z) = sigma(z) (1 - sigma(z))."""

    name = "sigmoid"

    def fn(self, Z):
        # 1 / (1 + e^-z) == (1 + tanh(z / 2)) / 2, and tanh never overflows: stable for any z.
        return 0.5 + 0.5 * np.tanh(0.5 * Z)

    def backward(self, Z, A, dA):
        return dA * A * (1 - A)  # sigma'(z) = sigma(z) (1 - sigma(z)), read from the cached A


class Tanh(Activation):
    """tanh(z); tanh'(z) = 1 - tanh(z)^2."""

    name = "tanh"

    def fn(self, Z):
        return np.tanh(Z)

    def backward(self, Z, A, dA):
        return dA * (1 - A * A)  # tanh'(z) = 1 - tanh(z)^2


class ReLU(Activation):
    """max(z, 0); its derivative is 1 where z > 0, else 0 (we take 0 at z == 0)."""

    name = "relu"

    def fn(self, Z):
        return np.maximum(Z, 0)

    def backward(self, Z, A, dA):
        return dA * (Z > 0)  # 1 where z > 0, else 0


class Softmax(Activation):
    """softmax(z)_j = e^{z_j} / sum_i e^{z_i}, taken over each row.

    Its Jacobian is ``diag(a) - a a^T`` per row, so ``dZ = A * (dA - sum(dA * A))`` row by row.
    Paired with the categorical cross-entropy this collapses to ``dZ = A - Y`` (see ``costs``).
    """

    name = "softmax"

    def fn(self, Z):
        # Subtracting the row max changes nothing mathematically and keeps exp from overflowing.
        E = np.exp(Z - Z.max(axis=1, keepdims=True))  # (n, k)
        E /= E.sum(axis=1, keepdims=True)  # (n, k) / (n, 1)
        return E

    def backward(self, Z, A, dA):
        return A * (dA - np.sum(dA * A, axis=1, keepdims=True))  # (n, k) - (n, 1)


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Sigmoid, Tanh, ReLU, Softmax)
}


def get_activation(name: str) -> Activation:
    """The activation called ``name`` (one of ``ACTIVATIONS``); a ``ValueError`` names the choices."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}: choose from {', '.join(ACTIVATIONS)}"
        ) from None
