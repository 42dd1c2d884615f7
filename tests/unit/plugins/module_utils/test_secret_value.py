"""Secret values and names: decode_value, value_forms, fingerprints, the value records, usage ids, references."""

import base64
import hashlib
import json
import os
import stat

import pytest

from ansible_collections.virtops.storage.plugins.module_utils import secret
from ansible_collections.virtops.storage.plugins.module_utils.errors import ParameterError
from ansible_collections.virtops.storage.plugins.module_utils.records import RecordStore, record_dirs
from ansible_collections.virtops.storage.plugins.module_utils.secret import (
    FINGERPRINT_ITERATIONS, MIN_MASKED_BYTES, ValueRecords, _check_usage_id, _refers_to, decode_value, describe,
    fingerprint, value_forms)

URI = "qemu:///system"
UUID = "0a81f5b2-8403-7b23-c8d6-21ccc2f80fb0"
# long enough that no form of it can be part of a 64-digit fingerprint by chance
VALUE = b"AQBDkOBhAAAAABAAu2Yy7JNc2WPhT3pxQ6mOcw=="
BINARY = bytes(range(0x80, 0xa0))  # not UTF-8


def _mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def _record_files(directory):
    return sorted(name for name in os.listdir(str(directory)))


# ---------------------------------------------------------------- decode_value

@pytest.mark.parametrize("params, expected", [
    ({"value": "s3cret"}, b"s3cret"),
    ({"value": "gr\u00fc\u00dfe \u2603"}, "gr\u00fc\u00dfe \u2603".encode("utf-8")),
    ({"value": " spaces kept "}, b" spaces kept "),
    ({"value": "v", "value_b64": "d2hhdGV2ZXI="}, b"v"),  # value first (the module makes them exclusive)
    ({"value_b64": "czNjcmV0"}, b"s3cret"),
    ({"value_b64": base64.b64encode(BINARY).decode()}, BINARY),
    ({"value_b64": "czNj\ncmV0\n"}, b"s3cret"),                 # base64(1) wraps and ends lines
    ({"value_b64": "  czNj cmV0\r\n\t"}, b"s3cret"),              # and keyrings indent
    ({"value_b64": "YQ=="}, b"a"),
    ({"value": None, "value_b64": "YQ=="}, b"a"),
], ids=["text", "utf-8", "spaces", "value-first", "b64", "b64-binary", "b64-lines", "b64-spaces", "b64-padded",
        "value-none"])
def test_decode_value(params, expected):
    assert decode_value(params) == expected


@pytest.mark.parametrize("params", [{}, {"value": None, "value_b64": None}, {"uuid": UUID}])
def test_decode_value_without_value(params):
    assert decode_value(params) is None


@pytest.mark.parametrize("text", [
    "not base64!", "c2VjcmV0@@@@", "czNjcmV0-_==",   # characters outside the alphabet (url-safe too)
    "czNjcmV", "YQ", "YQ=", "YQ===", "Y",           # bad padding or length
    "YQ==YQ==",                                     # data after the padding
])
def test_decode_value_invalid_base64(text):
    with pytest.raises(ParameterError) as info:
        decode_value({"value_b64": text})
    assert info.value.param == "value_b64"
    assert text not in info.value.msg and text.strip("=") not in info.value.msg
    assert text not in str(info.value)
    assert "not valid base64" in info.value.msg


@pytest.mark.parametrize("params, param", [
    ({"value": ""}, "value"),
    ({"value_b64": ""}, "value_b64"),
    ({"value_b64": "  \n "}, "value_b64"),
    ({"value_b64": "===="}, "value_b64"),
])
def test_decode_value_empty(params, param):
    with pytest.raises(ParameterError) as info:
        decode_value(params)
    assert info.value.param == param
    assert info.value.msg.startswith(param + ": ")


# ---------------------------------------------------------------- value_forms and fingerprint

def test_value_forms_text():
    value = "p\u00e4ss:word".encode("utf-8")
    forms = value_forms(value)
    assert forms == {"p\u00e4ss:word", base64.b64encode(value).decode(), value.hex(), value.hex().upper()}
    assert value.hex() != value.hex().upper()  # both spellings really are there
    assert all(isinstance(form, str) and form for form in forms)


def test_value_forms_binary():
    forms = value_forms(BINARY)
    assert forms == {base64.b64encode(BINARY).decode(), BINARY.hex(), BINARY.hex().upper()}
    with pytest.raises(UnicodeDecodeError):
        BINARY.decode("utf-8")


def test_value_forms_digits_only_hex():
    """A hex spelling without letters is the same upper and lower: one form, no empty string."""
    forms = value_forms(b"\x11\x22\x33\x44")
    assert forms == {"\x11\"3D", "ESIzRA==", "11223344"}


