"""Layers: each owns its parameters, caches what its backward pass needs, and returns ``dX``.

The protocol every layer follows (batches are rows, the batch axis first):

* ``build(input_shape, rng, dtype) -> output_shape`` creates the parameters; shapes exclude the
  batch axis, so a dense layer sees ``(784,)`` and an image layer ``(28, 28, 1)`` (channels last).
* ``forward(X, training) -> A`` caches what ``backward`` needs.
* ``backward(dA, need_dX=True) -> dX`` fills ``grads`` (same keys as ``params``) and returns the
  gradient for the layer below; the first layer skips that product (``need_dX=False``).
* ``buffers`` hold state that is saved but not trained (batch-norm statistics).
* ``config()`` is a JSON-able dict with a ``type`` key; ``LAYERS[type](**args)`` rebuilds it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .activations import get_activation

INITS = ("normal", "scaled", "he", "glorot")


def init_weights(
    init: str, shape: tuple[int, ...], fan_in: int, fan_out: int, rng: np.random.Generator, dtype
) -> tuple[np.ndarray, bool]:
    """Draw a weight array; also say whether the matching biases are drawn N(0, 1) (classic) or zeros.

    * ``normal``: N(0, 1) weights and biases, the classic chapter-1 choice. With 784 inputs the
      pre-activations have standard deviation ~28 and sigmoids start saturated; it still learns.
    * ``scaled``: N(0, 1/fan_in) weights (Nielsen ch. 3), N(0, 1) biases.
    * ``he``: N(0, 2/fan_in), zero biases; keeps the variance of ReLU layers constant.
    * ``glorot``: U(+-sqrt(6 / (fan_in + fan_out))), zero biases; for tanh and sigmoid.
    """
    if init == "normal":
        return rng.standard_normal(shape, dtype=dtype), True
    if init == "scaled":
        return rng.standard_normal(shape, dtype=dtype) * dtype.type(1 / np.sqrt(fan_in)), True
    if init == "he":
        return rng.standard_normal(shape, dtype=dtype) * dtype.type(np.sqrt(2 / fan_in)), False
    if init == "glorot":
        limit = np.sqrt(6 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape).astype(dtype), False
    raise ValueError(f"unknown init {init!r}: choose from {', '.join(INITS)}")


def init_biases(classic: bool, n: int, rng: np.random.Generator, dtype) -> np.ndarray:
    """N(0, 1) biases for the classic inits, zeros otherwise."""
    return rng.standard_normal((n,), dtype=dtype) if classic else np.zeros((n,), dtype)


class Layer:
    """Base class: a layer without parameters that passes its input through."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        # Saved with the parameters but not trained by gradients (e.g. batch-norm running means).
        self.buffers: dict[str, np.ndarray] = {}

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator, dtype) -> tuple[int, ...]:
        return tuple(input_shape)

    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dA: np.ndarray, need_dX: bool = True) -> np.ndarray | None:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "type")
        return f"{type(self).__name__}({args})"


class Dense(Layer):
    """A fully connected layer: ``Z = X @ W + b`` with ``W`` of shape ``(n_in, units)``.

    Backward, with ``dZ`` of shape ``(n, units)``: ``dW = X^T dZ``, ``db = sum_rows dZ``,
    ``dX = dZ W^T``. The batch mean is already inside ``dZ`` (costs are means).
    """

    def __init__(self, units: int, init: str = "normal") -> None:
        super().__init__()
        if units < 1:
            raise ValueError(f"a dense layer needs at least one unit, not {units}")
        self.units = int(units)
        self.init = init

    def build(self, input_shape, rng, dtype):
        if len(input_shape) != 1:
            raise ValueError(f"Dense expects flat inputs, got shape {tuple(input_shape)}: add Flatten()")
        n_in = input_shape[0]
        W, classic = init_weights(self.init, (n_in, self.units), n_in, self.units, rng, dtype)
        self.params = {"W": W, "b": init_biases(classic, self.units, rng, dtype)}
        return (self.units,)

    def forward(self, X, training=False):
        self.X = X
        Z = X @ self.params["W"]  # (n, n_in) @ (n_in, units) -> (n, units)
        Z += self.params["b"]  # (n, units) + (units,)
        return Z

    def backward(self, dZ, need_dX=True):
        self.grads["W"] = self.X.T @ dZ  # (n_in, n) @ (n, units) -> (n_in, units)
        self.grads["b"] = dZ.sum(axis=0)  # (units,)
        return dZ @ self.params["W"].T if need_dX else None  # (n, units) @ (units, n_in) -> (n, n_in)

    def config(self):
        return {"type": "dense", "units": self.units, "init": self.init}


