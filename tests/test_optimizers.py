"""Optimizers: hand-computed steps, validation of hyper-parameters, schedules."""

import numpy as np
import pytest

from digitnet.nn.optimizers import SGD, Adam, Momentum, learning_rate, make_optimizer


def test_sgd_step():
    w, g = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    SGD(0.1).step([w], [g])
    np.testing.assert_allclose(w, [0.95, 2.1])


def test_weight_decay_applies_to_matrices_only():
    W, b = np.ones((2, 2)), np.ones(2)
    SGD(0.1, weight_decay=0.5).step([W, b], [np.zeros((2, 2)), np.zeros(2)])
    np.testing.assert_allclose(W, 0.95)  # 1 - 0.1 * 0.5 * 1
    np.testing.assert_allclose(b, 1.0)


def test_momentum_and_nesterov_two_steps():
    # v1 = -0.1 * 1 = -0.1, w1 = 0.9; v2 = 0.9 * -0.1 - 0.1 = -0.19, w2 = 0.71
    w = np.array([1.0])
    opt = Momentum(0.1, 0.9)
    for _ in range(2):
        opt.step([w], [np.array([1.0])])
    np.testing.assert_allclose(w, [0.71])
    # Nesterov: w1 = 1 + 0.9 * -0.1 - 0.1 = 0.81; w2 = 0.81 + 0.9 * -0.19 - 0.1 = 0.539
    w = np.array([1.0])
    opt = Momentum(0.1, 0.9, nesterov=True)
    for _ in range(2):
        opt.step([w], [np.array([1.0])])
    np.testing.assert_allclose(w, [0.539])


def test_adam_first_step_moves_by_lr_times_sign():
    # After one step m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps) ~ lr * sign(g).
    w = np.array([1.0, 1.0])
    Adam(0.01).step([w], [np.array([3.0, -0.2])])
    np.testing.assert_allclose(w, [0.99, 1.01], rtol=1e-6)


def test_adam_minimises_a_quadratic():
    w = np.array([5.0, -3.0])
    opt = Adam(0.1)
    for _ in range(500):
        opt.step([w], [2 * w])
    assert np.abs(w).max() < 1e-2


def test_state_dict_round_trip_continues_identically():
    w1, w2 = np.array([1.0, 2.0]), np.array([1.0, 2.0])
    a = Adam(0.1)
    a.step([w1], [np.array([0.3, 0.1])])
    b = Adam(0.1)
    b.load_state_dict({k: v.copy() for k, v in a.state_dict().items()}, [w2])
    w2[...] = w1
    for opt, w in ((a, w1), (b, w2)):
        opt.step([w], [np.array([0.2, -0.4])])
    assert w1.tobytes() == w2.tobytes()


@pytest.mark.parametrize("make", [
    lambda: SGD(0.0), lambda: SGD(-1), lambda: SGD(float("nan")), lambda: SGD(0.1, weight_decay=-1),
    lambda: Momentum(0.1, 1.0), lambda: Adam(0.1, beta1=1.0), lambda: Adam(0.1, eps=0),
    lambda: make_optimizer("rmsprop", 0.1),
])
def test_bad_hyper_parameters_are_refused(make):
    with pytest.raises(ValueError):
        make()


def test_schedules():
    assert learning_rate(1.0, 5, 10) == 1.0
    assert learning_rate(1.0, 0, 30, "step", step_size=10) == 1.0
    assert learning_rate(1.0, 10, 30, "step", step_size=10) == pytest.approx(0.1)
    assert learning_rate(1.0, 25, 30, "step", step_size=10) == pytest.approx(0.01)
    assert learning_rate(1.0, 0, 11, "cosine") == pytest.approx(1.0)
    assert learning_rate(1.0, 5, 11, "cosine") == pytest.approx(0.01 + 0.99 * 0.5)
    assert learning_rate(1.0, 10, 11, "cosine") == pytest.approx(0.01)
    assert [learning_rate(1.0, e, 10, "cosine", warmup=3) for e in range(3)] == pytest.approx([0.25, 0.5, 0.75])
    assert learning_rate(1.0, 3, 10, "cosine", warmup=3) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        learning_rate(1.0, 0, 10, "exponential")


def test_adam_is_the_papers_update_written_out():
    """Three steps by Kingma & Ba's algorithm 1, computed here in float64 line by line."""
    rng = np.random.default_rng(0)
    p = rng.standard_normal((3, 4))
    book_p, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
    opt = Adam(0.01)
    for t in range(1, 4):
        g = rng.standard_normal(p.shape)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        book_p = book_p - 0.01 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        opt.step([p], [g])
    np.testing.assert_allclose(p, book_p, rtol=1e-14)
