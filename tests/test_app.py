"""The app's page under Streamlit's AppTest (no browser), and its picture helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")  # the app extra; CI installs it
from streamlit.testing.v1 import AppTest  # noqa: E402

from digitnet.app import inside, views  # noqa: E402
from digitnet.models import default_model_path  # noqa: E402
from digitnet.nn.layers import ActivationLayer, BatchNorm, Conv2D, Dense, Flatten, Reshape  # noqa: E402
from digitnet.nn.network import Network  # noqa: E402
from digitnet.persistence import load_model, save_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def app_env(monkeypatch, tmp_path, mnist_dir):
    """A clean environment: the real MNIST for the explorer, an empty models folder."""
    monkeypatch.setenv("DIGITNET_DATA_DIR", str(mnist_dir.parent))
    monkeypatch.setenv("DIGITNET_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("DIGITNET_MODEL", raising=False)
    return tmp_path


def run_app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def open_tab(at: AppTest, name: str) -> AppTest:
    """Select a tab below the drawing (only the open tab is computed)."""
    at.session_state["tab"] = name
    at = at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "subheader", "title", "code", "info", "warning")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def tiny_model(path: Path, output: str = "sigmoid") -> Network:
    net = Network([784, 12, 10], activation="sigmoid", output=output, seed=1)
    save_model(path, net, {"training": {"command": "digitnet train --sizes 784,12,10 -o tiny.npz"},
                           "dataset": {"name": "mnist", "sha256": "0" * 64}, "test_accuracy": 0.1234,
                           "history": [{"epoch": 1, "train_cost": 0.5, "val_accuracy": 0.12}]})
    return net


def test_page_without_a_drawing(app_env):
    at = run_app()
    assert [s.value for s in at.subheader][0] == "Prediction: none"
    assert not at.error
    _, meta = load_model(default_model_path())
    assert f"{meta['test_accuracy']:.2%} right on MNIST's test set" in texts(at)  # from the model file
    assert "A convolutional network: 4 convolution layers and 2 dense layers" in texts(at)
    assert "Draw a digit to see how each layer of the network responds" in texts(at)


def test_model_card_comes_from_the_metadata(app_env):
    at = open_tab(run_app(), "Model card")
    net, meta = load_model(default_model_path())
    page = texts(at)
    assert meta["training"]["command"] in [c.value for c in at.code]
    assert meta["reject"]["detector"]["command"] in [c.value for c in at.code]  # how its detector was made
    assert '"Not a digit" detector' in page
    assert net.describe() in page
    assert f"{meta['test_accuracy']:.2%}" in page
    assert meta["dataset"]["name"] in page
    assert "Validation accuracy per epoch" in page  # the curves of meta["history"]
    assert "Accuracy on the 10,000 mnist test images" not in page  # a closed tab is not computed
    at = open_tab(at, "Test set explorer")
    assert "Accuracy on the 10,000 mnist test images" in texts(at)  # the test-set explorer found the data


def test_picker_offers_models_of_the_models_folder(app_env):
    (app_env / "models").mkdir()
    net = tiny_model(app_env / "models" / "tiny.npz")
    at = run_app()
    picker = at.selectbox(key="model_path")
    assert [Path(p).name for p in picker.options[1:]] == ["tiny.npz"]
    picker.select(picker.options[1])
    at = open_tab(at, "Model card")
    page = texts(at)
    assert net.describe() in page and "12.34%" in page
    assert "normalised score" in page  # sigmoid outputs are not called probabilities
    assert "digitnet train --sizes 784,12,10 -o tiny.npz" in [c.value for c in at.code]


@pytest.mark.parametrize("content", [None, b"not a model at all", b"PK\x03\x04truncated"])
def test_a_missing_or_corrupt_model_gives_the_training_command(app_env, monkeypatch, content):
    path = app_env / "broken.npz"
    if content is not None:
        path.write_bytes(content)
    monkeypatch.setenv("DIGITNET_MODEL", str(path))
    at = run_app()
    assert len(at.error) == 1
    assert "digitnet train" in at.error[0].value and str(path) in at.error[0].value


def test_explorer_says_how_to_get_the_test_set(app_env, monkeypatch):
    monkeypatch.setenv("DIGITNET_DATA_DIR", str(app_env / "no-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(app_env / "no-cache"))
    at = open_tab(run_app(), "Test set explorer")
    assert not at.error
    assert any("DIGITNET_DATA_DIR" in i.value for i in at.info)


# -- the helpers ------------------------------------------------------------------------------
def test_options_come_from_argv_then_environment(tmp_path):
    env = {"DIGITNET_MODEL": "env.npz", "DIGITNET_MODELS_DIR": "envdir"}
    assert views.parse_options(["--model", "a.npz", "-x"], env) == views.AppOptions(Path("a.npz"), Path("envdir"))
    assert views.parse_options(["--models-dir", "d"], env) == views.AppOptions(Path("env.npz"), Path("d"))
    assert views.parse_options(["--model"], {}) == views.AppOptions(default_model_path(), Path("models"))
    assert views.parse_options(["--no-reject"], {}).no_reject and not views.parse_options([], {}).no_reject


def test_saliency_is_the_gradient_of_the_class_score():
    """Central differences of the winning digit's score (before softmax), in float64."""
    net = Network([784, 6, 10], activation="tanh", output="softmax", cost="cross-entropy", seed=3, dtype="float64")
    x = np.random.default_rng(0).random((1, 784))

    def score(v):
        a = v
        for layer in net.layers[:-1]:
            a = layer.forward(a)
        return a[0, 4]

    grad = net.input_gradient(x, 4)[0]
    h = 1e-6
    for i in (0, 100, 400, 783):
        e = np.zeros_like(x)
        e[0, i] = h
        assert grad[i] == pytest.approx((score(x + e) - score(x - e)) / (2 * h), rel=1e-5, abs=1e-9)


