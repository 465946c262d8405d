"""Optimizers and learning-rate schedules, kept apart from the model.

An optimizer updates parameter arrays in place: ``step(params, grads)`` with two lists in the
same order (``Network.params`` and ``Network.grads``). Per-parameter state (velocities, moments)
lives in the optimizer, is created lazily on the first step and is exposed by ``state_dict`` so a
checkpoint can resume bit-identically. Hyper-parameters are checked on construction.

Each ``update`` is the rule as the papers write it, over whole arrays; ``digitnet.fast.optimizers``
holds a faster Adam that the tests keep equal to this one.

L2 weight decay adds ``weight_decay * w`` to the gradient of every weight matrix (arrays with
two or more axes); biases and batch-norm scales are not decayed.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _check(name: str, value: float, low: float, high: float = np.inf, low_open: bool = False) -> float:
    value = float(value)
    ok = (low < value if low_open else low <= value) and value < high
    if not ok or not np.isfinite(value):
        bound = f"{'(' if low_open else '['}{low}, {high})"
        raise ValueError(f"{name} must be in {bound}, not {value}")
    return value


class Optimizer:
    """Base class: learning rate ``lr`` and L2 ``weight_decay``."""

    name = ""

    def __init__(self, lr: float, weight_decay: float = 0.0) -> None:
        self.lr = _check("learning rate", lr, 0.0, low_open=True)
        self.weight_decay = _check("weight decay", weight_decay, 0.0)
        self.t = 0
        self.state: list[dict[str, np.ndarray]] = []

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Update every parameter in place from its gradient (``Network.params``, ``Network.grads``)."""
        self.t += 1
        if not self.state:
            self.state = [self.init_state(p) for p in params]
        decay = self.weight_decay
        for p, g, s in zip(params, grads, self.state):
            self.update(p, g + decay * p if decay and p.ndim >= 2 else g, s)

    def init_state(self, p: np.ndarray) -> dict[str, np.ndarray]:
        return {}

    def update(self, p: np.ndarray, g: np.ndarray, s: dict[str, np.ndarray]) -> None:
        """Change ``p`` in place (``p -= ...``: the network holds references to these arrays)."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "lr": self.lr, "weight_decay": self.weight_decay}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Arrays by name ``"<param index>.<slot>"`` plus the step counter ``"t"``."""
        out = {f"{i}.{k}": v for i, s in enumerate(self.state) for k, v in s.items()}
        out["t"] = np.array(self.t, dtype=np.int64)
        return out

    def load_state_dict(self, state: dict[str, np.ndarray], params: list[np.ndarray]) -> None:
        self.t = int(state["t"])
        if self.t == 0:  # saved before the first step: no state yet
            self.state = []
            return
        self.state = [self.init_state(p) for p in params]
        for i, s in enumerate(self.state):
            for k in s:
                s[k][...] = state[f"{i}.{k}"]


class SGD(Optimizer):
    """Plain gradient descent, ``w <- w - eta * dC/dw`` (Nielsen's update rule)."""

    name = "sgd"

    def update(self, p, g, s):
        p -= self.lr * g


class Momentum(Optimizer):
    """Heavy-ball momentum, ``v <- mu v - eta g; w <- w + v``; with ``nesterov`` the step looks ahead,
    ``w <- w + mu v - eta g`` (Sutskever et al. 2013, in the form PyTorch and Keras use)."""

    name = "momentum"

    def __init__(self, lr: float, momentum: float = 0.9, nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self.momentum = _check("momentum", momentum, 0.0, 1.0)
        self.nesterov = bool(nesterov)

    def init_state(self, p):
        return {"v": np.zeros_like(p)}

    def update(self, p, g, s):
        v = s["v"]
        v[...] = self.momentum * v - self.lr * g
        if self.nesterov:
            p += self.momentum * v - self.lr * g
        else:
            p += v

    def config(self):
        return {**super().config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): ``m``, ``v`` running means of ``g`` and ``g^2`` with bias correction,
    ``w <- w - eta * m_hat / (sqrt(v_hat) + eps)``."""

    name = "adam"

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self.beta1 = _check("beta1", beta1, 0.0, 1.0)
        self.beta2 = _check("beta2", beta2, 0.0, 1.0)
        self.eps = _check("eps", eps, 0.0, low_open=True)

    def init_state(self, p):
        return {"m": np.zeros_like(p), "v": np.zeros_like(p)}

    def update(self, p, g, s):
        b1, b2, m, v = self.beta1, self.beta2, s["m"], s["v"]
        m[...] = b1 * m + (1 - b1) * g  # the running mean of the gradient
        v[...] = b2 * v + (1 - b2) * g * g  # and of its square
        m_hat = m / (1 - b1 ** self.t)  # bias corrections: m and v start at 0
        v_hat = v / (1 - b2 ** self.t)
        p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def config(self):
        return {**super().config(), "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")


def make_optimizer(name: str, lr: float, momentum: float = 0.9, weight_decay: float = 0.0) -> Optimizer:
    """Build an optimizer by CLI name: sgd, momentum, nesterov or adam."""
    if name == "sgd":
        return SGD(lr, weight_decay=weight_decay)
    if name in ("momentum", "nesterov"):
        return Momentum(lr, momentum, nesterov=name == "nesterov", weight_decay=weight_decay)
    if name == "adam":
        return Adam(lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}: choose from {', '.join(OPTIMIZERS)}")


SCHEDULES = ("constant", "step", "cosine")


def learning_rate(base: float, epoch: int, epochs: int, schedule: str = "constant",
                  warmup: int = 0, step_size: int = 10, gamma: float = 0.1) -> float:
    """The learning rate for ``epoch`` (0-based) of ``epochs``.

    * ``warmup`` epochs rise linearly from ``base / (warmup + 1)`` to ``base`` (Goyal et al. 2017);
    * ``constant`` keeps ``base``; ``step`` multiplies by ``gamma`` every ``step_size`` epochs;
    * ``cosine`` follows ``base * (1 + cos(pi * t)) / 2`` with ``t`` from 0 to 1 after the warm-up
      (Loshchilov & Hutter 2017), reaching ``base / 100`` rather than 0 on the last epoch.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}: choose from {', '.join(SCHEDULES)}")
    if epoch < warmup:
        return base * (epoch + 1) / (warmup + 1)
    if schedule == "step":
        return base * gamma ** ((epoch - warmup) // step_size)
    if schedule == "cosine":
        span = max(epochs - warmup - 1, 1)
        t = min((epoch - warmup) / span, 1.0)
        return base * (0.01 + 0.99 * (1 + np.cos(np.pi * t)) / 2)
    return base
