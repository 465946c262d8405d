"""The app's teaching widgets: correct an answer, keep the example, fine-tune, switch models.

The page calls three functions: ``feedback`` under each answer ("Right" / "Wrong, it is: 0 ... 9,
not a digit", one click each, saved to the examples database), ``sidebar`` (the profile, its
number of examples, Undo, and "Teach", which fine-tunes in a background thread with a progress
bar and then offers the new model in the picker, with "Go back" to the one before), and
``examples_section`` (the profile's examples as a table with thumbnails, to delete).

Every database call opens its own short connection (``ExampleStore``): Streamlit runs each
browser tab in its own thread, and SQLite's WAL lets them all write safely. A damaged or foreign
database is shown in one line and never touched.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import os
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from digitnet.app import canvas, views
from digitnet.examples import (DEFAULT_PROFILE, NOT_A_DIGIT, ExamplesError, ExampleStore, check_profile,
                               default_path, file_sha256, label_text, npz_bytes)
from digitnet.finetune import MIN_EXAMPLES, FinetuneConfig, check_enough, teach

CANVAS_SHAPE = (canvas.SIDE, canvas.SIDE, 4)  # what the drawing pad hands the page (RGBA)
# What a database call may raise: shown in one line on the page (a locked or full disk included).
_PROBLEMS = (ExamplesError, ValueError, OSError, sqlite3.Error)


def _profile() -> str:
    return st.session_state.get("teach_profile") or os.environ.get("DIGITNET_PROFILE") or DEFAULT_PROFILE


def _store() -> ExampleStore:
    return ExampleStore()  # $DIGITNET_DB, else the per-user data folder


def _saved(profile: str) -> list:
    """The profile's examples; none, without creating the database, before the first is saved."""
    if not default_path().exists():
        return []
    with _store() as store:
        return store.list(profile)


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _key(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()


# -- under each answer --------------------------------------------------------------------------
def _save(x: np.ndarray, image: np.ndarray, source: str, label: int, answer: int, confidence: float | None,
          model: str) -> None:
    """The Right / Wrong buttons' callback: store the example, remember it for Undo."""
    try:
        with _store() as store:
            st.session_state.teach_last = store.add(
                x, label, _profile(), source, _png(image), answer, confidence, _sha256(model))
        st.session_state.teach_saved = (_key(x), label)
        st.session_state.teach_refresh = True
        st.toast(f"Saved as {label_text(label)}")
    except _PROBLEMS as e:
        st.session_state.teach_error = views.one_line(e)


@st.cache_data(show_spinner=False, max_entries=16)
def _sha256_cached(path: str, mtime: float) -> str:
    return file_sha256(path)


def _sha256(path: str) -> str:
    return _sha256_cached(path, Path(path).stat().st_mtime)


def feedback(x: np.ndarray, proba: np.ndarray, image: np.ndarray, model: Path, source: str | None = None,
             refused: bool = False) -> None:
    """"Right" and "Wrong, it is: ..." for the answer to input ``x (784,)``: the top digit of
    ``proba (10,)`` and its confidence, or "not a digit" (no confidence) where the model's reject
    option ``refused`` it.

    ``image`` is what was drawn or uploaded (stored as PNG); ``source`` is ``"canvas"`` or
    ``"upload"``, by default ``"canvas"`` for an image of the drawing pad's shape.
    """
    if st.session_state.pop("teach_refresh", False):
        st.rerun(scope="app")  # the page may call this from a fragment: the sidebar's count changed too
    answer, confidence = (NOT_A_DIGIT, None) if refused else (int(proba.argmax()), float(proba.max()))
    error = st.session_state.pop("teach_error", None)
    if error:
        st.error(f"Not saved: {error}")
    saved = st.session_state.get("teach_saved")
    if saved and saved[0] == _key(x):
        st.success(f"Saved as {label_text(saved[1])} in profile {_profile()!r}. "
                   "Draw another, or undo it in the sidebar.")
        return
    args = (x, image, source or ("canvas" if np.shape(image) == CANVAS_SHAPE else "upload"))
    st.button(f"Right, it is {label_text(answer)}", key="teach_right", icon=":material/check:", on_click=_save,
              args=(*args, answer, answer, confidence, str(model)))
    st.caption("Wrong? It is:")
    for row in (range(5), range(5, 10)):
        for label, col in zip(row, st.columns(5, gap="small")):
            col.button(str(label), key=f"teach_wrong_{label}", on_click=_save, disabled=label == answer,
                       args=(*args, label, answer, confidence, str(model)), width="stretch")
    st.button("Not a digit", key=f"teach_wrong_{NOT_A_DIGIT}", on_click=_save, disabled=answer == NOT_A_DIGIT,
              args=(*args, NOT_A_DIGIT, answer, confidence, str(model)))


# -- the sidebar: profile, count, Undo, Teach ------------------------------------------------
@dataclass
class _Job:
    """A fine-tuning run in a background thread; the thread writes, the page reads."""

    base: str
    output: str
    profile: str
    steps: int
    step: int = 0
    done: bool = False
    error: str | None = None
    rows: list[tuple[str, str, str]] = field(default_factory=list)


def _run(job: _Job, X: np.ndarray, y: np.ndarray) -> None:
    from digitnet.data import DataError, load_dataset

    def on_step(step: int, steps: int, cost: float) -> None:
        job.step = step

    try:
        data = load_dataset("mnist", validation=0, download=False, progress=False)
        report = teach(job.base, X, y, data.train, data.test, job.output, FinetuneConfig(steps=job.steps),
                       command=f"app: Teach, profile {job.profile!r}", profile=job.profile,
                       on_step=on_step, log=lambda line: None)
        job.rows = report.rows()
    except DataError as e:
        job.error = (f"MNIST is needed to fine-tune without forgetting it ({views.one_line(e)}); set "
                     "DIGITNET_DATA_DIR or run `digitnet train` once to download it")
    except Exception as e:  # the thread must report, never die silently
        job.error = views.one_line(e)
    finally:
        job.done = True


def _start(base: Path, models_dir: Path) -> None:
    profile = _profile()
    try:
        with _store() as store:
            X, y, _ = store.arrays(profile)
        check_enough(len(y), profile)
        models_dir.mkdir(parents=True, exist_ok=True)
    except _PROBLEMS as e:
        st.session_state.teach_job_error = views.one_line(e)
        return
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in profile)
    job = _Job(str(base), str(models_dir / f"{safe}-{stamp}.npz"), profile, FinetuneConfig.steps)
    st.session_state.teach_job = job
    threading.Thread(target=_run, args=(job, X, y), daemon=True, name="digitnet-teach").start()


