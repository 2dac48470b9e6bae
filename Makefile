# Everything a fresh machine needs: `make run` (serve with demo data) and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
PG_URL := postgres://postgres@127.0.0.1:5432/test
# PostgreSQL when reachable (and DATABASE_URL not set), SQLite otherwise.
TEST_DATABASE_URL = $(or $(DATABASE_URL),$(shell $(PY) -c "import socket;s=socket.socket();s.settimeout(1);print('$(PG_URL)' if s.connect_ex(('127.0.0.1',5432))==0 else '')" 2>/dev/null))

R4_EXAMPLES := var/hl7.fhir.r4.examples
TERMINOLOGY := var/hl7.terminology.r4
# Static files (review pages) gathered for WhiteNoise: served the same by `make run` and `make serve`.
STATIC_MANIFEST := var/static/staticfiles.json
STATIC_SOURCES := $(shell find review/static fhirserver/static -type f 2>/dev/null)

.PHONY: install system-deps models migrate demo run serve lint test fuzz bench eval eval-ocr clean

install: .venv/.installed models $(R4_EXAMPLES)/package/package.json var/terminology-index.json $(STATIC_MANIFEST)

.venv/.installed: requirements.txt
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --no-deps "augraphy>=8.2,<9"  # not its opencv-python: the reader's cv2 is opencv-contrib-python's
	touch $@

# OS packages: Tesseract (the OCR baseline in evaluations), Chromium for the browser tests,
# Redis for the Celery job tests, wrk for the benchmarks.
system-deps:
	@command -v tesseract >/dev/null && command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v redis-server >/dev/null && command -v wrk >/dev/null || \
	  ( (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr chromium chromium-driver redis-server wrk >/dev/null )

# PP-OCR model folders, built from the weights that ship inside the rapidocr wheels.
models: .venv/.installed
	$(PY) -m ingestion.reader.install_models

# The official R4 examples (CC0) from the npm registry: test fixtures and search-definition source.
$(R4_EXAMPLES)/package/package.json:
	mkdir -p $(R4_EXAMPLES)
	cd $(R4_EXAMPLES) && npm pack hl7.fhir.r4.examples@4.0.1 --silent >/dev/null 2>&1 && tar xzf hl7.fhir.r4.examples-4.0.1.tgz && rm -f hl7.fhir.r4.examples-4.0.1.tgz
	touch $@

$(STATIC_MANIFEST): .venv/.installed var/terminology-index.json $(STATIC_SOURCES)
	$(PY) manage.py collectstatic --noinput -v0
	touch $@

# HL7 Terminology (THO, CC0) from the npm registry: v2/v3 code systems and value sets for the
# terminology operations; the index lets the server open only the files it is asked about.
$(TERMINOLOGY)/package/package.json:
	mkdir -p $(TERMINOLOGY)
	cd $(TERMINOLOGY) && npm pack hl7.terminology.r4@7.0.1 --silent >/dev/null 2>&1 && tar xzf hl7.terminology.r4-7.0.1.tgz && rm -f hl7.terminology.r4-7.0.1.tgz
	touch $@

var/terminology-index.json: $(R4_EXAMPLES)/package/package.json $(TERMINOLOGY)/package/package.json .venv/.installed
	$(PY) -m resources.terminology.packages

migrate: install
	$(PY) manage.py migrate --noinput -v0

demo: migrate
	$(PY) manage.py load_demo
	$(PY) manage.py create_clinician clinician --password clinician --name "Demo Clinician" >/dev/null

run: demo
	@$(PY) manage.py run_banner --host $(HOST) --port $(PORT)
	$(PY) manage.py runserver $(HOST):$(PORT) --noreload

serve: migrate
	DJANGO_SETTINGS_MODULE=fhirserver.settings.production .venv/bin/gunicorn fhirserver.wsgi -c python:fhirserver.serving -b $(HOST):$(PORT) -w $${WORKERS:-2} --timeout $${TIMEOUT:-300} --access-logfile -

# ruff (config in ruff.toml) over the whole tree; `make test` runs it first, so CI stays clean.
lint: .venv/.installed
	.venv/bin/ruff check .

test: lint install system-deps
	DATABASE_URL="$(TEST_DATABASE_URL)" $(PY) -m pytest -q $(PYTEST_ARGS)

# The security harness for longer: more generated requests per family, a seed of its own (docs/security.md).
fuzz: install
	DATABASE_URL="$(TEST_DATABASE_URL)" FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-1500} FUZZ_SEED=$${FUZZ_SEED:-$$RANDOM} \
	  $(PY) -m pytest -q tests/harness/test_fuzz.py tests/harness/test_faults.py $(PYTEST_ARGS)

bench: install system-deps
	DATABASE_URL="$(or $(DATABASE_URL),$(PG_URL))" $(PY) benchmarks/run_all.py

eval: install
	$(PY) manage.py lab_eval $(EVAL_ARGS)

eval-ocr: install system-deps
	$(PY) manage.py ocr_eval $(EVAL_ARGS)

clean:
	rm -rf var/db.sqlite3 var/jobs var/static
