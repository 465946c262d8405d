"""The training loop: learning, reproducibility, resume, divergence, Ctrl-C, early stopping."""

import dataclasses

import numpy as np
import pytest

from digitnet.data import Dataset, Split, load_dataset
from digitnet.nn.layers import ActivationLayer, BatchNorm, Conv2D, Dense, Dropout, Flatten, Reshape
from digitnet.nn.network import Network
from digitnet.training import (TrainConfig, TrainingDiverged, batch_bounds, fit, load_checkpoint,
                               refresh_batchnorm)


def synthetic(n=600, d=20, seed=0):
    """Ten Gaussian blobs in d dimensions: easy to learn, quick to train."""
    rng = np.random.default_rng(seed)
    centres = rng.random((10, d))
    def split(m):
        y = rng.integers(0, 10, m)
        X = np.clip(centres[y] + 0.05 * rng.standard_normal((m, d)), 0, 1).astype(np.float32)
        return Split(X, y)
    return Dataset("synthetic", split(n), split(200), split(200), "0" * 64)


def quiet(msg):
    pass


def test_training_learns_and_records_history():
    data = synthetic()
    net = Network([20, 30, 10], seed=0)
    before = net.evaluate(data.test.X, data.test.y)
    state = fit(net, data, TrainConfig(epochs=5, batch_size=10, lr=3.0), progress=False, log=quiet)
    assert net.evaluate(data.test.X, data.test.y) > max(0.9, before + 0.3)
    assert [r["epoch"] for r in state.history] == [1, 2, 3, 4, 5]
    assert state.history[-1]["train_cost"] < state.history[0]["train_cost"]
    assert all({"train_cost", "val_accuracy", "seconds", "lr"} <= set(r) for r in state.history)


def test_same_seed_gives_bit_identical_weights():
    data = synthetic()
    runs = []
    for _ in range(2):
        net = Network([20, 30, 10], seed=5)
        fit(net, data, TrainConfig(epochs=2, batch_size=7, lr=1.0), progress=False, log=quiet)
        runs.append(b"".join(p.tobytes() for p in net.params))
    assert runs[0] == runs[1]


def dropout_net(seed=3):
    layers = [Dense(32, "he"), ActivationLayer("relu"), Dropout(0.3), Dense(10, "he"), ActivationLayer("softmax")]
    return Network(layers, cost="cross-entropy", seed=seed, input_shape=(20,))


def test_resume_from_checkpoint_equals_uninterrupted(tmp_path):
    data = synthetic()
    config = TrainConfig(epochs=4, batch_size=16, optimizer="nesterov", lr=0.05, schedule="cosine",
                         warmup=1, weight_decay=1e-4, early_stopping=3)
    full = dropout_net()
    fit(full, data, config, progress=False, log=quiet)

    ck = tmp_path / "run.ckpt.npz"
    part = dropout_net()
    # Stop after two epochs by interrupting the third one at its first batch.
    calls = {"n": 0}
    def stop_in_epoch_3(x, rng):
        calls["n"] += 1
        if calls["n"] > 2 * 38:  # 600 / 16 -> 38 batches per epoch
            raise KeyboardInterrupt
        return x
    # The augment hook draws nothing from rng, so it does not change the random stream.
    state = fit(part, data, config, augment=stop_in_epoch_3, checkpoint=ck, progress=False, log=quiet)
    assert state.interrupted and state.epoch == 2

    net, optimizer, config2, state2, meta = load_checkpoint(ck)
    assert state2.epoch == 2 and config2 == config
    fit(net, data, config2, optimizer, state2, progress=False, log=quiet)
    for a, b in zip(full.params, net.params):
        assert a.tobytes() == b.tobytes()


def test_ctrl_c_keeps_the_last_completed_epoch():
    data = synthetic()
    net = Network([20, 30, 10], seed=0)
    snapshots = []
    calls = {"n": 0}
    def interrupt_later(x, rng):
        calls["n"] += 1
        if calls["n"] == 60 + 5:  # five batches into the second epoch (60 batches per epoch)
            raise KeyboardInterrupt
        if calls["n"] == 61:
            snapshots.append([p.copy() for p in net.params])
        return x
    state = fit(net, data, TrainConfig(epochs=3, batch_size=10), augment=interrupt_later, progress=False, log=quiet)
    assert state.interrupted and state.epoch == 1
    for a, b in zip(snapshots[0], net.params):
        assert a.tobytes() == b.tobytes()


