"""The drawing app's page: draw a digit, see what the network reads, and look inside it.

Run it with ``digitnet app [--model PATH]`` or ``streamlit run app.py``. A stroke reruns only
the part of the page under the drawing pad (a fragment). The page stays thin: it reads the pad
(:mod:`digitnet.app.canvas`), calls ``to_mnist`` and the network (``predict_proba``, ``trace``, a
saliency map from backprop), and shows pictures from :mod:`digitnet.app.views` and
:mod:`digitnet.app.inside`. Everything about the model (architecture, accuracy, training command,
curves) comes from the model file's metadata. The Train page is :mod:`digitnet.app.train`.
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

from digitnet import reject
from digitnet.app import canvas, inside, number, teach, train, views
from digitnet.data import DataError, Split, evaluation_dataset, load_test_set
from digitnet.models import default_model_path
from digitnet.nn.network import Network, confusion_matrix
from digitnet.persistence import ModelFileError, load_model
from digitnet.preprocess import BlankImageError, NoBackgroundError, load_image, to_mnist

MAX_UPLOAD_MB = 20
EXAMPLES_SHOWN = 200
PREVIEW_PX = 200
TABLE_ROW_PX = 35  # the height of one row of st.dataframe: a table this many rows tall shows them all


# -- cached resources (shared by every session of the server) ---------------------------------
@st.cache_resource(show_spinner=False, max_entries=8)
def _model(path: str, mtime: float) -> tuple[Network, dict[str, Any], threading.Lock]:
    """The network of a model file, its metadata, and a lock: the layers keep their forward
    caches for backprop, so two sessions must not run the same network at once."""
    net, meta = load_model(path)
    return net, meta, threading.Lock()


@st.cache_resource(show_spinner="Loading the test set...", max_entries=2)
def _test_set(name: str, data_dir: str | None) -> Split:
    """The test split (its two files alone), looked up where ``load_test_set`` looks (``data_dir``
    only keys the cache)."""
    return load_test_set(name, download=False, progress=False)


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
def _proba(net: Network, lock: threading.Lock, x: np.ndarray) -> np.ndarray:
    """The network's answer ``(10,)`` to one input ``x (784,)``: a forward pass, nothing kept."""
    with lock:
        return net.predict_proba(x.reshape(1, *net.input_shape))[0]  # (1, 784) or (1, 28, 28, 1) -> (10,)


def _saliency(net: Network, lock: threading.Lock, x: np.ndarray, digit: int) -> np.ndarray:
    """How each input pixel moves the score of ``digit``: ``(784,)``."""
    with lock:
        return net.input_gradient(x.reshape(1, *net.input_shape), digit).reshape(784)  # (1, ...) -> (784,)


def _trace(net: Network, lock: threading.Lock, x: np.ndarray) -> list[np.ndarray]:
    """Every layer's output for one input (for the pictures of the inside of the network)."""
    with lock:
        return net.trace(x.reshape(1, *net.input_shape))


