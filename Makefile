PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Wheels that Steamship package builds install from (never the index); see docs/steamship.md.
WHEELHOUSE := .wheelhouse
WHEELS := $(WHEELHOUSE)/.downloaded
BUNDLE_WHEELS := steamship==2.17.34

.PHONY: dev test package lint-template bench clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps -e '.[cli]'
	touch $(STAMP)

$(WHEELS): $(STAMP) Makefile
	$(PY) -m pip download -q --disable-pip-version-check -d $(WHEELHOUSE) $(BUNDLE_WHEELS)
	touch $(WHEELS)

dev: $(STAMP) $(WHEELS)
	$(PY) -m chalicelib.local.stack

test: $(STAMP) $(WHEELS)
	$(PY) -m pytest

# dist/: app package (deployment.zip), dependency layer without the AWS SDK (layer.zip), and the
# SAM template merged with infra/template.yml (sam.yaml). Needs a pip that reaches the registry.
package: $(STAMP)
	$(PY) infra/package.py --stage prod dist

lint-template: $(STAMP)
	$(VENV)/bin/cfn-lint dist/sam.yaml

# Every benchmark prints its figures beside their targets; foundation.py reads dist/ if built.
bench: $(STAMP)
	set -e; for script in bench/*.py; do echo "== $$script"; $(PY) $$script; done

clean:
	rm -rf dist build .pytest_cache
