"""Fine-tuning on a person's examples: the shipped model learns zeros slashed from top left to
bottom right, a style it never saw, from ten of them (real MNIST, the style generator of
``digitnet.styles``), keeps reading MNIST, its "not a digit" detector learns the style too and
keeps refusing non-digits, and the CLI records it all."""

from __future__ import annotations

import numpy as np
import pytest

from digitnet import cli, reject
from digitnet import finetune as finetune_module
from digitnet.data import Split, load_dataset
from digitnet.examples import NOT_A_DIGIT, ExampleStore, digest, file_sha256
from digitnet.finetune import (MIN_EXAMPLES, FinetuneConfig, TooFewExamples, accuracy, check_enough, finetune,
                               split_holdout)
from digitnet.models import default_model_path
from digitnet.outliers import held_out_outliers
from digitnet.persistence import load_model
from digitnet.styles import draw_style


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return load_dataset("mnist", mnist_dir, validation=0, progress=False)


@pytest.fixture(scope="module")
def zeros(mnist):
    """Zeros slashed from top left to bottom right, drawn on MNIST training zeros: 10 to learn from,
    then 100 to measure. The shipped model learnt the other slash only."""
    pool = mnist.train.X[mnist.train.y == 0][:110]
    return draw_style(pool, "backslashed zero", np.random.default_rng(3))  # (110, 784)


def test_holdout_split():
    rng = np.random.default_rng(0)
    train, held = split_holdout(5, 0.2, rng)
    assert len(train) == 4 and len(held) == 1 and set(train) | set(held) == set(range(5))
    train, held = split_holdout(20, 0.2, rng)
    assert len(held) == 4 and not set(train) & set(held)
    assert len(split_holdout(12, 0.0, rng)[1]) == 0
    assert len(split_holdout(6, 0.9, rng)[0]) == MIN_EXAMPLES - 1  # never too few left to learn from


def test_too_few_examples_is_one_line():
    with pytest.raises(TooFewExamples, match=f"'ann' has 4 examples; fine-tuning needs at least {MIN_EXAMPLES}"):
        check_enough(4, "ann")
    check_enough(MIN_EXAMPLES, "ann")


def test_ten_backslashed_zeros_are_learnt_and_mnist_is_kept(mnist, zeros):
    net, meta = load_model(default_model_path())
    learn, held = zeros[:10], zeros[10:]
    test = Split(mnist.test.X[:2000], mnist.test.y[:2000])
    rehearsal = Split(mnist.train.X[:20000], mnist.train.y[:20000])
    others = held_out_outliers(500, np.random.default_rng(5)).reshape(-1, 784)  # (500, 784) never trained on
    style_before, mnist_before = accuracy(net, held, np.zeros(100, int)), accuracy(net, test.X, test.y)
    app_before = accuracy(net, held, np.zeros(100, int), meta)  # read as the app reads: the detector decides
    refused_before = accuracy(net, others, np.full(500, NOT_A_DIGIT), meta)
    costs = finetune(net, learn, np.zeros(10, np.int64), rehearsal, FinetuneConfig(steps=80, seed=1))
    style_after, mnist_after = accuracy(net, held, np.zeros(100, int)), accuracy(net, test.X, test.y)
    assert style_before < 0.8  # the shipped model misreads many of them...
    assert style_after >= 0.9 and style_after - style_before >= 0.15  # ...and reads them after ten examples
    assert mnist_after >= mnist_before - 0.01  # at most 20 of 2,000 MNIST test digits lost
    assert np.mean(costs[-10:]) < np.mean(costs[:10])
    # The detector refused the style before; fine-tuned with the classifier, it takes it as digits...
    assert app_before < 0.2 and accuracy(net, held, np.zeros(100, int), meta) >= 0.9
    # ...and still refuses non-digits of families it never saw, and keeps MNIST's digits.
    assert refused_before >= 0.85 and accuracy(net, others, np.full(500, NOT_A_DIGIT), meta) >= refused_before - 0.1
    digits, _, _ = reject.classify(net, meta, test.X.reshape(-1, *net.input_shape))
    assert np.mean([d is not None for d in digits]) >= 0.985


def test_a_detector_that_diverges_leaves_the_model_as_it_was(mnist, zeros, monkeypatch):
    net, _ = load_model(default_model_path())
    before = [{k: v.copy() for k, v in n.state_dict().items()} for n in (net, net.detector)]
    monkeypatch.setattr(finetune_module, "ANCHOR_DIGITS", 50)
    monkeypatch.setattr(finetune_module, "ANCHOR_OUTLIERS", 50)
    monkeypatch.setattr(net.detector, "backprop", lambda F, Y: float("nan"))
    with pytest.raises(ValueError, match="fine-tuning the detector diverged at step 1"):
        finetune(net, zeros[:10], np.zeros(10, np.int64), Split(mnist.train.X[:500], mnist.train.y[:500]),
                 FinetuneConfig(steps=3, detector_steps=2))
    for old, n in zip(before, (net, net.detector)):
        assert all(np.array_equal(v, n.state_dict()[k]) for k, v in old.items())


def test_finetune_command_records_what_it_learnt_from(tmp_path, mnist_dir, zeros, capsys):
    db, out = tmp_path / "e.sqlite", tmp_path / "mine.npz"
    with ExampleStore(db) as store:
        store.add_many(zeros[:12], [0] * 12, "ann", "canvas")
        store.add(zeros[12], NOT_A_DIGIT, "ann")
    argv = ["finetune", "--profile", "ann", "--db", str(db), "-o", str(out), "--steps", "30",
            "--data-dir", str(mnist_dir)]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert "held-out examples (3)" in captured.out and "MNIST test set" in captured.out
    assert 'then 100 steps of its "not a digit" detector' in captured.out
    net, meta = load_model(out)
    info = meta["finetune"]
    assert info["base_model"] == str(default_model_path()) and info["base_sha256"] == file_sha256(default_model_path())
    assert info["examples"]["count"] == 13 and info["examples"]["held_out"] == 3
    assert info["examples"]["not_a_digit"] == 1
    assert info["examples"]["sha256"] == digest(zeros[:13], np.array([0] * 12 + [NOT_A_DIGIT]))
    assert info["command"].startswith("digitnet finetune --profile ann")
    assert meta["test_accuracy"] == info["after"]["mnist_test"] > 0.98
    assert net.predict(zeros[20:30]).shape == (10,)


def test_finetune_command_refuses_too_few_examples(tmp_path, zeros, capsys):
    db, out = tmp_path / "e.sqlite", tmp_path / "mine.npz"
    with ExampleStore(db) as store:
        store.add_many(zeros[:3], [0] * 3, "ann", "canvas")
    assert cli.main(["finetune", "--profile", "ann", "--db", str(db), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'ann' has 3 examples" in err
    assert not out.exists()
