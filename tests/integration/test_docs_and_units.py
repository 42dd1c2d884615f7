"""RETURN documents exactly the keys the modules return; size units agree with libvirt's parser."""

import ast
import os

import pytest
import yaml

from ansible_collections.virtops.storage.plugins.module_utils.units import to_bytes

from .conftest import INSTALLED, run_module, virsh
from .volume_helpers import define_guest, undefine_guest


def assert_return_documented(module, result, key, info=False):
    """The result's keys are those RETURN documents, and so are the keys of its ``key`` facts (a list for info)."""
    doc = documented(module)
    ignored = ("invocation", "_stderr", "changed") if info else ("invocation", "_stderr")
    returned = set(k for k in result if k not in ignored)
    assert returned == set(doc), (returned, set(doc))
    facts = result[key][0] if info else result[key]
    assert set(facts) == set(doc[key]["contains"]), (set(facts), set(doc[key]["contains"]))
    if info:
        assert result["changed"] is False
    return doc


def assert_fields_documented(facts, contains):
    """Every field of ``facts`` is documented in ``contains``, and so is every field returned on success."""
    optional = set(key for key, field in contains.items() if field["returned"] != "success")
    assert set(contains) - optional <= set(facts) <= set(contains), (set(facts), set(contains))


def documented(module):
    """The RETURN block of an installed module, parsed."""
    with open(os.path.join(INSTALLED, "plugins", "modules", module + ".py")) as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "RETURN":
            return yaml.safe_load(node.value.value)
    raise AssertionError("no RETURN in %s" % module)


@pytest.fixture
def dir_pool(prefix, pools, workdir):
    name = prefix + "docs"
    pools.append(name)
    result = run_module("storage_pool", {"name": name, "type": "dir", "state": "active",
                                         "target": {"path": os.path.join(workdir, "pool")}})
    assert result["changed"] and not result.get("failed"), result
    return name, result


def test_storage_pool_return_matches_docs(dir_pool):
    dummy, result = dir_pool
    assert_return_documented("storage_pool", result, "pool")


def test_storage_pool_info_return_matches_docs(dir_pool):
    name, dummy = dir_pool
    assert_return_documented("storage_pool_info", run_module("storage_pool_info", {"name": name}), "pools", info=True)


@pytest.mark.parametrize("number, unit", [
    (7, "b"), (7, "bytes"), (3, "KB"), (3, "K"), (3, "KiB"), (2, "MB"), (2, "M"), (2, "MiB"),
    (1, "GB"), (1, "G"), (1, "GiB"), (5, "kb"), (5, "k"), (5, "kib"),
])
def test_units_agree_with_libvirt(dir_pool, number, unit, prefix):
    """libvirt's own parser reads <capacity unit=...>: a raw file's size is exactly that many bytes."""
    pool, dummy = dir_pool
    volume = "%s%d%s.img" % (prefix, number, unit)
    xml = ("<volume><name>%s</name><capacity unit='%s'>%d</capacity><allocation>0</allocation>"
           "<target><format type='raw'/></target></volume>" % (volume, unit, number))
    path = os.path.join(os.path.dirname(INSTALLED), "vol-%s.xml" % volume)
    with open(path, "w") as handle:
        handle.write(xml)
    try:
        virsh("vol-create", pool, path)
        capacity = int(virsh("vol-dumpxml", volume, "--pool", pool).split("<capacity unit='bytes'>")[1]
                       .split("<")[0])
    finally:
        os.unlink(path)
        virsh("vol-delete", volume, "--pool", pool, check=False)
    assert capacity == to_bytes("%d%s" % (number, unit), "capacity")


@pytest.fixture
def dir_volume(dir_pool):
    pool, dummy = dir_pool
    result = run_module("storage_volume", {"pool": pool, "name": "docs.qcow2", "capacity": "16M", "format": "qcow2"})
    assert result["changed"] and not result.get("failed"), result
    return pool, result


def test_storage_volume_return_matches_docs(dir_volume):
    dummy, result = dir_volume
    assert_return_documented("storage_volume", result, "volume")


def test_storage_volume_info_return_matches_docs(dir_volume):
    pool, dummy = dir_volume
    result = run_module("storage_volume_info", {"pool": pool, "name": "docs.qcow2"})
    assert_return_documented("storage_volume_info", result, "volumes", info=True)


@pytest.fixture
def ceph_secret(prefix):
    usage = prefix + "docs"
    result = run_module("storage_secret", {"usage_type": "ceph", "usage_id": usage, "value": "docs-" + prefix})
    assert result["changed"] and not result.get("failed"), result
    yield usage, result
    virsh("secret-undefine", result["secret"]["uuid"], check=False)


def test_storage_secret_return_matches_docs(ceph_secret):
    dummy, result = ceph_secret
    assert_return_documented("storage_secret", result, "secret")


def test_storage_secret_info_return_matches_docs(ceph_secret):
    usage, dummy = ceph_secret
    result = run_module("storage_secret_info", {"usage_type": "ceph", "usage_id": usage})
    doc = assert_return_documented("storage_secret_info", result, "secrets", info=True)
    (secret,) = result["secrets"]
    assert set(secret["referenced_by"]) == set(doc["secrets"]["contains"]["referenced_by"]["contains"])


def test_disk_info_return_matches_docs(dir_volume, prefix):
    pool, volume = dir_volume
    guest = prefix + "docs"
    define_guest(guest, [{"file": volume["volume"]["path"]}])
    try:
        result = run_module("disk_info", {"domain": guest})
        doc = assert_return_documented("disk_info", result, "domains", info=True)
        (disk,) = result["domains"][0]["disks"]
        assert_fields_documented(disk, doc["domains"]["contains"]["disks"]["contains"])
        assert (disk["pool"], disk["volume"]) == (pool, "docs.qcow2")
    finally:
        undefine_guest(guest)


def test_disk_attach_return_matches_docs(dir_volume, prefix):
    """On a defined, stopped guest: the persistent attach, then the detach (disk null)."""
    pool, dummy = dir_volume
    guest = prefix + "docs"
    define_guest(guest, [])
    try:
        args = {"domain": guest, "volume": {"pool": pool, "name": "docs.qcow2"}, "disk": {"serial": "docs"}}
        result = run_module("disk_attach", args)
        assert result["changed"] and not result.get("failed"), result
        doc = documented("disk_attach")
        assert set(k for k in result if k not in ("invocation", "_stderr")) == set(doc), (set(result), set(doc))
        assert_fields_documented(result["disk"], doc["disk"]["contains"])
        assert (result["disk"]["persistent"], result["disk"]["live"]) == (True, False)
        detached = run_module("disk_attach", dict(args, state="absent"))
        assert detached["changed"] and detached["disk"] is None and detached["disk_xml"] is None, detached
    finally:
        undefine_guest(guest)
