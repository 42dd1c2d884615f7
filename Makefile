# virtops.storage: `make demo` runs the demo, `make test` runs every test,
# `make bench` the benchmarks (bench/run: not a test, not part of `make test`).
# All three install what they need first (Debian packages, .venv, the collection; bench: its own venv).
VENV ?= .venv
PY := $(VENV)/bin/python
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/build/collections
export VIRTOPS_COLLECTIONS := $(CURDIR)/build/collections

.PHONY: deps install libvirt demo test unit sanity lint integration molecule bench

deps:
	scripts/install-deps.sh

install:
	scripts/install-collection.sh

libvirt:
	scripts/start-libvirt.sh

demo: deps libvirt
	demo/run.sh

test: deps libvirt
	$(MAKE) unit lint sanity integration molecule

unit:
	PYTHONPATH=$(CURDIR)/build/dev $(PY) -m pytest -q -p no:cacheprovider tests/unit

integration:
	PYTHONPATH=$(VIRTOPS_COLLECTIONS) $(PY) -m pytest -q -p no:cacheprovider tests/integration

sanity:
	scripts/sanity.sh

lint:
	$(VENV)/bin/ansible-lint

# the hypervisor_storage role's molecule scenario (extensions/molecule/hypervisor_storage) on the local libvirtd
molecule: install
	scripts/molecule.sh

bench: deps libvirt
	bench/run
