"""The drawing app's page: draw a digit, see what the network reads, and look inside it.

Run it with ``digitnet app [--model PATH]`` or ``streamlit run app.py``; Streamlit reruns this
script on every stroke. The page stays thin: it reads the canvas, calls ``to_mnist`` and the
network (``predict_proba``, ``trace``, a saliency map from backprop), and shows pictures from
:mod:`digitnet.app.views`. Everything about the model (architecture, accuracy, training command,
curves) comes from the model file's metadata.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from digitnet.app import teach, views
from digitnet.data import DataError, Split, evaluation_dataset, load_dataset
from digitnet.models import default_model_path
from digitnet.nn.network import Network, confusion_matrix
from digitnet.persistence import ModelFileError, load_model
from digitnet.preprocess import BlankImageError, load_image, to_mnist

CANVAS_SIDE = 280
STROKE_WIDTH = 18
MAX_UPLOAD_MB = 20
EXAMPLES_SHOWN = 200


# -- cached resources (shared by every session of the server) ---------------------------------
@st.cache_resource(show_spinner=False, max_entries=8)
def _model(path: str, mtime: float) -> tuple[Network, dict[str, Any], threading.Lock]:
    """The network of a model file, its metadata, and a lock: the layers keep their forward
    caches for backprop, so two sessions must not run the same network at once."""
    net, meta = load_model(path)
    return net, meta, threading.Lock()


@st.cache_resource(show_spinner="Loading the test set...", max_entries=2)
def _test_set(name: str, data_dir: str | None) -> Split:
    """The test split, looked up where ``load_dataset`` looks (``data_dir`` only keys the cache)."""
    return load_dataset(name, validation=0, download=False, progress=False).test


@st.cache_data(show_spinner="Running the model on the test set...", max_entries=4)
def _test_outputs(path: str, mtime: float, name: str) -> np.ndarray:
    net, _, lock = _model(path, mtime)
    with lock:
        X = _test_set(name, os.environ.get("DIGITNET_DATA_DIR")).X  # (10000, 784)
        return net.predict_proba(X.reshape(len(X), *net.input_shape))  # (10000, 10)


@st.cache_data(show_spinner=False, max_entries=4)
def _weights_picture(path: str, mtime: float) -> tuple[np.ndarray, str] | None:
    return views.first_layer_weights(_model(path, mtime)[0])


@st.cache_data(show_spinner=False, max_entries=8)
def _thumbnails(path: str, mtime: float, name: str, indices: tuple[int, ...]) -> list[str]:
    X = _test_set(name, os.environ.get("DIGITNET_DATA_DIR")).X
    return [views.png_data_url(views.to_grey_image(X[i], 2)) for i in indices]


# -- what the network makes of one input ------------------------------------------------------
def _look(net: Network, lock: threading.Lock, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Scores ``(10,)``, every layer's output, and the saliency of the winning digit ``(784,)``."""
    X = x.reshape(1, *net.input_shape)  # (1, 784) or (1, 28, 28, 1)
    with lock:
        outputs = net.trace(X)
        proba = net.to_proba(outputs[-1])[0]  # (10,): the trace already ran the forward pass
        grad = net.input_gradient(X, int(proba.argmax()))  # (1, *input_shape)
    return proba, outputs, grad.reshape(784)


def _bar_chart(proba: np.ndarray, label: str) -> alt.Chart:
    frame = pd.DataFrame({"digit": [str(d) for d in range(10)], label: proba,
                          "winner": proba == proba.max()})
    return (
        alt.Chart(frame, height=230)
        .mark_bar()
        .encode(
            x=alt.X("digit:N", sort=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y(f"{label}:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=alt.condition("datum.winner", alt.value("#ff4b4b"), alt.value("#6c7a89")),
            tooltip=["digit", alt.Tooltip(f"{label}:Q", format=".1%")],
        )
    )


def _curve(frame: pd.DataFrame, field: str, fmt: str) -> alt.Chart:
    """One training curve: ``field`` of the model's history against the epoch."""
    return (
        alt.Chart(frame, height=220)
        .mark_line(point=True)
        .encode(x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1, format="d")),
                y=alt.Y(f"{field}:Q", scale=alt.Scale(zero=False), axis=alt.Axis(format=fmt), title=None),
                tooltip=["epoch", alt.Tooltip(f"{field}:Q", format=".4f")])
    )


