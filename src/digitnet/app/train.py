"""The Train page: pick a preset or set the layers and settings, press Train, watch it learn.

The run itself belongs to :mod:`digitnet.app.trainer` (one worker per server, others queued). This
page only submits a job and redraws, once a second while it is active, what the worker has
recorded: the queue position, the cost of every mini-batch and the validation accuracy (a slice
within the epoch, all of it at the epoch's end), and the first layer's weights. The finished
model lands in the models folder, where the Draw page's picker finds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from digitnet.data import DATASETS
from digitnet.presets import DEFAULTS, PRESETS

from .trainer import Job, Trainer

CHOICES = {
    "Tiny: a quick look (784-32-10, 5,000 images, 2 epochs)": {
        "sizes": [784, 32, 10], "activation": "relu", "output_activation": "softmax", "cost": "cross-entropy",
        "init": "he", "optimizer": "adam", "eta": 0.003, "epochs": 2, "batch_size": 64, "limit": 5000,
        "validation": 5000},
    "The book's network (784-16-16-10, sigmoid)": {**PRESETS["seed"], "epochs": 5},
    "A wider dense network (784-100-10, ReLU)": {
        "sizes": [784, 100, 10], "activation": "relu", "output_activation": "softmax", "cost": "cross-entropy",
        "init": "he", "optimizer": "adam", "eta": 0.001, "epochs": 5, "batch_size": 64},
    "Convolutional (the cnn preset: slow here)": {**PRESETS["cnn"], "preset": "cnn", "epochs": 2},
}


@st.cache_resource(show_spinner=False)
def _trainer() -> Trainer:
    """One trainer per server: every session queues behind the same worker."""
    return Trainer()


def _settings() -> dict[str, Any] | None:
    """The form: a starting point, then the settings a person may change. None until Train."""
    choice = st.selectbox("Start from", list(CHOICES), key="train_choice")
    base = {**DEFAULTS, "augment": None, "name": "trained", **CHOICES[choice]}
    dense = not base.get("layers")
    with st.form("train_form", border=True):
        left, right = st.columns(2)
        with left:
            if dense:
                sizes = st.text_input("Layers (units, input first)", ",".join(map(str, base["sizes"])),
                                      help="784 pixels in, 10 digits out, hidden layers between, e.g. 784,30,10")
                activation = st.selectbox("Hidden activation", ["sigmoid", "tanh", "relu"],
                                          index=["sigmoid", "tanh", "relu"].index(base["activation"]))
                output = st.selectbox("Output", ["softmax", "sigmoid"],
                                      index=["softmax", "sigmoid"].index(base["output_activation"]))
            else:
                st.caption(f"Layers: those of the {base['preset']} preset")
            cost = st.selectbox("Cost", ["cross-entropy", "quadratic"],
                                index=["cross-entropy", "quadratic"].index(base["cost"]))
            dataset = st.selectbox("Dataset", sorted(DATASETS), index=sorted(DATASETS).index(base["dataset"]))
        with right:
            optimizer = st.selectbox("Optimizer", ["sgd", "momentum", "nesterov", "adam"],
                                     index=["sgd", "momentum", "nesterov", "adam"].index(base["optimizer"]))
            eta = st.number_input("Learning rate", min_value=1e-6, max_value=100.0, value=float(base["eta"]),
                                  format="%g")
            epochs = st.number_input("Epochs", 1, 100, int(base["epochs"]))
            batch = st.number_input("Batch size", 1, 1024, int(base["batch_size"]))
            limit = st.number_input("Training images (0: all 50,000)", 0, 60_000, int(base.get("limit") or 0),
                                    step=1000)
        go = st.form_submit_button("Train", type="primary", icon=":material/play_arrow:")
    if not go:
        return None
    opts = {**base, "cost": cost, "dataset": dataset, "optimizer": optimizer, "eta": float(eta),
            "epochs": int(epochs), "batch_size": int(batch), "limit": int(limit) or None}
    if dense:
        try:
            opts["sizes"] = [int(v) for v in sizes.replace(" ", "").split(",")]
        except ValueError:
            st.error(f"Layers must be whole numbers separated by commas, such as 784,30,10; not {sizes!r}.")
            return None
        if len(opts["sizes"]) < 2 or opts["sizes"][0] != 784 or opts["sizes"][-1] != 10 or min(opts["sizes"]) < 1:
            st.error("Layers must start with the 784 pixels and end with the 10 digits, such as 784,30,10.")
            return None
        opts.update(activation=activation, output_activation=output)
    return opts


def _curves(job: Job) -> None:
    left, right = st.columns(2)
    if job.costs:
        costs = pd.DataFrame(job.costs[-5000:], columns=["epoch", "cost"])
        left.markdown("**Cost per mini-batch**")
        left.altair_chart(alt.Chart(costs, height=220).mark_line(strokeWidth=1).encode(
            x=alt.X("epoch:Q", title="epoch"), y=alt.Y("cost:Q", title=None, scale=alt.Scale(zero=False))),
            width="stretch")
    rows = [("within the epoch (1,000 images)", at, acc) for at, acc in job.peeks]
    rows += [("epoch's end (all validation images)", r["epoch"], r["val_accuracy"]) for r in job.history
             if "val_accuracy" in r]
    if rows:
        frame = pd.DataFrame(rows, columns=["measured", "epoch", "accuracy"])
        right.markdown("**Validation accuracy**")
        right.altair_chart(alt.Chart(frame, height=220).mark_line(point=True).encode(
            x=alt.X("epoch:Q", title="epoch"), y=alt.Y("accuracy:Q", title=None, axis=alt.Axis(format="%"),
                                                       scale=alt.Scale(zero=False)),
            color=alt.Color("measured:N", legend=alt.Legend(orient="bottom", title=None))), width="stretch")


def _watch(live: bool) -> None:
    """The job's progress, curves and first-layer weights. ``live``: a fragment redrawn each second
    while the job is active; when the job ends it reruns the whole page, which draws it once more
    without a timer. No timer outlives the job, so none can fire while "Draw with this model"
    switches pages (a timer's rerun racing the switch could leave the Draw page blank)."""
    job: Job | None = st.session_state.get("train_job")
    if job is None:
        return
    if live and not job.active:
        st.rerun(scope="app")
    if job.state == "queued":
        st.info(f"Waiting: another training runs on this server; yours is number {_trainer().position(job)} "
                "in the queue.")
    elif job.state == "loading":
        st.info("Loading the data...")
    elif job.state == "training" and not job.batches:  # no mini-batch has ended yet
        st.progress(0.0, text=f"Epoch 1 of {job.opts['epochs']}: starting")
    elif job.state == "training":
        st.progress(min(1.0, (job.epoch - 1 + job.batch / job.batches) / job.opts["epochs"]),
                    text=f"Epoch {job.epoch} of {job.opts['epochs']}, mini-batch {job.batch:,} of {job.batches:,}")
    elif job.state == "saving":
        st.info("Scoring on the test set and saving...")
    elif job.output:
        st.success(job.message)
    elif job.state == "stopped":
        st.warning(job.message)
    else:
        st.error(job.message)
    if job.active:
        st.button("Stop", icon=":material/stop:", key="train_stop", on_click=job.stop.set,
                  help="Stop after this mini-batch and keep the last completed epoch")
    elif job.output:
        st.button("Draw with this model", icon=":material/draw:", type="primary", key="train_use",
                  on_click=_use, args=(job.output,))
    if st.session_state.get("train_open_draw"):  # cleared by the Draw page, so a cut-short rerun cannot lose it
        st.switch_page(st.session_state.draw_page)
    _curves(job)
    if job.weights is not None:
        st.image(job.weights[0], caption=f"First layer, redrawn as it learns: {job.weights[1]}",
                 alt="first-layer weights")


def _use(path: Path) -> None:
    st.session_state.model_path = path
    st.session_state.train_open_draw = True


def page(models_dir: Path) -> None:
    """The Train page: settings, the Train button, and the run as it goes."""
    st.markdown("#### Train a network\nChoose a starting point, change what you like, press Train. The "
                "training runs on the server, one at a time; the finished model appears in the Draw "
                "page's model picker.")
    opts = _settings()
    job: Job | None = st.session_state.get("train_job")
    if opts is not None:
        if job is not None and job.active:
            st.error("Your training is still running: stop it first.")
        else:
            st.session_state.train_job = _trainer().submit(Job(opts, models_dir))
    st.caption(f"Models are saved in `{models_dir}/`; `digitnet train --help` trains from a terminal.")
    job = st.session_state.get("train_job")
    live = job is not None and job.active
    st.fragment(_watch, run_every=1.0 if live else None)(live)
