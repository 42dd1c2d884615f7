"""SecretConverger, SecretInfoReader, ReferenceScan and check_secret_reference, against small fakes of libvirt."""

import base64
import os

import libvirt
import pytest

from ansible_collections.virtops.storage.plugins.module_utils import secret
from ansible_collections.virtops.storage.plugins.module_utils.disk_xml import domain_disks
from ansible_collections.virtops.storage.plugins.module_utils.errors import (
    LibvirtCallError, ParameterError, UnsafeActionError)
from ansible_collections.virtops.storage.plugins.module_utils.secret import (
    ReferenceScan, SecretConverger, SecretInfoReader, ValueRecords, check_secret_reference, secret_facts,
    value_forms)

from ...conftest import CORPUS
from . import fake_libvirt
from .fake_libvirt import URI, UUID, FakeConnection, FakePool, FakeVolume

OTHER_UUID = "f52a81b2-424e-490c-823d-6bd4235bc572"
VALUE = "AQBDkOBhAAAAABAAu2Yy7JNc2WPhT3pxQ6mOcw=="
NEW_VALUE = "a quite different secret value"
# the module's argument spec defaults (plugins/modules/storage_secret.py)
DEFAULTS = {"uuid": None, "usage_type": None, "usage_id": None, "description": None, "ephemeral": False,
            "private": True, "value": None, "value_b64": None, "update_value": "on_create", "state": "present",
            "allow_in_use": False, "uri": URI}
CEPH = {"usage_type": "ceph", "usage_id": "client.admin"}


# ---------------------------------------------------------------- fakes (the shared ones: fake_libvirt)

def FakeModule(check_mode=False, diff=True, **params):  # pylint: disable=invalid-name
    """A storage_secret module: the argument spec's defaults, then ``params``."""
    return fake_libvirt.FakeModule(DEFAULTS, check_mode=check_mode, diff=diff, **params)


class FakeScan:
    """Stands in for ReferenceScan: the references it finds are given."""

    references = {"pools": [], "volumes": [], "guests": []}

    def __init__(self, connection, volumes=True):
        FakeScan.volumes = volumes

    def references_to(self, spec):
        return dict(self.references)


@pytest.fixture
def records(tmp_path):
    return ValueRecords(directories=(str(tmp_path / "records"),))


def _converger(connection, records, check_mode=False, **params):
    return SecretConverger(FakeModule(check_mode=check_mode, **params), connection, records=records)


def _run(connection, records, check_mode=False, **params):
    converger = _converger(connection, records, check_mode=check_mode, **params)
    return converger, converger.run()


def _plan(connection, records, **params):
    converger = _converger(connection, records, **params)
    desired = converger.read_desired()
    return converger, converger.plan(converger.read_current(), desired)


def _assert_no_value_shown(module, result):
    text = repr(result)
    for form in module.no_log_values:
        assert form not in text


# ---------------------------------------------------------------- read_desired

def test_read_desired_hides_every_form_of_the_value(records):
    converger = _converger(FakeConnection(), records, value=VALUE, **CEPH)
    desired = converger.read_desired()
    assert converger.module.no_log_values == value_forms(VALUE.encode())
    assert converger.value == VALUE.encode()
    assert desired == {"state": "present", "spec": dict(CEPH, ephemeral=False, private=True)}


def test_read_desired_hides_a_base64_value(records):
    raw = bytes(range(0x80, 0x90))
    converger = _converger(FakeConnection(), records, value_b64=base64.b64encode(raw).decode(), **CEPH)
    converger.read_desired()
    assert converger.module.no_log_values == value_forms(raw)
    assert raw.hex() in converger.module.no_log_values


def test_read_desired_short_value(records):
    """A value under MIN_MASKED_BYTES is used, but its spellings are not masked (they would garble the result)."""
    converger = _converger(FakeConnection(), records, value="abc", **CEPH)
    converger.read_desired()
    assert converger.value == b"abc" and converger.module.no_log_values == set()
    assert secret.MIN_MASKED_BYTES == 4


