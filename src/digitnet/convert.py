"""``digitnet convert``: a network pickled by the book's ``network.py`` as a digitnet model file.

Readers of *Neural Networks and Deep Learning* often save their trained network with
``pickle.dump(net, f)``: an instance of ``network.Network`` with the attributes ``num_layers``,
``sizes``, ``biases`` (column vectors ``(n_out, 1)``) and ``weights`` (``(n_out, n_in)``). A pickle
is a program, though: its GLOBAL opcodes import any callable by name and its REDUCE opcodes call
them, so loading a stranger's pickle can run anything. This module never unpickles freely: its
unpickler resolves only the names such a file needs (the stand-in for ``network.Network``, and
NumPy's array constructors, as ``digitnet.data.RestrictedUnpickler`` does for ``mnist.pkl.gz``),
refuses any other name before importing it, and accepts only those four attributes. The
network is rebuilt as ``digitnet.nn``'s sigmoid network with quadratic cost, in float64, so the
weights are kept exactly and it predicts as the pickled one did.
"""

from __future__ import annotations

import copyreg
import hashlib
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from .data import DataError, RestrictedUnpickler
from .nn.network import Network

MAX_PICKLE_BYTES = 1 << 30  # 1 GiB: a [784, 30, 10] network pickles to under 200 kB


class ConvertError(Exception):
    """A file that is not a pickled ``network.Network`` we can read (one line)."""


class BookNetwork:
    """Stands in for ``network.Network`` while unpickling: it takes the book's four attributes and
    nothing else (no method of the pickled class exists here, so none can run)."""

    ATTRIBUTES = {"num_layers", "sizes", "biases", "weights"}

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict) or not set(state) <= self.ATTRIBUTES:
            found = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ConvertError(f"a network.Network with attributes {found}: expected {sorted(self.ATTRIBUTES)}")
        self.__dict__.update(state)


def _frombuffer(buf: Any, dtype: Any, shape: tuple[int, ...], order: str) -> np.ndarray:
    """NumPy's ``_frombuffer`` (arrays in pickle protocol 5): an array over the pickled bytes, copied."""
    return np.frombuffer(buf, dtype=np.dtype(dtype)).reshape(shape, order=order).copy()


class NetworkUnpickler(RestrictedUnpickler):
    """``RestrictedUnpickler`` plus the names a pickled ``network.Network`` instance needs."""

    _ALLOWED = {
        **RestrictedUnpickler._ALLOWED,
        ("network", "Network"): BookNetwork,
        ("__main__", "Network"): BookNetwork,  # pickled from the book's script run as a program
        ("copy_reg", "_reconstructor"): copyreg._reconstructor,  # Python 2 and protocols 0, 1
        ("copyreg", "_reconstructor"): copyreg._reconstructor,
        ("__builtin__", "object"): object,
        ("builtins", "object"): object,
        ("numpy.core.numeric", "_frombuffer"): _frombuffer,
        ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    }


def read_book_pickle(path: str | Path) -> tuple[list[int], list[np.ndarray], list[np.ndarray], str]:
    """``(sizes, weights, biases, sha256)`` of a pickled ``network.Network``, checked for shape and
    value; anything else raises ``ConvertError`` naming the file and the problem."""
    path = Path(path)
    try:
        if not path.is_file():
            raise ConvertError("not a regular file")
        raw = path.read_bytes() if path.stat().st_size <= MAX_PICKLE_BYTES else None
        if raw is None:
            raise ConvertError(f"larger than {MAX_PICKLE_BYTES >> 20} MB")
        net = NetworkUnpickler(io.BytesIO(raw), encoding="latin1").load()  # latin1: Python 2 pickles
        if not isinstance(net, BookNetwork) or set(vars(net)) < {"sizes", "biases", "weights"}:
            raise ConvertError("it holds no network.Network")
        sizes, weights, biases = net.sizes, net.weights, net.biases
        if not (isinstance(sizes, (list, tuple)) and len(sizes) >= 2
                and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes)):
            raise ConvertError(f"sizes must list at least two positive integers, not {sizes!r}"[:200])
        layers = len(sizes) - 1
        if not (isinstance(weights, list) and isinstance(biases, list) and len(weights) == len(biases) == layers):
            raise ConvertError(f"expected {layers} weight matrices and bias vectors for sizes {list(sizes)}")
        for i, (w, b) in enumerate(zip(weights, biases)):
            n_in, n_out = sizes[i], sizes[i + 1]
            if not (isinstance(w, np.ndarray) and isinstance(b, np.ndarray)) or w.dtype.kind != "f" or b.dtype.kind != "f":
                raise ConvertError(f"layer {i + 1}'s weights and biases must be float arrays")
            if w.shape != (n_out, n_in) or b.shape != (n_out, 1):
                raise ConvertError(f"layer {i + 1}: weights {w.shape} and biases {b.shape}, expected "
                                   f"{(n_out, n_in)} and {(n_out, 1)}")
            if not (np.isfinite(w).all() and np.isfinite(b).all()):
                raise ConvertError(f"layer {i + 1} holds NaN or infinite values")
    except (ConvertError, DataError) as e:
        raise ConvertError(f"{path}: {e}") from None
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, MemoryError, RecursionError, UnicodeDecodeError, OverflowError) as e:
        reason = " ".join(str(e).split())  # one line, whatever the message
        raise ConvertError(f"{path}: not a readable pickle of network.Network ({type(e).__name__}: {reason})"[:300]) from None
    return list(sizes), weights, biases, hashlib.sha256(raw).hexdigest()


def to_network(sizes: list[int], weights: list[np.ndarray], biases: list[np.ndarray]) -> Network:
    """The book's network as ``digitnet.nn``'s: ``W = weights[l].T`` (batches are rows), ``b = biases[l]``."""
    net = Network(sizes, activation="sigmoid", output="sigmoid", cost="quadratic", dtype="float64")
    for dense, w, b in zip(net.layers[0::2], weights, biases):
        dense.params["W"][...] = w.T  # (n_out, n_in) -> (n_in, n_out)
        dense.params["b"][...] = b.ravel()  # (n_out, 1) -> (n_out,)
    return net
