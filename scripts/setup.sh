#!/usr/bin/env bash
# Set digitnet up on a fresh machine: a virtual environment in .venv with the package installed.
#   scripts/setup.sh app   the app and the CLI
#   scripts/setup.sh dev   also what the tests need: Chromium (browser tests), Fashion-MNIST and
#                          the DejaVu, Liberation and FreeFont fonts from Debian's packages,
#                          pytest, hypothesis, Playwright, the notebook tools
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-app}

if [ "$what" = dev ]; then
  need=()
  [ -x /usr/bin/chromium ] || need+=(chromium chromium-driver)
  [ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
  # fonts for the generated non-digits (digitnet.outliers): DejaVu to train on, Liberation and FreeFont held out
  [ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core)
  [ -d /usr/share/fonts/truetype/liberation ] || need+=(fonts-liberation)
  [ -d /usr/share/fonts/truetype/freefont ] || need+=(fonts-freefont-ttf)
  if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  extras="app,dev"
else
  extras="app"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]"
