"""Nielsen's chapter-1 network (``network.py``), vectorised over the mini-batch, with the book's names.

Read this file beside chapters 1 and 2 of *Neural Networks and Deep Learning*. The names are the
book's: ``sizes``, ``biases``, ``weights`` (``weights[l]`` has shape ``(n_out, n_in)`` and
``biases[l]`` ``(n_out, 1)``, as there), ``feedforward``, ``SGD``, ``update_mini_batch``, ``backprop``,
``evaluate``, ``cost_derivative``, ``sigmoid``, ``sigmoid_prime``, ``eta``, ``nabla_b``, ``nabla_w``.
One change: ``backprop`` takes a whole mini-batch at once, as rows (``x`` is ``(m, 784)``), so the
loop over examples becomes matrix products. The equations, for ``z^l = a^{l-1} w^l^T + b^l``:

* BP1 ``delta^L = (a^L - y) * sigma'(z^L)``              -> ``delta = self.cost_derivative(...) * sigmoid_prime(zs[-1])``
* BP2 ``delta^l = (delta^{l+1} w^{l+1}) * sigma'(z^l)``   -> ``delta = (delta @ self.weights[-l + 1]) * sp``
* BP3 ``dC/db^l = delta^l`` (summed over the batch)      -> ``nabla_b[-l] = delta.sum(axis=0)...``
* BP4 ``dC/dw^l = delta^l^T a^{l-1}`` (summed)            -> ``nabla_w[-l] = delta.T @ activations[-l - 1]``
* the update rule ``w -> w - (eta / m) sum_x dC_x/dw``   -> in ``update_mini_batch``

The book's scripts run unchanged::

    from digitnet.classic import Network, load_data_wrapper
    training_data, validation_data, test_data = load_data_wrapper()
    net = Network([784, 30, 10])
    net.SGD(training_data, 30, 10, 3.0, test_data=test_data)

``SGD`` and ``evaluate`` also take arrays, ``(X, Y)`` with ``X`` of shape ``(n, 784)`` and one-hot
``Y`` (or integer labels ``y`` for ``evaluate``). ``digitnet train --preset seed`` trains the same
network through ``digitnet.nn`` and a fused kernel (``digitnet.fast.fused``); the tests hold
all three to the same arithmetic.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .data import load_dataset

Data = list[tuple[np.ndarray, np.ndarray]] | tuple[np.ndarray, np.ndarray]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The sigmoid function, written as ``(1 + tanh(z / 2)) / 2`` so that no ``exp`` overflows."""
    return 0.5 + 0.5 * np.tanh(0.5 * z)


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    """Derivative of the sigmoid function."""
    return sigmoid(z) * (1 - sigmoid(z))


def _as_rows(data: Data) -> tuple[np.ndarray, np.ndarray]:
    """The book's list of ``(x, y)`` column-vector pairs, or ``(X, Y)`` arrays, as two arrays of rows."""
    if isinstance(data, tuple) and isinstance(data[0], np.ndarray):
        return data
    xs, ys = zip(*data)
    X = np.stack([np.ravel(x) for x in xs])  # (n, 784)
    Y = np.stack([np.ravel(y) for y in ys]) if np.ndim(ys[0]) else np.array(ys)  # (n, 10) or (n,)
    return X, Y


