# Two commands for a fresh machine:
#   make train   set up, train the humanoid to imitate the walk clip (CPU MuJoCo), then evaluate:
#                metrics JSON and a video under runs/walk/eval/
#   make test    set up, then run the tests
# TRAIN_ITERATIONS sets the length of `make train`: 1200 iterations = 7.4 M samples, where walk's
# seed-0 run first reached survival 100 % over 20 s (docs/training.md); ~30 min on 2 idle cores at
# the 3,900 samples/s measured before issue 11's speed work. The full-quality run is 1600.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PACKAGES := -e src/deepmimic_mocap -e src/deepmimic_sim -e src/deepmimic_policy -e src/deepmimic_transport -e src/deepmimic
STAMP := $(VENV)/.installed

.PHONY: setup train test bench lint clean

setup: $(STAMP)

$(STAMP): constraints.txt requirements-dev.txt src/*/setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt $(PACKAGES) -r requirements-dev.txt
	bash scripts/install_gl.sh
	touch $(STAMP)

TRAIN_ITERATIONS ?= 1200

train: setup
	$(BIN)/deepmimic train --config config/humanoid3d_walk.yaml --iterations $(TRAIN_ITERATIONS) --run-dir runs/walk

test: setup
	$(BIN)/python -m pytest -q tests

bench: setup
	$(BIN)/python bench/bench_motion_lib.py
	$(BIN)/python bench/bench_sim.py
	$(BIN)/python bench/bench_open_loop.py

lint: setup
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) runs .pytest_cache
