"""The pool-type table: internal consistency, and agreement with libvirt's pool capabilities."""

import os

import pytest
from lxml import etree

from ansible_collections.virtops.storage.plugins.module_utils.pool_spec import EXTRA_OPTIONS
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import (
    NETFS_SOURCE_FORMATS, OPERATIONS, POOL_TYPE_NAMES, POOL_TYPES, PROTOCOL_VERSION_FORMATS, SOURCE_FIELDS,
    pool_type, supports, takes)

from ...conftest import CORPUS

TYPES = sorted(POOL_TYPES)
CAPS = os.path.join(CORPUS, "storagepoolcaps", "poolcaps-full.xml")

# libvirt 9.0's pool types; sheepdog's backend was removed from libvirt (8.8), so the table omits it.
LIBVIRT_TYPES = ("dir", "fs", "netfs", "logical", "disk", "iscsi", "iscsi-direct", "scsi", "mpath",
                 "rbd", "gluster", "zfs", "vstorage")


def _caps():
    """pool type -> (source formats, default source format, volume formats, default volume format)."""
    result = {}
    for pool in etree.parse(CAPS).getroot().findall("pool"):
        src_default = pool.find("poolOptions/defaultFormat")
        vol_default = pool.find("volOptions/defaultFormat")
        result[pool.get("type")] = (
            [v.text for v in pool.findall("poolOptions/enum[@name='sourceFormatType']/value")],
            src_default.get("type") if src_default is not None else None,
            [v.text for v in pool.findall("volOptions/enum[@name='targetFormatType']/value")],
            vol_default.get("type") if vol_default is not None else None,
        )
    return result


def test_table_names_libvirts_types():
    assert set(POOL_TYPE_NAMES) == set(LIBVIRT_TYPES)
    assert POOL_TYPE_NAMES == tuple(POOL_TYPES)
    assert all(POOL_TYPES[name].name == name for name in POOL_TYPES)
    assert set(_caps()) - set(POOL_TYPES) == set(["sheepdog"])


@pytest.mark.parametrize("name", TYPES)
def test_pool_type_returns_the_row(name):
    assert pool_type(name) is POOL_TYPES[name]


@pytest.mark.parametrize("name", ["sheepdog", "", "DIR", "nfs", None])
def test_pool_type_unknown(name):
    with pytest.raises(KeyError):
        pool_type(name)


@pytest.mark.parametrize("name", TYPES)
def test_disk_type(name):
    row = POOL_TYPES[name]
    assert row.disk_type in ("file", "block", "network")
    if row.disk_type == "network":
        assert row.disk_protocol in ("iscsi", "rbd", "gluster")
    elif row.disk_type == "block" and row.disk_protocol:
        # an iscsi pool's LUNs are host block devices, or network disks in direct mode
        assert row.disk_protocol == "iscsi" and "chap" in row.auth_types
    else:
        assert row.disk_protocol is None


@pytest.mark.parametrize("name", TYPES)
def test_network_types_have_no_target(name):
    """A pool is a network pool (no local target) exactly when its disks are network disks."""
    row = POOL_TYPES[name]
    assert (row.target == "none") == (row.disk_type == "network")
    assert row.target in ("required", "optional", "none")


@pytest.mark.parametrize("name, protocol", [("rbd", "rbd"), ("gluster", "gluster"), ("iscsi-direct", "iscsi")])
def test_network_types(name, protocol):
    row = POOL_TYPES[name]
    assert row.disk_type == "network" and row.disk_protocol == protocol and row.target == "none"


@pytest.mark.parametrize("name, disk_type", [
    ("dir", "file"), ("fs", "file"), ("netfs", "file"), ("vstorage", "file"), ("logical", "block"),
    ("disk", "block"), ("iscsi", "block"), ("scsi", "block"), ("mpath", "block"), ("zfs", "block"),
])
def test_local_disk_types(name, disk_type):
    assert POOL_TYPES[name].disk_type == disk_type


@pytest.mark.parametrize("name", TYPES)
def test_volume_disk(name):
    """libvirt refuses <disk type='volume'> from mpath, rbd and gluster pools (and sheepdog)."""
    assert POOL_TYPES[name].volume_disk is (name not in ("rbd", "gluster", "mpath"))


@pytest.mark.parametrize("name", TYPES)
def test_required_fields_are_taken(name):
    row = POOL_TYPES[name]
    for field in row.required + row.optional:
        assert field in SOURCE_FIELDS
        assert takes(row, field)
    assert not set(row.required) & set(row.optional)
    assert len(set(row.required)) == len(row.required)
    for extra in row.extras:
        assert extra in EXTRA_OPTIONS and takes(row, extra)
    for field in set(SOURCE_FIELDS) - set(row.required + row.optional):
        assert not takes(row, field)
    for extra in set(EXTRA_OPTIONS) - set(row.extras):
        assert not takes(row, extra)


@pytest.mark.parametrize("name", TYPES)
def test_counts_and_choices_follow_the_fields(name):
    row = POOL_TYPES[name]
    assert (row.max_hosts > 0) == takes(row, "hosts")
    assert (row.max_devices > 0) == takes(row, "devices")
    assert bool(row.source_formats) == takes(row, "format")
    assert bool(row.auth_types) == takes(row, "auth")
    assert set(row.auth_types) <= set(["chap", "ceph"])
    assert len(set(row.source_formats)) == len(row.source_formats)


