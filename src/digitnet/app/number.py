"""Number mode: write a number on a wide pad and read it digit by digit.

The page switches between reading one digit (the square pad) and reading a number (:data:`NUMBER`).
In Number mode the pad is :data:`WIDTH` canvas units wide and ``canvas.SIDE`` tall (3 to 1), so three or
four digits fit side by side at the height of one; on a phone it shrinks to the width of the screen.
On each pen-up the strokes are painted again (``canvas.rasterize``, with a pen in proportion to
the digits' height, ``canvas.reading_pen``) and read by
:func:`digitnet.segment.read` with the stroke that painted each pixel (``canvas.stroke_ids``): it
cuts the drawing into parts between strokes (through one only where it writes two sure digits,
the pen not lifted) and reads each with the model's reject option. The answer is the number in
large type; each part's box is drawn over the strokes with its digit and confidence, and parts
the model refuses are marked "not a digit" and left out of the number.

The pure functions (:func:`mark`, :func:`marks`, :func:`parts_line`, :func:`unsure`) make the
overlay and the words from a reading and are tested without Streamlit; :func:`workbench` puts them
on the page.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, Sequence

import streamlit as st

from digitnet import segment
from digitnet.app import canvas, views
from digitnet.preprocess import BlankImageError, NoBackgroundError

DIGIT, NUMBER = "Digit", "Number"
"""The two modes of the Draw page, as the switch shows them."""

WIDTH = 3 * canvas.SIDE
"""Canvas units across the number pad: room for three or four digits as tall as the pad."""

MAX_CSS_PX = 960
"""The widest the number pad gets on screen, in CSS pixels (320 tall)."""

PAD_KEY = "number_pad"
"""The number pad's widget key (the digit pad's is "pad"): each mode keeps its own strokes."""

COLOURS = {"digit": "#3dd56d", "unsure": "#ffbd45", "refused": "#ff6c6c"}
"""Box colours over the black pad: a digit, a digit under the sidebar's confidence, not a digit."""

NOT_A_DIGIT = "not a digit"


def mode_switch(summary: str) -> str:
    """The page's heading with the Digit / Number switch beside it, then the model in one line;
    returns the mode chosen (always one of the two: the switch cannot be left empty)."""
    with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
        title = st.empty()
        mode = st.segmented_control("Read", [DIGIT, NUMBER], default=DIGIT, required=True, key="mode",
                                    label_visibility="collapsed")
    title.markdown("#### Write a number" if mode == NUMBER else "#### Draw a digit", width="content")
    st.markdown(summary)
    return NUMBER if mode == NUMBER else DIGIT


# -- what a reading looks like ----------------------------------------------------------------
def kind(part: segment.Part, threshold: float) -> str:
    """``"refused"`` for a part that is not a digit, ``"unsure"`` for a digit whose confidence is
    under ``threshold`` (the sidebar's "Unsure below confidence"), else ``"digit"``."""
    if part.digit is None:
        return "refused"
    return "unsure" if part.confidence < threshold else "digit"


def mark(part: segment.Part, threshold: float) -> dict[str, Any]:
    """One part as the pad draws it: its box in canvas units, a label ("7 99.9%" or "not a
    digit"), a colour, dashed for a refused part."""
    k = kind(part, threshold)
    text = (part.reason or NOT_A_DIGIT) if k == "refused" else f"{part.digit}  {views.percent(part.confidence)}"
    return {"box": [int(v) for v in part.box], "text": text, "colour": COLOURS[k], "dashed": k == "refused"}


def marks(reading: segment.Reading, strokes: Sequence[Sequence[Sequence[float]]], threshold: float
          ) -> dict[str, Any]:
    """The boxes of ``reading`` for ``canvas.pad``, tied to the ``strokes`` they were read from (the
    pad shows them only while it holds that many strokes of that many points)."""
    return {"strokes": len(strokes), "points": sum(len(s) for s in strokes),
            "boxes": [mark(p, threshold) for p in reading.parts]}


def parts_line(reading: segment.Reading) -> str:
    """The parts left to right in words, e.g. "**1** 99.9%, not a digit, **7** 100.0%"."""
    return ", ".join(f"**{p.digit}** {views.percent(p.confidence)}" if p.digit is not None
                     else (p.reason or NOT_A_DIGIT) for p in reading.parts)