def test_pictures_have_the_promised_shapes():
    net = Network([784, 40, 20, 10], activation="relu", output="softmax", cost="cross-entropy", seed=0)
    x = np.random.default_rng(1).random(784).astype(np.float32)
    assert views.to_grey_image(x, 6).shape == (168, 168)
    assert views.saliency_image(x, np.linspace(-1, 1, 784), 6).shape == (168, 168, 3)
    (diagram,) = inside.inside_views(net, x, net.trace(x[None]))
    assert diagram.title == "The neurons, layer by layer" and diagram.image.ndim == 3
    assert f"the {inside.MAX_UNITS} most active of 40 units" in diagram.caption  # a wide layer is cut, and says so
    weights, caption = views.first_layer_weights(net)
    assert weights.dtype == np.uint8 and "40 of 40 units" in caption
    # Batch norm with its ReLU inside counts as a hidden layer too, a ReLU-less one does not.
    bn = Network([Reshape((28, 28, 1)), Conv2D(3, 3, bias=False), BatchNorm(relu=True), Conv2D(2, 3),
                  BatchNorm(), Flatten(), Dense(10), ActivationLayer("softmax")], cost="cross-entropy")
    maps, output = inside.inside_views(bn, x, bn.trace(x[None]))
    assert maps.title == "Layer 1: convolution (relu)" and "3 feature maps of 26 x 26" in maps.caption
    assert maps.image.shape[1] == 3 * (inside.MAP_PX + 2) + 2  # every map one size, 26 x 26 drawn 56 wide
    assert output.title == "Output layer" and "the answer" in output.caption
    assert views.tile(np.zeros((5, 3, 3), np.uint8), cols=2).shape == (3 * 4 + 1, 2 * 4 + 1)


def test_model_summary_in_plain_words():
    dense = Network([784, 30, 10], activation="sigmoid", output="softmax", cost="cross-entropy", seed=0)
    assert views.summary(dense, {"test_accuracy": 0.9512, "dataset": {"name": "mnist"}}) == \
        "A fully connected network: 2 dense layers; 95.12% right on MNIST's test set."
    assert views.summary(dense, {"test_accuracy": 0.8875, "dataset": {"name": "fashion-mnist"}}).endswith(
        "; 88.75% right on Fashion-MNIST's test set.")
    net, meta = load_model(default_model_path())
    assert views.summary(net, meta).startswith("A convolutional network: 4 convolution layers and 2 dense layers; ")


