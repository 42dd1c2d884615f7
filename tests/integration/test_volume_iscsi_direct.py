"""Volumes of an iscsi-direct pool: the LUNs of a private tgtd with CHAP.

storage_volume_info lists them with the network disk that reaches them (QEMU's
own iSCSI initiator, CHAP through an iscsi secret); storage_volume wipes them;
creating, deleting and resizing are refused from the pool-type table before
libvirt is asked, and the target is left as it was.

LUN content is read from tgtd's backing files (``lun<N>.img`` in the back end's
state directory): tgtd writes them through the page cache, so the host sees at
once what an initiator wrote.
"""

import hashlib
import os
import subprocess

import pytest
from lxml import etree

# pytest fixtures, used as test arguments
from .backends import iscsi  # noqa: F401  pylint: disable=unused-import
from .conftest import pool_info, run_module, virsh
from .test_pool_lifecycle import define_chap_secret, iscsi_args

MIB = 2 ** 20
PATTERN = b"\xab"


@pytest.fixture
def iscsi_pool(iscsi, prefix, pools):
    """(pool name, back-end facts, secret usage) of a running iscsi-direct pool made by storage_pool."""
    usage = prefix + "chap"
    secret = define_chap_secret(usage, iscsi["ISCSI_CHAP_PASSWORD"])
    try:
        name = prefix + "iscsi"
        pools.append(name)
        result = run_module("storage_pool", iscsi_args(name, iscsi, usage))
        assert not result.get("failed") and result["changed"], result
        assert pool_info(name)["State"] == "running"
        yield name, iscsi, usage
    finally:
        virsh("pool-destroy", prefix + "iscsi", check=False)
        virsh("secret-undefine", secret, check=False)


def luns(facts):
    return [int(n) for n in facts["ISCSI_LUNS"].split(",")]


def backing_file(facts, lun):
    return os.path.join(facts["ISCSI_STATE_DIR"], "lun%d.img" % lun)


def lun_size(facts):
    return os.path.getsize(backing_file(facts, luns(facts)[0]))


def write_pattern(facts, lun, offsets):
    """Write 1 MiB of PATTERN at each offset of the LUN's backing file (as the target's data)."""
    with open(backing_file(facts, lun), "r+b") as handle:
        for offset in offsets:
            handle.seek(offset)
            handle.write(PATTERN * MIB)
        handle.flush()
        os.fsync(handle.fileno())


def read(facts, lun, offset, length=MIB):
    with open(backing_file(facts, lun), "rb") as handle:
        handle.seek(offset)
        return handle.read(length)


def all_zeros(facts, lun):
    """True when the whole backing file of ``lun`` reads as zeros."""
    zero = bytes(4 * MIB)
    with open(backing_file(facts, lun), "rb") as handle:
        while True:
            chunk = handle.read(len(zero))
            if not chunk:
                return True
            if chunk != zero[:len(chunk)]:
                return False


def target_state(facts):
    """What the target holds: tgtadm's view of target 1 (LUNs, sizes, backing files) and each LUN's content."""
    show = subprocess.run(["tgtadm", "-C", facts["ISCSI_TGT_CONTROL_PORT"], "--lld", "iscsi", "--mode", "target",
                           "--op", "show"], capture_output=True, text=True, check=True).stdout
    # the session/connection part changes with every login: keep the LUN and account information
    session = ("I_T nexus", "Initiator:", "Connection:", "IP Address:")
    lines = [line for line in show.splitlines() if not line.strip().startswith(session)]
    digests = {}
    for lun in luns(facts):
        digest = hashlib.sha256()
        with open(backing_file(facts, lun), "rb") as handle:
            for chunk in iter(lambda: handle.read(4 * MIB), b""):
                digest.update(chunk)
        digests[lun] = (os.path.getsize(backing_file(facts, lun)), digest.hexdigest())
    return "\n".join(lines), digests


def vol_list(pool):
    return sorted(line.split()[0] for line in virsh("vol-list", pool).splitlines() if line.strip())


