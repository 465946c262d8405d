"""Named training configurations: ``digitnet train --preset NAME``.

A preset fixes an architecture and the training flags that go with it; any flag given on the
command line overrides the preset's value.

* ``seed``: the classic network of Nielsen's chapter 1, unchanged: ``[784, 16, 16, 10]``, sigmoid,
  quadratic cost, N(0, 1) init, plain SGD with eta = 3.0, batch 10, 30 epochs.
* ``mlp``: the best dense network here: 784-1024-1024-10, each hidden layer He-initialised,
  batch-normalised, ReLU and 30 % dropout; softmax with cross-entropy; Adam (eta 1e-3) on a cosine
  schedule, batch 128, 40 epochs, on images randomly shifted (2 px), rotated (10 degrees) and
  scaled (10 %) anew in every epoch (``digitnet.augment``).
* ``cnn-robust``: ``cnn`` trained also on 10 000 generated non-digits with a uniform target
  (outlier exposure, ``digitnet.outliers``), with 30 % of the digits redrawn from their skeletons
  at a random pen width (radius 0.5 to 2 px), slanted (shear up to 0.2) and stretched (up to
  15 %), as drawn on a canvas (``digitnet.augment``).
* ``cnn-drawn``: ``cnn`` with 256 dense units, 30 epochs, 1 000 digits of each style that MNIST
  lacks (slashed zeros, crossed sevens, flagged ones: ``digitnet.styles``), 12 000 training digits
  drawn with a fat brush and worn down as ``to_mnist`` wears a drawing down (``styles.fat_drawn``)
  and ``cnn-robust``'s stroke augmentation; after training, the batch-norm statistics are measured
  again on the plain training images (``--refresh-bn``), which the augmented batches had pulled
  away from them.
* ``cnn``: a small VGG-style convolutional network that trains on two CPU cores: two blocks of two
  3 x 3 convolutions (32 then 64 filters, no padding) each followed by batch norm and ReLU, 2 x 2
  max pooling after each block, then 128 dense units (batch norm, ReLU, 40 % dropout) and softmax.
  Adam (eta 1e-3), cosine schedule, batch 128, 20 epochs, the same augmentation as ``mlp``.

Three rewrites make the presets cheaper without changing the function they compute:

* a dense or convolutional layer followed by batch norm has no bias: the norm subtracts each
  channel's batch mean, so a bias there cancels exactly and its gradient is zero;
* each block pools before its last ReLU: ReLU is monotone, so ``max(relu(a), relu(b)) =
  relu(max(a, b))``, and the ReLU then runs on a quarter of the values;
* every other ReLU, which follows batch norm, runs inside it (``BatchNorm(relu=True)``), in the
  same passes over memory.
"""

from __future__ import annotations

from typing import Any

def _relu() -> dict[str, Any]:
    return {"type": "activation", "name": "relu"}


def _dense_block(units: int, dropout: float) -> list[dict[str, Any]]:
    block = [{"type": "dense", "units": units, "init": "he", "bias": False}, {"type": "batchnorm", "relu": True}]
    return block + ([{"type": "dropout", "rate": dropout}] if dropout else [])


def _conv_block(filters: int) -> list[dict[str, Any]]:
    conv = {"type": "conv2d", "filters": filters, "kernel_size": 3, "init": "he", "bias": False}
    return [conv, {"type": "batchnorm", "relu": True}, conv, {"type": "batchnorm"},
            {"type": "maxpool2d", "pool_size": 2}, _relu()]


_SOFTMAX = [{"type": "dense", "units": 10, "init": "he"}, {"type": "activation", "name": "softmax"}]
_AUGMENT = {"shift": 2.0, "rotate": 10.0, "scale": 0.1}

PRESETS: dict[str, dict[str, Any]] = {
    "seed": {
        "sizes": [784, 16, 16, 10],
        "activation": "sigmoid",
        "output_activation": "sigmoid",
        "cost": "quadratic",
        "init": "normal",
        "epochs": 30,
        "batch_size": 10,
        "optimizer": "sgd",
        "eta": 3.0,
    },
    "mlp": {
        "layers": [*_dense_block(1024, 0.3), *_dense_block(1024, 0.3), *_SOFTMAX],
        "cost": "cross-entropy",
        "epochs": 40,
        "batch_size": 128,
        "optimizer": "adam",
        "eta": 1e-3,
        "schedule": "cosine",
        "augment": _AUGMENT,
    },
    "cnn": {
        "layers": [{"type": "reshape", "shape": [28, 28, 1]}, *_conv_block(32), *_conv_block(64),
                   {"type": "flatten"}, *_dense_block(128, 0.4), *_SOFTMAX],
        "cost": "cross-entropy",
        "epochs": 20,
        "batch_size": 128,
        "optimizer": "adam",
        "eta": 1e-3,
        "schedule": "cosine",
        "augment": _AUGMENT,
    },
}

PRESETS["cnn-drawn"] = {
    **PRESETS["cnn"],
    "layers": [{"type": "reshape", "shape": [28, 28, 1]}, *_conv_block(32), *_conv_block(64),
               {"type": "flatten"}, *_dense_block(256, 0.4), *_SOFTMAX],
    "epochs": 30,
    "styles": 1000,
    "fat_strokes": 12_000,
    "augment": {**_AUGMENT, "stroke": 0.3, "radius_min": 0.5, "radius_max": 2.0, "slant": 0.2, "aspect": 0.15},
    "refresh_bn": True,
}

PRESETS["cnn-robust"] = {
    **PRESETS["cnn"],
    "outliers": 10_000,
    "augment": {**_AUGMENT, "stroke": 0.3, "radius_min": 0.5, "radius_max": 2.0, "slant": 0.2, "aspect": 0.15},
}

# What a flag means when neither the command line nor a preset sets it.
DEFAULTS: dict[str, Any] = {
    **PRESETS["seed"],
    "momentum": 0.9,
    "weight_decay": 0.0,
    "schedule": "constant",
    "warmup": 0,
    "early_stopping": 0,
    "dropout": 0.0,
    "augment": None,
    "layers": None,
    "dtype": "float32",
    "seed": 0,
    "dataset": "mnist",
    "validation": 10_000,
    "outliers": 0,
    "styles": 0,
    "fat_strokes": 0,
    "refresh_bn": False,
}
