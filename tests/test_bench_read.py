"""``benchmarks/bench_read.py``'s composer knows which digit drew each pixel, and its diagnosis
tells a digit the reader's cuts cannot take apart from one they can."""

from __future__ import annotations

import numpy as np
import pytest

from digitnet.data import load_dataset
from digitnet.models import default_model_path
from digitnet.persistence import load_model

@pytest.fixture(scope="module")
def bench(benchmark_script):
    return benchmark_script("bench_read")


@pytest.fixture(scope="module")
def zero_and_one(bench, mnist_dir):
    test = load_dataset("mnist", mnist_dir, validation=0, progress=False).test
    X = test.X.reshape(-1, 28, 28)  # (n, 28, 28)
    return [bench.ink_columns(X[np.flatnonzero(test.y == d)[0]]) for d in (0, 1)]


def test_compose_records_which_digit_drew_each_pixel(bench, zero_and_one):
    image, spans, touching, owner = bench.compose(zero_and_one, np.random.default_rng(0), gap=5)
    assert owner.shape == image.shape and touching == [False, False]
    assert set(np.unique(owner[image > 0])) == {0, 1} and (owner[image == 0] == -1).all()
    for k, (x0, x1) in enumerate(spans):
        assert (owner[:, x0:x1][image[:, x0:x1] > 0] == k).all()


def test_where_lost_sees_a_digit_no_cut_takes_apart(bench, zero_and_one):
    net, meta = load_model(default_model_path())
    apart, _, _, owner = bench.compose(zero_and_one, np.random.default_rng(0), gap=6)
    assert bench.where_lost(net, meta, apart, owner, "01", False).endswith("another reading scores higher")
    assert bench.where_lost(net, meta, apart, owner, "01", True).endswith("one refused as not a digit")
    inside = -(zero_and_one[0].shape[1] + zero_and_one[1].shape[1]) // 2  # the "1" drawn over the "0"
    over, _, _, owner = bench.compose(zero_and_one, np.random.default_rng(0), gap=inside)
    assert bench.where_lost(net, meta, over, owner, "01", False) == "no candidate holds one of its digits"