def assert_refused(result, *words):
    assert result.get("failed") is True, result
    assert not result.get("changed"), result
    for word in words:
        assert word in result["msg"], (word, result["msg"])
    # the pool-type table speaks, not libvirt ("storage pool does not support volume creation")
    assert "does not support" not in result["msg"], result["msg"]


# ---------------------------------------------------------------- info

def test_info_lists_luns_with_network_disks(iscsi_pool):
    """Every LUN (LUN 0, the controller, too) is a network volume with an iSCSI network disk and CHAP auth."""
    pool, facts, usage = iscsi_pool
    iqn, port = facts["ISCSI_TARGET_IQN"], facts["ISCSI_PORT"]
    result = run_module("storage_volume_info", {"pool": pool})
    assert not result.get("failed") and result["changed"] is False, result
    names = ["unit:0:0:%d" % lun for lun in [0] + luns(facts)]
    assert [v["name"] for v in result["volumes"]] == names, result["volumes"]

    for volume in result["volumes"]:
        lun = int(volume["name"].rsplit(":", 1)[1])
        assert volume["pool"] == pool and volume["pool_type"] == "iscsi-direct", volume
        assert volume["type"] == "network" and volume["format"] is None, volume
        # libvirt's name for a LUN reached by libiscsi: ip-<host>:<port>-iscsi-<iqn>-lun-<n>
        assert volume["path"] == volume["key"] == "ip-127.0.0.1:%s-iscsi-%s-lun-%d" % (port, iqn, lun), volume
        if lun:
            # libvirt 9.0 reports an iscsi-direct LUN one 512-byte block short
            assert lun_size(facts) - 512 <= volume["capacity"] <= lun_size(facts), volume
        else:
            assert volume["capacity"] == 0, volume
        assert volume["used_by"] == [], volume

        disk = etree.fromstring(volume["disk_xml"].encode("utf-8"))
        assert (disk.get("type"), disk.get("device")) == ("network", "disk"), volume["disk_xml"]
        assert disk.find("driver").attrib == {"name": "qemu", "type": "raw"}, volume["disk_xml"]
        source = disk.find("source")
        assert (source.get("protocol"), source.get("name")) == ("iscsi", "%s/%d" % (iqn, lun)), volume["disk_xml"]
        assert [(h.get("name"), h.get("port")) for h in source.findall("host")] == [("127.0.0.1", port)]
        auth = source.find("auth")
        assert auth is not None and auth.get("username") == facts["ISCSI_CHAP_USER"], volume["disk_xml"]
        assert auth.find("secret").attrib == {"type": "iscsi", "usage": usage}, volume["disk_xml"]
        assert source.find("initiator/iqn").get("name") == facts["ISCSI_INITIATOR_IQN"], volume["disk_xml"]
        assert facts["ISCSI_CHAP_PASSWORD"] not in volume["disk_xml"]
        target = disk.find("target")
        assert (target.get("dev"), target.get("bus")) == ("vdb", "virtio"), volume["disk_xml"]
        # the dict form says the same
        assert volume["disk"]["source"]["hosts"] == [{"name": "127.0.0.1", "port": int(port)}], volume["disk"]
        assert volume["disk"]["source"]["auth"] == {
            "username": facts["ISCSI_CHAP_USER"], "secret": {"type": "iscsi", "usage": usage}}, volume["disk"]

    # one LUN by name, as a SCSI disk
    one = run_module("storage_volume_info", {"pool": pool, "name": "unit:0:0:2", "disk": {"bus": "scsi"}})
    assert not one.get("failed") and one["exists"] is True, one
    (volume,) = one["volumes"]
    disk = etree.fromstring(volume["disk_xml"].encode("utf-8"))
    assert disk.find("source").get("name") == iqn + "/2"
    assert (disk.find("target").get("dev"), disk.find("target").get("bus")) == ("sdb", "scsi")

    missing = run_module("storage_volume_info", {"pool": pool, "name": "unit:0:0:9"})
    assert not missing.get("failed") and missing["exists"] is False and missing["volumes"] == [], missing


# ---------------------------------------------------------------- wipe

