"""disk_info on the real libvirtd: a guest's file, volume, block, network and cdrom disks resolved to their volumes.

The guest is defined (not started) with the disks the collection itself emits
(storage_volume_info's disk_xml) from a dir pool, a disk pool on a loop device
and an iscsi-direct pool on a private tgtd, plus a cdrom with an ISO of the dir
pool, an empty cdrom drive and a file no pool holds.
"""

import os
import tempfile

# pytest fixtures, used as test arguments
from .backends import iscsi, loopdisk  # noqa: F401  pylint: disable=unused-import
from .conftest import run_ok, virsh
from .guest import hotplug, running_guest  # noqa: F401  pylint: disable=unused-import
from .test_volume_iscsi_direct import iscsi_pool  # noqa: F401  pylint: disable=unused-import
from .test_volume_lifecycle import guests  # noqa: F401  pylint: disable=unused-import
from .volume_helpers import make_dir_pool


def disk_xml(pool, name, dev, bus="virtio", **disk):
    """The guest <disk> storage_volume_info gives for a volume, on target ``dev``."""
    (facts,) = run_ok("storage_volume_info", dict(pool=pool, name=name, disk=dict(disk, dev=dev, bus=bus)))["volumes"]
    return facts["disk_xml"]


def define(name, disks):
    xml = ("<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
           "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>"
           "<controller type='scsi' model='virtio-scsi'/>%s</devices></domain>" % (name, "".join(disks)))
    with tempfile.NamedTemporaryFile("w", suffix=".xml") as handle:
        handle.write(xml)
        handle.flush()
        virsh("define", handle.name)


def test_disks_resolve_to_their_pools_and_volumes(loopdisk, iscsi_pool, workdir, prefix, pools,  # noqa: F811
                                                  guests):  # pylint: disable=redefined-outer-name
    dir_pool = prefix + "dir"
    target = make_dir_pool(pools, dir_pool, os.path.join(workdir, "dir"))
    for name, fmt in (("a.qcow2", "qcow2"), ("b.img", "raw"), ("cd.iso", "iso")):
        run_ok("storage_volume", dict(pool=dir_pool, name=name, capacity="8M", format=fmt))
    disk = loopdisk("256M")
    disk_pool = prefix + "disk"
    pools.append(disk_pool)
    run_ok("storage_pool", dict(name=disk_pool, type="disk", state="active", target=dict(path="/dev"),
                                source=dict(devices=[dict(path=disk["LOOPDISK_DEVICE"])], format="gpt")))
    partition = run_ok("storage_volume", dict(pool=disk_pool, capacity="32M"))["volume"]["name"]
    iscsi_name, dummy_facts, dummy_usage = iscsi_pool
    lun = sorted(v["name"] for v in run_ok("storage_volume_info", dict(pool=iscsi_name))["volumes"]
                 if v["capacity"])[0]
    outside = os.path.join(workdir, "outside.img")
    with open(outside, "wb") as handle:
        handle.truncate(1024 * 1024)

    guest = prefix + "guest"
    guests.append(guest)
    define(guest, [
        disk_xml(dir_pool, "a.qcow2", "vda"),
        disk_xml(dir_pool, "b.img", "vdb", source="volume"),
        disk_xml(disk_pool, partition, "vdc"),
        disk_xml(iscsi_name, lun, "sda", bus="scsi"),
        disk_xml(dir_pool, "cd.iso", "sdb", bus="scsi", device="cdrom", readonly=True),
        "<disk type='file' device='cdrom'><target dev='sdc' bus='scsi'/><readonly/></disk>",
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/>"
        "<target dev='vdd' bus='virtio'/></disk>" % outside,
    ])

    for check in (True, False):
        result = run_ok("disk_info", dict(domain=guest), check=check)
        assert result["changed"] is False and result["exists"] is True
        (domain,) = result["domains"]
        assert (domain["name"], domain["persistent"], domain["active"]) == (guest, True, False)
        found = dict((d["target"]["dev"], (d["type"], d["device"], d["pool"], d["volume"], d["persistent"], d["live"]))
                     for d in domain["disks"])
        assert found == {
            "vda": ("file", "disk", dir_pool, "a.qcow2", True, False),
            "vdb": ("volume", "disk", dir_pool, "b.img", True, False),
            "vdc": ("block", "disk", disk_pool, partition, True, False),
            "sda": ("network", "disk", iscsi_name, lun, True, False),
            "sdb": ("file", "cdrom", dir_pool, "cd.iso", True, False),
            "sdc": ("file", "cdrom", None, None, True, False),
            "vdd": ("file", "disk", None, None, True, False),
        }, found
    assert os.path.exists(os.path.join(target, "a.qcow2"))

    everyone = run_ok("disk_info", {})
    assert guest in [d["name"] for d in everyone["domains"]] and "exists" not in everyone
    missing = run_ok("disk_info", dict(domain=prefix + "nobody"))
    assert missing["exists"] is False and missing["domains"] == []


def test_a_disk_plugged_into_a_running_transient_guest_is_live_only(running_guest, workdir, prefix,  # noqa: F811
                                                                     pools):  # pylint: disable=redefined-outer-name
    pool = prefix + "live"
    make_dir_pool(pools, pool, os.path.join(workdir, "live"))
    run_ok("storage_volume", dict(pool=pool, name="hot.img", capacity="8M"))
    hotplug(running_guest, disk_xml(pool, "hot.img", "sdb", bus="scsi"))
    (domain,) = run_ok("disk_info", dict(domain=running_guest))["domains"]
    assert (domain["persistent"], domain["active"]) == (False, True)
    (disk,) = [d for d in domain["disks"] if d["target"]["dev"] == "sdb"]
    assert (disk["persistent"], disk["live"], disk["pool"], disk["volume"]) == (False, True, pool, "hot.img")