def test_divergence_stops_with_a_hint_and_restores_good_weights():
    data = synthetic()
    net = Network([20, 30, 10], activation="relu", output="softmax", cost="cross-entropy", init="he", seed=0)
    start = [p.copy() for p in net.params]
    with pytest.raises(TrainingDiverged, match="learning rate .* too high"):
        fit(net, data, TrainConfig(epochs=2, batch_size=10, lr=1e30), progress=False, log=quiet)
    for a, b in zip(start, net.params):
        assert a.tobytes() == b.tobytes()
    assert all(np.isfinite(p).all() for p in net.params)


def test_weights_that_overflow_under_a_finite_cost_are_divergence_too():
    """Each batch's cost is computed before its step, so a last step that overflows the weights
    (saturating activations keep the cost finite while that happens) is caught at the epoch's end."""
    from digitnet.nn.optimizers import SGD

    class OverflowsOnStep60(SGD):
        def step(self, params, grads):
            super().step(params, grads)
            if self.t == 60:  # the last of 60 batches
                params[0][0, 0] = np.inf

    data = synthetic()
    net = Network([20, 30, 10], activation="tanh", seed=0)
    start = [p.copy() for p in net.params]
    with pytest.raises(TrainingDiverged, match="weights overflowed in epoch 1"):
        fit(net, data, TrainConfig(epochs=2, batch_size=10, lr=0.1), OverflowsOnStep60(0.1),
            progress=False, log=quiet)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(start, net.params))  # the weights before it


@pytest.mark.parametrize("optimizer, activation", [
    ("sgd", "sigmoid"), ("sgd", "tanh"), ("sgd-decay", "sigmoid"), ("momentum", "sigmoid")])
def test_an_epoch_equals_backprop_then_step_on_plain_gradients(optimizer, activation):
    """``run_epoch`` trains the classic network in ``digitnet.fast.fused`` (sigmoid with plain SGD)
    and the others through the layers' kernels; the weights come out as from the textbook loop,
    plain gradients then ``w -= lr * g``."""
    from digitnet.nn.optimizers import SGD, Momentum
    from digitnet.training import run_epoch

    make = {"sgd": lambda: SGD(0.5), "sgd-decay": lambda: SGD(0.5, weight_decay=0.01),
            "momentum": lambda: Momentum(0.5)}[optimizer]
    data = synthetic(n=100)
    X, Y = data.train.X.astype(np.float64), np.eye(10)[data.train.y]
    ours, book = (Network([20, 8, 10], activation=activation, seed=0, dtype="float64") for _ in range(2))
    run_epoch(ours, X, Y, 10, make())
    opt = make()
    perm = book.rng.permutation(100)  # the same draw as run_epoch's, from the same seed
    for i in range(0, 100, 10):
        book.backprop(X[perm[i:i + 10]], Y[perm[i:i + 10]])
        opt.step(book.params, book.grads)
    for a, b in zip(ours.params, book.params):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_resuming_a_run_that_stopped_early_trains_no_further(tmp_path):
    data = synthetic()
    ck = tmp_path / "ck.npz"
    config = TrainConfig(epochs=30, batch_size=10, lr=30.0, early_stopping=1)
    net = Network([20, 30, 10], seed=0)
    state = fit(net, data, config, progress=False, log=quiet, checkpoint=ck)
    assert state.stopped_early and state.epoch < 30
    net2, opt2, config2, state2, _ = load_checkpoint(ck)
    assert state2.stopped_early
    state2 = fit(net2, data, config2, opt2, state2, progress=False, log=quiet)
    assert state2.epoch == state.epoch and len(state2.history) == len(state.history)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(net.params, net2.params))  # the best epoch's


