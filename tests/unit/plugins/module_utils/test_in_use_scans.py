"""The scans behind "in use" refusals: Connection.volume_specs and guest_disks while other clients change things,
and volume.volumes_backed_by / backing_users comparing backing paths.

Runs over the shared libvirt fake (fake_libvirt), whose calls fail with libvirt's real error codes; the
backing path tests use real files under tmp_path (a local connection compares the files paths name).
"""

import os

import libvirt
import pytest

from ansible_collections.virtops.storage.plugins.module_utils.errors import LibvirtCallError
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import POOL_TYPES
from ansible_collections.virtops.storage.plugins.module_utils.volume import (
    PoolHandle, backing_users, guests_using, volumes_backed_by)

from .fake_libvirt import FakeConnection, FakeVolume, libvirt_error, volume_xml

DIR_POOL = "<pool type='dir'><name>%s</name><target><path>/srv/%s</path></target></pool>"
REMOTE = "qemu+ssh://kvm1.example/system"


def _volume(pool, name, backing=None):
    return FakeVolume(name, volume_xml(name, 1024, path="/srv/%s/%s" % (pool, name), backing=backing))


def _connection(uri="qemu:///system", **pools):
    """Active dir pools ``name=[volume names]``."""
    connection = FakeConnection(uri=uri)
    for name, volumes in pools.items():
        connection.conn.add_pool(DIR_POOL % (name, name), active=True, volumes=[_volume(name, v) for v in volumes])
    return connection


def _scanned(connection):
    return sorted(where for where, dummy in connection.volume_specs())


# ---------------------------------------------------------------- volume_specs

def test_volume_specs_lists_the_volumes_of_active_pools():
    connection = _connection(a=["1.img", "2.img"], b=["3.img"])
    connection.conn.add_pool(DIR_POOL % ("off", "off"), active=False)
    assert _scanned(connection) == ["a/1.img", "a/2.img", "b/3.img"]


@pytest.mark.parametrize("code", [libvirt.VIR_ERR_NO_STORAGE_POOL, libvirt.VIR_ERR_OPERATION_INVALID],
                         ids=["undefined", "stopped"])
def test_volume_specs_skips_a_pool_removed_while_it_scans(code):
    connection = _connection(a=["1.img"], b=["3.img"])
    connection.conn.pools["a"].fail("listAllVolumes", code, "storage pool 'a' went away")
    assert _scanned(connection) == ["b/3.img"]


def test_volume_specs_skips_a_volume_deleted_while_it_scans():
    connection = _connection(a=["1.img", "2.img"])
    connection.conn.pools["a"].volumes[0].fail("XMLDesc", libvirt.VIR_ERR_NO_STORAGE_VOL,
                                               "Storage volume not found: no storage vol with matching path")
    assert _scanned(connection) == ["a/2.img"]


@pytest.mark.parametrize("where", ["pool", "volume"])
def test_volume_specs_raises_other_errors(where):
    connection = _connection(a=["1.img"])
    pool = connection.conn.pools["a"]
    if where == "pool":
        pool.fail("listAllVolumes", libvirt.VIR_ERR_INTERNAL_ERROR, "cannot open directory '/srv/a'")
    else:
        pool.volumes[0].fail("XMLDesc", libvirt.VIR_ERR_INTERNAL_ERROR, "cannot open volume '/srv/a/1.img'")
    with pytest.raises(LibvirtCallError) as info:
        _scanned(connection)
    assert info.value.libvirt_code == libvirt.VIR_ERR_INTERNAL_ERROR


# ---------------------------------------------------------------- guest_disks

def _guests(connection):
    return [(name, [disk["source"]["file"] for disk in disks]) for name, disks in connection.guest_disks()]


def test_guest_disks_reads_the_definition_and_the_live_disks():
    connection = FakeConnection()
    connection.conn.add_domain("vm1", ["/srv/a/1.img"])
    connection.conn.add_domain("vm2", ["/srv/a/2.img"], persistent=False, active=True)
    connection.conn.add_domain("vm3", ["/srv/a/3.img"], active=True)  # its definition and its live XML
    assert _guests(connection) == [("vm1", ["/srv/a/1.img"]), ("vm2", ["/srv/a/2.img"]),
                                   ("vm3", ["/srv/a/3.img", "/srv/a/3.img"])]


