# One virtual environment per checkout, created on first use and reused after. Every package
# comes at the version and hash pinned in requirements.lock (what the README's figures were
# made with); `make lock` regenerates it after a change to pyproject.toml's dependencies.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements.lock
EXTRAS := dev viz dask bench
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)
DEMO_OUT ?= out/demo

.PHONY: demo test bench results lint format lock gpu-wheels clean

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	rm -f $(VENV)/.installed-*
	touch $@

lock:
	$(PYTHON) -m venv /tmp/tissue-uv && /tmp/tissue-uv/bin/python -m pip install --quiet uv
	/tmp/tissue-uv/bin/uv pip compile pyproject.toml $(addprefix --extra ,$(EXTRAS)) \
	  --python-version 3.11 --generate-hashes --quiet -o $(LOCK)

demo: $(STAMP)
	$(BIN)/tissue run metastasis -o $(DEMO_OUT) --backend auto
	$(BIN)/tissue render $(DEMO_OUT) --organ lung --field s100a8a9 -o $(DEMO_OUT)/lung.png
	$(BIN)/tissue render $(DEMO_OUT) --organ breast --field oxygen -o $(DEMO_OUT)/primary.png
	$(BIN)/tissue plot $(DEMO_OUT) -o $(DEMO_OUT)/dashboard.png

# the test files on TEST_JOBS processes (pytest-xdist; a file's tests stay in one process)
TEST_JOBS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadfile --durations=30

# CPU benchmarks (about 4 minutes on 2 cores; run them on a quiet machine), then the tables
# in benchmarks/README.md. The GPU suite is one command on a device: benchmarks/gpu_suite.sh.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench_diffusion --backend cpu
	$(BIN)/python -m benchmarks.bench_cells --backend cpu
	$(BIN)/python -m benchmarks.bench_memory --backend cpu
	$(BIN)/python -m benchmarks.bench_scenarios --backend cpu
	$(BIN)/python -m benchmarks.bench_pypde --backend cpu
	$(BIN)/python -m benchmarks.common --update-readme

# The README's results tables: every built-in scenario run (seed 1, CPU, 2 at a time; about
# 40 minutes on 2 cores), recorded in benchmarks/results/model-results-cpu.json, then written
# into the README. Run it after any change to the model; a test compares the first day.
results: $(STAMP)
	$(BIN)/python -m benchmarks.model_results run --jobs 2
	$(BIN)/python -m benchmarks.model_results tables

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Wheels the GPU machine lacks (it has no network and has NumPy already): see
# benchmarks/gpu_suite.py. --no-deps keeps NumPy's 16 MB wheel out; the list is what pydantic,
# tomli-w and tifffile need besides NumPy.
gpu-wheels:
	mkdir -p .wheels
	$(PYTHON) -m pip download --quiet --only-binary=:all: --no-deps --python-version 3.12 \
	  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d .wheels \
	  'pydantic>=2.6' pydantic-core annotated-types typing-extensions typing-inspection \
	  'tomli-w>=1.0' 'tifffile>=2023.7'

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
