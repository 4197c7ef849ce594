# The FoG stack: one-command environment, demo, tests, benchmarks.
# Everything installs into .venv (pinned in requirements.txt) and ros_ws/install (colcon).
SHELL := /bin/bash
# no -u: colcon's setup.bash reads unset variables
.SHELLFLAGS := -e -o pipefail -c
PY_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
WS := ros_ws
WS_STAMP := $(WS)/install/.built
# Unitree SDK: cyclonedds 0.10.2 has no wheel for Python 3.11; pip builds it against Debian's
# cyclonedds-dev through a prefix folder whose lib/include/bin link to the system's.
SDK_PINS := cyclonedds|unitree-sdk2py-dimos
SDK_STAMP := $(VENV)/.unitree-sdk
CDDS_PREFIX := $(VENV)/cyclonedds-prefix
MULTIARCH := $(shell $(PY_SYS) -c "import sysconfig; print(sysconfig.get_config_var('MULTIARCH') or '')")
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
link_cdds_prefix = mkdir -p $(1) && ln -sfn /usr/lib/$(MULTIARCH) $(1)/lib && ln -sfn /usr/include $(1)/include && \
	ln -sfn /usr/bin $(1)/bin
# Every target that runs ROS code sources the workspace and stays on this machine.
ROS_ENV := source $(WS)/install/setup.bash && export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST \
	RMW_IMPLEMENTATION=rmw_fastrtps_cpp MUJOCO_GL=$${MUJOCO_GL:-egl} HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 &&

.PHONY: setup demo test test-repeat lint bench lock clean apt-deps policy
setup: $(STAMP) $(SDK_STAMP) $(WS_STAMP)

# Debian packages the pip environment builds against (idempotent: installs only what is missing).
APT_PACKAGES := cyclonedds-dev
apt-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		$(SUDO) apt-get install -y -qq $$missing >/dev/null 2>&1 || \
			{ $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; }; \
	fi

# pip warns once per package about absent local index folders; keep the real messages only.
$(STAMP): requirements.txt training/pyproject.toml $(wildcard $(WS)/src/*/setup.py)
	test -x $(PY) || $(PY_SYS) -m venv $(VENV)
	grep -v -E '^($(SDK_PINS))==' requirements.txt > $(VENV)/requirements-main.txt
	$(PY) -m pip install -q --disable-pip-version-check -r $(VENV)/requirements-main.txt 2>&1 | { grep -v 'is ignored: it is neither' || true; }
	$(PY) -m pip install -q --no-deps --no-build-isolation -e training 2>&1 | { grep -v 'is ignored: it is neither' || true; }
	# The workspace's Python packages too (importable without sourcing; colcon still installs launch/ and config/).
	$(PY) -m pip install -q --no-deps --no-build-isolation $(foreach p,fog_contract quadruped_bridge fog_policy fog_worldmodel,-e $(WS)/src/$(p)) \
		2>&1 | { grep -v 'is ignored: it is neither' || true; }
	$(PY) -m pip check
	touch $@

# The SDK after the main install: cyclonedds from source (no build isolation: the venv's
# setuptools builds it), then unitree-sdk2py-dimos; both pinned in requirements.txt.
$(SDK_STAMP): $(STAMP) requirements.txt | apt-deps
	$(call link_cdds_prefix,$(CDDS_PREFIX))
	CYCLONEDDS_HOME=$(abspath $(CDDS_PREFIX)) $(PY) -m pip install -q --disable-pip-version-check --no-build-isolation \
		$$(grep -E '^cyclonedds==' requirements.txt) 2>&1 | { grep -v 'is ignored: it is neither' || true; }
	$(PY) -m pip install -q --disable-pip-version-check $$(grep -E '^unitree-sdk2py-dimos==' requirements.txt) 2>&1 \
		| { grep -v 'is ignored: it is neither' || true; }
	$(PY) -m pip check
	$(PY) -c "import cyclonedds.domain, unitree_sdk2py.utils.crc"
	touch $@

WS_SOURCES := $(shell find $(WS)/src -name setup.py -o -name package.xml -o -name '*.launch.py' -o -name '*.yaml' -o -path '*/artifacts/*' -type f 2>/dev/null)
$(WS_STAMP): $(STAMP) $(SDK_STAMP) $(WS_SOURCES)
	# a file moved or deleted since the last build leaves a dangling symlink that stops colcon's copy
	! test -d $(WS)/build || find $(WS)/build $(WS)/install -xtype l -delete
	cd $(WS) && ../$(VENV)/bin/colcon --log-base log build --symlink-install --event-handlers console_direct- 2>&1 | tail -n 3
	touch $@

demo: setup
	$(ROS_ENV) $(PY) -m fog_policy.demo $(ARGS)

# Retrain the bundled goal policy with our own pipeline (resumable; see docs/BENCHMARKS.md for its stage times).
policy: setup
	$(ROS_ENV) $(VENV)/bin/fog pipeline goal $(ARGS)

# make test [PYTEST_ARGS=...] [ORDER=reverse|shuffle[:SEED]] [LOAD=1: both cores kept busy meanwhile]
TEST_ORDER = $(if $(ORDER),--order=$(ORDER))
test: setup
	$(ROS_ENV) $(if $(LOAD),$(PY) scripts/test_repeat.py --runs 1 --load --,$(PY) -m pytest) $(TEST_ORDER) $(PYTEST_ARGS)

# The flakiness check: the suite N times, a line per run and every test that failed in any run
# (logs in runs/test-repeat/); same ORDER, LOAD and PYTEST_ARGS as make test.
N ?= 5
test-repeat: setup
	$(ROS_ENV) $(PY) scripts/test_repeat.py --runs $(N) $(if $(LOAD),--load) -- $(TEST_ORDER) $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(ROS_ENV) $(PY) benchmarks/run_all.py

# Re-resolve the lock from requirements.in (needs the package registry).
lock: apt-deps
	rm -rf /tmp/fog-lock && $(PY_SYS) -m venv /tmp/fog-lock
	$(call link_cdds_prefix,/tmp/fog-lock/cyclonedds-prefix)
	CYCLONEDDS_HOME=/tmp/fog-lock/cyclonedds-prefix /tmp/fog-lock/bin/pip install -q -r requirements.in
	$(PY_SYS) scripts/freeze_lock.py /tmp/fog-lock/bin/python requirements.txt

clean:
	rm -rf $(WS)/build $(WS)/install $(WS)/log
