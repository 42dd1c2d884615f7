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


@pytest.fixture(scope="session")
def volume_schema():
    """libvirt's storagevol RelaxNG schema, as installed with libvirt."""
    from lxml import etree
    path = os.path.join(SCHEMAS, "storagevol.rng")
    assert os.path.exists(path), "libvirt schemas missing at %s: install libvirt-daemon-system" % path
    return etree.RelaxNG(etree.parse(path))


# A lone <disk> validates against a grammar that starts at libvirt's "disk" define. It must include
# domainoverrides.rng: including domaincommon.rng directly compiles, but rejects every disk (the storage
# placeholders it overrides are notAllowed).
DISK_GRAMMAR = """<?xml version="1.0"?>
<grammar xmlns="http://relaxng.org/ns/structure/1.0" datatypeLibrary="http://www.w3.org/2001/XMLSchema-datatypes">
  <include href="%s"/>
  <start><ref name="disk"/></start>
</grammar>
"""


@pytest.fixture(scope="session")
def disk_schema(tmp_path_factory):
    """libvirt's domain schema, started at <disk> (the wrapper grammar is written to a temporary file)."""
    from lxml import etree
    path = os.path.join(SCHEMAS, "domainoverrides.rng")
    assert os.path.exists(path), "libvirt schemas missing at %s: install libvirt-daemon-system" % path
    wrapper = tmp_path_factory.mktemp("schemas") / "disk.rng"
    wrapper.write_text(DISK_GRAMMAR % path)
    return etree.RelaxNG(etree.parse(str(wrapper)))
