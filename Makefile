# virtops.storage: `make demo` runs the demo, `make test` runs every test,
# `make bench` the benchmarks (bench/run: not a test, not part of `make test`).
# All three install what they need first (Debian packages, .venv, the collection; bench: its own venv).
VENV ?= .venv
PY := $(VENV)/bin/python
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/build/collections
export VIRTOPS_COLLECTIONS := $(CURDIR)/build/collections

.PHONY: deps install libvirt demo test unit sanity lint integration molecule packaging docs docs-test matrix bench

deps:
	scripts/install-deps.sh

install:
	scripts/install-collection.sh

libvirt:
	scripts/start-libvirt.sh

demo: deps libvirt
	demo/run.sh

test: deps libvirt
	$(MAKE) unit lint sanity integration molecule packaging docs docs-test matrix

unit:
	PYTHONPATH=$(CURDIR)/build/dev $(PY) -m pytest -q -p no:cacheprovider tests/unit

# two test files at a time (each file in one worker: the module-scoped back ends, mpath's one pool per host),
# as two jobs share a host; then, alone, the tests that stop the libvirt daemon
integration:
	PYTHONPATH=$(VIRTOPS_COLLECTIONS) $(PY) -m pytest -q -p no:cacheprovider --durations=25 -n 2 --dist loadfile \
		-m "not exclusive" tests/integration
	PYTHONPATH=$(VIRTOPS_COLLECTIONS) $(PY) -m pytest -q -p no:cacheprovider --durations=10 -m exclusive tests/integration

sanity:
	scripts/sanity.sh

lint:
	$(VENV)/bin/ansible-lint

# the execution environment (ansible-builder) and the dependency files it is built from
packaging: install
	$(PY) -m pytest -q -p no:cacheprovider tests/packaging

# the docs site, built offline into build/docs/html (a broken reference fails it); then opened in headless Chromium
docs:
	scripts/docs.sh

docs-test:
	$(PY) -m pytest -q -p no:cacheprovider tests/docs

# ansible-core 2.20 (Python 3.12) and 2.21 (Python 3.13): unit, sanity, the demo twice; compile for every
# target-side Python (scripts/matrix.sh)
matrix: install
	scripts/matrix.sh

# the hypervisor_storage role's molecule scenario (extensions/molecule/hypervisor_storage) on the local libvirtd
molecule: install
	scripts/molecule.sh

bench: deps libvirt
	bench/run
