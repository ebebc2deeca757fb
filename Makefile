# One virtual environment per checkout, created on first use and reused after.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_OUT ?= out/demo

.PHONY: demo test bench lint format gpu-wheels clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,viz,dask,bench]'
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)
	$(BIN)/tissue run metastasis -o $(DEMO_OUT) --backend auto
	$(BIN)/tissue render $(DEMO_OUT) --organ lung --field s100a8a9 -o $(DEMO_OUT)/lung.png
	$(BIN)/tissue render $(DEMO_OUT) --organ breast --field oxygen -o $(DEMO_OUT)/primary.png
	$(BIN)/tissue plot $(DEMO_OUT) -o $(DEMO_OUT)/dashboard.png

test: $(STAMP)
	$(BIN)/python -m pytest -q

# CPU benchmarks (about 4 minutes on 2 cores; run them on a quiet machine), then the tables
# in benchmarks/README.md. The GPU suite is one command on a device: benchmarks/gpu_suite.sh.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench_diffusion --backend cpu
	$(BIN)/python -m benchmarks.bench_cells --backend cpu
	$(BIN)/python -m benchmarks.bench_memory --backend cpu
	$(BIN)/python -m benchmarks.bench_scenarios --backend cpu
	$(BIN)/python -m benchmarks.bench_pypde --backend cpu
	$(BIN)/python -m benchmarks.common --update-readme

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Wheels the GPU machine lacks (it has no network): see benchmarks/gpu_suite.sh.
gpu-wheels:
	mkdir -p .wheels
	$(PYTHON) -m pip download --quiet --only-binary=:all: --python-version 3.12 \
	  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d .wheels \
	  'pydantic>=2.6' 'tomli-w>=1.0' 'tifffile>=2023.7'

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