def _bar_chart(proba: np.ndarray, label: str) -> alt.Chart:
    frame = pd.DataFrame({"digit": [str(d) for d in range(10)], label: proba,
                          "winner": proba == proba.max()})
    return (
        alt.Chart(frame, height=200)
        .mark_bar()
        .encode(
            x=alt.X("digit:N", sort=None, axis=alt.Axis(labelAngle=0, labelFontSize=13, title=None)),
            y=alt.Y(f"{label}:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%", tickCount=5)),
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


def _not_a_digit(net: Network, meta: dict[str, Any], lock: threading.Lock, x: np.ndarray, use_reject: bool = True
                 ) -> tuple[np.ndarray, str | None]:
    """The model's calibrated scores ``(10,)`` for one input ``x (784,)`` (the raw scores for a
    model without a reject option) and, when its reject option (``digitnet.reject``) is on and
    calls it not a digit, why: its detector, or its top score under the bar; None when it is read
    as a digit."""
    with lock:
        scores, evidence, threshold = reject.assess(net, meta, x.reshape(1, *net.input_shape))  # (1, 10), (1,)
    if not use_reject or evidence[0] >= threshold:
        return scores[0], None
    detector = meta["reject"].get("detector") if getattr(net, "detector", None) is not None else None
    if detector is not None and scores[0].max() >= detector["floor"]:
        return scores[0], "detector"
    return scores[0], "score"


def _show_reading(net: Network, proba: np.ndarray, threshold: float, heading: str = "Prediction",
                  refused: str | None = None) -> None:
    """The answer, its confidence and the bar chart; ``refused`` says why the reject option calls
    the input not a digit ("detector" or "score", :func:`_not_a_digit`)."""
    digit, confidence = int(proba.argmax()), float(proba.max())
    label = views.output_label(net)
    if refused == "detector":
        st.subheader("That does not look like a digit", anchor=False)
        st.markdown(f"Its best guess is {digit}, with a {label} of {views.percent(confidence)}, but its "
                    "\"not a digit\" detector finds it unlike the digits it learnt.")
    elif refused:
        st.subheader("That does not look like a digit", anchor=False)
        st.markdown(f"Its best guess, {digit}, has a {label} of only **{views.percent(confidence)}**: "
                    "too little for this model to call it a digit.")
    else:
        st.subheader(f"{heading}: {digit}", anchor=False)
        st.markdown(f"Confidence: **{views.percent(confidence)}** ({label})")
    if confidence < threshold and not refused:
        st.warning(f"Unsure: the best guess {digit} has a {label} of {views.percent(confidence)}, below the "
                   f"{views.percent(threshold)} set in the sidebar. Try a larger, clearer digit.")
    st.altair_chart(_bar_chart(proba, label), width="stretch")
    if label != "probability":
        st.caption("This model's outputs are independent sigmoid scores; the bars show them divided by "
                   "their sum, which keeps their order but are not probabilities.")


# -- input: the drawing pad or an uploaded file -----------------------------------------------
def _read_input() -> tuple[np.ndarray | None, str | None]:
    """The current image as an array (None when nothing is drawn or uploaded), and a one-line
    problem with the upload, if any."""
    source = st.segmented_control("Input", ["Draw", "Upload an image"], default="Draw", key="source",
                                  label_visibility="collapsed")
    if source != "Upload an image":
        strokes = canvas.pad("pad", st.session_state.get("strokes", []))
        st.session_state.strokes = strokes
        if not strokes:
            return None, None
        return canvas.rasterize(strokes, pen=canvas.reading_pen(max(canvas.extent(strokes)))), None
    upload = st.file_uploader("An image of one digit: a photo, a scan or a drawing",
                              type=["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"],
                              max_upload_size=MAX_UPLOAD_MB)
    if upload is None:
        return None, None
    try:
        image = load_image(io.BytesIO(upload.getvalue()))
    except ValueError as e:
        return None, views.upload_problem(upload.name, e)
    st.image(views.preview(image), caption=f"{upload.name}: {image.shape[1]} x {image.shape[0]} pixels",
             width=PREVIEW_PX)
    return image, None


# -- the sections of the page -----------------------------------------------------------------
def _model_card(net: Network, meta: dict[str, Any], path: Path) -> None:
    training = meta.get("training") or {}
    dataset = meta.get("dataset") or {}
    shipped = path.resolve() == default_model_path().resolve()
    rows = {
        "File": f"`{path}`" + (" (shipped with digitnet)" if shipped else ""),
        "Architecture": f"`{net.describe()}`",
        "Parameters": f"{views.parameter_count(net):,}",
        "Outputs": f"{net.output} ({views.output_label(net)})",
        "Dataset": f"{dataset.get('name', 'unknown')}" + (f" (SHA-256 {dataset['sha256'][:12]}...)"
                                                           if dataset.get("sha256") else ""),
        "Test accuracy": views.accuracy_text(meta),
        "Epochs": str(meta.get("epochs_completed", len(views.history_rows(meta))) or "not recorded"),
        "Created": f"{meta.get('created', 'unknown')} with digitnet {meta.get('digitnet_version', '?')}",
    }
    st.markdown("\n".join(f"- **{k}**: {v}" for k, v in rows.items()))
    st.markdown("**Training command**")
    st.code(training.get("command") or "not recorded", language="bash", wrap_lines=True)
    detector = (meta.get("reject") or {}).get("detector")
    if net.detector is not None and isinstance(detector, dict):
        st.markdown(f"**\"Not a digit\" detector**: a small network on this one's features, trained on "
                    f"generated non-digits; it keeps {detector['keep']:.1%} of the validation digits")
        st.code(detector.get("command") or "not recorded", language="bash", wrap_lines=True)
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
    layers = pd.DataFrame(views.describe_layers(net))
    st.dataframe(layers, hide_index=True, height=TABLE_ROW_PX * (len(layers) + 1) + 3)
    if training.get("config"):
        with st.expander("Training settings"):
            st.json(training["config"])


def _inside(net: Network, lock: threading.Lock, x: np.ndarray | None) -> None:
    if x is None:
        st.info("Draw a digit to see how each layer of the network responds to it.")
        return
    outputs = _trace(net, lock, x)
    for picture in inside.inside_views(net, x, outputs):
        st.markdown(f"**{picture.title}**")
        st.image(picture.image, caption=picture.caption, alt=picture.title)


def _explorer(net: Network, lock: threading.Lock, meta: dict[str, Any], path: Path, mtime: float,
              threshold: float) -> None:
    name = evaluation_dataset(meta)
    try:
        test = _test_set(name, os.environ.get("DIGITNET_DATA_DIR"))
    except (DataError, ValueError, OSError) as e:
        st.info(f"The {name} test set is not available here ({views.one_line(e)}). Set DIGITNET_DATA_DIR to a "
                f"folder holding {name}/ with its two test IDX files, or run `digitnet evaluate` once to "
                "download them.")
        return
    proba = _test_outputs(str(path), mtime, name)  # (n, 10)
    pred = proba.argmax(axis=1)  # (n,)
    C = confusion_matrix(test.y, pred)
    st.markdown(f"**Accuracy on the {len(test.y):,} {name} test images: {np.trace(C) / C.sum():.2%}** "
                f"({int(C.sum() - np.trace(C)):,} mistakes). Click a cell of the matrix to list its images.")
    cells = pd.DataFrame([{"true": i, "predicted": j, "count": int(C[i, j])} for i in range(10) for j in range(10)])
    pick = alt.selection_point(name="cell", fields=["true", "predicted"])
    axis = {"labelFontSize": 14, "titleFontSize": 14, "labelAngle": 0}
    base = alt.Chart(cells, height=380, width=380).encode(
        x=alt.X("predicted:O", title="predicted digit", axis=alt.Axis(orient="top", **axis)),
        y=alt.Y("true:O", title="true digit", axis=alt.Axis(**axis)))
    chart = (
        base.mark_rect(stroke="#e6e6e6").encode(
            color=alt.condition("datum.count > 0",
                                alt.Color("count:Q", scale=alt.Scale(type="symlog", scheme="blues"), legend=None),
                                alt.value("white")),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.4)),
            tooltip=["true", "predicted", "count"])
        .add_params(pick)
        + base.mark_text(fontSize=12).transform_filter("datum.count > 0").encode(
            text=alt.Text("count:Q", format=","),
            color=alt.condition(alt.datum.count > C.max() / 8, alt.value("white"), alt.value("black")))
    )
    generation = st.session_state.get("confusion_n", 0)
    event = st.altair_chart(chart, on_select="rerun", key=f"confusion-{generation}", width="content",
                            theme=None)  # keep the chart's own, larger axis labels
    chosen = _selected_cell(event)
    if chosen is None:
        wanted = np.flatnonzero(pred != test.y)
        title = "Misclassified test images"
    else:
        wanted = np.flatnonzero((test.y == chosen[0]) & (pred == chosen[1]))
        title = f"Test images of a {chosen[0]} read as {chosen[1]}"
        st.button("Show all mistakes", icon=":material/arrow_back:", on_click=_show_all)
    total = len(wanted)
    wanted = wanted[np.argsort(-proba[wanted].max(axis=1), kind="stable")][:EXAMPLES_SHOWN]  # most confident first
    if total == 0:
        st.markdown(f"**{title}**: none." if chosen else "**No mistakes** on the test set.")
        return
    shown = f"all {total:,}" if total == len(wanted) else f"{len(wanted):,} of {total:,}"
    st.markdown(f"**{title}**: {shown} shown{', most confident first' if total > 1 else ''}. "
                "Select a row to see what the network outputs for it.")
    table = pd.DataFrame({
        "image": _thumbnails(str(path), mtime, name, tuple(int(i) for i in wanted)),
        "index": wanted, "true": test.y[wanted], "predicted": pred[wanted],
        "confidence": proba[wanted].max(axis=1) * 100,
    })
    left, right = st.columns([1, 1])
    with left:
        rows = st.dataframe(
            table, hide_index=True, on_select="rerun", selection_mode="single-row", key="examples", height=420,
            column_config={"image": st.column_config.ImageColumn("image", width="small"),
                           "confidence": st.column_config.ProgressColumn("confidence", format="%.1f%%",
                                                                         min_value=0.0, max_value=100.0)},
        )
    selected = [r for r in getattr(getattr(rows, "selection", None), "rows", None) or [] if r < len(wanted)]
    i = int(wanted[selected[0] if selected else 0])
    with right:
        x = test.X[i]
        scores = _proba(net, lock, x)
        st.markdown(f"**Test image {i}**: labelled {test.y[i]}")
        _show_reading(net, scores, threshold, heading="Read as")
        a, b = st.columns(2)
        a.image(views.to_grey_image(x, 5), caption="input", alt=f"test image {i}")
        b.image(views.saliency_image(x, _saliency(net, lock, x, int(scores.argmax())), 5), caption="saliency",
                alt=f"saliency of test image {i}")


