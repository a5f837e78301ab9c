.PHONY: setup test bench
setup:
	python3 -m venv .venv && .venv/bin/pip install -e '.[test]'
test:
	.venv/bin/python -m pytest -q
bench:
	.venv/bin/memoryd bench search --memories 10000