@pytest.mark.parametrize("value", [b"", b"a", b"\xff\xfe", b"abc", "\u00e9a".encode("utf-8")])
def test_value_forms_of_short_values_are_not_masked(value):
    """Masking one to three bytes' spellings (two hex digits...) would garble uuids and sizes in every result."""
    assert len(value) < MIN_MASKED_BYTES
    assert value_forms(value) == set()


def test_value_forms_from_min_masked_bytes():
    value = b"a" * MIN_MASKED_BYTES
    assert value_forms(value) == {"aaaa", "YWFhYQ==", "61616161"}


def test_fingerprint_is_pbkdf2_sha256():
    salt = b"0123456789abcdef"
    expected = hashlib.pbkdf2_hmac("sha256", VALUE, salt, FINGERPRINT_ITERATIONS).hex()
    assert fingerprint(VALUE, salt) == expected
    assert fingerprint(VALUE, salt, 1000) == hashlib.pbkdf2_hmac("sha256", VALUE, salt, 1000).hex()
    assert FINGERPRINT_ITERATIONS >= 100000


def test_fingerprint_deterministic_per_salt():
    salt = os.urandom(16)
    assert fingerprint(VALUE, salt) == fingerprint(VALUE, salt)
    assert fingerprint(VALUE, salt) != fingerprint(VALUE, os.urandom(16))
    assert fingerprint(VALUE, salt) != fingerprint(VALUE + b"x", salt)


@pytest.mark.parametrize("value", [VALUE, BINARY, b"x" * 40])
def test_fingerprint_never_shows_the_value(value):
    for salt in (b"salt-one", b"salt-two", b""):
        digest = fingerprint(value, salt)
        assert len(digest) == 64
        for form in value_forms(value):
            assert form not in digest and form.lower() not in digest


# ---------------------------------------------------------------- ValueRecords

def _records(tmp_path, name="records"):
    return ValueRecords(directories=(str(tmp_path / name),))


def test_records_default_directories():
    records = ValueRecords()
    assert records.directories == record_dirs("secrets")
    assert records.directories[0] == "/var/lib/virtops-storage/secrets"
    assert records.directories[1].endswith(os.path.join("virtops-storage", "secrets"))


def test_records_remember_and_match(tmp_path):
    records = _records(tmp_path)
    assert records.matches(URI, UUID, VALUE) is None  # no record yet
    records.remember(URI, UUID, VALUE)
    assert records.matches(URI, UUID, VALUE) is True
    assert records.matches(URI, UUID, VALUE + b"!") is False
    assert records.matches(URI, UUID, BINARY) is False
    # one record per connection and secret
    assert records.matches("qemu:///session", UUID, VALUE) is None
    assert records.matches(URI, "f52a81b2-424e-490c-823d-6bd4235bc572", VALUE) is None


def test_records_remember_replaces(tmp_path):
    records = _records(tmp_path)
    records.remember(URI, UUID, VALUE)
    records.remember(URI, UUID, BINARY)
    assert records.matches(URI, UUID, BINARY) is True
    assert records.matches(URI, UUID, VALUE) is False
    assert len(_record_files(tmp_path / "records")) == 1  # no temporary file left


def test_records_salt_is_random(tmp_path):
    one, two = _records(tmp_path, "one"), _records(tmp_path, "two")
    one.remember(URI, UUID, VALUE)
    two.remember(URI, UUID, VALUE)
    first = one.read(one.key(URI, UUID))
    second = two.read(two.key(URI, UUID))
    assert first["salt"] != second["salt"] and first["fingerprint"] != second["fingerprint"]
    assert first["kdf"] == "pbkdf2-sha256" and first["iterations"] == FINGERPRINT_ITERATIONS
    assert first["key"] == "%s %s" % (URI, UUID)


def test_records_forget(tmp_path):
    records = _records(tmp_path)
    records.remember(URI, UUID, VALUE)
    records.remember(URI, "f52a81b2-424e-490c-823d-6bd4235bc572", VALUE)
    records.forget(URI, UUID)
    assert records.matches(URI, UUID, VALUE) is None
    assert records.matches(URI, "f52a81b2-424e-490c-823d-6bd4235bc572", VALUE) is True
    records.forget(URI, UUID)  # forgetting twice is fine
    assert len(_record_files(tmp_path / "records")) == 1