def _show_all() -> None:
    """Forget the clicked cell: the matrix is drawn again under a new key, with no selection."""
    st.session_state.confusion_n = st.session_state.get("confusion_n", 0) + 1


def _selected_cell(event: Any) -> tuple[int, int] | None:
    """The (true, predicted) cell clicked in the confusion matrix, if any."""
    try:
        points = event.selection["cell"]
        return int(points[0]["true"]), int(points[0]["predicted"])
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        return None


@st.fragment
def _workbench(path: Path, mtime: float, threshold: float, mode: str = number.DIGIT, use_reject: bool = True
               ) -> None:
    """The drawing, the answer and the tabs below them; in Number mode the wide pad and the number
    (:mod:`digitnet.app.number`). ``use_reject``: the model may answer "not a digit".

    A fragment: a stroke, an upload or a click in a tab reruns only this function, not the page
    (the sidebar, the model loading). A failure here is one line on the page, as in ``main``.
    """
    try:
        if mode == number.NUMBER:
            number.workbench(*_model(str(path), mtime), threshold, model=f"{path.resolve()}@{mtime}",
                             use_reject=use_reject)
        else:
            _workbench_parts(path, mtime, threshold, use_reject)
    except Exception as e:  # a fragment's rerun does not pass through main()
        logging.getLogger(__name__).exception("digitnet app failed")
        st.error(f"Something went wrong: {views.one_line(e)}")