def unsure(reading: segment.Reading, threshold: float) -> str | None:
    """A line naming the digits read with less confidence than ``threshold``, or None."""
    weak = [p for p in reading.digits if p.confidence < threshold]
    if not weak:
        return None
    names = ", ".join(f"the {p.digit} ({views.percent(p.confidence)})" for p in weak)
    return (f"Unsure about {names}: under the {views.percent(threshold)} set in the sidebar. "
            "Try writing it larger and clearer.")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def as_drawn(reading: segment.Reading, grow: float) -> segment.Reading:
    """``reading`` with each box grown by ``grow`` canvas units on every side, within the pad: the
    boxes of strokes read with a thinner pen than the pad's, around the strokes as the pad shows them."""
    g = round(grow)
    boxes = [(max(0, x0 - g), max(0, y0 - g), min(WIDTH, x1 + g), min(canvas.SIDE, y1 + g))
             for x0, y0, x1, y1 in (p.box for p in reading.parts)]
    return segment.Reading([dataclasses.replace(p, box=b) for p, b in zip(reading.parts, boxes)])


# -- the page ---------------------------------------------------------------------------------
def _drawn() -> list[list[list[float]]]:
    """The pad's strokes as this rerun sees them: the mounted pad's state, else the copy kept in
    the session (the pad was unmounted while the page showed the digit mode)."""
    state = st.session_state.get(PAD_KEY)
    if isinstance(state, dict):
        return canvas.clean(state.get("strokes"))
    return st.session_state.get("number_strokes", [])


def read_strokes(net: Any, meta: dict[str, Any], lock: threading.Lock, strokes: list, use_reject: bool = True
                 ) -> tuple[segment.Reading | None, str | None]:
    """The reading of the strokes (with the model's reject option, or without), or a one-line
    reason why there is none."""
    if not strokes:
        return None, None
    try:
        pen = canvas.reading_pen(canvas.extent(strokes)[1])  # in proportion to the digits' height
        with lock:
            reading = segment.read(net, meta, canvas.rasterize(strokes, WIDTH, pen), use_reject,
                                   canvas.stroke_ids(strokes, WIDTH, pen))
        return as_drawn(reading, (canvas.PEN - pen) / 2), None
    except NoBackgroundError:
        return None, "No number found: the drawing covers the pad's edges. Write the digits inside the pad."
    except BlankImageError:
        return None, "Too little ink to read: write the digits larger."
    except ValueError as e:
        return None, f"Cannot read this drawing: {views.one_line(e)}"


@st.cache_data(show_spinner=False, max_entries=64)
def _remembered(model: str, strokes: list, use_reject: bool, _net: Any, _meta: dict[str, Any],
                _lock: threading.Lock) -> tuple[segment.Reading | None, str | None]:
    """:func:`read_strokes`, kept per model file, drawing and reject option: after Undo, a switch
    of mode or a change in the sidebar, a drawing read before shows its reading at once (a read
    takes up to a second). The arguments with a leading underscore are not part of the key."""
    return read_strokes(_net, _meta, _lock, strokes, use_reject)


def _answer(reading: segment.Reading | None, problem: str | None, threshold: float) -> None:
    """The number in large type and its parts, or an honest line on why there is none."""
    if reading is None:
        st.subheader("Number: none", anchor=False)
        if problem:
            st.warning(problem)
        else:
            st.caption("Nothing to read yet: write a number on the wide pad, its digits side by side with "
                       "a little space between them.")
        return
    refused = reading.rejected
    if not reading.digits:
        st.subheader("No number read", anchor=False)
        st.warning(f"This model does not see a digit in what is drawn ({_plural(len(refused), 'part')}, "
                   "each refused as not a digit). Write each digit on its own, about as tall as the pad."
                   if refused else "Nothing here looks like a digit: write the digits larger.")
        return
    st.metric("Number read", reading.number)
    st.markdown(f"Left to right: {parts_line(reading)}")
    if refused:
        st.info(f"{_plural(len(refused), 'part')} not a digit (dashed red box): left out of the number.")
    line = unsure(reading, threshold)
    if line:
        st.warning(line)


def workbench(net: Any, meta: dict[str, Any], lock: threading.Lock, threshold: float, model: str,
              use_reject: bool = True) -> None:
    """The wide pad with the parts' boxes over it, and the number read beside it (under it on a
    phone). The strokes are read before the pad is drawn, so the boxes travel with the pad.
    ``model`` names the model file and its version (the key of the readings kept); ``use_reject``:
    parts may be refused as not digits."""
    strokes = _drawn()
    reading, problem = _remembered(model, strokes, use_reject, net, meta, lock)
    pad_col, answer_col = st.columns([2.3, 1], gap="medium")
    with pad_col:
        st.session_state.number_strokes = canvas.pad(
            PAD_KEY, strokes, width=WIDTH, max_css=MAX_CSS_PX, label="drawing canvas: write a number",
            marks=marks(reading, strokes, threshold) if reading is not None else None)
    with answer_col:
        _answer(reading, problem, threshold)
