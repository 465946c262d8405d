"""The drawing app: a Streamlit page over the library (``digitnet app`` starts it).

``PAGE`` is the script that ``streamlit run`` executes; this package imports no Streamlit itself,
so the CLI can find the page without the app's dependencies installed.
"""

from pathlib import Path

PAGE = Path(__file__).with_name("page.py")