class ActivationLayer(Layer):
    """Applies an activation from ``digitnet.activations``; caches ``Z`` and ``A`` for backward."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.activation = get_activation(name)
        self.name = name

    def forward(self, X, training=False):
        self.Z = X
        self.A = self.activation.fn(X)
        return self.A

    def backward(self, dA, need_dX=True):
        return self.activation.backward(self.Z, self.A, dA)

    def config(self):
        return {"type": "activation", "name": self.name}


class Reshape(Layer):
    """Reshapes each sample, e.g. ``(784,) -> (28, 28, 1)`` in front of convolutions."""

    def __init__(self, shape: tuple[int, ...] | list[int]) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def build(self, input_shape, rng, dtype):
        if int(np.prod(input_shape)) != int(np.prod(self.shape)):
            raise ValueError(f"cannot reshape {tuple(input_shape)} to {self.shape}")
        self.input_shape = tuple(input_shape)
        return self.shape

    def forward(self, X, training=False):
        return X.reshape((len(X), *self.shape))  # (n, *in) -> (n, *shape)

    def backward(self, dA, need_dX=True):
        return dA.reshape((len(dA), *self.input_shape)) if need_dX else None  # (n, *shape) -> (n, *in)

    def config(self):
        return {"type": "reshape", "shape": list(self.shape)}


class Flatten(Layer):
    """Flattens each sample to a row: ``(n, h, w, c) -> (n, h*w*c)``."""

    def build(self, input_shape, rng, dtype):
        self.input_shape = tuple(input_shape)
        return (int(np.prod(input_shape)),)

    def forward(self, X, training=False):
        return X.reshape(len(X), -1)  # (n, ...) -> (n, features)

    def backward(self, dA, need_dX=True):
        return dA.reshape((len(dA), *self.input_shape)) if need_dX else None  # (n, features) -> (n, ...)

    def config(self):
        return {"type": "flatten"}


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability ``rate`` and scale the rest
    by ``1 / (1 - rate)``, so that at test time the layer is the identity. The mask comes from the
    network's seeded generator; backward multiplies by the same mask.
    """

    def __init__(self, rate: float) -> None:
        super().__init__()
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), not {rate}")
        self.rate = float(rate)

    def build(self, input_shape, rng, dtype):
        self.rng = rng
        self.dtype = dtype
        return tuple(input_shape)

    def forward(self, X, training=False):
        if not training or self.rate == 0.0:
            self.mask = None
            return X
        keep = self.rng.random(X.shape, dtype=self.dtype) >= self.rate  # (n, ...) bool
        self.mask = keep.astype(self.dtype) * self.dtype.type(1 / (1 - self.rate))
        return X * self.mask

    def backward(self, dA, need_dX=True):
        if not need_dX:
            return None
        return dA if self.mask is None else dA * self.mask

    def config(self):
        return {"type": "dropout", "rate": self.rate}


LAYERS: dict[str, type[Layer]] = {
    "dense": Dense,
    "activation": ActivationLayer,
    "reshape": Reshape,
    "flatten": Flatten,
    "dropout": Dropout,
}


def layer_from_config(config: dict[str, Any]) -> Layer:
    """Rebuild a layer from ``Layer.config()``; unknown types raise ``ValueError``."""
    args = dict(config)
    kind = args.pop("type", None)
    if kind not in LAYERS:
        raise ValueError(f"unknown layer type {kind!r}")
    return LAYERS[kind](**args)
