"""Secret XML build/parse: libvirt's secretxml2xml corpus and libvirt's secret.rng schema."""

import glob
import itertools
import os

import libvirt
import pytest
from lxml import etree

from ansible_collections.virtops.storage.plugins.module_utils.errors import ParameterError
from ansible_collections.virtops.storage.plugins.module_utils.secret import _check_usage_id
from ansible_collections.virtops.storage.plugins.module_utils.secret_xml import (
    USAGE_TYPE_IDS, USAGE_TYPE_NAMES, USAGE_TYPES, SecretXMLError, build_secret_xml, parse_secret_xml)

from ...conftest import CORPUS, SCHEMAS

SECRET_DIR = os.path.join(CORPUS, "secret")
# libvirt dropped the 'passphrase' usage type: its schema and the parser refuse this historical input
HISTORICAL = ("usage-passphrase",)
NAMES = sorted(os.path.basename(path)[:-4] for path in glob.glob(os.path.join(SECRET_DIR, "*.xml")))
CURRENT = [name for name in NAMES if name not in HISTORICAL]
RNG = "{http://relaxng.org/ns/structure/1.0}"

# a usage id the schema accepts, per usage type
USAGE_IDS = {"volume": "/var/lib/libvirt/images/disk.luks", "ceph": "client.admin secret",
             "iscsi": "iqn.2024-01.test:t1", "tls": "tls-server", "vtpm": "guest1 vTPM"}


@pytest.fixture(scope="module")
def secret_schema():
    """libvirt's secret RelaxNG schema, as installed with libvirt."""
    path = os.path.join(SCHEMAS, "secret.rng")
    assert os.path.exists(path), "libvirt schemas missing at %s: install libvirt-daemon-system" % path
    return etree.RelaxNG(etree.parse(path))


def _read(name):
    with open(os.path.join(SECRET_DIR, name + ".xml")) as handle:
        return handle.read()


def canonical(xml):
    """A comparable form of XML: attributes in any order, whitespace-only text ignored, other text exact."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    return _canonical(root)


def _canonical(element):
    text = element.text if element.text and element.text.strip() else ""
    children = tuple(_canonical(child) for child in element if isinstance(child.tag, str))
    return (element.tag, tuple(sorted(element.attrib.items())), text, children)


def _validate(schema, xml):
    document = etree.fromstring(xml.encode())
    assert schema.validate(document), "%s\n%s" % (schema.error_log, xml)


# ---------------------------------------------------------------- corpus

def test_corpus_is_complete():
    assert NAMES == ["usage-ceph", "usage-ceph-space", "usage-iscsi", "usage-passphrase", "usage-tls",
                     "usage-volume", "usage-vtpm"]
    # every current usage type has its corpus file
    assert set(parse_secret_xml(_read(name))["usage_type"] for name in CURRENT) == set(USAGE_TYPES)


@pytest.mark.parametrize("name", CURRENT)
def test_corpus_input_is_valid(name, secret_schema):
    """Sanity of the comparison: libvirt's own inputs are valid against its schema."""
    _validate(secret_schema, _read(name))


@pytest.mark.parametrize("name", CURRENT)
def test_corpus_round_trip(name, secret_schema):
    """Each input is its own expected output (secretxml2xmltest): build(parse(x)) is x, and valid."""
    xml = _read(name)
    spec = parse_secret_xml(xml)
    built = build_secret_xml(spec)
    assert canonical(built) == canonical(xml)
    assert parse_secret_xml(built) == spec
    _validate(secret_schema, built)


@pytest.mark.parametrize("name", CURRENT)
def test_corpus_spec_values(name):
    """The spec holds what the file says, field by field."""
    root = etree.fromstring(_read(name).encode())
    spec = parse_secret_xml(_read(name))
    usage = root.find("usage")
    assert spec == {
        "uuid": root.findtext("uuid"), "description": root.findtext("description"),
        "ephemeral": root.get("ephemeral") == "yes", "private": root.get("private") == "yes",
        "usage_type": usage.get("type"), "usage_id": usage[0].text}


def test_corpus_specific_values():
    assert parse_secret_xml(_read("usage-volume")) == {
        "uuid": "22e1353d-c27e-4d6d-bf15-465053e6ba0b", "description": "Ephemeral Private Secret",
        "ephemeral": True, "private": True, "usage_type": "volume",
        "usage_id": "/var/lib/libvirt/images/image.img"}
    tls = parse_secret_xml(_read("usage-tls"))
    assert (tls["ephemeral"], tls["private"], tls["usage_id"]) == (False, False, "mumblyfratz")
    assert parse_secret_xml(_read("usage-iscsi"))["usage_id"] == "iscsitarget"


