PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: dev test package lint-template bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

dev: $(STAMP)
	$(PY) -m chalicelib.local.stack

test: $(STAMP)
	$(PY) -m pytest

# dist/: app package (deployment.zip), dependency layer without the AWS SDK (layer.zip), and the
# SAM template merged with infra/template.yml (sam.yaml). Needs a pip that reaches the registry.
package: $(STAMP)
	$(PY) infra/package.py --stage prod dist

lint-template: $(STAMP)
	$(VENV)/bin/cfn-lint dist/sam.yaml

bench: $(STAMP)
	$(PY) bench/foundation.py

clean:
	rm -rf dist build .pytest_cache