def test_control_character_in_description_is_a_parameter_error(records):
    connection = FakeConnection()
    with pytest.raises(ParameterError) as info:
        _run(connection, records, description="Ceph\x01key", **CEPH)
    assert info.value.param == "description"


def test_read_desired_without_value_hides_nothing(records):
    converger = _converger(FakeConnection(), records, **CEPH)
    converger.read_desired()
    assert converger.module.no_log_values == set() and converger.value is None


def test_read_desired_canonical_uuid(records):
    converger = _converger(FakeConnection(), records, uuid=UUID.upper().replace("-", ""))
    assert converger.read_desired()["spec"]["uuid"] == UUID


@pytest.mark.parametrize("params, param", [
    ({}, "usage_type"),
    ({"usage_id": "client.admin"}, "usage_type"),
    ({"usage_type": "passphrase", "usage_id": "x"}, "usage_type"),
    ({"usage_type": "ceph"}, "usage_id"),
    ({"usage_type": "volume", "usage_id": "relative.img"}, "usage_id"),
    ({"uuid": "not-a-uuid"}, "uuid"),
    ({"usage_type": "ceph", "usage_id": "c", "value": ""}, "value"),
    ({"usage_type": "ceph", "usage_id": "c", "value_b64": "@@"}, "value_b64"),
])
def test_read_desired_refuses(params, param, records):
    connection = FakeConnection()
    converger = _converger(connection, records, **params)
    with pytest.raises(ParameterError) as info:
        converger.run()
    assert info.value.param == param
    assert connection.conn.log == []


# ---------------------------------------------------------------- new secrets

def test_new_secret_with_value(records):
    connection = FakeConnection()
    converger, result = _run(connection, records, value=VALUE, description="Ceph key", **CEPH)
    assert result["changed"] is True
    assert result["actions"] == ["define secret ceph client.admin", "set the value of secret ceph client.admin"]
    assert "warnings" not in result
    (created,) = list(connection.conn.secrets.values())
    assert created.spec == dict(CEPH, uuid=created.UUIDString(), description="Ceph key", ephemeral=False,
                                private=True)
    assert created.value(0) == VALUE.encode()
    assert result["secret"] == dict(CEPH, uuid=created.UUIDString(), description="Ceph key", ephemeral=False,
                                    private=True)
    assert records.matches(URI, created.UUIDString(), VALUE.encode()) is True
    assert result["diff"]["before"]["state"] == "absent" and result["diff"]["after"]["state"] == "present"
    assert result["diff"]["after"]["value"] == "(not shown, changed)"
    assert result["diff"]["after"]["private"] is True
    _assert_no_value_shown(converger.module, result)


def test_new_secret_with_uuid(records):
    connection = FakeConnection()
    _run(connection, records, uuid=UUID.upper(), private=False, value=VALUE, **CEPH)
    assert connection.conn.secrets[UUID].spec["private"] is False
    assert connection.conn.secrets[UUID].value(0) == VALUE.encode()


def test_new_secret_without_value_warns(records):
    connection = FakeConnection()
    converger, result = _run(connection, records, **CEPH)
    assert result["actions"] == ["define secret ceph client.admin"]
    (warning,) = result["warnings"]
    assert "ceph client.admin" in warning and "without a value" in warning
    (created,) = list(connection.conn.secrets.values())
    assert ("setValue", created.UUIDString()) not in connection.conn.log
    assert "value" not in result["diff"]["after"]


def test_new_secret_check_mode(records):
    connection = FakeConnection()
    converger, result = _run(connection, records, check_mode=True, value=VALUE, **CEPH)
    assert result["changed"] is True and len(result["actions"]) == 2
    assert connection.conn.secrets == {} and connection.conn.log == []
    assert result["secret"] is None
    assert not os.path.isdir(records.directories[0])


def test_new_secret_by_uuid_only_needs_a_usage(records):
    with pytest.raises(ParameterError) as info:
        _plan(FakeConnection(), records, uuid=UUID)
    assert info.value.param == "usage_type"