def test_corpus_usage_id_with_space():
    spec = parse_secret_xml(_read("usage-ceph-space"))
    assert spec["usage_id"] == "client.admin secret"
    assert spec["description"] == "Ceph secret with space and dot"
    assert etree.fromstring(build_secret_xml(spec).encode()).findtext("usage/name") == "client.admin secret"


def test_historical_passphrase_usage_refused_by_schema(secret_schema):
    document = etree.fromstring(_read("usage-passphrase").encode())
    assert document.find("usage").get("type") == "passphrase"
    assert not secret_schema.validate(document)


def test_historical_passphrase_usage_is_a_parse_error():
    with pytest.raises(SecretXMLError, match="passphrase"):
        parse_secret_xml(_read("usage-passphrase"))


# ---------------------------------------------------------------- usage type table

def _schema_usages():
    """{usage type: element of its usage id} as secret.rng defines them."""
    grammar = etree.parse(os.path.join(SCHEMAS, "secret.rng")).getroot()
    usages = {}
    for choice in grammar.iter(RNG + "choice"):
        for ref in choice.findall(RNG + "ref"):
            define = grammar.find("%sdefine[@name='%s']" % (RNG, ref.get("name")))
            value = define.find("%sattribute[@name='type']/%svalue" % (RNG, RNG))
            usages[value.text] = define.find(RNG + "element").get("name")
    return usages


def test_usage_types_are_the_schemas():
    schema_usages = _schema_usages()
    assert schema_usages  # the schema was read
    assert dict((name, row[0]) for name, row in USAGE_TYPES.items()) == schema_usages
    assert all(row[1] for row in USAGE_TYPES.values())  # each has a description in words


def test_usage_type_numbers():
    for name, number in USAGE_TYPE_IDS.items():
        assert getattr(libvirt, "VIR_SECRET_USAGE_TYPE_" + name.upper()) == number
    assert USAGE_TYPE_NAMES[0] == "none"
    assert set(USAGE_TYPE_NAMES.values()) == set(USAGE_TYPES) | {"none"}
    assert all(USAGE_TYPE_NAMES[number] == name for name, number in USAGE_TYPE_IDS.items())


# ---------------------------------------------------------------- build

FLAG_COMBINATIONS = list(itertools.product(sorted(USAGE_TYPES), (False, True), (False, True)))


@pytest.mark.parametrize("usage_type, ephemeral, private", FLAG_COMBINATIONS)
def test_build_every_usage_type_and_flags(usage_type, ephemeral, private, secret_schema):
    spec = {"uuid": "0a81f5b2-8403-7b23-c8d6-21ccc2f80fb0", "description": "a secret",
            "ephemeral": ephemeral, "private": private, "usage_type": usage_type, "usage_id": USAGE_IDS[usage_type]}
    xml = build_secret_xml(spec)
    _validate(secret_schema, xml)
    root = etree.fromstring(xml.encode())
    assert root.get("ephemeral") == ("yes" if ephemeral else "no")
    assert root.get("private") == ("yes" if private else "no")
    assert root.find("usage/" + USAGE_TYPES[usage_type][0]).text == USAGE_IDS[usage_type]
    assert parse_secret_xml(xml) == spec


@pytest.mark.parametrize("spec", [
    {},
    {"ephemeral": True},
    {"uuid": "0a81f5b284037b23c8d621ccc2f80fb0"},  # the schema takes undashed uuids too
    {"description": "only a description", "private": True},
], ids=["empty", "ephemeral", "undashed-uuid", "description"])
def test_build_without_usage(spec, secret_schema):
    xml = build_secret_xml(spec)
    _validate(secret_schema, xml)
    root = etree.fromstring(xml.encode())
    assert root.find("usage") is None
    parsed = parse_secret_xml(xml)
    assert "usage_type" not in parsed and "usage_id" not in parsed
    assert parsed == dict({"ephemeral": False, "private": False}, **spec)


def test_build_order_is_libvirts():
    """virSecretDefFormat writes uuid, description, usage; the flags as attributes of <secret>."""
    root = etree.fromstring(build_secret_xml(parse_secret_xml(_read("usage-vtpm"))).encode())
    assert [child.tag for child in root] == ["uuid", "description", "usage"]
    assert list(root.attrib) == ["ephemeral", "private"]


def test_build_defaults():
    root = etree.fromstring(build_secret_xml({"usage_type": "ceph", "usage_id": "c"}).encode())
    assert (root.get("ephemeral"), root.get("private")) == ("no", "no")
    assert root.find("uuid") is None and root.find("description") is None