def _workbench_parts(path: Path, mtime: float, threshold: float, use_reject: bool = True) -> None:
    """The answer is written before anything slower (the saliency, the tabs), and Streamlit sends
    each element as soon as it is written, so the answer shows first. Only the open tab is computed."""
    net, meta, lock = _model(str(path), mtime)
    draw_col, reading_col, seen_col = st.columns([1.15, 1.2, 1], gap="medium")
    with draw_col:
        image, problem = _read_input()
    x = None
    if image is not None:
        upload = st.session_state.get("source") == "Upload an image"
        try:
            x = to_mnist(image)  # (784,)
        except NoBackgroundError:
            problem = ("No digit found in this image: there is no plain background around the ink." if upload
                       else "No digit found: the drawing covers the pad's edges. Draw the digit inside the pad.")
        except BlankImageError:
            if upload:  # an empty pad is not a problem: nothing is drawn yet
                problem = "No digit found in this image: it looks blank."
        except ValueError as e:
            problem = f"Cannot use this image: {views.one_line(e)}"
    with reading_col:
        if x is None:
            st.subheader("Prediction: none", anchor=False)
            if problem:
                st.error(problem)
            else:
                st.caption("Nothing to read yet: draw a digit, or upload an image of one.")
        else:
            proba, refused = _not_a_digit(net, meta, lock, x, use_reject)
            _show_reading(net, proba, threshold, refused=refused)
            teach.feedback(x, proba, image, path, refused=refused is not None)
    with seen_col:
        if x is not None:
            st.image(views.to_grey_image(x, 6), caption="What the network sees: 28 x 28, centred by mass",
                     alt="the drawing as a 28 by 28 input")
            digit = int(proba.argmax())
            st.image(views.saliency_image(x, _saliency(net, lock, x, digit), 6),
                     caption=f"Saliency: how each pixel moves the score of {digit} "
                             "(red raises it, blue lowers it)", alt="saliency map")

    inside, weights, card, explorer = st.tabs(
        ["Inside the network", "First-layer weights", "Model card", "Test set explorer"],
        key="tab", on_change="rerun")
    if inside.open:
        with inside:
            _inside(net, lock, x)
    if weights.open:
        with weights:
            picture = _weights_picture(str(path), mtime)
            if picture is None:
                st.info("The first layer of this model has no weights to show as images.")
            else:
                st.image(picture[0], caption=picture[1], alt="first-layer weights")
    if card.open:
        with card:
            _model_card(net, meta, path)
    if explorer.open:
        with explorer:
            _explorer(net, lock, meta, path, mtime, threshold)


