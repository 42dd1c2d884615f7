"""DiskInfoReader (disk_info): the disks of guests, each resolved back to the pool and volume holding its source."""

import pytest

from ansible_collections.virtops.storage.plugins.module_utils.guest import DiskInfoReader

from . import fake_libvirt
from .test_volume_converger import TARGET, _file, _pool

RBD_POOL = ("<pool type='rbd'><name>ceph</name><source><name>rbdpool</name><host name='mon1' port='6789'/>"
            "</source></pool>")


def _read(connection, **params):
    return DiskInfoReader(fake_libvirt.FakeModule({"domain": None, "uri": fake_libvirt.URI}, **params),
                          connection).run()


def test_a_guest_disk_resolves_to_its_pool_and_volume():
    connection, dummy = _pool(_file("a.img"), _file("b.img"))
    connection.conn.add_domain("vm1", [TARGET + "/b.img", "/srv/elsewhere.img"])
    result = _read(connection, domain="vm1")
    assert result["exists"] is True and result["changed"] is False
    (vm1,) = result["domains"]
    assert (vm1["name"], vm1["persistent"], vm1["active"]) == ("vm1", True, False)
    assert [(d["target"]["dev"], d["pool"], d["volume"], d["persistent"], d["live"]) for d in vm1["disks"]] == [
        ("vda", "images", "b.img", True, False), ("vdb", None, None, True, False)]


def test_a_disk_in_both_definitions_is_listed_once():
    connection, dummy = _pool(_file("a.img"))
    connection.conn.add_domain("vm1", [TARGET + "/a.img"], persistent=True, active=True)
    (disk,) = _read(connection, domain="vm1")["domains"][0]["disks"]
    assert disk["persistent"] is True and disk["live"] is True and disk["volume"] == "a.img"


def test_a_transient_guest_has_live_disks_only():
    connection, dummy = _pool(_file("a.img"))
    connection.conn.add_domain("vm1", [TARGET + "/a.img"], persistent=False, active=True)
    (disk,) = _read(connection, domain="vm1")["domains"][0]["disks"]
    assert disk["persistent"] is False and disk["live"] is True


def test_every_guest_sorted_and_a_missing_one():
    connection, dummy = _pool(_file("a.img"))
    for name in ("vm2", "vm1"):
        connection.conn.add_domain(name, [])
    assert [d["name"] for d in _read(connection)["domains"]] == ["vm1", "vm2"]
    assert "exists" not in _read(connection)
    missing = _read(connection, domain="nope")
    assert missing["exists"] is False and missing["domains"] == []


def test_a_guest_found_by_uuid():
    connection, dummy = _pool()
    domain = connection.conn.add_domain("vm1", [])
    assert connection.lookup_domain(domain.UUIDString().upper()) is domain
    assert connection.lookup_domain("vm1") is domain and connection.lookup_domain("vm9") is None


def test_volumes_of_inactive_pools_are_not_resolved():
    connection, dummy = _pool(_file("a.img"), active=False)
    connection.conn.add_domain("vm1", [TARGET + "/a.img"])
    (disk,) = _read(connection, domain="vm1")["domains"][0]["disks"]
    assert disk["pool"] is None and disk["volume"] is None


@pytest.mark.parametrize("source, expected", [
    ("<source protocol='rbd' name='rbdpool/img1'><host name='mon1' port='6789'/></source>", ("ceph", "img1")),
    ("<source protocol='rbd' name='otherpool/img1'><host name='mon1' port='6789'/></source>", (None, None)),
])
def test_a_network_disk_resolves_to_its_rbd_volume(source, expected):
    connection, dummy = _pool(_file("a.img"))
    connection.conn.add_pool(RBD_POOL, active=True, volumes=[fake_libvirt.FakeVolume("img1", fake_libvirt.volume_xml(
        "img1", 1))])
    domain = connection.conn.add_domain("vm1", [])
    domain.XMLDesc = lambda flags: ("<domain><name>vm1</name><devices><disk type='network' device='disk'>%s"
                                    "<target dev='vda' bus='virtio'/></disk></devices></domain>" % source)
    (disk,) = _read(connection, domain="vm1")["domains"][0]["disks"]
    assert (disk["pool"], disk["volume"]) == expected


def test_an_empty_cdrom_drive_is_a_disk_without_source():
    connection, dummy = _pool()
    domain = connection.conn.add_domain("vm1", [])
    domain.XMLDesc = lambda flags: ("<domain><name>vm1</name><devices><disk type='file' device='cdrom'>"
                                    "<target dev='sda' bus='sata'/><readonly/></disk></devices></domain>")
    (disk,) = _read(connection, domain="vm1")["domains"][0]["disks"]
    assert disk["device"] == "cdrom" and disk["source"] == {} and disk["pool"] is None and disk["readonly"] is True
