"""attachment: comparing a declared disk with a guest's (empty drives), and naming what differs by its option."""

import pytest

from ansible_collections.virtops.storage.plugins.module_utils.attachment import comparable, option_of


def test_an_empty_drive_is_compared_without_a_format():
    # libvirt drops the driver type of a running guest's empty cdrom drive; the declaration has raw
    declared = {"type": "file", "device": "cdrom", "driver": {"name": "qemu", "type": "raw"},
                "target": {"dev": "sdc", "bus": "scsi"}, "readonly": True}
    live = dict(declared, driver={"name": "qemu"})
    assert comparable(declared, local=False) == comparable(live, local=False)
    assert comparable(declared, local=False)["source"] == {}


def test_a_drive_with_media_keeps_its_format():
    disk = {"type": "file", "device": "cdrom", "driver": {"name": "qemu", "type": "qcow2"},
            "source": {"file": "/nonexistent/a.iso"}, "target": {"dev": "sdc", "bus": "scsi"}}
    assert comparable(disk, local=False)["driver"]["type"] == "qcow2"


@pytest.mark.parametrize("field, option", [
    ("driver.cache", "disk.cache"), ("driver.io", "disk.io"), ("driver.detect_zeroes", "disk.detect_zeroes"),
    ("target.dev", "disk.dev"), ("target.bus", "disk.bus"), ("serial", "disk.serial"),
    ("readonly", "disk.readonly"), ("boot_order", "disk.boot_order"),
    ("source.file", "source.file"), ("type", "type"), ("driver.type", "driver.type"),
])
def test_a_changed_field_is_named_by_its_option(field, option):
    assert option_of(field) == option


@pytest.mark.parametrize("protocol, declared, stored", [
    ("gluster", [{"name": "gl1"}], [{"name": "gl1", "port": 24007}]),
    ("iscsi", [{"name": "10.0.0.1"}], [{"name": "10.0.0.1", "port": 3260}]),
])
def test_a_host_left_without_its_port_is_the_host_libvirt_stores_with_the_default(protocol, declared, stored):
    """libvirt writes the protocol's default port into a network disk's host that names none: not a change."""
    def disk(hosts):
        return {"type": "network", "device": "disk", "target": {"dev": "vdb", "bus": "virtio"},
                "source": {"protocol": protocol, "name": "vol/img", "hosts": hosts}}
    assert comparable(disk(declared), False) == comparable(disk(stored), False)
    assert comparable(disk([{"name": "gl1", "port": 1}]), False) != comparable(disk(stored), False)
