# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run test browser screenshots lint format bench soak clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# The app with its simulated fleet, a Celery worker and beat, at http://127.0.0.1:$(PORT).
run: export DEBUG = true
run: export PORT := $(PORT)
run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo
	$(VENV)/bin/honcho start --procfile Procfile

# The browser of the end-to-end tests (tests/e2e/): Debian's Chromium, driven by Playwright's Python package.
# Installed with apt where we run as root on Debian (as CI does); Playwright never downloads a browser.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ -x "$(CHROMIUM)" ]; then echo "browser: $(CHROMIUM)"; \
	elif [ "$$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "browser: $(CHROMIUM) is missing; install Debian's chromium package to run the browser tests"; fi

# The whole suite: lint, migrations check, types (connect/ and vehicles/, see pyproject.toml), tests on PostgreSQL and Redis where they answer.
test: $(VENV)/.installed browser
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m mypy
	$(PY) -m pytest

# The README's screenshots (docs/screenshot-*.png) at 1280 and 390 px, from a demo-like fleet after a simulated day;
# the maintenance board's and the statement's are taken by the browser tests of those pages.
screenshots: $(VENV)/.installed browser
	FLEET_SCREENSHOTS=docs $(PY) -m pytest tests/e2e/screenshots.py tests/e2e/test_maintenance_pages.py \
		tests/e2e/test_trips_pages.py -q -p no:cacheprovider

lint: $(VENV)/.installed
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# Sync engine and history figures (docs/benchmarks.md): needs PostgreSQL on 127.0.0.1:5432 and, for the history,
# about 10 GB of disk while it runs; takes an hour or more.
bench: $(VENV)/.installed
	$(PY) tests/bench/bench_sync.py throughput --server-workers 2 --server-threads 100
	$(PY) tests/bench/bench_sync.py budget
	$(PY) tests/bench/bench_history.py
	$(PY) tests/bench/bench_workers.py processes --vehicles 10000 --processes 1 2 4
	$(PY) tests/bench/bench_workers.py recovery

# The fault soak (docs/reliability.md): web, two workers and beat under injected faults, then checked. Needs
# PostgreSQL on 127.0.0.1:5432 and redis-server on the PATH; takes 15–30 minutes. Not part of `make test`.
soak: $(VENV)/.installed
	$(PY) tests/soak/soak.py

clean:
	rm -rf var staticfiles
