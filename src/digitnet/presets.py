"""Named training configurations: ``digitnet train --preset NAME``.

A preset fixes an architecture and the training flags that go with it; any flag given on the
command line overrides the preset's value.

* ``seed``: the classic network of Nielsen's chapter 1, unchanged: ``[784, 16, 16, 10]``, sigmoid,
  quadratic cost, N(0, 1) init, plain SGD with eta = 3.0, batch 10, 30 epochs.
"""

from __future__ import annotations

from typing import Any

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
}
