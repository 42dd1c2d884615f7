"""Shared fixtures for unit tests: paths of the XML corpus and libvirt's schemas."""

import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
# The project ships its own copy of the corpus it tests against (tests/unit/corpus),
# so the suite runs on a fresh clone without ../shared.
CORPUS = os.path.join(HERE, "corpus")
SCHEMAS = os.environ.get("LIBVIRT_SCHEMAS", "/usr/share/libvirt/schemas")


@pytest.fixture(scope="session")
def pool_schema():
    """libvirt's storagepool RelaxNG schema, as installed with libvirt."""
    from lxml import etree
    path = os.path.join(SCHEMAS, "storagepool.rng")
    assert os.path.exists(path), "libvirt schemas missing at %s: install libvirt-daemon-system" % path
    return etree.RelaxNG(etree.parse(path))
