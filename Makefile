.PHONY: install run test lint bench

install:
	scripts/install.sh --dev

run:
	scripts/run.sh

test:
	scripts/test.sh

lint:
	.venv/bin/ruff check .

bench:
	.venv/bin/python bench/ingest.py
	.venv/bin/python bench/train.py
	.venv/bin/python bench/generate.py