class Network:
    """The network of chapter 1: sigmoid neurons, quadratic cost, N(0, 1) weights and biases."""

    def __init__(self, sizes: Sequence[int], seed: int | np.random.Generator = 0) -> None:
        """``sizes`` lists the neurons in each layer, e.g. ``[784, 30, 10]``. The first layer is the
        input and has no biases. ``seed`` seeds the one generator behind every random draw."""
        self.num_layers = len(sizes)
        self.sizes = list(sizes)
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.biases = [self.rng.standard_normal((y, 1)) for y in sizes[1:]]
        self.weights = [self.rng.standard_normal((y, x)) for x, y in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a: np.ndarray) -> np.ndarray:
        """The output for input ``a``: one column ``(784, 1)`` as in the book (giving ``(10, 1)``),
        or a batch of rows ``(n, 784)`` (giving ``(n, 10)``)."""
        if a.ndim == 2 and a.shape[1] == 1:
            return self.feedforward(a.T).T  # a column is a batch of one row
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(a @ w.T + b.T)  # (n, n_in) @ (n_in, n_out) + (1, n_out)
        return a

    def SGD(self, training_data: Data, epochs: int, mini_batch_size: int, eta: float,
            test_data: Data | None = None) -> None:
        """Train by mini-batch stochastic gradient descent. Each epoch shuffles the training data,
        cuts it into mini-batches and takes one gradient step per mini-batch. With ``test_data``
        the network is evaluated after each epoch and progress printed (slower)."""
        X, Y = _as_rows(training_data)
        n = len(X)
        for j in range(epochs):
            order = self.rng.permutation(n)
            for k in range(0, n, mini_batch_size):
                batch = order[k:k + mini_batch_size]
                self.update_mini_batch((X[batch], Y[batch]), eta)
            if test_data is not None:
                print(f"Epoch {j}: {self.evaluate(test_data)} / {len(_as_rows(test_data)[0])}")
            else:
                print(f"Epoch {j} complete")

    def update_mini_batch(self, mini_batch: Data, eta: float) -> None:
        """Apply one gradient-descent step, computed by backpropagation over the whole mini-batch:
        ``w -> w - (eta / m) * nabla_w`` and ``b -> b - (eta / m) * nabla_b``."""
        x, y = _as_rows(mini_batch)
        nabla_b, nabla_w = self.backprop(x, y)  # summed over the m examples
        m = len(x)
        self.weights = [w - (eta / m) * nw for w, nw in zip(self.weights, nabla_w)]  # the update rule
        self.biases = [b - (eta / m) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x: np.ndarray, y: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """``(nabla_b, nabla_w)``: the gradient of the cost summed over the examples of a mini-batch,
        layer by layer, shaped like ``self.biases`` and ``self.weights``. ``x`` is ``(m, 784)`` (or one
        column ``(784, 1)``) and ``y`` the one-hot targets ``(m, 10)`` (or ``(10, 1)``)."""
        if x.ndim == 2 and x.shape[1] == 1:
            x, y = x.T, y.T  # one example as a batch of one row
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        # feedforward
        activation = x
        activations = [x]  # list to store all the activations, layer by layer
        zs = []  # list to store all the z vectors, layer by layer
        for b, w in zip(self.biases, self.weights):
            z = activation @ w.T + b.T  # (m, n_in) @ (n_in, n_out) + (1, n_out)
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        # backward pass
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])  # BP1: (m, 10)
        nabla_b[-1] = delta.sum(axis=0).reshape(-1, 1)  # BP3: (10, 1)
        nabla_w[-1] = delta.T @ activations[-2]  # BP4: (10, m) @ (m, n_in)
        # l = 1 means the last layer of neurons, l = 2 the second-last, and so on (as in the book).
        for l in range(2, self.num_layers):
            z = zs[-l]
            sp = sigmoid_prime(z)
            delta = (delta @ self.weights[-l + 1]) * sp  # BP2: (m, n_out) @ (n_out, n_in) -> (m, n_in)
            nabla_b[-l] = delta.sum(axis=0).reshape(-1, 1)  # BP3
            nabla_w[-l] = delta.T @ activations[-l - 1]  # BP4: (n_in, m) @ (m, n_prev)
        return nabla_b, nabla_w

    def evaluate(self, test_data: Data) -> int:
        """The number of test inputs for which the network outputs the correct result: the index
        of the output neuron with the highest activation. Labels are digits (or one-hot rows)."""
        X, y = _as_rows(test_data)
        if y.ndim == 2:
            y = y.argmax(axis=1)
        return int(np.sum(self.feedforward(X).argmax(axis=1) == y))

    def cost_derivative(self, output_activations: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The vector of partial derivatives dC_x/da for the output activations (quadratic cost)."""
        return output_activations - y


def load_data_wrapper(data_dir: str | None = None) -> tuple[list, list, list]:
    """MNIST as the book's ``mnist_loader.load_data_wrapper`` returns it, read from the verified IDX
    files (``digitnet.data``): ``training_data`` is a list of 50,000 ``(x, y)`` pairs, ``x`` a
    ``(784, 1)`` column of pixels in [0, 1] and ``y`` the ``(10, 1)`` one-hot column of its digit;
    ``validation_data`` (10,000) and ``test_data`` (10,000) pair ``x`` with the digit itself."""
    data = load_dataset("mnist", data_dir=data_dir, progress=False)
    eye = np.eye(10).reshape(10, 10, 1)  # eye[d] is the one-hot column of digit d
    training_data = [(x.reshape(784, 1), eye[d]) for x, d in zip(data.train.X, data.train.y)]
    validation_data = [(x.reshape(784, 1), int(d)) for x, d in zip(data.validation.X, data.validation.y)]
    test_data = [(x.reshape(784, 1), int(d)) for x, d in zip(data.test.X, data.test.y)]
    return training_data, validation_data, test_data
