"""Number mode without a browser: the boxes and words made from a reading, the wide pad's
strokes painted and read by the shipped model, and the page under Streamlit's AppTest."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")  # the app extra; CI installs it
from streamlit.testing.v1 import AppTest  # noqa: E402

from digitnet.app import canvas, number  # noqa: E402
from digitnet.models import default_model_path  # noqa: E402
from digitnet.persistence import load_model, save_model  # noqa: E402
from digitnet.segment import Part, Reading  # noqa: E402
from test_e2e_browser import STROKES  # noqa: E402
from test_e2e_number import CROSS, written  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
READING = Reading([Part((10, 20, 60, 200), 1, 0.9991), Part((100, 30, 190, 210), None, 0.47, "not a digit"),
                   Part((300, 25, 390, 215), 4, 0.41)])


@pytest.fixture(scope="module")
def shipped():
    net, meta = load_model(default_model_path())
    return net, meta, threading.Lock()


def test_each_part_gets_a_box_a_label_and_a_colour():
    digit, refused, weak = (number.mark(p, threshold=0.5) for p in READING.parts)
    assert digit == {"box": [10, 20, 60, 200], "text": "1  99.9%", "colour": number.COLOURS["digit"], "dashed": False}
    assert refused == {"box": [100, 30, 190, 210], "text": "not a digit", "colour": number.COLOURS["refused"],
                       "dashed": True}
    assert weak["text"] == "4  41.0%" and weak["colour"] == number.COLOURS["unsure"] and not weak["dashed"]
    assert number.mark(READING.parts[2], threshold=0.4)["colour"] == number.COLOURS["digit"]


def test_the_marks_belong_to_the_strokes_they_were_read_from():
    strokes = [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0]]]
    marks = number.marks(READING, strokes, 0.5)
    assert (marks["strokes"], marks["points"]) == (2, 3)
    assert [m["text"] for m in marks["boxes"]] == ["1  99.9%", "not a digit", "4  41.0%"]


def test_the_parts_in_words():
    assert READING.number == "14"  # the refused part is left out
    assert number.parts_line(READING) == "**1** 99.9%, not a digit, **4** 41.0%"
    assert number.unsure(READING, 0.5) == ("Unsure about the 4 (41.0%): under the 50.0% set in the sidebar. "
                                           "Try writing it larger and clearer.")
    assert number.unsure(READING, 0.4) is None


def test_the_wide_pad_is_painted_one_unit_per_pixel():
    image = canvas.rasterize([[(700.0, 100.0), (800.0, 100.0)]], number.WIDTH)
    assert image.shape == (canvas.SIDE, number.WIDTH, 4) and image.dtype == np.uint8
    assert image[100, 750, 0] == 255 and image[100, 650, 0] == 0 and image[150, 750, 0] == 0
    assert canvas.rasterize([[(10.0, 10.0)]]).shape == (canvas.SIDE, canvas.SIDE, 4)  # the digit pad's


def test_written_numbers_are_read_by_the_shipped_model(shipped):
    reading, problem = number.read_strokes(*shipped, written(STROKES[7], STROKES[0], STROKES[4], STROKES[1],
                                                             step=210, scale=0.75))
    assert problem is None and reading.number == "7041"
    boxes = [p.box for p in reading.parts]
    assert all(0 <= x0 < x1 <= number.WIDTH and 0 <= y0 < y1 <= canvas.SIDE for x0, y0, x1, y1 in boxes)
    assert [b[0] // 210 for b in boxes] == [0, 1, 2, 3]  # each box over the digit drawn there
    reading, _ = number.read_strokes(*shipped, written(STROKES[1], CROSS, STROKES[7]))
    assert reading.number == "17" and [p.reason for p in reading.rejected] == ["not a digit"]
    assert number.read_strokes(*shipped, []) == (None, None)


def test_a_decimal_point_tapped_between_digits_is_not_a_digit(shipped):
    """"7.4": a tap on the baseline just right of the 7 is a mark, boxed as not a digit (merged
    into the 7 as one part, it would make the 7 unreadable)."""
    point = [[(-10.0, 235.0), (-9.0, 236.0)]]
    reading, _ = number.read_strokes(*shipped, written(STROKES[7], point, STROKES[4], step=200, scale=0.75))
    assert reading.number == "74" and [p.reason for p in reading.parts] == [None, "not a digit", None]


@pytest.fixture
def app_env(monkeypatch, tmp_path, mnist_dir):
    monkeypatch.setenv("DIGITNET_DATA_DIR", str(mnist_dir.parent))
    monkeypatch.setenv("DIGITNET_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("DIGITNET_MODEL", raising=False)


def number_page(strokes: list | None = None, use_reject: bool = True) -> AppTest:
    """The page switched to Number mode, its pad holding ``strokes`` (the copy the session keeps
    of the pad's strokes, which a newly mounted pad starts from), with the sidebar's "Say "not a
    digit"" on or off."""
    at = run(AppTest.from_file(str(ROOT / "app.py"), default_timeout=60))
    assert at.markdown[0].value == "#### Draw a digit" and at.subheader[0].value == "Prediction: none"
    at.session_state["mode"] = number.NUMBER
    at.session_state["use_reject"] = use_reject
    if strokes is not None:
        at.session_state["number_strokes"] = strokes
    return run(at)


def run(at: AppTest) -> AppTest:
    at = at.run()
    assert not at.exception, at.exception
    return at


def test_the_page_switches_to_number_mode_and_back(app_env):
    at = number_page()
    assert at.markdown[0].value == "#### Write a number" and at.subheader[0].value == "Number: none"
    assert "Nothing to read yet" in at.caption[0].value and not at.metric
    at.session_state["mode"] = number.DIGIT
    at = run(at)
    assert at.markdown[0].value == "#### Draw a digit" and at.subheader[0].value == "Prediction: none"


def test_the_page_shows_the_number_and_the_parts_left_out(app_env):
    at = number_page(written(STROKES[1], CROSS, STROKES[7]))
    assert [m.value for m in at.metric] == ["17"]
    assert any(re.fullmatch(r"Left to right: \*\*1\*\* [\d.]+%, not a digit, \*\*7\*\* [\d.]+%", m.value)
               for m in at.markdown)
    assert at.info[0].value == "1 part not a digit (dashed red box): left out of the number."


def test_the_page_says_so_when_no_digit_is_read(app_env, monkeypatch, tmp_path):
    """A model whose reject option flattens every score (temperature 1000: each near 0.1) refuses
    every part, whatever is drawn."""
    net, meta = load_model(default_model_path())
    net.detector = None  # the top probability decides
    settings = {k: v for k, v in meta["reject"].items() if k != "detector"}
    save_model(tmp_path / "refuses.npz", net, {**meta, "reject": {**settings, "temperature": 1000.0}})
    monkeypatch.setenv("DIGITNET_MODEL", str(tmp_path / "refuses.npz"))
    at = number_page(written(STROKES[1], STROKES[7]))
    assert at.subheader[0].value == "No number read" and not at.metric
    assert at.warning[0].value.startswith("This model does not see a digit in what is drawn (2 parts, ")


def test_with_not_a_digit_off_every_part_is_read_as_a_digit(app_env):
    at = number_page(written(STROKES[1], CROSS, STROKES[7]), use_reject=False)
    (number_read,) = [m.value for m in at.metric]
    assert re.fullmatch(r"1\d7", number_read) and not at.info
    assert "not a digit" not in next(m.value for m in at.markdown if m.value.startswith("Left to right"))


def test_a_drawing_read_before_is_not_read_again(app_env, monkeypatch):
    """The readings are kept per model file and drawing: the same drawing in a new session (as after
    Undo, a switch of mode or a sidebar change) is shown without reading it again."""
    calls = []
    real = number.segment.read
    monkeypatch.setattr(number.segment, "read", lambda *args, **kw: calls.append(1) or real(*args, **kw))
    strokes = written(STROKES[0], STROKES[4], STROKES[0])
    assert [m.value for m in number_page(strokes).metric] == ["040"] and len(calls) <= 1
    read = len(calls)
    assert [m.value for m in number_page(strokes).metric] == ["040"] and len(calls) == read


def test_scribbles_across_the_pad_are_answered_at_once(shipped, monkeypatch):
    """A zigzag across the pad is one part too long to be digits: not cut, read whole, not a
    digit; one from the pad's top edge to its bottom edge leaves no background to read against.
    Six short zigzags side by side, each one stroke, are never cut through (cut as a picture, they
    make over a thousand candidates): six parts, each not a digit. A drawing with too many
    candidates to read in good time (``segment.MAX_PIECES``) gets one line."""
    across = [[(20.0 + 4 * i, 140.0 + 30 * (i % 2)) for i in range(200)]]
    reading, problem = number.read_strokes(*shipped, across)
    assert problem is None and reading.number == "" and len(reading.rejected) == 1
    short = [[(20.0 + 135 * k + 4 * i, 140.0 + 14 * (i % 2)) for i in range(30)] for k in range(6)]
    reading, problem = number.read_strokes(*shipped, short)
    assert problem is None and reading.number == "" and len(reading.rejected) == 6
    edges = [[(float(x), 0.0 if i % 2 else 280.0) for i, x in enumerate(range(0, number.WIDTH + 1, 20))]]
    assert number.read_strokes(*shipped, edges) == (
        None, "No number found: the drawing covers the pad's edges. Write the digits inside the pad.")
    monkeypatch.setattr(number.segment, "MAX_PIECES", 3)
    reading, problem = number.read_strokes(*shipped, written(STROKES[7], STROKES[0], STROKES[4], STROKES[1]))
    assert reading is None and re.fullmatch(r"Cannot read this drawing: too many ways to cut this into digits "
                                            r"\(\d+, at most 3\): write fewer digits, larger and apart", problem)
