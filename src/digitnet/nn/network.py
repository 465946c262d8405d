"""The network: a stack of layers, a cost, and backpropagation over a whole mini-batch.

``Network([784, 16, 16, 10])`` is the classic network of Nielsen's chapter 1: sigmoid everywhere,
quadratic cost, N(0, 1) weights and biases. A list of ``Layer`` objects builds anything else, e.g.
a convolutional network. Batches are rows: ``X`` is ``(n, 784)`` and the output ``(n, 10)``.
(``digitnet.classic`` is the chapter-1 network alone, with the book's names.)

Backpropagation, in the book's equations, for a dense layer ``l`` with ``z^l = a^{l-1} W^l + b^l``:

* BP1, the output error: ``delta^L = dC/dz^L``, from the cost (``Cost.delta``);
* BP2, the error one layer down: ``delta^{l-1} = (delta^l W^l^T) * sigma'(z^{l-1})``, split between
  the dense layer (``dX = dZ W^T``) and the activation layer below it (``* sigma'(z)``);
* BP3 and BP4, the gradients: ``dC/db^l = sum_rows delta^l``, ``dC/dW^l = a^{l-1}^T delta^l``.

Each layer's ``backward`` applies its own part, so the same loop serves convolutions too.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .costs import get_cost
from .layers import ActivationLayer, Dense, Layer, layer_from_config

DTYPES = ("float32", "float64")


def confusion_matrix(y: np.ndarray, pred: np.ndarray, k: int = 10) -> np.ndarray:
    """``C[i, j]`` counts the images of class ``i`` predicted as ``j``."""
    C = np.zeros((k, k), dtype=np.int64)
    np.add.at(C, (y, pred), 1)
    return C


def summarize(configs: Sequence[dict[str, Any]]) -> str:
    """A short name for a layer list, e.g. ``conv32 bn relu conv32 bn relu pool2 ... dense10 softmax``."""
    words = {"conv2d": lambda c: f"conv{c['filters']}", "dense": lambda c: f"dense{c['units']}",
             "maxpool2d": lambda c: f"pool{c.get('pool_size', 2)}",
             "batchnorm": lambda c: "bn relu" if c.get("relu") else "bn",
             "dropout": lambda c: f"drop{c['rate']:g}", "activation": lambda c: c["name"],
             "globalavgpool": lambda c: "gap"}
    return " ".join(words[c["type"]](c) for c in configs if c["type"] in words)


def dense_stack(
    sizes: Sequence[int], activation: str = "sigmoid", output: str = "sigmoid", init: str = "normal"
) -> list[Layer]:
    """The layers of a dense network with layer widths ``sizes`` (input width first)."""
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ValueError(f"sizes must list at least two positive widths, got {list(sizes)}")
    layers: list[Layer] = []
    for i, units in enumerate(sizes[1:]):
        last = i == len(sizes) - 2
        layers += [Dense(int(units), init=init), ActivationLayer(output if last else activation)]
    return layers


class Network:
    """A feed-forward network trained by backpropagation.

    Parameters
    ----------
    spec : list of int or list of Layer
        Layer widths such as ``[784, 16, 16, 10]`` (a dense stack), or the layers themselves.
    activation, output, init : str
        For a ``sizes`` spec: the hidden activation, the output activation and the weight init
        (see ``digitnet.nn.layers.init_weights``). Ignored for a list of layers.
    cost : {"quadratic", "cross-entropy"}
    seed : int or numpy.random.Generator
        All randomness (init, shuffling, dropout) is drawn from one generator, ``self.rng``.
    dtype : {"float32", "float64"}
    input_shape : tuple, optional
        The shape of one sample; default ``(sizes[0],)`` or ``(784,)``.
    """

    def __init__(
        self,
        spec: Sequence[int] | Sequence[Layer],
        activation: str = "sigmoid",
        output: str = "sigmoid",
        cost: str = "quadratic",
        init: str = "normal",
        seed: int | np.random.Generator = 0,
        dtype: str = "float32",
        input_shape: tuple[int, ...] | None = None,
    ) -> None:
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
        spec = list(spec)
        if spec and all(isinstance(s, (int, np.integer)) for s in spec):
            self.layers = dense_stack(spec, activation, output, init)
            input_shape = input_shape or (int(spec[0]),)
        elif spec and all(isinstance(s, Layer) for s in spec):
            self.layers = spec
        else:
            raise ValueError("spec must be a list of layer widths or a list of Layer objects")
        self.input_shape = tuple(input_shape or (784,))
        self.dtype = np.dtype(dtype)
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        shape = self.input_shape
        self.widest = int(np.prod(shape))  # the most values one sample takes in any array a layer makes
        for layer in self.layers:
            shape = layer.build(shape, self.rng, self.dtype)
            self.widest = max(self.widest, int(np.prod(shape)), layer.work_values)
        self.output_shape = shape
        # No layer below this one has parameters, so backprop need not compute its dX.
        self.first_trained = next((i for i, layer in enumerate(self.layers) if layer.params), 0)
        last = self.layers[-1]
        self.output = last.name if isinstance(last, ActivationLayer) else "linear"
        self.cost_name = cost
        self.cost = get_cost(cost, self.output)
        # A second network that reads this one's features and scores "is this a digit?" (set by
        # digitnet.persistence when the model file holds one; see digitnet.detector).
        self.detector: Network | None = None

    @property
    def min_batch(self) -> int:
        """The smallest training batch every layer can learn from (2 with batch norm of one value
        per channel and sample, as after a dense layer; else 1)."""
        return max(layer.min_batch for layer in self.layers)

    # -- parameters ---------------------------------------------------------------------------
    @property
    def params(self) -> list[np.ndarray]:
        """Every parameter array, in a fixed order (updated in place by the optimizers)."""
        return [p for layer in self.layers for p in layer.params.values()]

    @property
    def grads(self) -> list[np.ndarray]:
        """The gradients of the last ``backprop``, in the order of ``params``."""
        return [layer.grads[k] for layer in self.layers for k in layer.params]

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters and buffers by name, ``"<layer index>.<name>"``, e.g. ``"0.W"``."""
        return {
            f"{i}.{k}": v
            for i, layer in enumerate(self.layers)
            for k, v in {**layer.params, **layer.buffers}.items()
        }

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays into the parameters; names, shapes and dtypes must match exactly."""
        own = self.state_dict()
        if set(state) != set(own):
            missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
            raise ValueError(f"parameter names differ: missing {missing}, unexpected {extra}")
        for name, p in own.items():
            v = state[name]
            if v.shape != p.shape or v.dtype != p.dtype:
                raise ValueError(
                    f"parameter {name}: expected {p.dtype}{list(p.shape)}, got {v.dtype}{list(v.shape)}"
                )
            p[...] = v

    def config(self) -> dict[str, Any]:
        """The architecture as JSON-able data; ``Network.from_config`` rebuilds it."""
        return {
            "input_shape": list(self.input_shape),
            "layers": [layer.config() for layer in self.layers],
            "cost": self.cost_name,
            "dtype": self.dtype.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], seed: int | np.random.Generator = 0) -> Network:
        layers = [layer_from_config(c) for c in config["layers"]]
        return cls(layers, cost=config["cost"], seed=seed, dtype=config["dtype"],
                   input_shape=tuple(config["input_shape"]))

    def describe(self) -> str:
        """One line, e.g. ``784-16-16-10 sigmoid, quadratic`` or ``conv32 bn relu ... dense10 softmax, cross-entropy``."""
        dense = [l for l in self.layers if isinstance(l, Dense)]
        acts = [l.name for l in self.layers if isinstance(l, ActivationLayer)]
        if len(dense) * 2 == len(self.layers):
            widths = "-".join(str(n) for n in [self.input_shape[0], *(d.units for d in dense)])
            return f"{widths} {'/'.join(dict.fromkeys(acts))}, {self.cost_name}"
        return f"{summarize([l.config() for l in self.layers])}, {self.cost_name}"

    # -- forward and backward -----------------------------------------------------------------
    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        """The output activations for a batch ``X`` of shape ``(n, *input_shape)``."""
        A = X
        for layer in self.layers:
            A = layer.forward(A, training)
        return A

    def backward(self, dA: np.ndarray, need_dX: bool = False, below: int | None = None) -> np.ndarray | None:
        """Backpropagate ``dA`` through the layers under index ``below`` (default: all of them),
        filling ``grads``; with ``need_dX`` also return the gradient with respect to the input.
        ``dA`` is left as it is (the layers get a copy, see ``Layer.backward``)."""
        return self._backward(np.array(dA, self.dtype), need_dX, below)

    def _backward(self, dA: np.ndarray, need_dX: bool = False, below: int | None = None) -> np.ndarray | None:
        """``backward`` for a ``dA`` of the network's own, which the layers may overwrite."""
        for i in reversed(range(len(self.layers) if below is None else below)):
            dA = self.layers[i].backward(dA, need_dX=need_dX or i > self.first_trained)  # BP2, layer by layer
        return dA

    def backprop(self, X: np.ndarray, Y: np.ndarray) -> float:
        """One forward and backward pass over a mini-batch; returns its mean cost.

        ``X`` is ``(n, *input_shape)`` and ``Y`` the one-hot targets ``(n, 10)``. Afterwards
        ``self.grads`` holds d(mean cost)/d(parameter) for each of ``self.params`` (BP3, BP4). The
        output layer's delta comes from the cost (BP1; fused with sigmoid or softmax where that is
        exact, see ``digitnet.nn.costs``).
        """
        A = self.forward(X, training=True)  # (n, 10)
        cost = self.cost.fn(A, Y)
        last = self.layers[-1]
        if isinstance(last, ActivationLayer):
            delta = self.cost.delta(last.Z, A, Y, last.activation)  # (n, 10): BP1
            self._backward(delta, below=len(self.layers) - 1)
        else:
            self._backward(self.cost.derivative(A, Y))
        return cost

    def input_gradient(self, X: np.ndarray, k: int | np.ndarray, before_output: bool = True) -> np.ndarray:
        """The saliency map of class ``k``: d(score k)/dX for each row of ``X`` (k an int or one per row).

        With ``before_output`` (the default) the score is the class's value *before* the output
        activation, as in Simonyan et al. (2013): a saturated probability (0.99999 rounds to 1 in
        float32) has a gradient of rounding noise, while the score's gradient shows which pixels
        make the digit. ``before_output=False`` differentiates the output activation itself.
        """
        A = self.forward(np.asarray(X, self.dtype))  # fills every layer's cache
        skip_output = before_output and isinstance(self.layers[-1], ActivationLayer)
        dA = np.zeros_like(A)  # (n, 10)
        dA[np.arange(len(A)), k] = 1.0
        return self._backward(dA, need_dX=True, below=len(self.layers) - skip_output)  # (n, *input_shape)

    def trace(self, X: np.ndarray) -> list[np.ndarray]:
        """The output of every layer for ``X`` (for looking inside the network)."""
        outs, A = [], np.asarray(X, self.dtype)
        for layer in self.layers:
            A = layer.forward(A, False)
            outs.append(A)
        return outs

    # -- inference ----------------------------------------------------------------------------
    # Inference chunks hold at most this many values in the widest array a layer makes (its
    # output, or a convolution's im2col patches): 16 MB in float32, 2,000 rows of a dense network,
    # 25 images in the cnn preset (24 x 24 patches of 3 x 3 x 32 values each). Under 32 MB, the C
    # library (glibc) keeps freed arrays for the next chunk; a larger one is mapped fresh from the
    # system every time: in the app's server, one batch of 109 candidates read twice as slowly.
    CHUNK_VALUES = 1 << 22

    def chunk_rows(self, batch_size: int = 2000) -> int:
        """How many rows inference takes at a time: at most ``batch_size``, fewer for wide
        networks (``CHUNK_VALUES``)."""
        return max(1, min(batch_size, self.CHUNK_VALUES // self.widest))

    def predict_raw(self, X: np.ndarray, batch_size: int = 2000) -> np.ndarray:
        """The output layer's activations, computed in chunks of at most ``batch_size`` rows
        (fewer for wide networks, see ``chunk_rows``)."""
        X = np.asarray(X, self.dtype)
        batch_size = self.chunk_rows(batch_size)
        return np.concatenate(
            [self.forward(X[i:i + batch_size]) for i in range(0, max(len(X), 1), batch_size)]
        )  # (n, 10)

    def predict_proba(self, X: np.ndarray, batch_size: int = 2000) -> np.ndarray:
        """Class scores ``(n, 10)`` that sum to 1 per row.

        For a softmax output these are the model's probabilities. Sigmoid outputs are independent
        scores in (0, 1); they are divided by their row sum, which keeps the ranking.
        """
        return self.to_proba(self.predict_raw(X, batch_size))

    def to_proba(self, A: np.ndarray) -> np.ndarray:
        """Output activations ``(n, 10)`` as the class scores of ``predict_proba``."""
        if self.output == "softmax":
            return A
        A = np.maximum(A, 0)
        s = A.sum(axis=1, keepdims=True)  # (n, 1)
        return np.divide(A, s, out=np.full_like(A, 1.0 / A.shape[1]), where=s > 0)

    def predict(self, X: np.ndarray, batch_size: int = 2000) -> np.ndarray:
        """The predicted class of each row, ``(n,)``."""
        return self.predict_raw(X, batch_size).argmax(axis=1)

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> float:
        """Accuracy: the fraction of rows whose predicted class equals the label ``y``."""
        return float(np.mean(self.predict(X) == y))

    def total_cost(self, X: np.ndarray, Y: np.ndarray, batch_size: int = 2000) -> float:
        """The mean cost over a whole set (one-hot ``Y``)."""
        return self.cost.fn(self.predict_raw(X, batch_size), Y)
