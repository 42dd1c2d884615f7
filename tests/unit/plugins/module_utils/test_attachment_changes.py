"""AttachmentConverger on changes to a disk already attached (over the shared libvirt fake): a cdrom converges
without readonly declared, new media never replace a data disk, a bus change is checked and renames the target,
a change that shares the disk differently is checked against other guests, undeclared driver defaults are no
change, a failed re-attach puts the old disk back; and bad disk_xml sources, absent sources."""

import pytest

from ansible_collections.virtops.storage.plugins.module_utils.errors import UnsafeActionError, VirtopsError

from .test_attachment import (  # noqa: F401  pylint: disable=unused-import
    A_IMG, VOLUME, changes, disk_options, disks_of, file_disk, guest, images, no_event_loop, other_guest, refused,
    run)


def test_a_cdrom_converges_without_readonly_declared(images):  # noqa: F811  pylint: disable=redefined-outer-name
    connection = guest(active=False)
    declared = disk_options(device="cdrom", bus="sata", dev="sdc")  # readonly left at its default, false
    assert run(connection, path=images["one.iso"], format="raw", disk=declared)["changed"] is True
    assert disks_of(connection, "persistent")["sdc"]["readonly"] is True
    assert run(connection, path=images["one.iso"], format="raw", disk=declared)["changed"] is False


def test_new_media_never_replace_a_data_disk(images):  # noqa: F811  pylint: disable=redefined-outer-name
    connection = guest(active=False, disks=[file_disk(A_IMG, "sdc", bus="sata")])
    msg = refused(connection, "disk.dev", path=images["one.iso"], format="raw",
                  disk=disk_options(device="cdrom", bus="sata", dev="sdc"))
    assert "not a cdrom drive" in msg and A_IMG in msg


def test_a_cdrom_needs_its_target(images):  # noqa: F811  pylint: disable=redefined-outer-name
    refused(guest(), "disk.dev", path=images["one.iso"], format="raw", disk=disk_options(device="cdrom", bus="sata"))


def test_a_bus_change_is_checked_and_gets_a_name_of_that_bus():
    connection = guest(active=False, disks=[file_disk(A_IMG, "vdb")])
    refused(connection, "disk.bus", volume=VOLUME, disk=disk_options(bus="ide"))
    result = run(connection, volume=VOLUME, disk=disk_options(bus="scsi"))
    assert result["disk"]["target"] == {"dev": "sda", "bus": "scsi"}, result
    assert set(disks_of(connection, "persistent")) == {"vda", "sda"}


def test_a_change_that_shares_the_disk_differently_is_checked_against_other_guests():
    connection = guest(disks=[file_disk(A_IMG, "vdb", extra="<shareable/>")])
    other_guest(connection, "<shareable/>")
    # the disk is shareable in both guests; declaring it not shareable would write it unshared
    refused(connection, "disk.shareable", error=UnsafeActionError, volume=VOLUME, disk=disk_options(),
            allow_reattach=True)


def test_driver_settings_left_out_are_no_change():
    # a block-like disk attached by hand without cache: the module's cache none is for new disks only
    connection = guest(disks=[file_disk(A_IMG, "vdb")])
    assert run(connection, volume=VOLUME, disk=disk_options())["changed"] is False
    result = run(connection, volume=VOLUME, disk=disk_options(cache="none"), allow_reattach=True)
    assert any("(driver.cache)" in action for action in result["actions"]), result


def test_a_failed_re_attach_puts_the_old_disk_back():
    connection = guest(active=False, disks=[file_disk(A_IMG, "vdb")])
    connection.conn.disk_buses = ("virtio", "scsi", "sata", "usb")
    connection.conn.lookupByName("vm1").refuse_attach_bus = "scsi"
    with pytest.raises(VirtopsError) as info:
        run(connection, volume=VOLUME, disk=disk_options(bus="scsi"))
    assert "attached back as it was" in info.value.msg, info.value.msg
    assert disks_of(connection, "persistent")["vdb"]["source"] == {"file": A_IMG}


@pytest.mark.parametrize("xml, fragment", [
    ("<disk type='volume' device='disk'><source volume='a.img'/><target dev='vdc' bus='virtio'/></disk>",
     "pool=... volume=..."),
    ("<disk type='file' device='disk'><target dev='vdc' bus='virtio'/></disk>", "no <source>"),
    ("<disk type='file' device='cdrom'><target bus='sata'/></disk>", "target dev"),
])
def test_a_disk_xml_without_what_it_needs_is_refused(xml, fragment):
    assert fragment in refused(guest(), "disk_xml", disk_xml=xml)


def test_a_disk_xml_target_held_names_disk_xml():
    connection = guest(disks=[file_disk("/var/lib/libvirt/images/b.img", "vdb")])
    xml = "<disk type='file' device='disk'><source file='%s'/><target dev='vdb' bus='virtio'/></disk>" % A_IMG
    refused(connection, "disk_xml", disk_xml=xml)


def test_a_disk_whose_file_is_gone_is_detached_by_its_path(tmp_path):
    gone = str(tmp_path / "gone.img")
    connection = guest(disks=[file_disk(gone, "vdb")])
    result = run(connection, path=gone, state="absent")
    assert [entry[0] for entry in changes(connection)] == ["detachDevice", "detachDevice"], result
