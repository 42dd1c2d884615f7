"""Pool XML build/parse: libvirt's own xml2xml corpus and libvirt's RelaxNG schema."""

import glob
import os

import pytest
from lxml import etree

from ansible_collections.virtops.storage.plugins.module_utils.pool_xml import (
    PoolXMLError, build_pool_xml, normalize_mode, parse_pool_xml, sanitize_path, with_libvirt_defaults)

from ...conftest import CORPUS

POOL_IN = os.path.join(CORPUS, "storagepool", "in")
POOL_OUT = os.path.join(CORPUS, "storagepool", "out")

# Elements libvirt adds to its output by itself (runtime sizes); ignored in comparisons.
LIBVIRT_ADDED = ("capacity", "allocation", "available")

# Corpus inputs that have no expected output in the corpus, with the reason.
# They must still parse, rebuild and validate against the schema.
NO_EXPECTED_OUTPUT = {
    "pool-disk-device-nopartsep": "libvirt's output file was not copied into the corpus",
    "pool-logical-nopath": "libvirt's output file was not copied into the corpus",
    "pool-netfs-gluster-without-slash": "libvirt's output file was not copied into the corpus",
    "pool-netfs-slash": "libvirt's output file was not copied into the corpus",
}
# Expected outputs whose input is missing: the output itself is round-tripped.
NO_INPUT = ("pool-disk", "pool-fs", "pool-iscsi-multiiqn", "pool-logical")


def _names(folder):
    return sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(folder, "*.xml")))


