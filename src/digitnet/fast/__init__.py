"""Fast kernels beside the textbook implementation in ``digitnet.nn``, never instead of it.

``digitnet.nn`` is the code to read: each layer's forward and backward pass written as the
equations go, over the whole mini-batch. The kernels here compute the same functions faster on a
CPU, and the tests hold each one to its textbook twin within a float tolerance:

* ``layers``: subclasses of the textbook layers (dense, convolution, max pooling, batch norm)
  whose passes run over cache-sized chunks on worker threads (``blas``);
* ``optimizers``: SGD's step in place, Adam over cache-sized blocks;
* ``fused``: the classic network's whole SGD epoch in fewer NumPy calls.

``accelerate(net)`` gives a network's layers their kernels in place (the parameters, the
configuration and the model file stay the same), ``textbook(net)`` takes them back, and
``kernels(net, optimizer)`` does both around a block, with the optimizer and the threads too:
``digitnet.training`` trains inside it unless asked for the textbook path (``reference=True``,
``digitnet train --reference``).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from ..nn import layers as nn_layers
from ..nn.network import Network
from ..nn.optimizers import SGD, Adam, Optimizer
from .blas import own_threads
from .layers import FastBatchNorm, FastConv2D, FastDense, FastMaxPool2D
from .optimizers import FastAdam, FastSGD

# Each textbook class with a fast kernel, and the kernel (a subclass with the same state).
KERNELS: dict[type, type] = {
    nn_layers.Dense: FastDense,
    nn_layers.Conv2D: FastConv2D,
    nn_layers.MaxPool2D: FastMaxPool2D,
    nn_layers.BatchNorm: FastBatchNorm,
    SGD: FastSGD,
    Adam: FastAdam,
}
TEXTBOOK: dict[type, type] = {fast: book for book, fast in KERNELS.items()}


def _swap(obj: object, table: dict[type, type]) -> None:
    """Give ``obj`` the class ``table`` maps its class to, if any: the kernels add methods, not state."""
    cls = table.get(type(obj))
    if cls is not None:
        obj.__class__ = cls
        if hasattr(obj, "prepare"):
            obj.prepare()


def accelerate(net: Network, optimizer: Optimizer | None = None) -> Network:
    """Give each layer of ``net`` (and ``optimizer``) its fast kernel, in place; returns ``net``.

    A first dense layer reads the pixels themselves and may skip their all-zero columns.
    """
    for layer in net.layers:
        _swap(layer, KERNELS)
    if isinstance(net.layers[0], FastDense):
        net.layers[0].sparse_input = True
    if optimizer is not None:
        _swap(optimizer, KERNELS)
    return net


def textbook(net: Network, optimizer: Optimizer | None = None) -> Network:
    """Undo ``accelerate``: every layer (and ``optimizer``) back to its textbook class; returns ``net``."""
    for obj in [*net.layers, *([optimizer] if optimizer is not None else [])]:
        _swap(obj, TEXTBOOK)
    return net


@contextlib.contextmanager
def kernels(net: Network, optimizer: Optimizer | None = None) -> Iterator[Network]:
    """``accelerate`` for the length of a block, then every class as it was (blocks may nest).

    A network with convolutions also holds OpenBLAS to one thread for the block and lets the
    worker threads have the cores (``blas.own_threads``): after a product it shares between
    threads, OpenBLAS keeps its threads spinning for a while, and a spinning thread takes the
    core a worker needs.
    """
    objects = [*net.layers, *([optimizer] if optimizer is not None else [])]
    before = [type(o) for o in objects]
    accelerate(net, optimizer)
    hold = own_threads() if any(isinstance(l, FastConv2D) for l in net.layers) else contextlib.nullcontext()
    try:
        with hold:
            yield net
    finally:
        for o, cls in zip(objects, before):
            o.__class__ = cls
