"""The Train page's worker without a browser: a run on real MNIST saves a model file like
``digitnet train`` does, Stop keeps the last completed epoch, jobs run one at a time, and the
page's progress bar reads each moment of a run."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from digitnet.app.trainer import Job, Trainer, run
from digitnet.persistence import load_model
from digitnet.presets import DEFAULTS

TINY = {**DEFAULTS, "sizes": [784, 24, 10], "activation": "relu", "output_activation": "softmax",
        "cost": "cross-entropy", "init": "he", "optimizer": "adam", "eta": 0.003, "epochs": 2, "batch_size": 64,
        "limit": 3000, "validation": 2000, "augment": None, "name": "tiny"}


@pytest.fixture(autouse=True)
def data_here(monkeypatch, mnist_dir):
    monkeypatch.setenv("DIGITNET_DATA_DIR", str(mnist_dir.parent))


def test_a_run_saves_a_model_with_its_card(tmp_path):
    job = Job(dict(TINY), tmp_path / "models")
    run(job)
    assert job.state == "done" and job.output is not None and job.output.parent == tmp_path / "models"
    net, meta = load_model(job.output)
    assert net.describe() == "784-24-10 relu/softmax, cross-entropy"
    assert meta["test_accuracy"] == pytest.approx(job.test_accuracy) and job.test_accuracy > 0.85
    assert meta["epochs_completed"] == 2 and [r["epoch"] for r in meta["history"]] == [1, 2]
    assert meta["training"]["command"].startswith("digitnet train --sizes 784,24,10 --activation relu")
    assert meta["dataset"]["name"] == "mnist" and len(meta["dataset"]["sha256"]) == 64
    epochs = np.array([at for at, _ in job.costs])  # every mini-batch, placed within its epoch
    assert len(job.costs) == 2 * job.batches and np.all(np.diff(epochs) > 0) and epochs[-1] == 2
    assert job.weights is not None and job.weights[0].dtype == np.uint8


def test_stop_keeps_the_last_completed_epoch(tmp_path):
    job = Job({**TINY, "epochs": 5}, tmp_path)

    def stop_in_epoch_two() -> None:
        while job.epoch < 2:
            time.sleep(0.01)
        job.stop.set()

    threading.Thread(target=stop_in_epoch_two, daemon=True).start()
    run(job)
    assert job.state == "stopped" and job.output is not None
    _, meta = load_model(job.output)
    assert meta["epochs_completed"] == 1 and "Stopped: saved epoch 1" in job.message


def test_one_job_at_a_time_in_order(tmp_path):
    trainer = Trainer()
    first = trainer.submit(Job({**TINY, "epochs": 1}, tmp_path))
    second = trainer.submit(Job({**TINY, "epochs": 1}, tmp_path))
    assert trainer.position(second) in (1, 2)
    deadline = time.monotonic() + 240
    while (first.active or second.active) and time.monotonic() < deadline:
        assert not (first.state == "training" and second.state == "training")
        time.sleep(0.01)
    assert first.state == second.state == "done" and first.output != second.output


def _watch_once(job: Job):
    """The Train page's job view, drawn once for ``job`` under Streamlit's AppTest."""
    from streamlit.testing.v1 import AppTest

    def script() -> None:
        from digitnet.app import train

        train._watch(True)

    at = AppTest.from_function(script, default_timeout=30)
    at.session_state["train_job"] = job
    return at.run()


@pytest.mark.parametrize("epoch, batch, batches, value, text", [
    (0, 0, 0, 0.0, "Epoch 1 of 2: starting"),
    (1, 25, 100, 0.125, "Epoch 1 of 2, mini-batch 25 of 100"),
    (2, 100, 100, 1.0, "Epoch 2 of 2, mini-batch 100 of 100")])
def test_the_progress_bar_from_the_first_mini_batch_to_the_last(tmp_path, epoch, batch, batches, value, text):
    """Before any mini-batch has ended the bar reads 0 ("starting"), never a negative share."""
    job = Job(dict(TINY), tmp_path)
    job.state, job.epoch, job.batch, job.batches = "training", epoch, batch, batches
    at = _watch_once(job)
    assert not at.exception
    bar = at.get("progress")[0].proto
    assert bar.value == round(100 * value) and bar.text == text
