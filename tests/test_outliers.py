"""Generated non-digits: MNIST-shaped rows, reproducible, two families with nothing in common but
the preparation, training data with label 10 whose target is the uniform row."""

import numpy as np
import pytest

from digitnet import outliers
from digitnet.data import Dataset, Split, one_hot
from digitnet.outliers import (HELD_OUT_FONTS, NOT_A_DIGIT, TRAIN_FONTS, font_files, held_out_outliers,
                               training_outliers, with_outliers)


def some_digits(n=40, seed=0):
    """Bright strokes on dark rows of 784, enough for the overlapped and cut generators."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 28, 28), np.float32)
    for img in X:
        c, h, left, right = rng.integers(8, 18), rng.integers(12, 21), rng.integers(1, 6), rng.integers(4, 9)
        img[4:4 + h, c:c + 3] = 1.0  # T shapes of different sizes: two pairs of them differ
        img[4:7, c - left:c + right] = 1.0
    return X.reshape(n, 784)


def test_the_debian_fonts_are_installed_and_the_families_do_not_share_a_file():
    train, held = font_files(TRAIN_FONTS), font_files(HELD_OUT_FONTS)
    assert train, "fonts-dejavu-core is missing: scripts/setup.sh dev installs it"
    assert len(held) >= 4, "fonts-liberation / fonts-freefont-ttf are missing: scripts/setup.sh dev installs them"
    assert not set(train) & set(held)


@pytest.mark.parametrize("make", ["train", "held"])
def test_rows_look_like_prepared_mnist_inputs(make):
    rng = np.random.default_rng(0)
    X = training_outliers(60, some_digits(), rng) if make == "train" else held_out_outliers(60, rng)
    assert X.shape == (60, 784) and X.dtype == np.float32
    assert np.all(X.max(axis=1) == 1.0) and X.min() >= 0
    images = X.reshape(-1, 28, 28)
    for img in images:  # fitted into 20 x 20, like MNIST
        rows, cols = np.flatnonzero(img.any(axis=1)), np.flatnonzero(img.any(axis=0))
        assert rows[-1] - rows[0] < 20 and cols[-1] - cols[0] < 20
    assert len({row.tobytes() for row in X}) == 60  # all different


def test_same_seed_same_outliers():
    a = training_outliers(30, some_digits(), np.random.default_rng(3))
    b = training_outliers(30, some_digits(), np.random.default_rng(3))
    assert a.tobytes() == b.tobytes()


def test_without_fonts_the_other_generators_fill_in(monkeypatch, tmp_path):
    monkeypatch.setattr(outliers, "FONT_DIR", tmp_path)
    X = training_outliers(20, some_digits(), np.random.default_rng(0))
    assert X.shape == (20, 784) and np.all(X.max(axis=1) == 1.0)
    assert held_out_outliers(10, np.random.default_rng(0)).shape == (10, 784)


def test_with_outliers_appends_label_10_whose_target_is_uniform():
    X, y = some_digits(), np.arange(40) % 10
    data = Dataset("mnist", Split(X, y), None, Split(X[:5], y[:5]), "0" * 64)
    more = with_outliers(data, 25, seed=1)
    assert more.train.X.shape == (65, 784) and list(more.train.y[40:]) == [NOT_A_DIGIT] * 25
    np.testing.assert_array_equal(more.train.X[:40], X)
    Y = one_hot(more.train.y)
    np.testing.assert_allclose(Y[40:], 0.1)
    assert more.test is data.test