def _show_reading(net: Network, proba: np.ndarray, threshold: float, heading: str = "Prediction") -> None:
    digit, confidence = int(proba.argmax()), float(proba.max())
    label = views.output_label(net)
    st.subheader(f"{heading}: {digit}", anchor=False)
    st.markdown(f"Confidence: **{confidence:.1%}** ({label})")
    if confidence < threshold:
        st.warning(f"Unsure: the best guess {digit} has a {label} of only {confidence:.0%}, "
                   f"below {threshold:.0%}. Try a larger, clearer digit.")
    st.altair_chart(_bar_chart(proba, label), width="stretch")
    if label != "probability":
        st.caption("This model's outputs are independent sigmoid scores; the bars show them divided by "
                   "their sum, which keeps their order but are not probabilities.")


# -- input: the canvas or an uploaded file ----------------------------------------------------
def _clear_canvas() -> None:
    st.session_state.canvas_n = st.session_state.get("canvas_n", 0) + 1


def _read_input() -> np.ndarray | None:
    """The current image as an array (None when nothing is drawn or uploaded)."""
    source = st.radio("Input", ["Draw", "Upload an image"], horizontal=True, label_visibility="collapsed")
    if source == "Draw":
        st.write("")  # room for the canvas's toolbar, which floats above it
        from streamlit_drawable_canvas import st_canvas  # imported here: it registers in the runtime

        canvas = st_canvas(
            stroke_width=STROKE_WIDTH, stroke_color="#FFFFFF", background_color="#000000",
            width=CANVAS_SIDE, height=CANVAS_SIDE, drawing_mode="freedraw", update_streamlit=True,
            return_image_data=True, key=f"canvas-{st.session_state.get('canvas_n', 0)}",
        )
        st.button("Clear", on_click=_clear_canvas, icon=":material/delete:")
        st.caption("Draw one digit with the mouse or a finger, large and centred.")
        return canvas.image_data
    upload = st.file_uploader("An image of one digit (PNG, JPEG, ...), light on dark or dark on light",
                              type=["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"],
                              max_upload_size=MAX_UPLOAD_MB)
    if upload is None:
        return None
    try:
        return load_image(io.BytesIO(upload.getvalue()))
    except ValueError as e:
        st.error(views.upload_problem(upload.name, e))
        return None


# -- the sections of the page -----------------------------------------------------------------
def _model_card(net: Network, meta: dict[str, Any], path: Path) -> None:
    training = meta.get("training") or {}
    dataset = meta.get("dataset") or {}
    rows = {
        "File": f"`{path}`" + (" (shipped with digitnet)" if path.resolve() == default_model_path().resolve() else ""),
        "Architecture": net.describe(),
        "Parameters": f"{views.parameter_count(net):,}",
        "Outputs": f"{net.output} ({views.output_label(net)})",
        "Dataset": f"{dataset.get('name', 'unknown')}" + (f" (SHA-256 {dataset['sha256'][:12]}...)"
                                                           if dataset.get("sha256") else ""),
        "Test accuracy": views.accuracy_text(meta),
        "Epochs": str(meta.get("epochs_completed", len(views.history_rows(meta))) or "not recorded"),
        "Created": f"{meta.get('created', 'unknown')} with digitnet {meta.get('digitnet_version', '?')}",
    }
    st.markdown("\n".join(["| | |", "|---|---|", *(f"| **{k}** | {v} |" for k, v in rows.items())]))
    st.markdown("**Training command**")
    st.code(training.get("command") or "not recorded", language="bash", wrap_lines=True)
    history = views.history_rows(meta)
    if history:
        frame = pd.DataFrame(history)
        left, right = st.columns(2)
        if "val_accuracy" in frame:
            left.markdown("**Validation accuracy per epoch**")
            left.altair_chart(_curve(frame, "val_accuracy", "%"), width="stretch")
        if "train_cost" in frame:
            right.markdown("**Training cost per epoch**")
            right.altair_chart(_curve(frame, "train_cost", ".3f"), width="stretch")
    else:
        st.caption("This model file records no training history.")
    st.markdown("**Layers**")
    st.dataframe(pd.DataFrame(views.describe_layers(net)), hide_index=True)
    if training.get("config"):
        with st.expander("Training settings"):
            st.json(training["config"])


