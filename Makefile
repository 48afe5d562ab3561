# The two commands: `make run` (install, ingest knowledge/, start the product) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test lint clean

install: $(STAMP)

# The CPU build of torch goes in first: any other torch request pulls gigabytes of CUDA.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# Ingest knowledge/ (unchanged files are skipped), answer a sample question, print a sign-in link, start the service.
run: $(STAMP)
	$(BIN)/assist ingest knowledge
	$(BIN)/assist ask "Vad gör jag om en brukare har ramlat?" --role home-care
	$(BIN)/assist token create --role home-care
	$(BIN)/assist serve

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check assist ingest serving tui tests bench

clean:
	rm -rf $(VENV) data
