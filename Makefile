# The two commands of the README: `make demo` and `make test`. Both create .venv/ on first use
# (tools/setup_env.sh: torch first, mmcv compiled once and then taken from pip's wheel cache) and
# skip that set-up when .venv/ is complete and pyproject.toml has not changed since.
VENV    ?= .venv
PY      := $(VENV)/bin/python
READY   := $(VENV)/.perception-ready
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-k fusion"`.
PYTEST_ARGS ?=

.PHONY: setup demo test clean-venv

$(READY): pyproject.toml tools/setup_env.sh tools/dev_constraints.txt
	VENV=$(VENV) bash tools/setup_env.sh
	touch $@

setup: $(READY)

demo: $(READY)
	$(PY) -m perception.cli demo

test: $(READY)
	$(PY) -m pytest $(PYTEST_ARGS)

# The tests `make test` leaves out (pyproject.toml addopts): `slow` (make demo's full run with its pass
# thresholds enforced, 332 s on 2 cores: docs/demo.md) and `timing` (wall-clock latency and rate
# bounds of the DDS rigs, for an otherwise idle machine). CI (.ci/run) runs both targets.
.PHONY: test-slow
test-slow: $(READY)
	$(PY) -m pytest -m 'slow or timing' $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)

# The tests on a real ROS 2 (tests/ros/real: rclpy, launch_ros, rmw_cyclonedds_cpp): builds the minimal
# Jazzy of ../shared/ros2 once (tools/ros2/setup_ros2.sh: ~9 min on 2 cores, into
# $PERCEPTION_ROS2_PREFIX or ~/.cache/ros2-jazzy; skipped when built), then runs tests/ros with the
# real-ROS tests required (they fail instead of skipping when the build is missing), the DDS rigs'
# `timing` tests included.
.PHONY: test-ros
test-ros: $(READY)
	bash tools/ros2/setup_ros2.sh
	PERCEPTION_ROS2_REQUIRED=1 $(PY) -m pytest tests/ros -m 'not slow' $(PYTEST_ARGS)