def _use(path: str, previous: str | None) -> None:
    st.session_state.model_path = Path(path)
    st.session_state.teach_previous = previous


@st.fragment(run_every=1.0)
def _progress() -> None:
    """Redrawn each second while a job runs; when it ends, the whole page runs again to show it."""
    job = st.session_state.get("teach_job")
    if job is None:
        return
    if job.done:
        st.rerun(scope="app")
    text = (f"Teaching: step {job.step} of {job.steps}" if job.step < job.steps  # then its detector, if any,
            else f"Teaching: {job.steps} steps done; finishing the new model")  # and the accuracy after
    st.progress(job.step / job.steps, text=text)


def sidebar(model: Path, models_dir: Path) -> None:
    """The profile, its example count, Undo, Teach with its progress, and the models it made."""
    st.divider()
    st.markdown("**Teach it your handwriting**")
    st.text_input("Profile", value=os.environ.get("DIGITNET_PROFILE") or DEFAULT_PROFILE, key="teach_profile",
                  max_chars=64,
                  help="Whose examples: several people can teach on one machine.")
    try:
        profile = check_profile(_profile())
        count = len(_saved(profile))
    except _PROBLEMS as e:
        st.error(views.one_line(e))
        return
    st.caption(f"{count} example{'s' * (count != 1)} saved in profile {profile!r}")
    job = st.session_state.get("teach_job")
    running = job is not None and not job.done
    st.button("Undo last example", key="teach_undo", icon=":material/undo:", on_click=_undo, disabled=count == 0,
              help="Delete the last example saved in this profile", width="stretch")
    st.button("Teach", key="teach_go", icon=":material/school:", on_click=_start, args=(model, models_dir),
              disabled=running or count < MIN_EXAMPLES, type="primary", width="stretch",
              help=f"Fine-tune the model on this profile's examples (at least {MIN_EXAMPLES})")
    error = st.session_state.pop("teach_job_error", None)
    if error:
        st.error(error)
    if running:
        _progress()
    elif job is not None:
        if job.error:
            st.error(f"Teaching failed: {job.error}")
        else:
            st.markdown("\n".join(["| accuracy | before | after |", "|---|---:|---:|",
                                   *(f"| {a} | {b} | {c} |" for a, b, c in job.rows)]))
            if str(model) != job.output:
                st.button("Use the new model", key="teach_use", icon=":material/check_circle:", on_click=_use,
                          args=(job.output, str(model)))
    previous = st.session_state.get("teach_previous")
    if previous and str(model) != previous:
        st.button("Go back to the previous model", key="teach_back", icon=":material/history:",
                  on_click=_use, args=(previous, None))