def test_batch_bounds_fold_a_batch_too_small_for_batch_norm():
    assert batch_bounds(25, 10) == [(0, 10), (10, 20), (20, 25)]
    assert batch_bounds(21, 10) == [(0, 10), (10, 20), (20, 21)]
    assert batch_bounds(21, 10, min_batch=2) == [(0, 10), (10, 21)]
    assert batch_bounds(1, 10, min_batch=2) == [(0, 1)]  # nothing to join: BatchNorm itself refuses it


def test_dense_batch_norm_refuses_a_batch_of_one_and_training_avoids_one():
    data = synthetic(n=301)  # 301 = 30 batches of 10 and 1 left over
    net = Network([Dense(16, "he"), BatchNorm(), ActivationLayer("relu"), Dense(10), ActivationLayer("softmax")],
                  cost="cross-entropy", seed=0, input_shape=(20,))
    assert net.min_batch == 2 and Network([20, 10]).min_batch == 1
    with pytest.raises(ValueError, match="at least 2 values per channel"):
        net.backprop(data.train.X[:1], np.eye(10, dtype=np.float32)[data.train.y[:1]])
    with pytest.raises(ValueError, match="batches of at least 2, not 1"):
        fit(net, data, TrainConfig(epochs=1, batch_size=1, optimizer="adam", lr=1e-3), progress=False, log=quiet)
    one_image = Dataset("one", Split(data.train.X[:1], data.train.y[:1]), None, data.test, "0" * 64)
    with pytest.raises(ValueError, match="batches of at least 2, not 1"):  # refused before training, too
        fit(net, one_image, TrainConfig(epochs=1, batch_size=10, optimizer="adam", lr=1e-3), progress=False, log=quiet)
    fit(net, data, TrainConfig(epochs=2, batch_size=10, optimizer="adam", lr=1e-2), progress=False, log=quiet)
    assert net.evaluate(data.test.X, data.test.y) > 0.9
    # After a convolution every pixel is a value per channel, so one image is a batch of 676.
    conv = Network([Reshape((5, 4, 1)), Conv2D(2, 3, padding=1), BatchNorm(), Flatten(), Dense(10),
                    ActivationLayer("softmax")], cost="cross-entropy", seed=0, input_shape=(20,))
    assert conv.min_batch == 1
    one_by_one = Network([Reshape((3, 3, 2)), Conv2D(2, 3), BatchNorm(), Flatten(), Dense(10),
                          ActivationLayer("softmax")], cost="cross-entropy", seed=0, input_shape=(18,))
    assert one_by_one.min_batch == 2  # a 1 x 1 map is one value per channel, as after a dense layer


def test_a_float64_network_trains_in_float64_all_the_way_down():
    data = synthetic()
    net = Network([Reshape((5, 4, 1)), Conv2D(3, 3, padding=1), ActivationLayer("relu"), Flatten(), Dense(10),
                   ActivationLayer("softmax")], cost="cross-entropy", seed=0, dtype="float64", input_shape=(20,))
    fit(net, data, TrainConfig(epochs=1, batch_size=10, optimizer="adam", lr=1e-2), progress=False, log=quiet)
    A, dtypes = data.train.X[:4], []  # float32 images, as training feeds them
    for layer in net.layers:
        A = layer.forward(A, training=True)
        dtypes.append(A.dtype)
    assert dtypes == [np.float32] + [np.float64] * (len(net.layers) - 1)  # from the first Conv2D on


def test_early_stopping_restores_the_best_epoch():
    data = synthetic()
    net = Network([20, 30, 10], seed=0)
    lines = []
    # A learning rate that is far too large makes the validation accuracy bounce around.
    state = fit(net, data, TrainConfig(epochs=30, batch_size=10, lr=3.0, early_stopping=2),
                progress=False, log=lines.append)
    best = max(r["val_accuracy"] for r in state.history)
    assert state.best_accuracy == best
    assert net.evaluate(data.validation.X, data.validation.y) == best
    if state.stopped_early:
        assert any("early stopping" in line for line in lines)
        assert len(state.history) - state.best_epoch == 2


def test_bad_config_is_refused():
    for kwargs in ({"epochs": 0}, {"batch_size": 0}, {"lr": -1}, {"schedule": "weird"},
                   {"optimizer": "nope"}, {"early_stopping": -1}, {"warmup": -1}):
        with pytest.raises(ValueError):
            TrainConfig(**kwargs)