@pytest.mark.parametrize("value", [VALUE, BINARY, "gr\u00fc\u00dfe".encode("utf-8")])
def test_record_file_is_private_and_holds_no_value(tmp_path, value):
    records = _records(tmp_path)
    records.remember(URI, UUID, value)
    directory = tmp_path / "records"
    assert _mode(directory) == 0o700
    (name,) = _record_files(directory)
    assert name == hashlib.sha256(("%s %s" % (URI, UUID)).encode()).hexdigest() + ".json"
    path = directory / name
    assert _mode(path) == 0o600
    text = path.read_text()
    assert json.loads(text)["fingerprint"]
    for form in value_forms(value):
        assert form not in text


@pytest.mark.parametrize("content", [
    "", "not json", "{", "[]", "null", "\"text\"", "{}",
    json.dumps({"salt": "zz", "iterations": 1000, "fingerprint": "00"}),          # salt not hex
    json.dumps({"salt": "00", "iterations": "many", "fingerprint": "00"}),        # iterations not a number
    json.dumps({"salt": "00", "iterations": 0, "fingerprint": "00"}),             # PBKDF2 refuses 0 rounds
    json.dumps({"salt": "00", "iterations": None, "fingerprint": "00"}),
    json.dumps({"salt": "00", "iterations": 1000}),                               # no fingerprint
    json.dumps({"salt": "00", "iterations": 1000, "fingerprint": 12}),
    json.dumps({"salt": "00", "iterations": 1000, "fingerprint": "\u00e9"}),      # non-ASCII
    json.dumps({"salt": 5, "iterations": 1000, "fingerprint": "00"}),
], ids=["empty", "text", "truncated", "list", "null", "string", "no-fields", "salt", "iterations-text",
        "iterations-zero", "iterations-null", "no-fingerprint", "fingerprint-int", "fingerprint-non-ascii",
        "salt-int"])
def test_records_corrupt_record_is_no_record(tmp_path, content):
    records = _records(tmp_path)
    records.remember(URI, UUID, VALUE)
    (name,) = _record_files(tmp_path / "records")
    (tmp_path / "records" / name).write_text(content)
    assert records.matches(URI, UUID, VALUE) is None


def test_records_corrupt_iterations_overflow_is_no_record(tmp_path):
    """A record whose iteration count overflows C long is as corrupt as one with text there: no record (None)."""
    records = _records(tmp_path)
    records.remember(URI, UUID, VALUE)
    (name,) = _record_files(tmp_path / "records")
    (tmp_path / "records" / name).write_text(json.dumps({"salt": "00", "iterations": 1e30, "fingerprint": "00"}))
    assert records.matches(URI, UUID, VALUE) is None


def test_records_match_on_a_record_written_elsewhere(tmp_path):
    """matches() uses the record's salt and iteration count, not the current defaults."""
    records = _records(tmp_path)
    salt = b"fixed salt"
    records.write(records.key(URI, UUID), {"salt": salt.hex(), "iterations": 1000,
                                           "fingerprint": fingerprint(VALUE, salt, 1000)})
    assert records.matches(URI, UUID, VALUE) is True
    assert records.matches(URI, UUID, BINARY) is False


# ---------------------------------------------------------------- RecordStore

def test_record_store_round_trip(tmp_path):
    store = RecordStore((str(tmp_path / "a" / "b"),))
    assert store.read("k") is None
    store.write("k", {"image": "/srv/x.qcow2", "size": 3})
    assert store.read("k") == {"image": "/srv/x.qcow2", "size": 3, "key": "k"}
    assert store.read("other") is None
    assert _mode(tmp_path / "a" / "b") == 0o700
    assert [_mode(tmp_path / "a" / "b" / name) for name in _record_files(tmp_path / "a" / "b")] == [0o600]
    store.remove("k")
    assert store.read("k") is None
    assert _record_files(tmp_path / "a" / "b") == []
    store.remove("k")  # removing what is not there is fine


