# The FoG stack: one-command environment, demo, tests, benchmarks.
# Everything installs into .venv (pinned in requirements.txt) and ros_ws/install (colcon).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PY_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
WS := ros_ws
WS_STAMP := $(WS)/install/.built
# Every target that runs ROS code sources the workspace and stays on this machine.
ROS_ENV := source $(WS)/install/setup.bash && export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST \
	RMW_IMPLEMENTATION=rmw_fastrtps_cpp MUJOCO_GL=$${MUJOCO_GL:-egl} HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 &&

.PHONY: setup demo test lint bench lock clean
setup: $(STAMP) $(WS_STAMP)

# pip warns once per package about absent local index folders; keep the real messages only.
$(STAMP): requirements.txt training/pyproject.toml
	test -x $(PY) || $(PY_SYS) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt 2>&1 | { grep -v 'is ignored: it is neither' || true; }
	$(PY) -m pip install -q --no-deps --no-build-isolation -e training 2>&1 | { grep -v 'is ignored: it is neither' || true; }
	$(PY) -m pip check
	touch $@

WS_SOURCES := $(shell find $(WS)/src -name setup.py -o -name package.xml -o -name '*.launch.py' -o -name '*.yaml' 2>/dev/null)
$(WS_STAMP): $(STAMP) $(WS_SOURCES)
	cd $(WS) && ../$(VENV)/bin/colcon --log-base log build --symlink-install --event-handlers console_direct- 2>&1 | tail -n 3
	touch $@

demo: setup
	$(ROS_ENV) $(PY) -m fog_policy.demo $(ARGS)

test: setup
	$(ROS_ENV) $(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(ROS_ENV) $(PY) benchmarks/run_all.py

# Re-resolve the lock from requirements.in (needs the package registry).
lock:
	rm -rf /tmp/fog-lock && $(PY_SYS) -m venv /tmp/fog-lock
	/tmp/fog-lock/bin/pip install -q -r requirements.in
	$(PY_SYS) scripts/freeze_lock.py /tmp/fog-lock/bin/python requirements.txt

clean:
	rm -rf $(WS)/build $(WS)/install $(WS)/log