def _page() -> None:
    st.session_state.pop("train_open_draw", None)  # arrived from the Train page's "Draw with this model"
    options = views.parse_options(sys.argv[1:])
    with st.sidebar:
        st.header("digitnet", anchor=False)
        choices = views.list_models(options)
        shipped = default_model_path().resolve()
        path = st.selectbox("Model", choices, key="model_path",
                            format_func=lambda p: "shipped default model" if p.resolve() == shipped else str(p))
        st.caption(f"Model files found in `{options.models_dir}/` are listed too.")
        threshold = st.slider("Unsure below confidence", 0.0, 1.0, 0.5, 0.05)
        use_reject = st.toggle('Say "not a digit"', value=not options.no_reject, key="use_reject",
                               help="The model's reject option: off, it names a digit for anything drawn.")
        teach.sidebar(path, options.models_dir)
    try:
        mtime = path.stat().st_mtime if path.is_file() else 0.0
        net, meta, _ = _model(str(path), mtime)
    except ModelFileError as e:
        st.error(views.model_problem(path, e))
        return
    mode = number.mode_switch(views.summary(net, meta))
    _workbench(path, mtime, threshold, mode, use_reject)
    teach.examples_section()


def _train_page() -> None:
    train.page(views.parse_options(sys.argv[1:]).models_dir)


def main() -> None:
    """Run the page chosen (Draw or Train); any failure becomes one line, never a traceback."""
    st.set_page_config(page_title="digitnet: draw a digit", page_icon=":pencil2:", layout="wide")
    st.session_state.draw_page = st.Page(_page, title="Draw", icon=":material/draw:", url_path="draw", default=True)
    chosen = st.navigation([st.session_state.draw_page,
                            st.Page(_train_page, title="Train", icon=":material/model_training:", url_path="train")])
    try:
        chosen.run()
    except Exception as e:  # the person drawing gets one line; the server log keeps the details
        logging.getLogger(__name__).exception("digitnet app failed")
        st.error(f"Something went wrong: {views.one_line(e)}")


if __name__ == "__main__":
    main()