def canonical(xml):
    """A comparable form of pool XML: no whitespace, no libvirt-added or empty elements."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    return _canonical(root)


def _canonical(element):
    children = []
    for child in element:
        if not isinstance(child.tag, str) or etree.QName(child).localname in LIBVIRT_ADDED:
            continue
        canon = _canonical(child)
        if canon[1] or canon[2] or canon[3]:  # drop elements with nothing in them (<source/>)
            children.append(canon)
    text = (element.text or "").strip()
    # libvirt's schema interleaves these children: their order carries no meaning
    return (element.tag, tuple(sorted(element.attrib.items())), text, tuple(sorted(children)))


def test_corpus_is_complete():
    """Every corpus file is either paired or listed here with its reason."""
    inputs, outputs = set(_names(POOL_IN)), set(_names(POOL_OUT))
    assert inputs - outputs == set(NO_EXPECTED_OUTPUT)
    assert outputs - inputs == set(NO_INPUT)
    assert len(inputs) == 36 and len(outputs) == 36


@pytest.mark.parametrize("name", sorted(set(_names(POOL_IN)) & set(_names(POOL_OUT))))
def test_corpus_input_rebuilds_to_libvirt_output(name, pool_schema):
    with open(os.path.join(POOL_IN, name + ".xml")) as handle:
        spec = parse_pool_xml(handle.read())
    rebuilt = build_pool_xml(with_libvirt_defaults(spec))
    assert pool_schema.validate(etree.fromstring(rebuilt)), pool_schema.error_log
    with open(os.path.join(POOL_OUT, name + ".xml")) as handle:
        expected = handle.read()
    assert canonical(rebuilt) == canonical(expected)


@pytest.mark.parametrize("name", NO_INPUT)
def test_corpus_output_round_trips(name, pool_schema):
    with open(os.path.join(POOL_OUT, name + ".xml")) as handle:
        expected = handle.read()
    rebuilt = build_pool_xml(with_libvirt_defaults(parse_pool_xml(expected)))
    assert pool_schema.validate(etree.fromstring(rebuilt)), pool_schema.error_log
    assert canonical(rebuilt) == canonical(expected)


@pytest.mark.parametrize("name", sorted(NO_EXPECTED_OUTPUT))
def test_corpus_input_without_output_rebuilds_valid(name, pool_schema):
    with open(os.path.join(POOL_IN, name + ".xml")) as handle:
        original = handle.read()
    rebuilt = build_pool_xml(with_libvirt_defaults(parse_pool_xml(original)))
    assert pool_schema.validate(etree.fromstring(rebuilt)), pool_schema.error_log
    # without libvirt's output, compare with the input plus the defaults libvirt adds
    assert canonical(rebuilt) == canonical(build_pool_xml(with_libvirt_defaults(parse_pool_xml(original))))
    assert parse_pool_xml(rebuilt) == with_libvirt_defaults(parse_pool_xml(original))


def test_parse_spec_shape():
    spec = parse_pool_xml(
        "<pool type='iscsi-direct' xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'>"
        "<name>p</name><source><host name='h' port='3261'/><device path='iqn.x'/>"
        "<initiator><iqn name='iqn.i'/></initiator>"
        "<auth type='chap' username='u'><secret usage='chap-usage'/></auth></source></pool>")
    assert spec == {
        "type": "iscsi-direct", "name": "p",
        "source": {"hosts": [{"name": "h", "port": 3261}], "devices": [{"path": "iqn.x"}],
                   "initiator_iqn": "iqn.i",
                   "auth": {"type": "chap", "username": "u", "secret_usage": "chap-usage"}},
    }


def test_parse_namespaced_options_and_features():
    spec = parse_pool_xml(
        "<pool type='netfs' xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'>"
        "<name>n</name><features><cow state='no'/></features>"
        "<source><host name='h'/><dir path='/e'/><format type='nfs'/><protocol ver='4.1'/></source>"
        "<target><path>/mnt</path><permissions><mode>755</mode><owner>107</owner></permissions></target>"
        "<fs:mount_opts><fs:option name='sync'/><fs:option name='noatime'/></fs:mount_opts></pool>")
    assert spec["cow"] is False
    assert spec["mount_options"] == ["sync", "noatime"]
    assert spec["source"]["protocol_version"] == "4.1"
    assert spec["target"] == {"path": "/mnt", "permissions": {"mode": "0755", "owner": 107}}


def test_logical_pool_named_after_its_volume_group():
    spec = with_libvirt_defaults(parse_pool_xml("<pool type='logical'><source><name>vg0</name></source></pool>"))
    assert spec["name"] == "vg0"
    assert spec["target"]["path"] == "/dev/vg0"
    assert spec["source"]["format"] == "lvm2"


@pytest.mark.parametrize("given, expected", [
    ("///var/////lib//", "/var/lib"), ("/", "/"), ("//srv/x", "//srv/x"), ("/a/b", "/a/b"), ("a//b/", "a/b")])
def test_sanitize_path(given, expected):
    assert sanitize_path(given) == expected


def test_rbd_config_options_round_trip():
    spec = {"type": "rbd", "name": "c", "source": {"hosts": [{"name": "m1"}, {"name": "m2", "port": 6790}],
                                                   "name": "rbd"},
            "config_options": {"rados_osd_op_timeout": "20"}, "refresh_volume_allocation": "capacity"}
    assert parse_pool_xml(build_pool_xml(spec)) == spec


@pytest.mark.parametrize("xml, message", [
    ("<pool", "not well-formed"),
    ("<volume type='dir'/>", "expected <pool>"),
    ("<pool><name>x</name></pool>", "no type"),
    ("<pool type='scsi'><name>x</name><source><adapter type='fc_host' managed='maybe'/></source></pool>",
     "managed"),
    ("<pool type='dir'><name>x</name><target><path>/x</path><permissions><owner>root</owner>"
     "</permissions></target></pool>", "owner"),
])
def test_parse_rejects_bad_xml(xml, message):
    with pytest.raises(PoolXMLError, match=message):
        parse_pool_xml(xml)


@pytest.mark.parametrize("given, expected", [
    ("755", "0755"), ("0755", "0755"), ("0o700", "0700"), (0o711, "0711"), ("0777", "0777"), (" 600 ", "0600"),
    (0, "0000"), (493, "0755"), (511, "0777"), (7, "0007")])
def test_normalize_mode(given, expected):
    """An integer is its value: YAML reads an unquoted 0755 as 493."""
    assert normalize_mode(given) == expected


@pytest.mark.parametrize("given, fragment", [
    ("rwx", "not an octal mode"), ("0999", "not an octal mode"), ("", "not an octal mode"),
    ("17777", "beyond 0777"), ("4755", "beyond 0777"), ("1777", "beyond 0777"), ("0o1000", "beyond 0777"),
    (True, "boolean"), (-1, "negative"),
    (777, "777 was read as a decimal YAML integer (= 0o1411): quote it ('0777')"),
    (644, "644 was read as a decimal YAML integer (= 0o1204): quote it ('0644')"),
    (600, "quote it ('0600')"),
    (1000, "(= 0o1750): quote it (an octal string such as '0755')"),
    (512, "(= 0o1000)"),
])
def test_normalize_mode_rejects(given, fragment):
    """libvirt refuses modes beyond 0777 ("malformed octal mode"); an integer's message explains YAML."""
    with pytest.raises(ValueError) as caught:
        normalize_mode(given)
    assert fragment in str(caught.value)