def test_usage_held_by_another_uuid(records):
    connection = FakeConnection()
    connection.conn.add(uuid=OTHER_UUID, **CEPH)
    with pytest.raises(ParameterError) as info:
        _plan(connection, records, uuid=UUID, **CEPH)
    assert info.value.param == "uuid" and OTHER_UUID in info.value.msg


# ---------------------------------------------------------------- existing secrets

def test_existing_same_private_secret(records):
    connection = FakeConnection()
    connection.conn.add(description="Ceph key", **CEPH)
    converger, result = _run(connection, records, description="Ceph key", **CEPH)
    assert result["changed"] is False and result["actions"] == []
    assert result["secret"]["uuid"] == UUID
    assert result["diff"]["before"] == result["diff"]["after"]
    assert connection.conn.log == []


def test_existing_found_by_uuid_only(records):
    connection = FakeConnection()
    connection.conn.add(**CEPH)
    converger, actions = _plan(connection, records, uuid=UUID)
    assert actions == []


def test_description_change_redefines(records):
    connection = FakeConnection()
    connection.conn.add(value=VALUE, description="old", private=False, **CEPH)
    converger, result = _run(connection, records, description="new  text", private=False, **CEPH)
    assert result["actions"] == ["redefine secret ceph client.admin (description)"]
    assert connection.conn.secrets[UUID].spec["description"] == "new  text"
    assert connection.conn.secrets[UUID].value(0) == VALUE.encode()  # a redefinition keeps the value
    assert result["diff"]["before"]["description"] == "old" and result["diff"]["after"]["description"] == "new  text"


def test_ephemeral_change_redefines(records):
    connection = FakeConnection()
    connection.conn.add(**CEPH)
    converger, actions = _plan(connection, records, ephemeral=True, **CEPH)
    assert [a.description for a in actions] == ["redefine secret ceph client.admin (ephemeral)"]


def test_non_private_value_compare(records):
    connection = FakeConnection()
    connection.conn.add(value=VALUE, private=False, **CEPH)
    converger, actions = _plan(connection, records, private=False, value=VALUE, **CEPH)
    assert actions == []
    converger, result = _run(connection, records, private=False, value=NEW_VALUE, **CEPH)
    assert result["actions"] == ["set the value of secret ceph client.admin"]
    assert connection.conn.secrets[UUID].value(0) == NEW_VALUE.encode()
    assert result["diff"]["before"]["value"] == "(not shown)"
    _assert_no_value_shown(converger.module, result)


def test_non_private_without_value_gets_one(records):
    connection = FakeConnection()
    connection.conn.add(private=False, **CEPH)
    converger, result = _run(connection, records, private=False, value=VALUE, **CEPH)
    assert result["actions"] == ["set the value of secret ceph client.admin"]
    assert connection.conn.secrets[UUID].value(0) == VALUE.encode()


def test_non_private_to_private_remembers_the_known_value(records):
    connection = FakeConnection()
    connection.conn.add(value=VALUE, private=False, **CEPH)
    converger, result = _run(connection, records, value=VALUE, **CEPH)
    assert result["actions"] == ["redefine secret ceph client.admin (private)"]
    assert connection.conn.secrets[UUID].spec["private"] is True
    assert records.matches(URI, UUID, VALUE.encode()) is True
    # the next run, even with update_value: always, knows the value is set
    converger, actions = _plan(connection, records, value=VALUE, update_value="always", **CEPH)
    assert actions == []


def test_private_to_non_private_without_value_is_refused(records):
    connection = FakeConnection()
    connection.conn.add(**CEPH)
    with pytest.raises(ParameterError) as info:
        _run(connection, records, private=False, **CEPH)
    assert info.value.param == "private"
    assert "nothing was changed" in info.value.msg
    assert connection.conn.log == [] and connection.conn.secrets[UUID].spec["private"] is True


