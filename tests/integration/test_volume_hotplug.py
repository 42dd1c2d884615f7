"""The disk XML storage_volume returns is what QEMU accepts: hot-plugged into a running guest.

Every test creates a volume with storage_volume (or reads an iSCSI LUN),
attaches the returned ``volume.disk_xml`` to a running OS-less q35 guest with
``virsh attach-device --live`` and reads the disk back from the live domain
XML: source, driver type (and cache/io for block disks) and target must be what
the module returned. SCSI disks are detached again; virtio-blk disks are never
released by a guest without an OS, so their detach is not asserted.

The tests share one guest (``shared_guest``: starting a domain is slow here),
each with its own target names; the fs pool test starts its own guest, after
the pool is mounted.
"""

import mmap
import os

from lxml import etree

# pytest fixtures, used as test arguments
from .backends import iscsi, loopdisk, loopfs  # noqa: F401  pylint: disable=unused-import
from .conftest import pool_info, run_module, virsh
from .guest import (  # noqa: F401  pylint: disable=unused-import
    alias_of, assert_disk_matches, detach, hotplug, live_disk, qemu_io, running_guest, shared_guest)
from .test_pool_lifecycle import define_chap_secret, iscsi_args

MIB = 2 ** 20
PATTERN = 0xAB


# ---------------------------------------------------------------- helpers

def ok(result):
    assert not result.get("failed"), result
    return result


def make_pool(pools, args):
    pools.append(args["name"])
    result = ok(run_module("storage_pool", args))
    assert pool_info(args["name"])["State"] == "running", result
    return result


def make_volume(args):
    """storage_volume creating a volume; return the returned volume facts."""
    result = ok(run_module("storage_volume", args))
    assert result["changed"] is True, result
    volume = result["volume"]
    assert volume and volume["disk_xml"], result
    return volume


def parsed(disk_xml):
    return etree.fromstring(disk_xml.encode("utf-8"))


def used_by(pool, name):
    result = ok(run_module("storage_volume_info", {"pool": pool, "name": name}))
    assert result["exists"] is True, result
    return result["volumes"][0]["used_by"]


def read_direct(path, offset, length):
    """``length`` bytes of block device ``path`` at ``offset``, read with O_DIRECT (no stale page cache)."""
    buf = mmap.mmap(-1, length)  # page aligned, as O_DIRECT needs
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        assert os.preadv(fd, [buf], offset) == length
    finally:
        os.close(fd)
    return bytes(buf)


def read_file(path, offset, length):
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(length)


def dir_pool(prefix, pools, workdir):
    name = prefix + "dir"
    make_pool(pools, dict(name=name, type="dir", target=dict(path=os.path.join(workdir, "images")),
                          state="active"))
    return name


# ---------------------------------------------------------------- dir pool (file disks, type='volume')

def test_dir_qcow2_virtio_hotplug(prefix, pools, workdir, shared_guest):
    """A qcow2 file volume as a virtio-blk disk: accepted live, same file, qcow2 driver, vdb/virtio."""
    pool = dir_pool(prefix, pools, workdir)
    volume = make_volume(dict(pool=pool, name="virtio.qcow2", capacity="16M", format="qcow2"))
    disk = parsed(volume["disk_xml"])
    assert disk.get("type") == "file"
    assert disk.find("source").get("file") == volume["path"] == os.path.join(workdir, "images", "virtio.qcow2")
    assert disk.find("driver").get("type") == "qcow2"
    assert (disk.find("target").get("dev"), disk.find("target").get("bus")) == ("vdb", "virtio")

    live = hotplug(shared_guest, volume["disk_xml"])
    assert_disk_matches(volume["disk_xml"], live)
    assert live.find("source").get("file") == volume["path"]
    assert live.find("driver").get("type") == "qcow2"

    # the live disk makes the volume in use: reported, and deleting it is refused naming the guest
    assert used_by(pool, "virtio.qcow2") == [shared_guest]
    refused = run_module("storage_volume", dict(pool=pool, name="virtio.qcow2", state="absent"))
    assert refused.get("failed") is True and shared_guest in refused["msg"], refused
    assert os.path.exists(volume["path"])
    # no detach: an OS-less guest never releases a virtio-blk disk