def test_wipe_zeroes_the_lun_every_run(iscsi_pool):
    """wipe: true zeroes LUN 1 through libvirt's initiator; it cannot see zeros over the network, so it always wipes."""
    pool, facts, dummy = iscsi_pool
    size = lun_size(facts)
    offsets = [0, size // 2, size - MIB]
    write_pattern(facts, 1, offsets)
    write_pattern(facts, 2, [0])
    args = {"pool": pool, "name": "unit:0:0:1", "wipe": True}

    check = run_module("storage_volume", args, check=True)
    assert not check.get("failed") and check["changed"] is True, check
    assert check["actions"] == ["wipe volume unit:0:0:1 (zero)"], check
    assert all(read(facts, 1, offset) == PATTERN * MIB for offset in offsets)  # check mode wrote nothing

    for attempt in range(2):
        wiped = run_module("storage_volume", args)
        assert not wiped.get("failed"), wiped
        # network volumes cannot be read by the module: a zero wipe is done (and reported) every run
        assert wiped["changed"] is True, (attempt, wiped)
        assert wiped["actions"] == ["wipe volume unit:0:0:1 (zero)"], wiped
        assert wiped["volume"]["name"] == "unit:0:0:1" and wiped["volume"]["type"] == "network", wiped
        assert all_zeros(facts, 1), attempt
    # only that LUN
    assert read(facts, 2, 0) == PATTERN * MIB
    assert vol_list(pool) == ["unit:0:0:%d" % lun for lun in [0] + luns(facts)]


# ---------------------------------------------------------------- what the pool type cannot do

def test_create_delete_resize_are_refused(iscsi_pool):
    """Creating, deleting and resizing a LUN fail naming the pool type; neither libvirt nor the target change."""
    pool, facts, dummy = iscsi_pool
    write_pattern(facts, 1, [0])
    before = target_state(facts), vol_list(pool)
    current = run_module("storage_volume", {"pool": pool, "name": "unit:0:0:1"})
    assert not current.get("failed") and current["changed"] is False, current
    capacity = current["volume"]["capacity"]

    cases = [
        # a new volume, named like a LUN or not
        ({"name": "unit:0:0:9", "capacity": "8M"}, ("iscsi-direct", "cannot", "create")),
        ({"name": "new.img", "capacity": "8M"}, ("iscsi-direct", "cannot", "create")),
        # deleting a LUN, also with a wipe first (which must not happen either)
        ({"name": "unit:0:0:1", "state": "absent"}, ("iscsi-direct", "cannot", "delete")),
        ({"name": "unit:0:0:1", "state": "absent", "wipe": True}, ("iscsi-direct", "cannot", "delete")),
        # growing and shrinking a LUN
        ({"name": "unit:0:0:1", "capacity": str(capacity + 64 * MIB)}, ("iscsi-direct", "cannot", "resize")),
        ({"name": "unit:0:0:1", "capacity": "64M", "allow_shrink": True}, ("iscsi-direct", "cannot", "resize")),
    ]
    for extra, words in cases:
        for check in (True, False):
            result = run_module("storage_volume", dict({"pool": pool}, **extra), check=check)
            assert_refused(result, *words)
            assert (target_state(facts), vol_list(pool)) == before, (extra, check)
    assert read(facts, 1, 0) == PATTERN * MIB

    # the size libvirt reports is the LUN's: declaring it is no change
    same = run_module("storage_volume", {"pool": pool, "name": "unit:0:0:1", "capacity": capacity})
    assert not same.get("failed") and same["changed"] is False and same["actions"] == [], same


def test_declaring_the_lun_size_is_no_change(iscsi_pool):
    """The LUN's real size (what the target exports and QEMU sees) declared as capacity is no change.

    libvirt 9.0 reports an iscsi-direct LUN one 512-byte block short (268434944
    for a 256 MiB LUN); that is libvirt's rounding, not a difference to resize.
    """
    pool, facts, dummy = iscsi_pool
    size = lun_size(facts)
    for capacity in (size, "%dM" % (size // MIB)):
        for check in (True, False):
            result = run_module("storage_volume", {"pool": pool, "name": "unit:0:0:1", "capacity": capacity}, check=check)
            assert not result.get("failed"), (capacity, result)
            assert result["changed"] is False and result["actions"] == [], (capacity, result)