def test_private_to_non_private_with_value_recreates(records):
    connection = FakeConnection()
    connection.conn.add(**CEPH)
    converger, result = _run(connection, records, private=False, value=VALUE, update_value="always", **CEPH)
    (action,) = result["actions"]
    assert action.startswith("re-create secret ceph client.admin with uuid %s (private changed" % UUID)
    assert connection.conn.log == [("undefine", UUID), ("define", UUID), ("setValue", UUID)]
    assert connection.conn.secrets[UUID].spec["private"] is False
    assert connection.conn.secrets[UUID].value(0) == VALUE.encode()
    assert result["diff"]["after"]["value"] == "(not shown, changed)"
    _assert_no_value_shown(converger.module, result)


def test_usage_change_of_a_uuid_secret_recreates(records):
    connection = FakeConnection()
    connection.conn.add(value=VALUE, private=False, usage_type="ceph", usage_id="client.old")
    converger, result = _run(connection, records, uuid=UUID, private=False, **CEPH)
    (action,) = result["actions"]
    assert action.startswith("re-create secret ceph client.admin with uuid %s (usage_id changed" % UUID)
    assert connection.conn.secrets[UUID].spec["usage_id"] == "client.admin"
    assert connection.conn.secrets[UUID].value(0) == VALUE.encode()  # the value read back is set again


def test_usage_change_of_a_private_secret_needs_the_value(records):
    connection = FakeConnection()
    connection.conn.add(usage_type="iscsi", usage_id="target")
    with pytest.raises(ParameterError) as info:
        _plan(connection, records, uuid=UUID, **CEPH)
    assert info.value.param == "usage_id"
    with pytest.raises(ParameterError) as info:  # on_create: nothing shows the declared value is the current one
        _plan(connection, records, uuid=UUID, value=VALUE, **CEPH)
    assert info.value.param == "usage_id" and "update_value: always" in info.value.msg
    converger, actions = _plan(connection, records, uuid=UUID, value=VALUE, update_value="always", **CEPH)
    assert len(actions) == 1 and "usage_type, usage_id changed" in actions[0].description


def test_private_recreation_takes_a_value_the_fingerprint_confirms(records):
    """on_create re-creates a private secret with the declared value only when the record shows it is the current one."""
    connection = FakeConnection()
    connection.conn.add(**CEPH)
    records.remember(connection.uri, UUID, b"another value")
    with pytest.raises(ParameterError) as info:
        _plan(connection, records, private=False, value=VALUE, **CEPH)
    assert info.value.param == "private" and "update_value: always" in info.value.msg
    records.remember(connection.uri, UUID, VALUE.encode())
    converger, actions = _plan(connection, records, private=False, value=VALUE, **CEPH)
    assert len(actions) == 1 and actions[0].description.startswith("re-create secret ceph client.admin")


def test_recreate_check_mode_changes_nothing(records):
    connection = FakeConnection()
    connection.conn.add(**CEPH)
    converger, result = _run(connection, records, check_mode=True, private=False, value=VALUE, update_value="always",
                             **CEPH)
    assert len(result["actions"]) == 1 and result["changed"] is True
    assert connection.conn.log == [] and connection.conn.secrets[UUID].spec["private"] is True


def test_recreate_failure_restores_the_previous_definition(records):
    connection = FakeConnection()
    connection.conn.add(**CEPH)
    connection.conn.fail_set_value = True
    with pytest.raises(LibvirtCallError) as info:
        _run(connection, records, private=False, value=VALUE, update_value="always", **CEPH)
    assert "the previous definition was restored" in info.value.msg
    assert connection.conn.secrets[UUID].spec["private"] is True


def test_recreate_failure_after_a_usage_change_restores_the_previous_definition(records):
    """The new definition (same uuid, new usage id) exists when setValue fails: restoring must replace it."""
    connection = FakeConnection()
    connection.conn.add(value=VALUE, private=False, usage_type="ceph", usage_id="client.old")
    connection.conn.fail_set_value = True
    with pytest.raises(LibvirtCallError) as info:
        _run(connection, records, uuid=UUID, private=False, **CEPH)
    assert connection.conn.secrets[UUID].spec["usage_id"] == "client.old"
    assert "the previous definition was restored" in info.value.msg


# ---------------------------------------------------------------- the value policy of private secrets

