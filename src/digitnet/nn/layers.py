"""The textbook layers: each owns its parameters, caches what its backward pass needs, and returns ``dX``.

Every forward and backward pass here is the equation as a textbook writes it, over the whole
mini-batch at once; ``digitnet.fast.layers`` holds faster versions of some of them, tested
against these. The protocol every layer follows (batches are rows, the batch axis first):

* ``build(input_shape, rng, dtype) -> output_shape`` creates the parameters; shapes exclude the
  batch axis, so a dense layer sees ``(784,)`` and an image layer ``(28, 28, 1)`` (channels last).
* ``forward(X, training) -> A`` caches what ``backward`` needs.
* ``backward(dA, need_dX=True) -> dX`` fills ``grads`` (same keys as ``params``) and returns the
  gradient for the layer below; ``need_dX=False`` skips that product where nothing below needs it
  (under the first layer with parameters, as the book's backprop stops at layer 2).
* ``buffers`` hold state that is saved but not trained (batch-norm statistics).
* ``config()`` is a JSON-able dict with a ``type`` key; ``LAYERS[type](**args)`` rebuilds it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

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


def init_params(
    init: str, shape: tuple[int, ...], fan_in: int, fan_out: int, bias: bool, rng: np.random.Generator, dtype
) -> dict[str, np.ndarray]:
    """``{"W": weights, "b": biases}`` for a layer with ``shape[-1]`` outputs; no ``"b"`` without ``bias``.

    Biases are N(0, 1) for the classic inits and zeros otherwise. A layer followed by batch norm
    needs none: the norm subtracts each channel's mean, so a bias there cancels exactly (its
    gradient is zero) and only costs a pass over the layer's output in each direction.
    """
    W, classic = init_weights(init, shape, fan_in, fan_out, rng, dtype)
    if not bias:
        return {"W": W}
    n = shape[-1]
    return {"W": W, "b": rng.standard_normal((n,), dtype=dtype) if classic else np.zeros((n,), dtype)}


class Layer:
    """Base class: a layer without parameters that passes its input through."""

    min_batch = 1  # the smallest training batch the layer can learn from
    nonlinearity: str | None = None  # the activation its output ends with, if any (for pictures of it)
    work_values = 0  # values per sample of the largest array it makes besides its output (set by build)

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
        """The gradient with respect to the input (None without ``need_dX``), given ``dA`` with
        respect to the output; fills ``grads``. ``dA`` is the layer's to spend: a fast kernel may
        overwrite it (``Network`` hands each layer a gradient that nothing reads afterwards)."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "type")
        return f"{type(self).__name__}({args})"


class Dense(Layer):
    """A fully connected layer: ``Z = X @ W + b`` with ``W`` of shape ``(n_in, units)``.

    Backward, with ``dZ`` of shape ``(n, units)``: ``dW = X^T dZ`` (the book's BP4, summed over the
    batch), ``db = sum_rows dZ`` (BP3), ``dX = dZ W^T`` (the first half of BP2; the activation
    layer above supplies the ``* sigma'(z)``). The batch mean is already inside ``dZ`` (costs are
    means). ``bias=False`` drops ``b`` (for a layer followed by batch norm, see ``init_params``).
    """

    def __init__(self, units: int, init: str = "normal", bias: bool = True) -> None:
        super().__init__()
        if units < 1:
            raise ValueError(f"a dense layer needs at least one unit, not {units}")
        self.units = int(units)
        self.init = init
        self.bias = bool(bias)

    def build(self, input_shape, rng, dtype):
        if len(input_shape) != 1:
            raise ValueError(f"Dense expects flat inputs, got shape {tuple(input_shape)}: add Flatten()")
        n_in = input_shape[0]
        self.params = init_params(self.init, (n_in, self.units), n_in, self.units, self.bias, rng, dtype)
        return (self.units,)

    def forward(self, X, training=False):
        self.X = X
        Z = X @ self.params["W"]  # (n, n_in) @ (n_in, units) -> (n, units)
        if self.bias:
            Z = Z + self.params["b"]  # (n, units) + (units,)
        return Z

    def backward(self, dZ, need_dX=True):
        self.grads["W"] = self.X.T @ dZ  # (n_in, n) @ (n, units) -> (n_in, units)
        if self.bias:
            self.grads["b"] = dZ.sum(axis=0)  # (units,)
        return dZ @ self.params["W"].T if need_dX else None  # (n, units) @ (units, n_in) -> (n, n_in)

    def config(self):
        return {"type": "dense", "units": self.units, "init": self.init, "bias": self.bias}