def test_colour_maps():
    assert views.heat(np.array([0.0, 1.0])).tolist() == [[0, 0, 4], [252, 253, 191]]
    rgb = views.diverging(np.array([-2.0, 0.0, 2.0]))
    assert rgb[1].tolist() == [0, 0, 0]
    assert rgb[0, 2] == 255 and rgb[2, 0] == 255  # blue for negative, red for positive
    assert views.diverging(np.zeros(3)).max() == 0


def test_right_confirms_the_answer_shown_and_the_sidebar_turns_not_a_digit_off(app_env, monkeypatch):
    """A cross drawn on the pad: the page says it is not a digit, and "Right" confirms that answer
    (saved with the label and the model's answer both "not a digit", no confidence) while each digit
    is offered as the correction. With the sidebar's "Say "not a digit"" off, the model names its
    best guess, and "Right" names that digit."""
    from digitnet.examples import NOT_A_DIGIT, ExampleStore

    monkeypatch.setenv("DIGITNET_DB", str(app_env / "examples.sqlite"))
    at = run_app()
    at.session_state["pad"] = {"strokes": [[[80, 120], [200, 240]], [[200, 120], [80, 240]]]}
    at.toggle(key="use_reject").set_value(False)
    at = at.run()
    guess = at.subheader[0].value.removeprefix("Prediction: ")
    buttons = {b.label: b for b in at.button}
    assert guess.isdigit() and f"Right, it is {guess}" in buttons and buttons[guess].disabled
    assert not buttons["Not a digit"].disabled
    at.toggle(key="use_reject").set_value(True)
    at = at.run()
    assert at.subheader[0].value == "That does not look like a digit"
    buttons = {b.label: b for b in at.button}
    assert not any(buttons[str(d)].disabled for d in range(10)) and buttons["Not a digit"].disabled
    buttons["Right, it is not a digit"].click()
    at = at.run()
    assert not at.exception, at.exception
    with ExampleStore(app_env / "examples.sqlite") as store:
        (saved,) = store.list("default")
    assert (saved.label, saved.answer, saved.confidence, saved.source) == (NOT_A_DIGIT, NOT_A_DIGIT, None, "canvas")


def test_a_scribble_over_the_whole_pad_is_no_digit_and_the_page_says_why(app_env):
    """Ink over the pad's edges leaves no background to tell a digit from: no answer, and a line
    that says so (not the silence of an empty pad)."""
    at = run_app()
    at.session_state["pad"] = {"strokes": [[[x, 0 if i % 2 else 280] for i, x in enumerate(range(0, 281, 20))]]}
    at = at.run()
    assert not at.exception, at.exception
    assert at.subheader[0].value == "Prediction: none"
    assert [e.value for e in at.error] == ["No digit found: the drawing covers the pad's edges. "
                                           "Draw the digit inside the pad."]


def test_the_page_says_not_a_digit_where_the_models_reject_option_does(mnist_dir):
    """The page asks ``digitnet.reject``: the shipped model (with its detector) reads a real MNIST
    digit and calls a scribble not a digit, by its detector, though its best guess scores high (the
    page must not say the score was too low); a threshold above any score on the top probability
    calls the digit not a digit by its score; a model without reject settings never does, and
    keeps its raw scores."""
    import threading

    from digitnet.app.page import _not_a_digit
    from digitnet.data import load_test_set

    net, meta = load_model(default_model_path())
    lock = threading.Lock()
    x = load_test_set("mnist", mnist_dir).X[0]  # a 7
    scores, refused = _not_a_digit(net, meta, lock, x)
    assert refused is None and scores.argmax() == 7 and scores.sum() == pytest.approx(1.0, abs=1e-5)
    ring = np.zeros((28, 28), np.float32)
    ring[6:22, 6:22], ring[8:20, 8:20] = 1.0, 0.0  # a square outline: no digit
    scores, refused = _not_a_digit(net, meta, lock, ring.reshape(784))
    assert refused == "detector" and scores.max() > 0.9
    net.detector = None
    assert _not_a_digit(net, {"reject": {"temperature": 1.0, "threshold": 1.01}}, lock, x)[1] == "score"
    assert _not_a_digit(net, {"reject": {"temperature": 1.0, "threshold": 1.01}}, lock, x, use_reject=False)[1] is None
    raw, rejected = _not_a_digit(net, {}, lock, x)
    assert not rejected and np.array_equal(raw, net.predict_proba(x[None])[0])