@pytest.mark.parametrize("update_value, record, expected_actions, warns", [
    ("always", VALUE, [], False),
    ("always", NEW_VALUE, ["set the value of secret ceph client.admin"], False),
    ("always", None, ["set the value of secret ceph client.admin"], False),
    ("on_create", VALUE, [], False),
    ("on_create", NEW_VALUE, [], True),
    ("on_create", None, [], False),
], ids=["always-same", "always-other", "always-no-record", "on_create-same", "on_create-other",
        "on_create-no-record"])
def test_private_value_policy(update_value, record, expected_actions, warns, records):
    connection = FakeConnection()
    connection.conn.add(value=record or "unknown", **CEPH)
    if record is not None:
        records.remember(URI, UUID, record.encode())
    converger, result = _run(connection, records, value=VALUE, update_value=update_value, **CEPH)
    assert result["actions"] == expected_actions
    assert bool(result.get("warnings")) is warns
    if warns:
        assert "update_value: always" in result["warnings"][0] and "ceph client.admin" in result["warnings"][0]
    if expected_actions:
        assert connection.conn.secrets[UUID].value(0) == VALUE.encode()
        assert records.matches(URI, UUID, VALUE.encode()) is True
    else:
        assert ("setValue", UUID) not in connection.conn.log
    _assert_no_value_shown(converger.module, result)


def test_private_value_always_check_mode(records):
    connection = FakeConnection()
    connection.conn.add(value="old", **CEPH)
    records.remember(URI, UUID, b"old")
    converger, result = _run(connection, records, check_mode=True, value=VALUE, update_value="always", **CEPH)
    assert result["changed"] is True
    assert connection.conn.log == [] and records.matches(URI, UUID, b"old") is True


def test_private_value_with_redefinition(records):
    connection = FakeConnection()
    connection.conn.add(description="old", **CEPH)
    converger, result = _run(connection, records, description="new", value=VALUE, update_value="always", **CEPH)
    assert result["actions"] == ["redefine secret ceph client.admin (description)",
                                 "set the value of secret ceph client.admin"]
    assert connection.conn.log == [("define", UUID), ("setValue", UUID)]


# ---------------------------------------------------------------- absent

@pytest.fixture
def scan(monkeypatch):
    monkeypatch.setattr(secret, "ReferenceScan", FakeScan)
    monkeypatch.setattr(FakeScan, "references", {"pools": [], "volumes": [], "guests": []})
    return FakeScan


def test_absent_missing(records, scan):
    converger, result = _run(FakeConnection(), records, state="absent", **CEPH)
    assert result["actions"] == [] and result["changed"] is False
    assert result["diff"] == {"before": {"state": "absent"}, "after": {"state": "absent"}}


def test_absent_removes_and_forgets(records, scan):
    connection = FakeConnection()
    connection.conn.add(**CEPH)
    records.remember(URI, UUID, VALUE.encode())
    converger, result = _run(connection, records, state="absent", **CEPH)
    assert result["actions"] == ["undefine secret ceph client.admin"]
    assert connection.conn.secrets == {} and result["secret"] is None
    assert records.matches(URI, UUID, VALUE.encode()) is None
    assert scan.volumes is False  # only volume secrets (and those without usage) are referenced by volumes
    assert result["diff"]["after"] == {"state": "absent"} and result["diff"]["before"]["state"] == "present"


def test_absent_volume_secret_scans_volumes(records, scan):
    connection = FakeConnection()
    connection.conn.add(usage_type="volume", usage_id="/var/lib/libvirt/images/a.img")
    _plan(connection, records, state="absent", usage_type="volume", usage_id="/var/lib/libvirt/images/a.img")
    assert scan.volumes is True


def test_absent_in_use_is_refused(records, scan):
    connection = FakeConnection()
    connection.conn.add(**CEPH)
    scan.references = {"pools": ["ceph"], "volumes": [], "guests": ["vm1 vda", "vm2 vdb"]}
    with pytest.raises(UnsafeActionError) as info:
        _run(connection, records, state="absent", **CEPH)
    assert info.value.details["param"] == "allow_in_use"
    assert "guests vm1 vda, vm2 vdb; pools ceph" in info.value.msg
    assert UUID in connection.conn.secrets and connection.conn.log == []