def test_dir_qcow2_scsi_hotplug_and_detach(prefix, pools, workdir, shared_guest):
    """A qcow2 file volume on bus scsi: sdb on the virtio-scsi controller, detached again."""
    pool = dir_pool(prefix, pools, workdir)
    volume = make_volume(dict(pool=pool, name="scsi.qcow2", capacity="16M", format="qcow2", disk=dict(bus="scsi")))
    disk = parsed(volume["disk_xml"])
    assert (disk.find("target").get("dev"), disk.find("target").get("bus")) == ("sdb", "scsi")

    live = hotplug(shared_guest, volume["disk_xml"])
    assert_disk_matches(volume["disk_xml"], live)
    assert live.find("address").get("type") == "drive" and live.find("address").get("controller") == "0"
    assert used_by(pool, "scsi.qcow2") == [shared_guest]

    assert detach(shared_guest, volume["disk_xml"]), virsh("domblklist", shared_guest)
    assert live_disk(shared_guest, "sdb") is None
    assert used_by(pool, "scsi.qcow2") == []


def test_dir_volume_source_hotplug(prefix, pools, workdir, shared_guest):
    """disk.source volume: a <disk type='volume'> naming pool and volume, which libvirt resolves live."""
    pool = dir_pool(prefix, pools, workdir)
    volume = make_volume(dict(pool=pool, name="byname.qcow2", capacity="16M", format="qcow2",
                              disk=dict(bus="scsi", dev="sdc", source="volume")))
    disk = parsed(volume["disk_xml"])
    assert disk.get("type") == "volume"
    source = disk.find("source")
    assert (source.get("pool"), source.get("volume"), source.get("file")) == (pool, "byname.qcow2", None)
    assert disk.find("driver").get("type") == "qcow2"

    live = hotplug(shared_guest, volume["disk_xml"])
    assert_disk_matches(volume["disk_xml"], live)
    assert (live.find("target").get("dev"), live.find("target").get("bus")) == ("sdc", "scsi")
    # QEMU opened the qcow2 image libvirt resolved: the guest disk has the volume's virtual size
    blkinfo = dict(line.split(":", 1) for line in virsh("domblkinfo", shared_guest, "sdc").splitlines() if ":" in line)
    assert int(blkinfo["Capacity"]) == volume["capacity"] == 16 * MIB, blkinfo
    assert used_by(pool, "byname.qcow2") == [shared_guest]

    assert detach(shared_guest, volume["disk_xml"]), virsh("domblklist", shared_guest)
    assert live_disk(shared_guest, "sdc") is None


# ---------------------------------------------------------------- fs pool (a mounted loop device)

def test_fs_pool_raw_hotplug(loopfs, prefix, pools, workdir, request):
    """A raw volume of an fs pool (ext4 on a loop device) hot-plugs; the pool is mounted before the guest starts."""
    facts = loopfs("ext4")
    pool = prefix + "fs"
    target = os.path.join(workdir, "fs")
    make_pool(pools, dict(name=pool, type="fs", source=dict(devices=[dict(path=facts["LOOPFS_DEVICE"])], format="ext4"),
                          target=dict(path=target), state="active"))
    volume = make_volume(dict(pool=pool, name="data.raw", capacity="16M", format="raw", disk=dict(bus="scsi")))
    disk = parsed(volume["disk_xml"])
    assert disk.get("type") == "file"
    assert disk.find("source").get("file") == os.path.join(target, "data.raw") == volume["path"]
    assert disk.find("driver").get("type") == "raw"

    # QEMU gets a private mount namespace when it starts: only now, with the pool mounted, start the guest
    guest = request.getfixturevalue("running_guest")
    live = hotplug(guest, volume["disk_xml"])
    assert_disk_matches(volume["disk_xml"], live)
    assert live.find("driver").get("type") == "raw"

    assert detach(guest, volume["disk_xml"]), virsh("domblklist", guest)
    assert live_disk(guest, "sdb") is None


# ---------------------------------------------------------------- disk pool (partitions of a loop device)

