# The two commands of the README: `make app` (set up, then serve the drawing app with the shipped
# model on http://localhost:8501) and `make test` (set up, then run the whole test suite).
.PHONY: app test

app:
	bash scripts/setup.sh app
	.venv/bin/digitnet app

test:
	bash scripts/setup.sh dev
	.venv/bin/python -m pytest -q