def test_absent_in_use_allowed(records, scan):
    connection = FakeConnection()
    connection.conn.add(**CEPH)
    scan.references = {"pools": [], "volumes": ["images/a.img"], "guests": []}
    converger, result = _run(connection, records, state="absent", allow_in_use=True, **CEPH)
    assert result["actions"] == ["undefine secret ceph client.admin"]
    (warning,) = result["warnings"]
    assert "volumes images/a.img" in warning
    assert connection.conn.secrets == {}


def test_absent_check_mode(records, scan):
    connection = FakeConnection()
    connection.conn.add(**CEPH)
    converger, result = _run(connection, records, check_mode=True, state="absent", **CEPH)
    assert result["changed"] is True and UUID in connection.conn.secrets
    assert result["secret"]["uuid"] == UUID


# ---------------------------------------------------------------- reading values and facts

def test_read_value_of_a_secret_without_one(records):
    connection = FakeConnection()
    connection.conn.add(private=False, **CEPH)
    converger = _converger(connection, records, **CEPH)
    converger.read_desired()
    assert converger.read_current()["value"] is None


def test_read_value_failure(records):
    connection = FakeConnection()
    found = connection.conn.add(private=False, **CEPH)

    def broken(flags):
        raise libvirt.libvirtError("connection lost")
    found.value = broken
    converger = _converger(connection, records, **CEPH)
    converger.read_desired()
    with pytest.raises(LibvirtCallError) as info:
        converger.read_current()
    assert "reading the value of secret %s" % UUID in info.value.msg


def test_secret_facts_never_hold_the_value():
    connection = FakeConnection()
    found = connection.conn.add(value=VALUE, private=False, description="d", **CEPH)
    facts = secret_facts(found)
    assert facts == dict(CEPH, uuid=UUID, description="d", ephemeral=False, private=False)
    assert set(facts) == set(secret.FACT_FIELDS)
    assert secret_facts(connection.conn.add(uuid=OTHER_UUID))["usage_type"] is None


# ---------------------------------------------------------------- check_secret_reference

def test_check_secret_reference():
    connection = FakeConnection()
    found = connection.conn.add(**CEPH)
    assert check_secret_reference(connection, {"uuid": UUID}, "ceph", "auth", True) is found
    assert check_secret_reference(connection, {"usage": "client.admin"}, "ceph", "auth", True) is found
    with pytest.raises(ParameterError) as info:
        check_secret_reference(connection, {"uuid": UUID}, "iscsi", "source.auth", True)
    assert info.value.param == "source.auth" and "usage type ceph, not iscsi" in info.value.msg
    with pytest.raises(ParameterError) as info:
        check_secret_reference(connection, {"usage": "other"}, "ceph", "auth", True)
    assert info.value.param == "auth" and "no libvirt secret with usage other" in info.value.msg
    warning = check_secret_reference(connection, {"uuid": OTHER_UUID}, "ceph", "auth", False)
    assert warning.startswith("auth: no libvirt secret with uuid %s (usage type ceph)" % OTHER_UUID)


# ---------------------------------------------------------------- SecretInfoReader

def _info(connection, **params):
    return SecretInfoReader(FakeModule(**dict({"uuid": None, "usage_type": None, "usage_id": None}, **params)),
                            connection).run()


def test_info_lists_all_sorted(scan):
    connection = FakeConnection()
    connection.conn.add(uuid=OTHER_UUID, usage_type="volume", usage_id="/a.img")
    connection.conn.add(value=VALUE, **CEPH)
    result = _info(connection)
    assert result["changed"] is False and "exists" not in result
    assert [item["usage_type"] for item in result["secrets"]] == ["ceph", "volume"]
    assert result["secrets"][0]["referenced_by"] == {"pools": [], "volumes": [], "guests": []}
    assert VALUE not in repr(result)
    assert scan.volumes is True


