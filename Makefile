# Two commands for a fresh machine:
#   make train   set up, then run the main job (trains the walk clip once training lands; see README)
#   make test    set up, then run the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PACKAGES := -e src/deepmimic_mocap -e src/deepmimic_sim -e src/deepmimic_policy -e src/deepmimic
STAMP := $(VENV)/.installed

.PHONY: setup train test bench lint clean

setup: $(STAMP)

$(STAMP): constraints.txt requirements-dev.txt src/*/setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt $(PACKAGES) -r requirements-dev.txt
	touch $(STAMP)

train: setup
	$(BIN)/deepmimic motion info walk
	$(BIN)/deepmimic motion convert src/deepmimic_mocap/deepmimic_mocap/data/cmu/02_01.bvh \
		runs/cmu_02_01_walk_humanoid3d.txt --report runs/cmu_02_01_retarget.json

test: setup
	$(BIN)/python -m pytest -q tests

bench: setup
	$(BIN)/python bench/bench_motion_lib.py

lint: setup
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) runs .pytest_cache