def _inside(net: Network, x: np.ndarray | None, outputs: list[np.ndarray] | None) -> None:
    if x is None or outputs is None:
        st.info("Draw a digit to see how each hidden layer responds to it.")
        return
    shown = views.activation_views(net, outputs)
    if not shown:
        st.info("This model has no hidden activation layers.")
    for title, image, caption in shown:
        st.markdown(f"**{title}**")
        st.image(image, caption=caption, alt=f"{title} activations")


def _explorer(net: Network, lock: threading.Lock, meta: dict[str, Any], path: Path, mtime: float,
              threshold: float) -> None:
    name = evaluation_dataset(meta)
    try:
        test = _test_set(name, os.environ.get("DIGITNET_DATA_DIR"))
    except (DataError, ValueError, OSError) as e:
        st.info(f"The {name} test set is not available here ({views.one_line(e)}). Set DIGITNET_DATA_DIR to a "
                f"folder holding {name}/ with its four IDX files, or run `digitnet evaluate` once to download it.")
        return
    proba = _test_outputs(str(path), mtime, name)  # (n, 10)
    pred = proba.argmax(axis=1)  # (n,)
    C = confusion_matrix(test.y, pred)
    st.markdown(f"**Accuracy on the {len(test.y):,} {name} test images: {np.trace(C) / C.sum():.2%}** "
                f"({int(C.sum() - np.trace(C))} mistakes). Click a cell of the matrix to list its images.")
    cells = pd.DataFrame([{"true": i, "predicted": j, "count": int(C[i, j])} for i in range(10) for j in range(10)])
    pick = alt.selection_point(name="cell", fields=["true", "predicted"])
    base = alt.Chart(cells, height=380, width=380).encode(
        x=alt.X("predicted:O", title="predicted digit"), y=alt.Y("true:O", title="true digit"))
    chart = (
        base.mark_rect().encode(
            color=alt.Color("count:Q", scale=alt.Scale(type="symlog", scheme="blues"), legend=None),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.4)),
            tooltip=["true", "predicted", "count"])
        .add_params(pick)
        + base.mark_text(fontSize=11).encode(
            text="count:Q",
            color=alt.condition(alt.datum.count > C.max() / 8, alt.value("white"), alt.value("black")))
    )
    event = st.altair_chart(chart, on_select="rerun", key="confusion", width="content")
    chosen = _selected_cell(event)
    if chosen is None:
        wanted = np.flatnonzero(pred != test.y)
        title = "Misclassified test images"
    else:
        wanted = np.flatnonzero((test.y == chosen[0]) & (pred == chosen[1]))
        title = f"Test images of a {chosen[0]} read as {chosen[1]}"
    wanted = wanted[np.argsort(-proba[wanted].max(axis=1), kind="stable")][:EXAMPLES_SHOWN]  # most confident first
    st.markdown(f"**{title}** ({len(wanted)} shown{', most confident first' if len(wanted) > 1 else ''}). "
                "Select a row to see what the network outputs for it.")
    if len(wanted) == 0:
        return
    table = pd.DataFrame({
        "image": _thumbnails(str(path), mtime, name, tuple(int(i) for i in wanted)),
        "index": wanted, "true": test.y[wanted], "predicted": pred[wanted],
        "confidence": proba[wanted].max(axis=1),
    })
    left, right = st.columns([1, 1])
    with left:
        rows = st.dataframe(
            table, hide_index=True, on_select="rerun", selection_mode="single-row", key="examples", height=420,
            column_config={"image": st.column_config.ImageColumn("image", width="small"),
                           "confidence": st.column_config.ProgressColumn("confidence", format="percent",
                                                                         min_value=0.0, max_value=1.0)},
        )
    selected = [r for r in getattr(getattr(rows, "selection", None), "rows", None) or [] if r < len(wanted)]
    i = int(wanted[selected[0] if selected else 0])
    with right:
        x = test.X[i]
        scores, _, grad = _look(net, lock, x)
        st.markdown(f"**Test image {i}**: labelled {test.y[i]}")
        _show_reading(net, scores, threshold, heading="Read as")
        a, b = st.columns(2)
        a.image(views.to_grey_image(x, 5), caption="input", alt=f"test image {i}")
        b.image(views.saliency_image(x, grad, 5), caption="saliency", alt=f"saliency of test image {i}")