@pytest.mark.parametrize("params, exists", [
    ({"uuid": UUID}, True),
    ({"uuid": UUID.upper()}, True),
    ({"usage_type": "ceph", "usage_id": "client.admin"}, True),
    ({"uuid": UUID, "usage_type": "ceph", "usage_id": "client.admin"}, True),
    ({"uuid": UUID, "usage_type": "ceph", "usage_id": "client.other"}, False),  # the uuid has another usage
    ({"uuid": OTHER_UUID}, False),
    ({"usage_type": "iscsi", "usage_id": "client.admin"}, False),
])
def test_info_one(params, exists, scan):
    connection = FakeConnection()
    connection.conn.add(**CEPH)
    result = _info(connection, **params)
    assert result["exists"] is exists
    assert [item["uuid"] for item in result["secrets"]] == ([UUID] if exists else [])


@pytest.mark.parametrize("params, param", [
    ({"usage_type": "ceph"}, "usage_id"),
    ({"usage_id": "client.admin"}, "usage_type"),
    ({"usage_type": "ceph", "usage_id": "a/b"}, "usage_id"),
    ({"uuid": "nope"}, "uuid"),
])
def test_info_refuses(params, param, scan):
    with pytest.raises(ParameterError) as info:
        _info(FakeConnection(), **params)
    assert info.value.param == param


# ---------------------------------------------------------------- ReferenceScan

def _corpus(*parts):
    with open(os.path.join(CORPUS, *parts)) as handle:
        return handle.read()


def _scan_connection():
    luks = FakeVolume("LuksDemo.img", _corpus("storagevol", "in", "vol-luks.xml"))
    pools = [FakePool(_corpus("storagepool", "in", "pool-rbd.xml"), active=True, name="ceph"),
             FakePool(_corpus("storagepool", "in", "pool-iscsi-auth.xml"), volumes=[luks], name="iscsi"),
             FakePool(_corpus("storagepool", "in", "pool-dir.xml"), active=True, volumes=[luks], name="images")]
    guests = [("rbd", domain_disks(_corpus("disk", "disk-network-rbd.xml"))),
              ("iscsi", domain_disks(_corpus("disk", "disk-network-iscsi.xml"))),
              ("encrypted", domain_disks(_corpus("disk", "disk-network-rbd-encryption.xml")))]
    return FakeConnection(pools=pools, guests=guests)


def test_reference_scan():
    connection = _scan_connection()
    scan = ReferenceScan(connection)
    pool_secret = "2ec115d7-3a88-3ceb-bc12-0ac909a6fd87"
    assert scan.references_to({"uuid": pool_secret.upper()}) == {
        "pools": ["ceph", "iscsi"], "volumes": [], "guests": []}
    assert scan.references_to({"uuid": OTHER_UUID, "usage_type": "volume", "usage_id": "/x"}) == {
        "pools": [], "volumes": ["images/LuksDemo.img"], "guests": []}  # the inactive pool's volumes are not read
    assert not connection.pools[1].volumes_read and connection.pools[2].volumes_read
    # the same usage id, per usage type
    assert scan.references_to({"uuid": UUID, "usage_type": "ceph", "usage_id": "mycluster_myname"}) == {
        "pools": [], "volumes": [], "guests": ["encrypted vda", "encrypted vdb", "encrypted vdc", "encrypted vdd",
                                               "rbd vde"]}
    unused = "11111111-2222-3333-4444-555555555555"
    assert scan.references_to({"uuid": unused, "usage_type": "iscsi", "usage_id": "mycluster_myname"}) == {
        "pools": [], "volumes": [], "guests": ["iscsi vdc", "iscsi vdd"]}
    assert scan.references_to({"uuid": unused}) == {"pools": [], "volumes": [], "guests": []}


def test_reference_scan_without_volumes():
    connection = _scan_connection()
    scan = ReferenceScan(connection, volumes=False)
    assert scan.volumes == [] and not any(pool.volumes_read for pool in connection.pools)
    assert scan.references_to({"uuid": OTHER_UUID})["volumes"] == []