def test_guest_disks_skips_a_guest_undefined_while_it_scans():
    connection = FakeConnection()
    connection.conn.add_domain("vm1", ["/srv/a/1.img"]).fail(
        "XMLDesc", libvirt.VIR_ERR_NO_DOMAIN, "Domain not found: no domain with matching uuid")
    connection.conn.add_domain("vm2", ["/srv/a/2.img"])
    assert _guests(connection) == [("vm2", ["/srv/a/2.img"])]


def test_guest_disks_reads_a_guest_that_changed_state_again():
    """vm1 stops between isActive and the read of its live XML: it is read again, as it is now (its definition)."""
    connection = FakeConnection()
    vm1 = connection.conn.add_domain("vm1", ["/srv/a/1.img"], active=True)
    read = vm1.XMLDesc

    def stopping(flags):
        if flags & libvirt.VIR_DOMAIN_XML_INACTIVE or not vm1.active:
            return read(flags)
        vm1.active = False
        raise libvirt_error(libvirt.VIR_ERR_OPERATION_INVALID, "Requested operation is not valid: domain is not "
                                                               "running", libvirt.VIR_FROM_DOMAIN)
    vm1.XMLDesc = stopping
    assert _guests(connection) == [("vm1", ["/srv/a/1.img"])]


@pytest.mark.parametrize("code, times", [
    (libvirt.VIR_ERR_OPERATION_INVALID, 2),  # changing state on every read: no end to it
    (libvirt.VIR_ERR_INTERNAL_ERROR, 1),
])
def test_guest_disks_raises_other_errors(code, times):
    connection = FakeConnection()
    connection.conn.add_domain("vm1", ["/srv/a/1.img"]).fail("XMLDesc", code, "failed", times=times)
    with pytest.raises(LibvirtCallError) as info:
        connection.guest_disks()
    assert info.value.libvirt_code == code


# ---------------------------------------------------------------- backing paths

@pytest.fixture
def base(tmp_path):
    """The real file tmp_path/images/base.img, a symlink tmp_path/link to its directory, and a subdirectory."""
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    (images / "base.img").write_bytes(b"")
    (tmp_path / "link").symlink_to(images)
    return images / "base.img"


def _overlay_over(path, uri="qemu:///system"):
    """A connection with pool p holding c.qcow2, whose backing file libvirt reports as ``path``."""
    connection = FakeConnection(uri=uri)
    connection.conn.add_pool(DIR_POOL % ("p", "p"), active=True, volumes=[_volume("p", "c.qcow2", backing=str(path))])
    return connection


@pytest.mark.parametrize("written", ["link/base.img", "images/sub/../base.img", "images/base.img"])
def test_a_local_backing_path_is_compared_as_the_file_it_names(base, tmp_path, written):
    connection = _overlay_over(tmp_path / written)
    assert volumes_backed_by(connection, str(base)) == ["p/c.qcow2"]
    assert volumes_backed_by(connection, str(tmp_path / "link" / "base.img")) == ["p/c.qcow2"]
    assert backing_users(connection) == {os.path.realpath(base): ["p/c.qcow2"]}


def test_a_remote_backing_path_is_compared_as_a_string(base, tmp_path):
    """Paths on another host say nothing about the files of this one."""
    connection = _overlay_over(tmp_path / "link" / "base.img", uri=REMOTE)
    assert volumes_backed_by(connection, str(base)) == []
    assert volumes_backed_by(connection, str(tmp_path / "link" / "base.img")) == ["p/c.qcow2"]
    assert backing_users(connection) == {str(tmp_path / "link" / "base.img"): ["p/c.qcow2"]}


@pytest.mark.parametrize("local, used", [(True, True), (False, False)])
def test_a_guest_reaching_a_volume_through_a_symlink_uses_it(tmp_path, local, used):
    """On this host a guest disk's path is compared as the file it names, as backing paths are."""
    real = tmp_path / "images"
    real.mkdir()
    (real / "a.img").write_bytes(b"")
    (tmp_path / "link").symlink_to(real)
    row = POOL_TYPES["dir"]
    handle = PoolHandle(None, "images", {"name": "images", "type": "dir", "target": {"path": str(real)}}, row)
    disks = [("vm1", [{"type": "file", "source": {"file": str(tmp_path / "link" / "a.img")}}]),
             ("vm2", [{"type": "file", "source": {"file": str(real / ".." / "images" / "a.img")}}])]
    found = guests_using(disks, handle, {"name": "a.img", "path": str(real / "a.img")}, local=local)
    assert found == (["vm1", "vm2"] if used else [])
