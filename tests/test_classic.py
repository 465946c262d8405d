"""``digitnet.classic``: Nielsen's network with the book's names, checked against the book's
per-example loop, finite differences, ``digitnet.nn`` and real MNIST."""

import numpy as np

from digitnet.classic import Network, load_data_wrapper, sigmoid, sigmoid_prime
from digitnet.nn.network import Network as LayeredNetwork


def book_backprop(net, x, y):
    """``network.py``'s backprop, verbatim but for ``np.dot`` on column vectors: one example."""
    nabla_b = [np.zeros(b.shape) for b in net.biases]
    nabla_w = [np.zeros(w.shape) for w in net.weights]
    activation, activations, zs = x, [x], []
    for b, w in zip(net.biases, net.weights):
        z = np.dot(w, activation) + b
        zs.append(z)
        activation = sigmoid(z)
        activations.append(activation)
    delta = net.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
    nabla_b[-1] = delta
    nabla_w[-1] = np.dot(delta, activations[-2].transpose())
    for l in range(2, net.num_layers):
        delta = np.dot(net.weights[-l + 1].transpose(), delta) * sigmoid_prime(zs[-l])
        nabla_b[-l] = delta
        nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
    return nabla_b, nabla_w


def problem(m=7, sizes=(6, 5, 4, 3), seed=1):
    rng = np.random.default_rng(seed)
    X = rng.random((m, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], m)]
    return Network(list(sizes), seed=seed), X, Y


def test_the_batch_backprop_sums_the_books_per_example_gradients():
    net, X, Y = problem()
    nabla_b, nabla_w = net.backprop(X, Y)
    per_example = [book_backprop(net, x.reshape(-1, 1), y.reshape(-1, 1)) for x, y in zip(X, Y)]
    for l in range(net.num_layers - 1):
        np.testing.assert_allclose(nabla_b[l], sum(e[0][l] for e in per_example), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(nabla_w[l], sum(e[1][l] for e in per_example), rtol=1e-12, atol=1e-15)
        assert nabla_b[l].shape == net.biases[l].shape and nabla_w[l].shape == net.weights[l].shape


def test_backprop_matches_finite_differences_of_the_quadratic_cost():
    net, X, Y = problem()

    def cost():
        return 0.5 * np.sum((net.feedforward(X) - Y) ** 2)  # summed over the batch, as nabla is

    _, nabla_w = net.backprop(X, Y)
    for w, nw in zip(net.weights, nabla_w):
        num = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            old = w[idx]
            w[idx] = old + 1e-6
            up = cost()
            w[idx] = old - 1e-6
            num[idx] = (up - cost()) / 2e-6
            w[idx] = old
        np.testing.assert_allclose(nw, num, rtol=1e-6, atol=1e-9)


def test_one_mini_batch_step_is_the_layered_networks_step():
    """The same weights, the same mini-batch: ``update_mini_batch`` and ``digitnet.nn``'s backprop
    then ``w -= eta * dC/dw`` (whose cost is a mean, so eta/m is inside) agree."""
    net, X, Y = problem()
    layered = LayeredNetwork(net.sizes, dtype="float64")
    for dense, w, b in zip(layered.layers[0::2], net.weights, net.biases):
        dense.params["W"][...], dense.params["b"][...] = w.T, b.ravel()
    layered.backprop(X, Y)
    for p, g in zip(layered.params, layered.grads):
        p -= 3.0 * g
    net.update_mini_batch(list(zip(X.reshape(-1, 6, 1), Y.reshape(-1, 3, 1))), 3.0)  # the book's format
    for dense, w, b in zip(layered.layers[0::2], net.weights, net.biases):
        np.testing.assert_allclose(dense.params["W"], w.T, rtol=1e-12)
        np.testing.assert_allclose(dense.params["b"], b.ravel(), rtol=1e-12)


def test_feedforward_takes_a_column_or_a_batch_of_rows():
    net, X, _ = problem()
    batch = net.feedforward(X)
    assert batch.shape == (7, 3)
    column = net.feedforward(X[2].reshape(-1, 1))
    assert column.shape == (3, 1)
    np.testing.assert_allclose(column.ravel(), batch[2], rtol=1e-14)


def test_the_books_script_trains_on_real_mnist(mnist_dir, capsys):
    """``load_data_wrapper`` gives the book's format; 3 epochs of the seed configuration
    ([784, 16, 16, 10], batch 10, eta 3) read most test digits; evaluate counts them."""
    training_data, validation_data, test_data = load_data_wrapper(mnist_dir)
    assert (len(training_data), len(validation_data), len(test_data)) == (50000, 10000, 10000)
    x, y = training_data[0]
    assert x.shape == (784, 1) and y.shape == (10, 1) and y.sum() == 1 and 0 <= x.min() <= x.max() <= 1
    assert isinstance(test_data[0][1], int)
    net = Network([784, 16, 16, 10])
    net.SGD(training_data, 3, 10, 3.0, test_data=test_data)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Epoch 0: ") and lines[-1].endswith(" / 10000")
    correct = net.evaluate(test_data)
    assert correct == int(lines[-1].split()[2])
    assert correct > 8800, correct

