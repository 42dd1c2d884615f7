"""The Linux guest witness itself, driven with plain virsh (not the collection's modules).

If these fail, a disk attach/detach test that uses ``linux_guest`` proves nothing.
"""

import os
import tempfile

from .conftest import virsh, workdir  # noqa: F401  pylint: disable=unused-import
from .linux_guest import linux_guest  # noqa: F401  pylint: disable=unused-import

SECTOR = 512
DISK_BYTES = 16 * 1024 * 1024
DISK_XML = """<disk type='file' device='disk'>
  <driver name='qemu' type='raw'/>
  <source file='{path}'/>
  <target dev='{dev}' bus='{bus}'/>
  <serial>{serial}</serial>
</disk>"""


def raw_image(path, first_bytes=b""):
    """A 16 MiB sparse raw image starting with ``first_bytes``."""
    with open(path, "wb") as handle:
        handle.write(first_bytes)
        handle.truncate(DISK_BYTES)
    return path


def device_virsh(command, domain, disk_xml, *flags):
    """``virsh attach-device``/``detach-device`` of ``disk_xml`` (a string) through a file."""
    with tempfile.NamedTemporaryFile("w", suffix=".xml") as handle:
        handle.write(disk_xml)
        handle.flush()
        virsh(command, domain, handle.name, *flags)


def first_sector(path):
    with open(path, "rb") as handle:
        return handle.read(SECTOR)


def live_targets(domain):
    return [line.split()[0] for line in virsh("domblklist", domain).splitlines() if line.strip()]


def test_hotplugged_disks_are_seen_read_written_and_released(linux_guest, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    guest = linux_guest()
    assert guest.ready.fields["disks"] == "", guest.ready.line
    host_data = b"HOST-DATA-R1 virtops\n"
    r1_xml = DISK_XML.format(path=raw_image(os.path.join(workdir, "r1.img"), host_data),
                             dev="vdb", bus="virtio", serial="R1")
    w1_path = raw_image(os.path.join(workdir, "w1.img"))
    w1_xml = DISK_XML.format(path=w1_path, dev="sda", bus="scsi", serial="W1")

    since = guest.mark()
    device_virsh("attach-device", guest.name, r1_xml, "--live")
    device_virsh("attach-device", guest.name, w1_xml, "--live")
    r1 = guest.wait_for("ADD", "R1", since)
    w1 = guest.wait_for("ADD", "W1", since)
    assert (r1.fields["bus"], r1.fields["sectors"], r1.fields["ro"]) == ("virtio", str(DISK_BYTES // SECTOR), "0")
    assert (w1.fields["bus"], w1.fields["sectors"], w1.fields["ro"]) == ("scsi", str(DISK_BYTES // SECTOR), "0")
    read = guest.wait_for("READ", "R1", since)
    assert bytes.fromhex(read.fields["hex"]) == host_data.ljust(32, b"\0")[:32], read.line
    wrote = guest.wait_for("WROTE", "W1", since)
    marker = b"GUEST-WROTE W1\n"
    assert bytes.fromhex(wrote.fields["hex"]) == marker.ljust(32, b"\0"), wrote.line
    assert sorted(live_targets(guest.name)) == ["sda", "vdb"]

    since = guest.mark()
    device_virsh("detach-device", guest.name, r1_xml, "--live")
    device_virsh("detach-device", guest.name, w1_xml, "--live")
    assert guest.wait_for("REMOVE", "R1", since, timeout=10).fields["name"] == r1.fields["name"]
    assert guest.wait_for("REMOVE", "W1", since, timeout=10).fields["name"] == w1.fields["name"]
    assert live_targets(guest.name) == []
    assert first_sector(w1_path) == marker.ljust(SECTOR, b"\0")


def test_persistent_guest_sees_a_config_disk_at_boot_and_is_removed(linux_guest, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    guest = linux_guest(persistent=True, start=False)
    assert virsh("domstate", guest.name).strip() == "shut off"
    host_data = b"HOST-DATA-R2\n"
    device_virsh("attach-device", guest.name, DISK_XML.format(
        path=raw_image(os.path.join(workdir, "r2.img"), host_data), dev="sdb", bus="scsi", serial="R2"), "--config")

    guest.start()
    assert guest.ready.fields["disks"] == "sda:R2", guest.ready.line  # reported before READY
    assert bytes.fromhex(guest.wait_for("READ", "R2").fields["hex"]).startswith(host_data)

    guest.remove()
    assert virsh("dominfo", guest.name, check=False) == ""
    assert not os.path.exists(guest.state_dir)