def test_record_store_falls_back_to_the_second_directory(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("a regular file where the first directory's parent should be")
    first, second = str(blocker / "records"), str(tmp_path / "second")
    store = RecordStore((first, second))
    store.write("k", {"v": 1})
    assert not os.path.isdir(first)
    assert blocker.read_text().startswith("a regular file")
    assert _mode(second) == 0o700
    (name,) = _record_files(second)
    assert _mode(os.path.join(second, name)) == 0o600
    assert store.read("k") == {"v": 1, "key": "k"}
    assert RecordStore((second,)).read("k") == {"v": 1, "key": "k"}
    store.remove("k")
    assert store.read("k") is None and _record_files(second) == []


def test_record_store_prefers_the_first_directory(tmp_path):
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    store = RecordStore((first, second))
    store.write("k", {"v": 1})
    assert len(_record_files(first)) == 1 and not os.path.exists(second)
    # a record only in the second directory is found too
    RecordStore((second,)).write("j", {"v": 2})
    assert store.read("j") == {"v": 2, "key": "j"}


def test_value_records_fall_back(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    records = ValueRecords(directories=(str(blocker / "secrets"), str(tmp_path / "state")))
    records.remember(URI, UUID, VALUE)
    assert records.matches(URI, UUID, VALUE) is True
    assert len(_record_files(tmp_path / "state")) == 1


# ---------------------------------------------------------------- usage ids

@pytest.mark.parametrize("usage_type, usage_id", [
    ("volume", "/var/lib/libvirt/images/disk.luks"),
    ("volume", "/dev/vg0/with space"),
    ("ceph", "client.admin"),
    ("ceph", "client.admin secret"),
    ("iscsi", "iqn.2024-01.test:t1"),
    ("tls", "tls server"),
    ("vtpm", "vTPM"),
])
def test_check_usage_id_accepts(usage_type, usage_id):
    assert _check_usage_id(usage_type, usage_id) is None


@pytest.mark.parametrize("usage_type, usage_id, words", [
    ("volume", "images/disk.luks", "absolute path"),
    ("volume", "disk", "absolute path"),
    ("volume", " /leading/space", "absolute path"),
    ("ceph", "client/admin", "cannot contain '/'"),
    ("iscsi", "/iqn", "cannot contain '/'"),
    ("tls", "a/b", "cannot contain '/'"),
    ("vtpm", "/", "cannot contain '/'"),
    ("volume", "/a\nb", "one line"),
    ("ceph", "client\nadmin", "one line"),
    ("tls", "tls\n", "one line"),
    ("volume", None, "required"),
    ("ceph", None, "required"),
    ("ceph", "", "required"),
    ("iscsi", "   ", "required"),
    ("vtpm", "\n", "required"),
])
def test_check_usage_id_refuses(usage_type, usage_id, words):
    with pytest.raises(ParameterError) as info:
        _check_usage_id(usage_type, usage_id)
    assert info.value.param == "usage_id"
    assert words in info.value.msg


@pytest.mark.parametrize("usage_type", sorted(secret.USAGE_TYPES))
def test_check_usage_id_missing_says_what_it_is(usage_type):
    with pytest.raises(ParameterError) as info:
        _check_usage_id(usage_type, None)
    assert usage_type in info.value.msg and secret.USAGE_TYPES[usage_type][1] in info.value.msg


# ---------------------------------------------------------------- references and names

CEPH = {"uuid": UUID, "usage_type": "ceph", "usage_id": "client.admin"}


@pytest.mark.parametrize("reference, usage_type, spec, expected", [
    ({"uuid": UUID}, "ceph", CEPH, True),
    ({"uuid": UUID.upper()}, "ceph", CEPH, True),
    ({"uuid": UUID}, "iscsi", CEPH, True),                               # a uuid names one secret, whatever the type
    ({"uuid": UUID}, "ceph", dict(CEPH, uuid=UUID.upper()), True),
    ({"uuid": "f52a81b2-424e-490c-823d-6bd4235bc572"}, "ceph", CEPH, False),
    ({"uuid": UUID}, "ceph", {"usage_type": "ceph", "usage_id": "client.admin"}, False),
    ({"usage": "client.admin"}, "ceph", CEPH, True),
    ({"usage": "client.admin"}, "iscsi", CEPH, False),                  # same id, another usage type
    ({"usage": "client.admin"}, None, CEPH, False),
    ({"usage": "Client.Admin"}, "ceph", CEPH, False),                   # usage ids are case-sensitive
    ({"usage": "client.other"}, "ceph", CEPH, False),
    ({"uuid": None, "usage": "client.admin"}, "ceph", CEPH, True),
    ({"uuid": "", "usage": "client.admin"}, "ceph", CEPH, True),
    ({}, "ceph", CEPH, False),
    (None, "ceph", CEPH, False),
    ({"uuid": None, "usage": None}, "ceph", CEPH, False),
    ({"usage": ""}, "ceph", dict(CEPH, usage_id=""), False),
    ({"usage": None}, None, {"uuid": UUID}, False),
])
def test_refers_to(reference, usage_type, spec, expected):
    assert _refers_to(reference, usage_type, spec) is expected


@pytest.mark.parametrize("spec, expected", [
    (CEPH, "ceph client.admin"),
    ({"uuid": UUID, "usage_type": "volume", "usage_id": "/var/lib/x.img"}, "volume /var/lib/x.img"),
    ({"uuid": UUID}, UUID),
    ({"uuid": UUID, "usage_type": None, "usage_id": None}, UUID),
])
def test_describe(spec, expected):
    assert describe(spec) == expected