def _undo() -> None:
    """Delete the example this browser tab saved last, else the profile's newest."""
    try:
        with _store() as store:
            last = st.session_state.pop("teach_last", None)
            gone = last if last is not None and store.delete([last], _profile()) else store.undo_last(_profile())
        st.session_state.teach_saved = None
        st.toast("Nothing to undo" if gone is None else f"Deleted example {gone}")
    except _PROBLEMS as e:
        st.session_state.teach_job_error = views.one_line(e)


# -- the profile's examples -------------------------------------------------------------------
def examples_section() -> None:
    """The profile's examples, newest first, with thumbnails; select rows to delete them."""
    try:
        rows = _saved(check_profile(_profile()))[::-1]
    except _PROBLEMS:
        return  # the sidebar shows the problem
    with st.expander(f"My examples ({len(rows)})"):
        if not rows:
            st.caption("None yet: press Right or Wrong under an answer to save one.")
            return
        table = pd.DataFrame({
            "image": [views.png_data_url(views.to_grey_image(r.x, 2)) for r in rows],
            "id": [r.id for r in rows], "label": [r.label_text for r in rows],
            "model read": ["-" if r.answer is None else label_text(r.answer) for r in rows],
            "source": [r.source for r in rows], "saved": [r.created for r in rows],
        })
        picked = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="multi-row",
                              key="teach_table", column_config={"image": st.column_config.ImageColumn("image")})
        chosen = [int(table["id"][i]) for i in getattr(getattr(picked, "selection", None), "rows", None) or []
                  if i < len(table)]
        left, right = st.columns(2)
        left.button(f"Delete {len(chosen)} selected", key="teach_delete", icon=":material/delete:",
                    disabled=not chosen, on_click=_delete, args=(chosen,))
        right.download_button("Download them all (npz)", npz_bytes(rows[::-1]), icon=":material/download:",
                              file_name=f"{_profile()}-examples.npz", mime="application/octet-stream",
                              help="Every example with its drawing; 'digitnet examples import' reads it back")


def _delete(ids: list[int]) -> None:
    try:
        with _store() as store:
            gone = store.delete(ids, _profile())
        st.toast(f"Deleted {gone} example{'s' * (gone != 1)}")
    except _PROBLEMS as e:
        st.session_state.teach_job_error = views.one_line(e)
