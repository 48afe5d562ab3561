# The two commands: `make run` (install, ingest knowledge/, start the product) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install install-test run test lint clean

install: $(STAMP)
install-test: $(TEST_STAMP)

# The product: compiles nothing. The CPU build of torch goes in first: any other torch request pulls gigabytes of CUDA.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	touch $@

# The tests also need llama.cpp (the OpenAI-compatible server that stands in for vLLM, and the in-process
# generator): built once for any AVX2 CPU by scripts/install_llamacpp.sh, never for this machine's CPU alone.
$(TEST_STAMP): $(STAMP) scripts/install_llamacpp.sh
	scripts/install_llamacpp.sh $(BIN)/pip
	$(BIN)/pip install -q -e '.[dev,llamacpp]'
	touch $@

# Ingest knowledge/ (unchanged files are skipped), answer a sample question, print a sign-in link, start the service.
run: $(STAMP)
	$(BIN)/assist ingest knowledge
	$(BIN)/assist ask "Vad gör jag om en brukare har ramlat?" --role home-care
	$(BIN)/assist token create --role home-care
	$(BIN)/assist serve

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q

lint: $(TEST_STAMP)
	$(BIN)/ruff check assist ingest serving tui qa owners tests bench

clean:
	rm -rf $(VENV) data
