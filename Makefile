# Every target sets itself up: a fresh clone needs only python3 (>= 3.11) and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Debian packages some tests need: a CJK font for labels, PDF and SVG rasterisers,
# chromium for the consumer page in a real browser, and SoftHSM2 (a PKCS#11 token in
# software) for keys in a hardware token.
SYSTEM_PACKAGES := fonts-wqy-microhei poppler-utils librsvg2-bin chromium softhsm2 wrk

# Parallel test workers (pytest-xdist; auto = one per core). A file's tests stay on one
# worker, so a module's shared server or story is built once.
WORKERS ?= auto
PYTEST  := $(BIN)/pytest -n $(WORKERS) --dist loadfile

.PHONY: test test-slow test-fast lint demo clean vectors sysdeps bench bench-quick bench-sysdeps

# setup.py builds the compiled parts (ledger/native/*.c) in place, when it can.
$(STAMP): pyproject.toml setup.py $(wildcard ledger/native/*.c)
	rm -f ledger/native/*.so
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Every test but the few marked slow (target: <= 10 minutes on 2 cores).
test: $(STAMP) sysdeps
	$(PYTEST) -m "not slow"

# The slow ones: long hammer runs, logs of 10^5 entries, the full fuzzing run.
test-slow: $(STAMP) sysdeps
	$(PYTEST) -m slow

# The edit loop: unit and in-process integration tests, no live server, nothing slow
# (target: <= 3 minutes).
test-fast: $(STAMP)
	$(PYTEST) -m "not e2e and not slow" tests/unit tests/integration

# Installs missing Debian packages when it can (root with apt-get); otherwise says which
# are missing: the tests that need them skip with one line (and fail in CI).
sysdeps:
	@command -v dpkg >/dev/null || exit 0; \
	missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	[ -z "$$missing" ] && exit 0; \
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing:$$missing"; \
	  (apt-get install -y -qq $$missing >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq $$missing >/dev/null 2>&1)) || \
	  echo "could not install:$$missing"; \
	else echo "missing system packages:$$missing (install them to run every test)"; fi

# The benchmark suite (issue 9, docs/PERFORMANCE.md): writes bench/results/latest.json
# and latest.md. PostgreSQL at $(BENCH_PG_URL) if it answers (else skipped, one line).
bench: $(STAMP) sysdeps bench-sysdeps
	$(BIN)/python -m bench.suite

bench-quick: $(STAMP) sysdeps bench-sysdeps
	$(BIN)/python -m bench.suite --quick

# wrk drives the HTTP figures (installed like sysdeps when it can be).
bench-sysdeps:
	@command -v wrk >/dev/null && exit 0; \
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  (apt-get install -y -qq wrk >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wrk >/dev/null 2>&1)) || \
	  echo "could not install wrk"; \
	else echo "missing: wrk (the HTTP benchmark figures need it)"; fi

# The architecture contracts (docs/ARCHITECTURE.md, "Contracts"): imports that follow the
# layers, no import circles between modules, no face reaching through the service to the store.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check ledger api cli qr tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/python tools/import_cycles.py
	$(BIN)/python tools/store_reach.py

vectors: $(STAMP)
	$(BIN)/python tests/vectors/make_vectors.py
	$(BIN)/python tests/vectors/make_map_vectors.py

# Builds the demo world in ./provenance-demo, labels in ./labels, then serves it on :8000.
demo: $(STAMP)
	$(BIN)/provenance demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build
	rm -f ledger/native/*.so
