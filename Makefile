.PHONY: install test demo lint bench

install:
	pip install -e '.[test]'
	pip install --ignore-requires-python 'helm-sdkpy>=0.1.32'

test:
	python -m pytest -q

demo:
	python scripts/demo.py

lint:
	ruff check . && ruff format --check .

bench:
	python bench/intake.py