@pytest.mark.parametrize("name", TYPES)
def test_build_probe(name):
    row = POOL_TYPES[name]
    assert row.build_probe in (None, "directory", "filesystem", "label")
    if row.build_probe in ("filesystem", "label"):  # probes the one device of the pool
        assert "devices" in row.required and row.max_devices == 1
        assert supports(row, "build")
    if row.build_probe == "directory":
        assert row.target == "required" and supports(row, "build")


@pytest.mark.parametrize("name", TYPES)
def test_defaults(name):
    row = POOL_TYPES[name]
    if row.named_by_source:
        assert takes(row, "name")
    if row.default_target_path:
        assert row.named_by_source and row.target == "optional" and "%s" in row.default_target_path
    if row.target == "optional":
        assert row.default_target_path
    if row.default_source_dir:
        assert takes(row, "dir")


@pytest.mark.parametrize("name", TYPES)
def test_operations_are_known(name):
    assert POOL_TYPES[name].operations <= frozenset(OPERATIONS)


@pytest.mark.parametrize("operation", ["", "start", "Build", "resize", "volume_copy", None])
def test_supports_refuses_unknown_operation(operation):
    with pytest.raises(ValueError) as caught:
        supports(POOL_TYPES["dir"], operation)
    assert repr(operation) in str(caught.value)


# (type, operation, supported): the virStorageBackend callbacks of libvirt 9.0
@pytest.mark.parametrize("name, operation, expected", [
    ("dir", "build", True), ("dir", "delete", True), ("dir", "volume_resize", True),
    ("fs", "build", True), ("netfs", "delete", True), ("vstorage", "volume_upload", True),
    ("logical", "build", True), ("logical", "volume_resize", False), ("logical", "volume_create", True),
    ("disk", "build", True), ("disk", "volume_resize", False), ("disk", "delete", True),
    ("iscsi", "build", False), ("iscsi", "delete", False), ("iscsi", "volume_create", False),
    ("iscsi", "volume_wipe", True), ("iscsi-direct", "volume_wipe", True),
    ("iscsi-direct", "volume_upload", False), ("scsi", "delete", False), ("scsi", "volume_download", True),
    ("mpath", "build", False), ("mpath", "volume_upload", True),
    ("rbd", "build", False), ("rbd", "delete", False), ("rbd", "volume_resize", True),
    ("rbd", "volume_upload", False), ("gluster", "volume_delete", True), ("gluster", "volume_create", False),
    ("zfs", "build", True), ("zfs", "delete", True), ("zfs", "volume_resize", False),
    ("zfs", "volume_wipe", False),
])
def test_supports(name, operation, expected):
    assert supports(POOL_TYPES[name], operation) is expected


@pytest.mark.parametrize("name", TYPES)
def test_formats_match_pool_capabilities(name):
    """Source and volume formats are libvirt's (poolcaps-full.xml); the first source format is its default."""
    src, src_default, vol, vol_default = _caps()[name]
    row = POOL_TYPES[name]
    assert set(row.source_formats) == set(src)
    if row.source_formats:
        assert row.source_formats[0] == src_default
    if vol:
        assert set(row.volume_formats) == set(vol)
        assert vol_default in row.volume_formats
    else:  # rbd lists no enum, only its default; pools without volume formats list nothing
        assert row.volume_formats == ((vol_default,) if vol_default else ())


@pytest.mark.parametrize("name, fields", [
    ("dir", ()), ("fs", ("devices",)), ("netfs", ("hosts", "dir")), ("logical", ()), ("disk", ("devices",)),
    ("iscsi", ("hosts", "devices")), ("iscsi-direct", ("hosts", "devices", "initiator_iqn")),
    ("scsi", ("adapter",)), ("mpath", ()), ("rbd", ("hosts", "name")), ("gluster", ("hosts",)),
    ("zfs", ()), ("vstorage", ()),
])
def test_required(name, fields):
    assert set(POOL_TYPES[name].required) == set(fields)


@pytest.mark.parametrize("name, hosts, devices", [
    ("netfs", 1, 0), ("iscsi", 1, 1), ("iscsi-direct", 1, 1), ("gluster", 1, 0), ("fs", 0, 1),
    ("disk", 0, 1), ("dir", 0, 0), ("mpath", 0, 0), ("scsi", 0, 0),
])
def test_single_host_and_device_types(name, hosts, devices):
    row = POOL_TYPES[name]
    assert (row.max_hosts, row.max_devices) == (hosts, devices)


def test_rbd_takes_several_monitors():
    assert POOL_TYPES["rbd"].max_hosts > 1


def test_protocol_version_formats():
    assert set(PROTOCOL_VERSION_FORMATS) <= set(NETFS_SOURCE_FORMATS)
    assert "cifs" not in PROTOCOL_VERSION_FORMATS and "glusterfs" not in PROTOCOL_VERSION_FORMATS
    assert [n for n in TYPES if takes(POOL_TYPES[n], "protocol_version")] == ["netfs"]