def test_disk_pool_partition_hotplug_and_qemu_write(loopdisk, prefix, pools, shared_guest):
    """A partition as a block disk: cache none / io native live, and QEMU's writes land on that partition."""
    facts = loopdisk()
    device = facts["LOOPDISK_DEVICE"]
    pool = prefix + "disk"
    make_pool(pools, dict(name=pool, type="disk", source=dict(devices=[dict(path=device)], format="gpt"),
                          target=dict(path="/dev"), state="active"))
    first = make_volume(dict(pool=pool, capacity="16M"))  # the module names it: the next partition
    second = make_volume(dict(pool=pool, capacity="16M", disk=dict(bus="scsi", dev="sdd")))
    prefix_name = facts["LOOPDISK_PART_PREFIX"]
    assert (first["name"], second["name"]) == (prefix_name + "1", prefix_name + "2")
    partition = "/dev/" + second["name"]
    assert second["path"] == partition

    disk = parsed(second["disk_xml"])
    assert disk.get("type") == "block"
    assert disk.find("source").get("dev") == partition
    driver = disk.find("driver")
    assert (driver.get("type"), driver.get("cache"), driver.get("io")) == ("raw", "none", "native")

    live = hotplug(shared_guest, second["disk_xml"])
    assert_disk_matches(second["disk_xml"], live)
    live_driver = live.find("driver")
    assert (live_driver.get("cache"), live_driver.get("io")) == ("none", "native"), etree.tostring(live)
    assert live.find("source").get("dev") == partition

    # write 1 MiB of 0xab through QEMU's block layer into the guest's disk
    assert read_direct(partition, 0, MIB) == bytes(MIB)
    output = qemu_io(shared_guest, alias_of(live), "write -P 0x%x 0 1M" % PATTERN)
    assert "error" not in output.lower() and "failed" not in output.lower(), output
    # it is on that partition, where the partition table says the partition starts on the device ...
    assert read_direct(partition, 0, MIB) == bytes([PATTERN]) * MIB
    with open("/sys/class/block/%s/start" % second["name"]) as handle:
        start = int(handle.read()) * 512
    assert read_direct(device, start, MIB) == bytes([PATTERN]) * MIB
    assert read_direct(partition, MIB, MIB) == bytes(MIB)  # only the first MiB was written
    # ... and not on the other partition
    assert read_direct(first["path"], 0, MIB) == bytes(MIB)

    assert detach(shared_guest, second["disk_xml"]), virsh("domblklist", shared_guest)
    assert live_disk(shared_guest, "sdd") is None


# ---------------------------------------------------------------- iscsi-direct (network disk, QEMU's initiator)

def test_iscsi_direct_lun_hotplug(iscsi, prefix, pools, shared_guest):
    """A LUN of an iscsi-direct pool as a network disk with CHAP: QEMU logs in and writes to that LUN."""
    usage = prefix + "chap"
    secret = define_chap_secret(usage, iscsi["ISCSI_CHAP_PASSWORD"])
    try:
        pool = prefix + "iscsi"
        make_pool(pools, iscsi_args(pool, iscsi, usage))
        args = dict(pool=pool, name="unit:0:0:1", disk=dict(bus="scsi", dev="sde"))
        result = ok(run_module("storage_volume", args))
        assert result["changed"] is False and result["actions"] == [], result
        volume = result["volume"]
        info = ok(run_module("storage_volume_info", args))
        assert info["volumes"][0]["disk_xml"] == volume["disk_xml"], (info, volume)

        iqn, port = iscsi["ISCSI_TARGET_IQN"], iscsi["ISCSI_PORT"]
        disk = parsed(volume["disk_xml"])
        assert disk.get("type") == "network"
        source = disk.find("source")
        assert (source.get("protocol"), source.get("name")) == ("iscsi", iqn + "/1")
        assert [(h.get("name"), h.get("port")) for h in source.findall("host")] == [("127.0.0.1", port)]
        auth = source.find("auth")
        assert auth.get("username") == iscsi["ISCSI_CHAP_USER"]
        assert (auth.find("secret").get("type"), auth.find("secret").get("usage")) == ("iscsi", usage)
        assert source.find("initiator/iqn").get("name") == iscsi["ISCSI_INITIATOR_IQN"]
        assert (disk.find("target").get("dev"), disk.find("target").get("bus")) == ("sde", "scsi")

        live = hotplug(shared_guest, volume["disk_xml"])
        assert_disk_matches(volume["disk_xml"], live)
        assert used_by(pool, "unit:0:0:1") == [shared_guest]
        # QEMU logged in (CHAP) and sees the whole LUN
        backing = os.path.join(iscsi["ISCSI_STATE_DIR"], "lun%d.img")
        blkinfo = dict(line.split(":", 1) for line in virsh("domblkinfo", shared_guest, "sde").splitlines() if ":" in line)
        assert int(blkinfo["Capacity"]) == os.path.getsize(backing % 1), blkinfo

        # QEMU's writes reach LUN 1's backing file in tgtd, and not LUN 2's
        output = qemu_io(shared_guest, alias_of(live), "write -P 0x%x 0 1M" % PATTERN)
        assert "error" not in output.lower() and "failed" not in output.lower(), output
        assert read_file(backing % 1, 0, MIB) == bytes([PATTERN]) * MIB
        assert read_file(backing % 2, 0, MIB) == bytes(MIB)

        assert detach(shared_guest, volume["disk_xml"]), virsh("domblklist", shared_guest)
        assert live_disk(shared_guest, "sde") is None
        assert used_by(pool, "unit:0:0:1") == []
    finally:
        virsh("secret-undefine", secret, check=False)
