# Two commands for a fresh machine:
#   make train   set up, train the humanoid to imitate the walk clip (CPU MuJoCo), then evaluate:
#                metrics JSON and a video under runs/walk/eval/
#   make test    set up, then run the tests
# TRAIN_ITERATIONS sets the length of `make train`: 500 iterations = 3.1 M samples. Walk's seed-0 run
# first passed its evaluation (survival and success 100 % over 20 s) at iteration 300 and ended at
# 0.029 rad; the 500 iterations took 17.1 min of training, 18.0 min with start-up, evaluation and
# video, on the 2 cores (docs/training.md). `make train` resumes runs/walk when it holds a run (a
# larger TRAIN_ITERATIONS continues it).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PACKAGES := -e src/deepmimic_mocap -e src/deepmimic_sim -e src/deepmimic_policy -e src/deepmimic_transport -e src/deepmimic
INTERFACES := src/deepmimic_interfaces/CMakeLists.txt src/deepmimic_interfaces/msg/*.msg src/deepmimic_interfaces/srv/*.srv
STAMP := $(VENV)/.installed

.PHONY: setup ros-interfaces train test bench lint clean

setup: $(STAMP)

$(STAMP): constraints.txt requirements-dev.txt src/*/setup.py $(INTERFACES) scripts/build_ros_interfaces.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt $(PACKAGES) -r requirements-dev.txt
	# deepmimic_transport[ros]: ROS 2 Kilted's rclpy, Fast DDS and rosidl generators from PyPI (the
	# rclpy transport and the ROS 2 tests; the default transport stays Cyclone DDS). A pip run of its
	# own: pip does not let an editable install with extras satisfy the other packages' requirement.
	$(BIN)/pip install --quiet -c constraints.txt -e 'src/deepmimic_transport[ros]'
	bash scripts/build_ros_interfaces.sh $(VENV) build/deepmimic_interfaces
	bash scripts/install_gl.sh
	touch $(STAMP)

# deepmimic_interfaces for rclpy (ROS's rosidl generators + cmake; part of setup).
ros-interfaces:
	bash scripts/build_ros_interfaces.sh $(VENV) build/deepmimic_interfaces

TRAIN_ITERATIONS ?= 500

train: setup
	$(BIN)/deepmimic train --config config/humanoid3d_walk.yaml --iterations $(TRAIN_ITERATIONS) --run-dir runs/walk --resume

test: setup
	$(BIN)/python -m pytest -q tests

bench: setup
	$(BIN)/python bench/bench_motion_lib.py
	$(BIN)/python bench/bench_sim.py
	$(BIN)/python bench/bench_open_loop.py
	$(BIN)/python bench/bench_distributed.py

lint: setup
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) runs .pytest_cache
