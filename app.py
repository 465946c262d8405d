import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "src"))  # a fresh checkout
from digitnet.app.page import main; main()  # `streamlit run app.py`: the page is src/digitnet/app/page.py