class ActivationLayer(Layer):
    """Applies an activation from ``digitnet.nn.activations``; caches ``Z`` and ``A`` for backward."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.activation = get_activation(name)
        self.name = self.nonlinearity = name

    def forward(self, X, training=False):
        self.Z = X
        self.A = self.activation.fn(X)
        return self.A

    def backward(self, dA, need_dX=True):
        return self.activation.backward(self.Z, self.A, dA) if need_dX else None  # dZ = dA * f'(Z)

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


def _pair(v: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    return (int(v), int(v)) if np.isscalar(v) else (int(v[0]), int(v[1]))


def _pad_amounts(size: int, k: int, stride: int, padding: int | str) -> tuple[int, int, int]:
    """Padding before and after one spatial axis and the output length along it.

    ``"same"`` pads as TensorFlow does: the output has ``ceil(size / stride)`` pixels and any odd
    pixel of padding goes after (bottom, right). An integer pads that many zeros on both sides.
    """
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + k - size, 0)
        before, after = total // 2, total - total // 2
    else:
        before = after = int(padding)
    out = (size + before + after - k) // stride + 1
    if out < 1:
        raise ValueError(f"a {k}-pixel kernel does not fit an input of {size} pixels padded by {before + after}")
    return before, after, out


class Conv2D(Layer):
    """A 2-D convolution (a cross-correlation, as in every framework) over channels-last images.

    Shapes: ``X (n, h, w, c) -> Z (n, ho, wo, f)`` with ``W (kh, kw, c, f)`` and ``b (f,)``:
    ``Z[n, y, x, :] = sum_{i, j} Xp[n, y*s + i, x*s + j, :] @ W[i, j] + b`` over the zero-padded ``Xp``.

    Forward by im2col: the ``kh x kw x c`` patch under each output pixel becomes one row of
    ``cols (n*ho*wo, kh*kw*c)``, and the whole layer is one matrix product,
    ``Z = cols @ W.reshape(kh*kw*c, f) + b``: a dense layer applied to every patch.

    Backward, with ``dZ`` flattened to ``(n*ho*wo, f)``, is then a dense layer's: ``dW = cols^T dZ``,
    ``db = sum_rows dZ``, ``dcols = dZ W^T``; col2im adds each patch's gradient back onto the
    pixels it was copied from (a pixel under several patches gets the sum).

    ``padding`` is an integer (zeros on every side) or ``"same"`` (output ``ceil(h / stride)``).
    ``bias=False`` drops ``b`` (for a convolution followed by batch norm, see ``init_params``).
    """

    def __init__(self, filters: int, kernel_size: int | tuple[int, int] | list[int] = 3, stride: int = 1,
                 padding: int | str = 0, init: str = "he", bias: bool = True) -> None:
        super().__init__()
        if filters < 1:
            raise ValueError(f"a convolution needs at least one filter, not {filters}")
        if stride < 1:
            raise ValueError(f"stride must be at least 1, not {stride}")
        if padding != "same" and (isinstance(padding, str) or int(padding) < 0):
            raise ValueError(f"padding must be a non-negative integer or 'same', not {padding!r}")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size)
        if min(self.kernel_size) < 1:
            raise ValueError(f"kernel size must be at least 1, not {kernel_size}")
        self.stride = int(stride)
        self.padding = padding if padding == "same" else int(padding)
        self.init = init
        self.bias = bool(bias)

    def build(self, input_shape, rng, dtype):
        if len(input_shape) != 3:
            raise ValueError(f"Conv2D expects (h, w, c) images, got shape {tuple(input_shape)}: add Reshape()")
        h, w, c = input_shape
        kh, kw = self.kernel_size
        top, bottom, ho = _pad_amounts(h, kh, self.stride, self.padding)
        left, right, wo = _pad_amounts(w, kw, self.stride, self.padding)
        self.pads, self.out_hw = (top, bottom, left, right), (ho, wo)
        self.work_values = ho * wo * kh * kw * c  # the im2col patches of one image
        self.params = init_params(self.init, (kh, kw, c, self.filters), kh * kw * c, kh * kw * self.filters,
                                  self.bias, rng, dtype)
        self.input_shape = tuple(input_shape)
        return (ho, wo, self.filters)

    def _padded(self, X: np.ndarray) -> np.ndarray:
        top, bottom, left, right = self.pads
        return np.pad(X, ((0, 0), (top, bottom), (left, right), (0, 0)))  # (n, hp, wp, c)

    def _im2col(self, Xp: np.ndarray) -> np.ndarray:
        """The patch under each output pixel: ``(n, ho, wo, kh, kw, c)`` (a copy) of ``Xp (n, hp, wp, c)``."""
        (kh, kw), (ho, wo), s = self.kernel_size, self.out_hw, self.stride
        windows = sliding_window_view(Xp, (kh, kw), axis=(1, 2))  # (n, hp-kh+1, wp-kw+1, c, kh, kw), a view
        return windows[:, :s * (ho - 1) + 1:s, :s * (wo - 1) + 1:s].transpose(0, 1, 2, 4, 5, 3).copy()

    def forward(self, X, training=False):
        (kh, kw), (ho, wo), f = self.kernel_size, self.out_hw, self.filters
        n, c = len(X), self.input_shape[2]
        self.cols = self._im2col(self._padded(X)).reshape(n * ho * wo, kh * kw * c)  # (n*ho*wo, K)
        Z = self.cols @ self.params["W"].reshape(kh * kw * c, f)  # (n*ho*wo, K) @ (K, f) -> (n*ho*wo, f)
        if self.bias:
            Z = Z + self.params["b"]  # (n*ho*wo, f) + (f,)
        return Z.reshape(n, ho, wo, f)

    def backward(self, dZ, need_dX=True):
        (kh, kw), (ho, wo), s, f = self.kernel_size, self.out_hw, self.stride, self.filters
        (h, w, c), (top, _, left, _) = self.input_shape, self.pads
        W = self.params["W"]  # (kh, kw, c, f)
        dZ2 = dZ.reshape(-1, f)  # (n*ho*wo, f)
        self.grads["W"] = (self.cols.T @ dZ2).reshape(W.shape)  # (K, n*ho*wo) @ (n*ho*wo, f) -> (kh, kw, c, f)
        if self.bias:
            self.grads["b"] = dZ2.sum(axis=0)  # (f,)
        if not need_dX:
            return None
        n = len(dZ)
        dcols = (dZ2 @ W.reshape(-1, f).T).reshape(n, ho, wo, kh, kw, c)  # (n*ho*wo, f) @ (f, K)
        dXp = np.zeros((n, h + sum(self.pads[:2]), w + sum(self.pads[2:]), c), dZ.dtype)  # (n, hp, wp, c)
        for i in range(kh):  # col2im: offset (i, j) of every patch came from this strided slice
            for j in range(kw):
                dXp[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s, :] += dcols[:, :, :, i, j, :]
        return dXp[:, top:top + h, left:left + w, :]  # (n, h, w, c): drop the padding

    def config(self):
        return {"type": "conv2d", "filters": self.filters, "kernel_size": list(self.kernel_size),
                "stride": self.stride, "padding": self.padding, "init": self.init, "bias": self.bias}


class MaxPool2D(Layer):
    """Max pooling over ``pool_size x pool_size`` windows, ``stride`` apart (default: the pool size).

    Shapes: ``X (n, h, w, c) -> A (n, ho, wo, c)`` with ``ho = (h - p) // stride + 1`` (rows and
    columns that do not fill a window are dropped, as in PyTorch and Keras).

    Forward takes the elementwise maximum of the ``p*p`` strided views of ``X``, one per position
    inside the window. Backward routes each ``dA`` to the input that was the maximum of its window;
    where several inputs tie, only the first (in row-major window order) gets it, so the gradient is
    that of the function actually computed.
    """

    def __init__(self, pool_size: int = 2, stride: int | None = None) -> None:
        super().__init__()
        if pool_size < 1 or (stride is not None and stride < 1):
            raise ValueError(f"pool size and stride must be at least 1, not {pool_size} and {stride}")
        self.pool_size = int(pool_size)
        self.stride = int(stride) if stride is not None else None

    def build(self, input_shape, rng, dtype):
        if len(input_shape) != 3:
            raise ValueError(f"MaxPool2D expects (h, w, c) images, got shape {tuple(input_shape)}")
        h, w, c = input_shape
        p, s = self.pool_size, self.stride or self.pool_size
        if h < p or w < p:
            raise ValueError(f"a {p} x {p} pool does not fit {h} x {w} images")
        self.out_shape = ((h - p) // s + 1, (w - p) // s + 1, c)
        return self.out_shape

    def _windows(self, X: np.ndarray) -> list[np.ndarray]:
        """The ``p*p`` views ``X[:, i::s, j::s]``, each ``(n, ho, wo, c)``, in row-major window order."""
        p, s = self.pool_size, self.stride or self.pool_size
        ho, wo, _ = self.out_shape
        return [X[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s, :] for i in range(p) for j in range(p)]

    def forward(self, X, training=False):
        self.X = X
        self.A = np.maximum.reduce(self._windows(X))  # (n, ho, wo, c)
        return self.A

    def backward(self, dA, need_dX=True):
        if not need_dX:
            return None
        dX = np.zeros(self.X.shape, dA.dtype)  # (n, h, w, c)
        taken = np.zeros(self.A.shape, bool)  # (n, ho, wo, c): windows whose maximum got dA already
        for V, dV in zip(self._windows(self.X), self._windows(dX)):
            first = (V == self.A) & ~taken  # the first input of each window that equals its maximum
            dV += dA * first  # overlapping windows (stride < p) add up on shared pixels
            taken |= first
        return dX

    def config(self):
        return {"type": "maxpool2d", "pool_size": self.pool_size, "stride": self.stride}


class GlobalAvgPool(Layer):
    """The mean of each channel over the image: ``(n, h, w, c) -> (n, c)``; ``dX = dA / (h*w)`` everywhere."""

    def build(self, input_shape, rng, dtype):
        if len(input_shape) != 3:
            raise ValueError(f"GlobalAvgPool expects (h, w, c) images, got shape {tuple(input_shape)}")
        self.input_shape = tuple(input_shape)
        return (input_shape[2],)

    def forward(self, X, training=False):
        return X.mean(axis=(1, 2))  # (n, h, w, c) -> (n, c)

    def backward(self, dA, need_dX=True):
        if not need_dX:
            return None
        h, w, c = self.input_shape
        dX = np.broadcast_to(dA[:, None, None, :] / (h * w), (len(dA), h, w, c))  # (n, 1, 1, c) -> (n, h, w, c)
        return dX.copy()

    def config(self):
        return {"type": "globalavgpool"}


class BatchNorm(Layer):
    """Batch normalisation (Ioffe & Szegedy 2015) over every axis but the last (the features or channels).

    Shapes: ``X (n, k)`` after a dense layer or ``(n, h, w, c)`` after a convolution, each channel
    normalised over its ``m = n`` or ``n*h*w`` values; ``gamma``, ``beta`` are ``(c,)``.

    Training: ``xhat = (X - mu) / sqrt(var + eps)`` with the batch's mean and (biased) variance,
    ``Y = gamma * xhat + beta``; the running mean and unbiased variance move by
    ``running <- momentum * running + (1 - momentum) * batch`` (kept in ``buffers`` and saved).
    Inference uses the running statistics instead, so ``Y`` is an affine function of ``X``.

    Backward: ``dbeta = sum dY``, ``dgamma = sum dY * xhat`` and, since ``mu`` and ``var`` depend on
    every value of the channel, ``dX = gamma / sqrt(var + eps) * (dY - dbeta / m - xhat * dgamma / m)``
    (after an inference forward the last two terms vanish).

    ``relu=True`` applies ReLU to ``Y`` (``max(Y, 0)``; backward first zeroes ``dY`` where ``Y`` is 0):
    the same function as ``BatchNorm()`` then ``ActivationLayer("relu")``, which the fast kernel
    computes in the same passes over memory.
    """

    def __init__(self, momentum: float = 0.9, eps: float = 1e-5, relu: bool = False) -> None:
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"batch-norm momentum must be in [0, 1), not {momentum}")
        if not eps > 0:
            raise ValueError(f"batch-norm eps must be positive, not {eps}")
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.relu = bool(relu)
        self.nonlinearity = "relu" if self.relu else None

    def build(self, input_shape, rng, dtype):
        c = input_shape[-1]
        # After a dense layer (or on a 1 x 1 map) a sample gives one value per channel: a batch of
        # one normalises every value to exactly beta, and nothing below it would learn.
        self.min_batch = 2 if int(np.prod(input_shape[:-1])) == 1 else 1
        self.params = {"gamma": np.ones((c,), dtype), "beta": np.zeros((c,), dtype)}
        self.buffers = {"running_mean": np.zeros((c,), dtype), "running_var": np.ones((c,), dtype)}
        return tuple(input_shape)

    def forward(self, X, training=False):
        axes = tuple(range(X.ndim - 1))  # every axis but the channels
        if training:
            m = X.size // X.shape[-1]
            if m < 2:
                raise ValueError(f"batch normalisation needs at least 2 values per channel in training, got {m}")
            # Summed in float64: a float32 sum of a large map drifts (1e-3 of error at a mean of 100).
            mu = X.mean(axis=axes, dtype=np.float64).astype(X.dtype)  # (c,)
            var = X.var(axis=axes, dtype=np.float64).astype(X.dtype)  # (c,), the biased variance
            mom = self.momentum
            self.buffers["running_mean"][...] = mom * self.buffers["running_mean"] + (1 - mom) * mu
            self.buffers["running_var"][...] = mom * self.buffers["running_var"] + (1 - mom) * var * (m / (m - 1))
        else:
            mu, var = self.buffers["running_mean"], self.buffers["running_var"]
        self.training = training
        self.inv_std = 1 / np.sqrt(var + self.eps)  # (c,)
        self.xhat = (X - mu) * self.inv_std  # (..., c)
        Y = self.params["gamma"] * self.xhat + self.params["beta"]  # (..., c)
        if self.relu:
            Y = np.maximum(Y, 0)
        self.Y = Y
        return Y

    def backward(self, dY, need_dX=True):
        if self.relu:
            dY = dY * (self.Y > 0)  # ReLU's backward first
        axes = tuple(range(dY.ndim - 1))
        m = dY.size // dY.shape[-1]
        dbeta = dY.sum(axis=axes)  # (c,)
        dgamma = (dY * self.xhat).sum(axis=axes)  # (c,)
        self.grads.update(gamma=dgamma, beta=dbeta)
        if not need_dX:
            return None
        scale = self.params["gamma"] * self.inv_std  # (c,)
        if not self.training:
            return dY * scale
        return scale * (dY - dbeta / m - self.xhat * dgamma / m)  # (..., c)

    def config(self):
        return {"type": "batchnorm", "momentum": self.momentum, "eps": self.eps, "relu": self.relu}


LAYERS: dict[str, type[Layer]] = {
    "dense": Dense,
    "activation": ActivationLayer,
    "reshape": Reshape,
    "flatten": Flatten,
    "dropout": Dropout,
    "conv2d": Conv2D,
    "maxpool2d": MaxPool2D,
    "globalavgpool": GlobalAvgPool,
    "batchnorm": BatchNorm,
}


def layer_from_config(config: dict[str, Any]) -> Layer:
    """Rebuild a layer from ``Layer.config()``; unknown types raise ``ValueError``."""
    args = dict(config)
    kind = args.pop("type", None)
    if kind not in LAYERS:
        raise ValueError(f"unknown layer type {kind!r}")
    return LAYERS[kind](**args)
