# Two commands matter: `make test` and `make demo`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test bench lint demo clean

$(STAMP): pyproject.toml setup.py market/_sidec.c
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $(STAMP)

# the dashboard's browser tests drive Debian's headless Chromium through its chromedriver
.chromium:
	test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }
	touch .chromium

test: $(STAMP) .chromium
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .

# every benchmark script (each prints JSON lines); harness.py and cases/ are their shared parts
bench: $(STAMP)
	for script in $(filter-out bench/harness.py,$(wildcard bench/*.py)); do $(PY) $$script || exit 1; done

demo: $(STAMP)
	$(VENV)/bin/perpwire demo --duration $${DEMO_SECONDS:-45}

clean:
	rm -rf $(VENV) .chromium artifacts .pytest_cache .ruff_cache .hypothesis build dist *.egg-info