def _selected_cell(event: Any) -> tuple[int, int] | None:
    """The (true, predicted) cell clicked in the confusion matrix, if any."""
    try:
        points = event.selection["cell"]
        return int(points[0]["true"]), int(points[0]["predicted"])
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        return None


def _page() -> None:
    options = views.parse_options(sys.argv[1:])
    with st.sidebar:
        st.header("digitnet", anchor=False)
        choices = views.list_models(options)
        shipped = default_model_path().resolve()
        path = st.selectbox("Model", choices, key="model_path",
                            format_func=lambda p: "shipped default model" if p.resolve() == shipped else str(p))
        st.caption(f"Model files found in `{options.models_dir}/` are listed too.")
        threshold = st.slider("Unsure below confidence", 0.0, 1.0, 0.5, 0.05)
        teach.sidebar(path, options.models_dir)
    try:
        mtime = path.stat().st_mtime if path.is_file() else 0.0
        net, meta, lock = _model(str(path), mtime)
    except ModelFileError as e:
        st.error(views.model_problem(path, e))
        return
    st.title("Draw a digit", anchor=False)
    st.caption(f"{net.describe()}, test accuracy {views.accuracy_text(meta)}. "
               "The network reads your drawing after each stroke.")

    draw_col, reading_col, seen_col = st.columns([1.15, 1.2, 1], gap="medium")
    with draw_col:
        image = _read_input()
    x = outputs = None
    if image is not None:
        try:
            x = to_mnist(image)  # (784,)
        except BlankImageError:
            x = None
        except ValueError as e:
            st.error(f"Cannot use this image: {views.one_line(e)}")
    with reading_col:
        if x is None:
            st.subheader("Prediction: none", anchor=False)
            st.caption("Nothing to read yet: draw a digit, or upload an image of one.")
        else:
            proba, outputs, grad = _look(net, lock, x)
            _show_reading(net, proba, threshold)
            teach.feedback(x, proba, image, path)
    with seen_col:
        if x is not None:
            st.image(views.to_grey_image(x, 6), caption="What the network sees: 28 x 28, centred by mass",
                     alt="the drawing as a 28 by 28 input")
            st.image(views.saliency_image(x, grad, 6),
                     caption=f"Saliency: how each pixel moves the score of {int(proba.argmax())} "
                             "(red raises it, blue lowers it)", alt="saliency map")

    hidden, weights, card, explorer = st.tabs(
        ["Hidden layers", "First-layer weights", "Model card", "Test set explorer"])
    with hidden:
        _inside(net, x, outputs)
    with weights:
        picture = _weights_picture(str(path), mtime)
        if picture is None:
            st.info("The first layer of this model has no weights to show as images.")
        else:
            st.image(picture[0], caption=picture[1], alt="first-layer weights")
    with card:
        _model_card(net, meta, path)
    with explorer:
        _explorer(net, lock, meta, path, mtime, threshold)
    teach.examples_section()


def main() -> None:
    """Draw the page; any failure becomes one line on the page, never a traceback."""
    st.set_page_config(page_title="digitnet: draw a digit", page_icon=":pencil2:", layout="wide")
    try:
        _page()
    except Exception as e:  # the person drawing gets one line; the server log keeps the details
        logging.getLogger(__name__).exception("digitnet app failed")
        st.error(f"Something went wrong: {views.one_line(e)}")


if __name__ == "__main__":
    main()
