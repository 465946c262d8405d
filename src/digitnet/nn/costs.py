"""Cost functions: each with ``fn`` (the mean cost of a batch) and ``derivative`` next to it.

``A`` is the network's output and ``Y`` the one-hot targets, both ``(n, k)``. Costs are *means*
over the batch, so ``derivative`` returns d(mean cost)/dA and already carries the ``1/n``. Nielsen's
update ``w -= eta/m * sum_x grad C_x`` is then simply ``w -= eta * grad C``.

``delta(Z, A, Y, activation)`` gives dC/dZ for the output layer. In general that is the chain rule
through the activation; for the matched pairs below the product simplifies exactly to
``(A - Y) / n``, which is both cheaper and free of the ``1/a`` terms that blow up when ``a``
saturates:

* sigmoid + binary cross-entropy: dC/da = (a - y) / (a (1 - a)) and da/dz = a (1 - a);
* softmax + categorical cross-entropy: dC/da_j = -y_j / a_j and da_j/dz_i = a_j (1[i=j] - a_i),
  so dC/dz_i = sum_j -y_j (1[i=j] - a_i) = a_i sum_j y_j - y_i = a_i - y_i (the y_j sum to 1).
"""

from __future__ import annotations

import numpy as np

from .activations import Activation

# Clip probabilities this far from 0 and 1 before taking logs (float32 resolves 1 - 1e-7).
EPS = 1e-7


class Cost:
    """A cost: ``fn``, ``derivative`` and the output-layer ``delta``."""

    name = ""

    def fn(self, A: np.ndarray, Y: np.ndarray) -> float:
        raise NotImplementedError

    def derivative(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def delta(self, Z: np.ndarray, A: np.ndarray, Y: np.ndarray, activation: Activation) -> np.ndarray:
        """dC/dZ of the output layer (the book's BP1): the chain rule through ``activation``."""
        return activation.backward(Z, A, self.derivative(A, Y))


class QuadraticCost(Cost):
    """C = 1/(2n) sum_x ||a - y||^2, the cost of Nielsen's chapter 1; dC/da = (a - y) / n."""

    name = "quadratic"

    def fn(self, A, Y):
        D = A - Y  # (n, k)
        return 0.5 * float(np.vdot(D, D)) / len(A)

    def derivative(self, A, Y):
        return (A - Y) / len(A)  # (n, k)


class BinaryCrossEntropy(Cost):
    """C = -1/n sum_x sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)]: each output a Bernoulli (Nielsen ch. 3)."""

    name = "cross-entropy"

    def fn(self, A, Y):
        A = np.clip(A, EPS, 1 - EPS)
        return -float(np.sum(Y * np.log(A) + (1 - Y) * np.log1p(-A))) / len(A)

    def derivative(self, A, Y):
        A = np.clip(A, EPS, 1 - EPS)
        return (A - Y) / (A * (1 - A)) / len(A)  # (n, k)

    def delta(self, Z, A, Y, activation):
        if activation.name == "sigmoid":
            return (A - Y) / len(A)  # (n, k): exact for sigmoid outputs, see the module docstring
        return super().delta(Z, A, Y, activation)


class CategoricalCrossEntropy(Cost):
    """C = -1/n sum_x sum_j y_j ln a_j: the log-likelihood of the labels under a softmax output."""

    name = "cross-entropy"

    def fn(self, A, Y):
        return -float(np.vdot(Y, np.log(np.clip(A, EPS, 1.0)))) / len(A)  # sum_ij y_ij ln a_ij

    def derivative(self, A, Y):
        return -Y / np.clip(A, EPS, 1.0) / len(A)  # (n, k)

    def delta(self, Z, A, Y, activation):
        if activation.name == "softmax":
            return (A - Y) / len(A)  # (n, k): exact for softmax outputs, see the module docstring
        return super().delta(Z, A, Y, activation)


COSTS = ("quadratic", "cross-entropy")


def get_cost(name: str, output: str) -> Cost:
    """The cost called ``name`` for a network whose output activation is ``output``.

    "cross-entropy" means the likelihood of the labels under what the output layer models: a
    distribution over the classes for softmax, an independent Bernoulli per output for sigmoid.
    Other outputs are not probabilities, so cross-entropy refuses them.
    """
    if name == "quadratic":
        return QuadraticCost()
    if name == "cross-entropy":
        if output == "softmax":
            return CategoricalCrossEntropy()
        if output == "sigmoid":
            return BinaryCrossEntropy()
        raise ValueError(f"cross-entropy needs a sigmoid or softmax output layer, not {output!r}")
    raise ValueError(f"unknown cost {name!r}: choose from {', '.join(COSTS)}")
