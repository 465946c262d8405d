"""The reject option: temperature scaling, the threshold that keeps 99 % of validation digits,
expected calibration error, and the shipped model saying "not a digit" to non-digits."""

import numpy as np
import pytest

from digitnet import reject
from digitnet.data import load_dataset
from digitnet.outliers import held_out_outliers


class Fixed:
    """A stand-in network whose probabilities are given."""

    input_shape = (784,)

    def __init__(self, P):
        self.P = np.asarray(P, np.float64)

    def predict_proba(self, X):
        return self.P[: len(X)]


def softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def sample(T0=2.0, n=20_000, seed=0):
    """Logits Z whose labels are drawn from softmax(Z / T0): the right temperature is T0."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(0, 4, (n, 10))
    y = np.array([rng.choice(10, p=p) for p in softmax(Z / T0)])
    return softmax(Z), y


def test_calibrate_at_temperature_one_is_the_identity_and_higher_flattens():
    P, _ = sample(n=50)
    np.testing.assert_allclose(reject.calibrate(P, 1.0), P, atol=1e-9)
    assert np.all(reject.calibrate(P, 3.0).max(axis=1) <= P.max(axis=1) + 1e-12)
    np.testing.assert_allclose(reject.calibrate(P, 3.0).sum(axis=1), 1.0)


def test_fit_temperature_recovers_the_temperature_that_made_the_labels():
    P, y = sample(T0=2.0)
    assert reject.fit_temperature(P, y) == pytest.approx(2.0, rel=0.08)


def test_ece_is_small_when_calibrated_and_large_when_overconfident():
    P, y = sample(T0=2.0)
    assert reject.ece(reject.calibrate(P, 2.0), y) < 0.02
    assert reject.ece(P, y) > 0.1


def test_fit_keeps_the_asked_share_of_validation_digits():
    P, y = sample(T0=1.0, n=5000)
    section = reject.fit(Fixed(P), np.zeros((5000, 784)), y)
    confidence = reject.calibrate(P, section["temperature"]).max(axis=1)
    assert np.mean(confidence >= section["threshold"]) == pytest.approx(0.99, abs=0.002)
    assert section["ece_after"] <= section["ece_before"] + 1e-9


def test_classify_rejects_below_the_threshold_only_when_asked_and_when_fitted():
    P = np.array([[0.91] + [0.01] * 9, [0.1] * 10])
    meta = {"reject": {"temperature": 1.0, "threshold": 0.5}}
    digits, scores, reasons = reject.classify(Fixed(P), meta, np.zeros((2, 784)))
    assert digits == [0, None] and reasons == [None, "not a digit"]
    np.testing.assert_allclose(scores, P)
    assert reject.classify(Fixed(P), meta, np.zeros((2, 784)), reject=False)[0] == [0, 0]
    assert reject.classify(Fixed(P), {}, np.zeros((2, 784)))[0] == [0, 0]  # a model without settings
    broken = {"reject": {"temperature": -1.0, "threshold": "x"}}
    assert reject.settings(broken) is None


def held_out_rejected(net, data, outliers):
    """Share of ``outliers`` below the threshold that keeps 99 % of the validation digits."""
    meta = {"reject": reject.fit(net, data.validation.X, data.validation.y)}
    return np.mean([d is None for d in reject.classify(net, meta, outliers)[0]])


def test_outlier_exposure_teaches_a_small_network_to_reject_held_out_non_digits(mnist_dir):
    """The same dense network trained with and without 3000 generated non-digits (uniform
    target): with them it rejects far more of the held-out family, at the same kept share."""
    import dataclasses

    from digitnet.data import Split
    from digitnet.nn.network import Network, dense_stack
    from digitnet.outliers import with_outliers
    from digitnet.training import TrainConfig, fit

    data = load_dataset("mnist", mnist_dir, validation=2000)
    data = dataclasses.replace(data, train=Split(data.train.X[:8000], data.train.y[:8000]))
    held = held_out_outliers(400, np.random.default_rng(5))
    rejected = {}
    for n in (0, 3000):
        net = Network(dense_stack([784, 128, 10], "relu", "softmax", "he"), cost="cross-entropy", seed=0)
        fit(net, with_outliers(data, n, seed=0) if n else data,
            TrainConfig(epochs=4, batch_size=64, optimizer="adam", lr=1e-3), progress=False, log=lambda s: None)
        assert net.evaluate(data.test.X, data.test.y) > 0.93
        rejected[n] = held_out_rejected(net, data, held)
    assert rejected[3000] >= rejected[0] + 0.2, rejected
