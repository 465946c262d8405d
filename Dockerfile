# The drawing app with the model shipped inside the package; no training, data or GPU needed.
#   docker build -t digitnet .
#   docker run --rm -p 8501:8501 digitnet          # then open http://localhost:8501
# Everything installs from wheels (NumPy, Pillow, Streamlit): no OpenCV, no system libraries to add.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Install the package (with the app extra) from the build context, then drop the sources:
# the installed package carries the page and the shipped model (package data).
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install ".[app]" \
    && cd / && rm -rf /build \
    && useradd --create-home --uid 10001 digitnet
USER digitnet
# Model files mounted at /home/digitnet/models appear in the app's model picker.
WORKDIR /home/digitnet

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]
CMD ["digitnet", "app", "--port", "8501"]
