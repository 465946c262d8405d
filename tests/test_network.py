"""Backpropagation checked three ways: finite differences, a hand-worked SGD step, exact shapes."""

import itertools

import numpy as np
import pytest

from digitnet.nn.activations import ACTIVATIONS, get_activation
from digitnet.nn.costs import get_cost
from digitnet.nn.layers import layer_from_config
from digitnet.nn.network import Network
from digitnet.nn.optimizers import SGD


def numerical_grads(net, X, Y, h=1e-6):
    """Central differences (C(w + h) - C(w - h)) / 2h for every parameter entry."""
    grads = []
    for p in net.params:
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + h
            up = net.cost.fn(net.forward(X), Y)
            p[idx] = old - h
            down = net.cost.fn(net.forward(X), Y)
            p[idx] = old
            g[idx] = (up - down) / (2 * h)
        grads.append(g)
    return grads


def tiny_problem(seed=1, n=5, sizes=(6, 4, 3)):
    rng = np.random.default_rng(seed)
    X = rng.random((n, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
    return X, Y


COMBOS = [
    (hidden, output, cost, init)
    for hidden, output, cost, init in itertools.product(
        ["sigmoid", "tanh", "relu"], ["sigmoid", "softmax"], ["quadratic", "cross-entropy"],
        ["normal", "scaled", "he", "glorot"])
]


@pytest.mark.parametrize("hidden,output,cost,init", COMBOS)
def test_backprop_matches_finite_differences(hidden, output, cost, init):
    X, Y = tiny_problem()
    net = Network([6, 4, 3], activation=hidden, output=output, cost=cost, init=init, seed=3, dtype="float64")
    net.backprop(X, Y)
    analytic = [g.copy() for g in net.grads]
    for a, n in zip(analytic, numerical_grads(net, X, Y)):
        assert a.shape == n.shape
        np.testing.assert_allclose(a, n, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_backward_matches_finite_differences(name):
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(4, 5)) * 2
    dA = rng.normal(size=(4, 5))
    act = get_activation(name)
    dZ = act.backward(Z, act.fn(Z), dA)
    h = 1e-6
    num = np.zeros_like(Z)
    for idx in np.ndindex(Z.shape):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[idx] += h
        Zm[idx] -= h
        num[idx] = np.sum(dA * (act.fn(Zp) - act.fn(Zm))) / (2 * h)
    np.testing.assert_allclose(dZ, num, rtol=1e-6, atol=1e-9)


def test_network_backward_leaves_the_callers_gradient_alone():
    net = Network([layer_from_config(c) for c in [{"type": "dense", "units": 6}, {"type": "activation", "name": "relu"},
                                                   {"type": "dropout", "rate": 0.5}, {"type": "dense", "units": 3},
                                                   {"type": "activation", "name": "relu"}]], input_shape=(4,), seed=0)
    X = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    dA = np.random.default_rng(2).normal(size=(5, 3)).astype(np.float32)
    kept = dA.copy()
    net.forward(X, training=True)
    dX = net.backward(dA, need_dX=True)
    np.testing.assert_array_equal(dA, kept)
    assert dX.shape == X.shape


@pytest.mark.parametrize("cost,output", [("quadratic", "sigmoid"), ("quadratic", "softmax"),
                                         ("cross-entropy", "sigmoid"), ("cross-entropy", "softmax")])
def test_cost_derivative_and_fused_delta(cost, output):
    rng = np.random.default_rng(0)
    act = get_activation(output)
    Z = rng.normal(size=(3, 4))
    A = act.fn(Z)
    Y = np.eye(4)[[0, 3, 1]]
    c = get_cost(cost, output)
    h = 1e-6
    num_dA = np.zeros_like(A)
    num_dZ = np.zeros_like(Z)
    for idx in np.ndindex(A.shape):
        Ap, Am = A.copy(), A.copy()
        Ap[idx] += h
        Am[idx] -= h
        num_dA[idx] = (c.fn(Ap, Y) - c.fn(Am, Y)) / (2 * h)
        Zp, Zm = Z.copy(), Z.copy()
        Zp[idx] += h
        Zm[idx] -= h
        num_dZ[idx] = (c.fn(act.fn(Zp), Y) - c.fn(act.fn(Zm), Y)) / (2 * h)
    np.testing.assert_allclose(c.derivative(A, Y), num_dA, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(c.delta(Z, A, Y, act), num_dZ, rtol=1e-5, atol=1e-9)


def test_stable_sigmoid_and_softmax_do_not_overflow():
    Z = np.array([[-1000.0, 0.0, 1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_allclose(get_activation("sigmoid").fn(Z), [[0.0, 0.5, 1.0]])
        np.testing.assert_allclose(get_activation("softmax").fn(Z), [[0.0, 0.0, 1.0]])
    assert np.isfinite(get_cost("cross-entropy", "sigmoid").fn(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]])))


def test_one_sgd_step_by_hand():
    """A 1-1 network, sigmoid, quadratic cost, one example: the update written out.

    w = 0.5, b = 0, x = 2, y = 1, eta = 1:
      z = w x + b = 1.0;  a = sigma(1) = 0.7310585786
      dC/da = a - y = -0.2689414214;  sigma'(z) = a (1 - a) = 0.1966119332
      delta = dC/da * sigma'(z) = -0.0528770928
      dC/dw = delta * x = -0.1057541856;  dC/db = delta = -0.0528770928
      w' = w - eta dC/dw = 0.6057541856;  b' = 0.0528770928
    """
    net = Network([1, 1], dtype="float64")
    net.load_state_dict({"0.W": np.array([[0.5]]), "0.b": np.array([0.0])})
    cost = net.backprop(np.array([[2.0]]), np.array([[1.0]]))
    assert cost == pytest.approx(0.5 * 0.2689414214 ** 2)
    SGD(1.0).step(net.params, net.grads)
    np.testing.assert_allclose(net.params[0], [[0.6057541856]], rtol=1e-9)
    np.testing.assert_allclose(net.params[1], [0.0528770928], rtol=1e-9)


def test_batch_gradient_is_mean_of_per_example_gradients():
    X, Y = tiny_problem(n=7)
    net = Network([6, 4, 3], seed=0, dtype="float64")
    net.backprop(X, Y)
    batch = [g.copy() for g in net.grads]
    per = []
    for i in range(len(X)):
        net.backprop(X[i:i + 1], Y[i:i + 1])
        per.append([g.copy() for g in net.grads])
    for j, g in enumerate(batch):
        np.testing.assert_allclose(g, np.mean([p[j] for p in per], axis=0), rtol=1e-12, atol=1e-14)


def test_classic_defaults_and_shapes():
    net = Network([784, 16, 16, 10], seed=0)
    assert net.describe() == "784-16-16-10 sigmoid, quadratic"
    assert [p.shape for p in net.params] == [(784, 16), (16,), (16, 16), (16,), (16, 10), (10,)]
    assert all(p.dtype == np.float32 for p in net.params)
    W = net.params[0]
    assert abs(W.mean()) < 0.02 and abs(W.std() - 1.0) < 0.02  # N(0, 1), the classic init
    X = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    proba = net.predict_proba(X)
    assert proba.shape == (5, 10) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert net.predict(X).shape == (5,)
    np.testing.assert_array_equal(net.predict(X), proba.argmax(axis=1))


def test_same_seed_same_bits_and_different_seed_differs():
    a, b, c = Network([784, 30, 10], seed=7), Network([784, 30, 10], seed=7), Network([784, 30, 10], seed=8)
    for pa, pb in zip(a.params, b.params):
        assert pa.tobytes() == pb.tobytes()
    assert a.params[0].tobytes() != c.params[0].tobytes()


@pytest.mark.parametrize("before_output", [True, False])
def test_input_gradient_matches_finite_differences(before_output):
    net = Network([6, 4, 3], activation="tanh", output="softmax", cost="cross-entropy", seed=2, dtype="float64")
    X, _ = tiny_problem()
    G = net.input_gradient(X, 1, before_output=before_output)

    def score(X):
        trace = net.trace(X)
        return trace[-2 if before_output else -1][:, 1]  # before or after the softmax

    h = 1e-6
    for idx in [(0, 0), (2, 3), (4, 5)]:
        Xp, Xm = X.copy(), X.copy()
        Xp[idx] += h
        Xm[idx] -= h
        num = (score(Xp)[idx[0]] - score(Xm)[idx[0]]) / (2 * h)
        assert G[idx] == pytest.approx(num, rel=1e-6)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="activation"):
        Network([4, 2, 3], activation="swish")
    with pytest.raises(ValueError, match="cost"):
        Network([4, 3], cost="hinge")
    with pytest.raises(ValueError, match="cross-entropy"):
        Network([4, 3], output="relu", cost="cross-entropy")
    with pytest.raises(ValueError, match="sizes"):
        Network([4])
    with pytest.raises(ValueError, match="dtype"):
        Network([4, 3], dtype="float16")


def test_confusion_matrix_counts_true_against_predicted():
    from digitnet.nn.network import confusion_matrix

    C = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), k=3)
    np.testing.assert_array_equal(C, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