@pytest.mark.parametrize("description", ["  leading and trailing  ", "two  inner   spaces", "tab\there", "line\nbreak"])
def test_description_kept_exactly(description, secret_schema):
    xml = build_secret_xml({"description": description, "usage_type": "tls", "usage_id": "t"})
    _validate(secret_schema, xml)
    assert parse_secret_xml(xml)["description"] == description


def test_description_with_spaces_in_file():
    xml = "<secret ephemeral='no' private='no'><description>  spaced  out </description></secret>"
    assert parse_secret_xml(xml)["description"] == "  spaced  out "


def test_special_characters_are_escaped(secret_schema):
    spec = {"description": "a < b & \"c\" > 'd'", "usage_type": "ceph", "usage_id": "<client&admin>",
            "ephemeral": False, "private": True}
    xml = build_secret_xml(spec)
    _validate(secret_schema, xml)
    assert parse_secret_xml(xml) == spec


@pytest.mark.parametrize("usage_type, usage_id", [
    ("volume", "/var/lib/libvirt/images/a b.img"), ("volume", "/a"),
    ("ceph", "client.admin"), ("ceph", " leading and trailing "), ("iscsi", "iqn.2024-01.test:t1"),
    ("tls", "\u00fcnicode \u2603"), ("vtpm", "x"),
])
def test_usage_ids_check_usage_id_accepts_are_schema_valid(usage_type, usage_id, secret_schema):
    """What _check_usage_id accepts, libvirt's schema accepts too (it is stricter: no control characters)."""
    assert _check_usage_id(usage_type, usage_id) is None
    xml = build_secret_xml({"usage_type": usage_type, "usage_id": usage_id})
    _validate(secret_schema, xml)
    assert parse_secret_xml(xml)["usage_id"] == usage_id


@pytest.mark.parametrize("usage_type, usage_id", [
    ("volume", "/"),                    # absFilePath is (/|[a-zA-Z]:\\).+ : a character must follow the '/'
    ("volume", "/images/a\rb.img"),     # and '.' matches no carriage return
    ("ceph", "client\x01admin"),        # no XML 1.0 document holds a control character
    ("ceph", "a\rb"),                   # the schema allows a carriage return, a usage id has no use for one
    ("volume", "/dev/disk/by-id/x\ty"),  # nor for a tab
])
def test_usage_ids_outside_the_schema_are_refused(usage_type, usage_id):
    with pytest.raises(ParameterError):
        _check_usage_id(usage_type, usage_id)


# ---------------------------------------------------------------- parse

def test_parse_without_usage():
    spec = parse_secret_xml("<secret ephemeral='no' private='yes'><uuid>0a81f5b2-8403-7b23-c8d6-21ccc2f80fb0</uuid>"
                            "</secret>")
    assert spec == {"uuid": "0a81f5b2-8403-7b23-c8d6-21ccc2f80fb0", "ephemeral": False, "private": True}
    assert spec.get("usage_type") is None


def test_parse_bytes_and_missing_flags():
    """Without the attributes a secret is neither ephemeral nor private (libvirt's parser defaults)."""
    spec = parse_secret_xml(b"<?xml version='1.0'?><secret><usage type='iscsi'><target>t</target></usage></secret>")
    assert spec == {"ephemeral": False, "private": False, "usage_type": "iscsi", "usage_id": "t"}


def test_parse_empty_elements_are_absent():
    spec = parse_secret_xml("<secret><uuid/><description></description></secret>")
    assert "uuid" not in spec and "description" not in spec


@pytest.mark.parametrize("xml", ["<pool type='dir'><name>p</name></pool>", "<secrets/>", "<volume/>"])
def test_wrong_root_element(xml):
    with pytest.raises(SecretXMLError, match="not <secret>"):
        parse_secret_xml(xml)


@pytest.mark.parametrize("xml", ["", "not xml at all", "<secret>", "<secret></usage></secret>", b"\x00\x01"])
def test_not_xml(xml):
    with pytest.raises(SecretXMLError):
        parse_secret_xml(xml)


@pytest.mark.parametrize("usage_type", ["passphrase", "none", "VOLUME", "", None])
def test_unknown_usage_type(usage_type):
    usage = etree.Element("usage")
    if usage_type is not None:
        usage.set("type", usage_type)
    etree.SubElement(usage, "name").text = "n"
    xml = "<secret>%s</secret>" % etree.tostring(usage, encoding="unicode")
    with pytest.raises(SecretXMLError, match="unknown secret usage type"):
        parse_secret_xml(xml)


def test_secret_xml_error_is_a_value_error():
    assert issubclass(SecretXMLError, ValueError)
