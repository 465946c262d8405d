"""The baseline: Nielsen's chapter-1 ``network.py``, one example at a time, as the book wrote it.

This is the algorithm digitnet started from, kept here only to measure against. Each example is a
column vector ``(784, 1)``; ``update_mini_batch`` calls ``backprop(x, y)`` once per example of the
mini-batch, sums the gradients and steps ``w <- w - (eta / m) * sum nabla_w``. Sigmoid everywhere,
quadratic cost (output delta ``(a - y) * sigma'(z)``), N(0, 1) weights and biases, float64. It is
faithful rather than fast: a Python loop over examples turns every layer into matrix-*vector*
products, which is why digitnet backpropagates a whole mini-batch as one matrix product instead.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    return sigmoid(z) * (1 - sigmoid(z))


class ReferenceNetwork:
    """``sizes`` such as ``[784, 16, 16, 10]``; ``weights[l]`` is ``(n_out, n_in)``, ``biases[l]`` ``(n_out, 1)``."""

    def __init__(self, sizes: list[int], rng: np.random.Generator) -> None:
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
        self.weights = [rng.standard_normal((y, x)) for x, y in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a: np.ndarray) -> np.ndarray:
        """The output ``(10, 1)`` for one input column ``a`` ``(784, 1)``."""
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(w @ a + b)  # (n_out, n_in) @ (n_in, 1) + (n_out, 1)
        return a

    def update_mini_batch(self, mini_batch: list[tuple[np.ndarray, np.ndarray]], eta: float) -> None:
        """One gradient step on the summed gradients of the examples ``(x, y)`` of the mini-batch."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x: np.ndarray, y: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The gradient of the quadratic cost ``||a - y||^2 / 2`` of one example, layer by layer."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]  # the activations, layer by layer
        zs = []  # the z vectors, layer by layer
        for b, w in zip(self.biases, self.weights):
            z = w @ activation + b  # (n_out, 1)
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])  # (10, 1)
        nabla_b[-1] = delta
        nabla_w[-1] = delta @ activations[-2].T  # (10, 1) @ (1, n_in)
        for l in range(2, self.num_layers):
            z = zs[-l]
            sp = sigmoid_prime(z)
            delta = (self.weights[-l + 1].T @ delta) * sp  # (n_l, 1)
            nabla_b[-l] = delta
            nabla_w[-l] = delta @ activations[-l - 1].T
        return nabla_b, nabla_w

    def cost_derivative(self, output_activations: np.ndarray, y: np.ndarray) -> np.ndarray:
        """dC_x/da for the quadratic cost."""
        return output_activations - y


def as_columns(X: np.ndarray, Y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rows ``(n, 784)``, one-hot ``(n, 10)`` -> the book's list of float64 column pairs ``((784, 1), (10, 1))``."""
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    return [(x.reshape(-1, 1), y.reshape(-1, 1)) for x, y in zip(X, Y)]


def run_epoch(net: ReferenceNetwork, data: list[tuple[np.ndarray, np.ndarray]], mini_batch_size: int,
              eta: float, rng: np.random.Generator) -> None:
    """One epoch of the book's ``SGD``: shuffle the list, then one ``update_mini_batch`` per slice."""
    data = list(data)
    rng.shuffle(data)
    for k in range(0, len(data), mini_batch_size):
        net.update_mini_batch(data[k:k + mini_batch_size], eta)