def test_classic_network_on_real_mnist_two_epochs(mnist_dir):
    """The chapter-1 network, 2 epochs on the real 50k training images: >= 88% on the test set."""
    data = load_dataset("mnist", data_dir=mnist_dir, progress=False)
    net = Network([784, 16, 16, 10], seed=0)
    state = fit(net, data, TrainConfig(epochs=2, batch_size=10, lr=3.0), progress=False, log=quiet)
    acc = net.evaluate(data.test.X, data.test.y)
    assert acc >= 0.88, f"test accuracy {acc:.4f} after 2 epochs"
    assert state.history[-1]["val_accuracy"] >= 0.88


def test_on_batch_hears_every_batch_and_may_stop_the_run():
    """``on_batch`` counts the batches of each epoch (with or without a progress bar); raising
    ``StopTraining`` in epoch 2 keeps epoch 1's weights, as Ctrl-C does."""
    from digitnet.training import StopTraining

    data = synthetic()
    net = Network([20, 8, 10], activation="relu", output="softmax", cost="cross-entropy", seed=0)
    seen = []

    def on_batch(info):
        seen.append((info["epoch"], info["batch"], info["batches"]))
        if info["epoch"] == 2 and info["batch"] == 3:
            raise StopTraining

    state = fit(net, data, TrainConfig(epochs=3, batch_size=10, optimizer="adam", lr=1e-2), progress=False,
                log=quiet, on_batch=on_batch)
    n = len(data.train.X) // 10
    assert seen[:n] == [(1, i, n) for i in range(1, n + 1)] and seen[n:] == [(2, 1, n), (2, 2, n), (2, 3, n)]
    assert state.interrupted and state.epoch == 1


def _normed(seed: int = 0) -> Network:
    return Network([Dense(16, "he"), BatchNorm(), ActivationLayer("relu"), Dense(10), ActivationLayer("softmax")],
                   cost="cross-entropy", seed=seed, input_shape=(20,))


def test_refresh_batchnorm_makes_the_running_statistics_the_mean_over_the_plain_batches():
    data = synthetic(n=600)
    net = _normed()
    fit(net, data, TrainConfig(epochs=2, batch_size=10, optimizer="adam", lr=1e-2), progress=False, log=quiet)
    weights = [p.copy() for p in net.params]
    norm = net.layers[1]
    refresh_batchnorm(net, data.train.X, batch_size=100)
    Z = net.layers[0].forward(data.train.X).astype(np.float64).reshape(6, 100, 16)  # (batches, rows, units)
    scale = np.abs(Z).max()  # float32 sums of 20 products: tolerance in proportion to the values
    np.testing.assert_allclose(norm.buffers["running_mean"], Z.mean(axis=1).mean(axis=0), atol=1e-5 * scale)
    np.testing.assert_allclose(norm.buffers["running_var"], Z.var(axis=1, ddof=1).mean(axis=0),
                               rtol=1e-4, atol=1e-5 * scale ** 2)
    assert all(np.array_equal(a, b) for a, b in zip(weights, net.params)) and norm.momentum == 0.9


def test_fit_with_refresh_bn_ends_with_the_statistics_of_the_plain_training_images():
    data = synthetic(n=600)
    config = TrainConfig(epochs=2, batch_size=10, optimizer="adam", lr=1e-2)
    plain, refreshed = _normed(), _normed()
    fit(plain, data, config, progress=False, log=quiet)
    drifted = plain.layers[1].buffers["running_mean"].copy()  # a moving average of the last batches
    refresh_batchnorm(plain, data.train.X)
    fit(refreshed, data, dataclasses.replace(config, refresh_bn=True), progress=False, log=quiet)
    got = refreshed.layers[1].buffers
    np.testing.assert_allclose(got["running_mean"], plain.layers[1].buffers["running_mean"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["running_var"], plain.layers[1].buffers["running_var"], rtol=1e-5, atol=1e-5)
    assert not np.allclose(drifted, got["running_mean"], rtol=1e-3, atol=1e-3)
