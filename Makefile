# Convenience wrappers: each target is the same as `python3 tasks.py <target>`.
PYTHON ?= python3

.PHONY: run test lab setup bench notebooks
run test lab setup:
	$(PYTHON) tasks.py $@
bench: setup
	.venv/bin/python benchmarks/bench_graph.py
notebooks: setup
	.venv/bin/python tools/notebooks.py build
