"""Lifecycle of real storage pools: storage_pool and storage_pool_info against libvirtd.

Every change runs the six steps of ``six_steps`` (check mode, real run, check
mode again and real run again, which must change nothing) and checks the host
with virsh, blkid and /proc/mounts after each step. The back ends are real:
loop devices (fs and disk pools) and a private tgtd with CHAP (iscsi-direct).
"""

import os
import shutil
import stat
import subprocess

from lxml import etree

# pytest fixtures, used as test arguments
from .backends import iscsi, loopdisk, loopfs  # noqa: F401  pylint: disable=unused-import
from .conftest import (  # noqa: F401  pylint: disable=unused-import
    assert_failed, define_secret, pool_exists, pool_info, run_module, run_ok, six_steps, virsh, warnings_of, workdir)


# ---------------------------------------------------------------- host helpers

def pool_xml(name, inactive=True):
    """The pool's XML as an lxml element: its persistent definition, or the running one."""
    args = ["pool-dumpxml"] + (["--inactive"] if inactive else []) + [name]
    return etree.fromstring(virsh(*args).encode("utf-8"))


def xml_mode(name, inactive=True):
    return pool_xml(name, inactive).findtext("target/permissions/mode")


def blkid(device):
    """``blkid -p`` of a device as a dict ({} when it holds nothing blkid knows)."""
    proc = subprocess.run(["blkid", "-p", "-o", "export", device], capture_output=True, text=True, check=False)
    assert proc.returncode in (0, 2), proc.stderr
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def mounts_of(device):
    with open("/proc/mounts") as handle:
        return [line.split()[1] for line in handle if line.split()[0] == device]


def volumes(name):
    return [line.split()[0] for line in virsh("vol-list", name).splitlines() if line.strip()]


def info(name):
    result = run_module("storage_pool_info", {"name": name})
    assert not result.get("failed"), result
    return result


def assert_running(name, autostart=None):
    facts = pool_info(name)
    assert facts["State"] == "running", facts
    assert facts["Persistent"] == "yes", facts
    if autostart is not None:
        assert facts["Autostart"] == ("yes" if autostart else "no"), facts


# ---------------------------------------------------------------- dir

def test_dir_pool_lifecycle(workdir, prefix, pools):
    """Define+build+start+autostart, redefine (warns), restart, stop, undefine, delete storage."""
    name = prefix + "dir"
    pools.append(name)
    path = os.path.join(workdir, "images")
    args = dict(name=name, type="dir", target=dict(path=path, permissions=dict(mode="0755")),
                state="active", autostart=True)

    def before_create():
        assert not pool_exists(name)
        assert not os.path.exists(path)

    def after_create():
        assert_running(name, autostart=True)
        definition = pool_xml(name)
        assert definition.get("type") == "dir"
        assert definition.findtext("target/path") == path
        assert definition.findtext("target/permissions/mode") == "0755"
        assert os.path.isdir(path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o755

    real = six_steps("storage_pool", args, before_create, after_create)
    assert real["actions"] == ["define pool %s" % name, "build pool %s: create directory %s" % (name, path),
                               "start pool %s" % name, "enable autostart of pool %s" % name], real["actions"]
    assert real["pool"]["active"] is True and real["pool"]["autostart"] is True, real["pool"]
    assert real["pool"]["target_path"] == path

    facts = info(name)
    assert facts["exists"] is True
    (pool,) = facts["pools"]
    assert pool["name"] == name and pool["type"] == "dir" and pool["state"] == "running"
    assert pool["capacity"] > 0 and pool["available"] > 0, pool
    assert pool["volume_count"] == 0 and pool["overcommit_ratio"] == 0.0, pool

    # A changed field redefines the pool; the running pool keeps the old definition (restart: false).
    changed = dict(args, target=dict(path=path, permissions=dict(mode="0711")))

    def before_redefine():
        assert xml_mode(name) == "0755"
        assert xml_mode(name, inactive=False) == "0755"

    def after_redefine():
        assert_running(name, autostart=True)
        assert xml_mode(name) == "0711"
        assert xml_mode(name, inactive=False) == "0755"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o755

    real = six_steps("storage_pool", changed, before_redefine, after_redefine)
    assert real["actions"] == ["redefine (target.permissions.mode) pool %s" % name], real["actions"]
    assert any("still uses its old definition" in w and "restart: true" in w for w in warnings_of(real)), real
    # the pending definition is still reported while the pool runs the old one
    pending = run_module("storage_pool", changed, check=True)
    assert pending["changed"] is False, pending
    assert any("still uses its old definition" in w for w in warnings_of(pending)), pending

    # restart: true makes the running pool use the new definition; the pool is rebuilt on the
    # way, as libvirt applies target permissions to the directory only when it builds the pool
    def after_restart():
        assert_running(name, autostart=True)
        assert xml_mode(name) == "0711"
        assert xml_mode(name, inactive=False) == "0711"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o711

    real = six_steps("storage_pool", dict(changed, restart=True), after_redefine, after_restart)
    assert real["actions"] == ["stop pool %s" % name,
                               "build pool %s: set mode of directory %s to 0711" % (name, path),
                               "start pool %s" % name], real["actions"]
    assert warnings_of(real) == [], real

    # state: inactive stops it (autostart stays)
    def after_stop():
        facts = pool_info(name)
        assert facts["State"] == "inactive" and facts["Autostart"] == "yes", facts

    real = six_steps("storage_pool", dict(name=name, state="inactive"),
                     lambda: assert_running(name), after_stop)
    assert real["actions"] == ["stop pool %s" % name]
    facts = info(name)["pools"][0]
    assert facts["state"] == "inactive" and facts["volume_count"] is None, facts

    # state: absent undefines it; the directory stays
    def after_absent():
        assert not pool_exists(name)
        assert os.path.isdir(path)

    real = six_steps("storage_pool", dict(name=name, state="absent"), after_stop, after_absent)
    assert real["actions"] == ["undefine pool %s" % name]
    assert real["pool"] is None
    gone = info(name)
    assert gone["exists"] is False and gone["pools"] == [], gone

    # absent with delete_storage: true also removes the (empty) directory
    defined = run_module("storage_pool", dict(args, state="present"))
    assert defined["changed"] is True and defined["actions"][0] == "define pool %s" % name, defined
    assert pool_info(name)["State"] == "inactive"

    def before_delete():
        assert pool_info(name)["State"] == "inactive"
        assert os.path.isdir(path)

    def after_delete():
        assert not pool_exists(name)
        assert not os.path.exists(path)

    real = six_steps("storage_pool", dict(name=name, state="absent", delete_storage=True),
                     before_delete, after_delete)
    assert real["actions"][-2:] == ["delete the underlying storage of pool %s" % name, "undefine pool %s" % name]


def test_dir_pool_delete_storage_guards_volumes(workdir, prefix, pools):
    """delete_storage is refused while the pool holds a volume; delete_volumes allows it.

    Also storage_pool_info: volume count and overcommit ratio of a thin volume,
    and exists: false for a missing pool.
    """
    name = prefix + "vols"
    pools.append(name)
    path = os.path.join(workdir, "vols")
    created = run_module("storage_pool", dict(name=name, type="dir", target=dict(path=path), state="active"))
    assert not created.get("failed") and created["changed"], created
    assert_running(name)
    size = 512 * 2 ** 30  # sparse: far beyond the host's free space, so the pool is overcommitted
    virsh("vol-create-as", name, "thin.img", str(size), "--allocation", "0", "--format", "raw")

    (pool,) = info(name)["pools"]
    assert pool["volume_count"] == 1, pool
    assert pool["capacity"] > 0
    assert pool["overcommit_ratio"] == round(float(size) / pool["capacity"], 4), pool
    assert (pool["overcommit_ratio"] > 1.0) == (size > pool["capacity"]), pool

    missing = info(prefix + "missing")
    assert missing["exists"] is False and missing["pools"] == [], missing

    # refused while it holds the volume: running pool
    absent = dict(name=name, state="absent", delete_storage=True)
    refused = run_module("storage_pool", absent)
    assert_failed(refused, "delete_volumes", "thin.img")
    assert_running(name)
    assert volumes(name) == ["thin.img"]
    assert os.path.exists(os.path.join(path, "thin.img"))

    # refused on a stopped pool too, which is left stopped
    stopped = run_module("storage_pool", dict(name=name, state="inactive"))
    assert stopped["changed"] is True, stopped
    refused = run_module("storage_pool", absent)
    assert_failed(refused, "delete_volumes", "thin.img")
    assert pool_info(name)["State"] == "inactive"
    assert os.path.exists(os.path.join(path, "thin.img"))

    def before():
        assert pool_info(name)["State"] == "inactive"
        assert os.path.exists(os.path.join(path, "thin.img"))

    def after():
        assert not pool_exists(name)
        assert not os.path.exists(path)

    real = six_steps("storage_pool", dict(absent, delete_volumes=True), before, after)
    assert "delete every volume of pool %s" % name in real["actions"], real["actions"]


# ---------------------------------------------------------------- fs

def fs_args(name, device, target, **extra):
    return dict(dict(name=name, type="fs", source=dict(devices=[dict(path=device)], format="ext4"),
                     target=dict(path=target), state="active"), **extra)


def test_fs_pool_formats_blank_device(loopfs, workdir, prefix, pools):
    """A blank device is formatted ext4 and mounted; blkid and /proc/mounts agree."""
    device = loopfs("none")["LOOPFS_DEVICE"]
    assert blkid(device) == {}
    name = prefix + "fs"
    pools.append(name)
    target = os.path.join(workdir, "fs")

    def before():
        assert not pool_exists(name)
        assert blkid(device) == {}
        assert mounts_of(device) == []

    def after():
        assert_running(name)
        assert blkid(device).get("TYPE") == "ext4"
        assert mounts_of(device) == [target]
        definition = pool_xml(name)
        assert definition.find("source/device").get("path") == device
        assert definition.find("source/format").get("type") == "ext4"
        assert definition.findtext("target/path") == target

    real = six_steps("storage_pool", fs_args(name, device, target), before, after)
    assert "build pool %s: format %s as ext4" % (name, device) in real["actions"], real["actions"]
    (pool,) = info(name)["pools"]
    assert pool["capacity"] > 0 and pool["volume_count"] == 1, pool  # lost+found


def test_fs_pool_refuses_other_filesystem_without_overwrite(loopfs, workdir, prefix, pools):
    """A device holding xfs declared ext4 fails naming overwrite; overwrite: true reformats it."""
    device = loopfs("xfs")["LOOPFS_DEVICE"]
    assert blkid(device).get("TYPE") == "xfs"
    name = prefix + "fsx"
    pools.append(name)
    target = os.path.join(workdir, "fsx")
    args = fs_args(name, device, target)

    for check in (True, False):
        refused = run_module("storage_pool", args, check=check)
        assert_failed(refused, "overwrite", "xfs filesystem", device)
        assert not pool_exists(name)
        assert blkid(device).get("TYPE") == "xfs"
        assert mounts_of(device) == []

    def before():
        assert not pool_exists(name)
        assert blkid(device).get("TYPE") == "xfs"

    def after():
        assert_running(name)
        assert blkid(device).get("TYPE") == "ext4"
        assert mounts_of(device) == [target]

    real = six_steps("storage_pool", dict(args, overwrite=True), before, after)
    assert any(a.startswith("build pool %s:" % name) and "destroying a xfs filesystem" in a
               for a in real["actions"]), real["actions"]


# ---------------------------------------------------------------- disk

def disk_args(name, device, **extra):
    return dict(dict(name=name, type="disk", source=dict(devices=[dict(path=device)], format="gpt"),
                     target=dict(path="/dev"), state="active"), **extra)


def test_disk_pool_labels_blank_device(loopdisk, prefix, pools):
    """A blank partition-scanned device gets a GPT label and the pool runs."""
    device = loopdisk()["LOOPDISK_DEVICE"]
    name = prefix + "disk"
    pools.append(name)

    def before():
        assert not pool_exists(name)
        assert blkid(device) == {}

    def after():
        assert_running(name)
        assert blkid(device).get("PTTYPE") == "gpt"
        definition = pool_xml(name)
        assert definition.find("source/device").get("path") == device
        assert definition.find("source/format").get("type") == "gpt"

    real = six_steps("storage_pool", disk_args(name, device), before, after)
    assert "build pool %s: write a gpt partition table on %s" % (name, device) in real["actions"], real


def test_disk_pool_refuses_other_label_without_overwrite(loopdisk, prefix, pools):
    """A dos label with a partition declared gpt fails naming overwrite and the partition."""
    facts = loopdisk()
    device = facts["LOOPDISK_DEVICE"]
    subprocess.run(["parted", "-s", device, "mklabel", "msdos", "mkpart", "primary", "1MiB", "10MiB"],
                   check=True, capture_output=True)
    partition = facts["LOOPDISK_FIRST_VOLUME"]
    assert os.path.exists("/dev/" + partition)
    assert blkid(device).get("PTTYPE") == "dos"
    name = prefix + "diskx"
    pools.append(name)
    args = disk_args(name, device)

    for check in (True, False):
        refused = run_module("storage_pool", args, check=check)
        assert_failed(refused, "overwrite", "dos partition table", partition)
        assert not pool_exists(name)
        assert blkid(device).get("PTTYPE") == "dos"

    def before():
        assert not pool_exists(name)
        assert blkid(device).get("PTTYPE") == "dos"

    def after():
        assert_running(name)
        assert blkid(device).get("PTTYPE") == "gpt"
        assert not os.path.exists("/dev/" + partition)

    six_steps("storage_pool", dict(args, overwrite=True), before, after)


# ---------------------------------------------------------------- iscsi-direct

def define_chap_secret(usage, password):
    """Define an iscsi secret for ``usage`` holding ``password``; return its uuid."""
    return define_secret("iscsi", usage, password)


def iscsi_args(name, facts, usage):
    return dict(name=name, type="iscsi-direct", state="active", source=dict(
        hosts=[dict(name=facts["ISCSI_HOST"], port=int(facts["ISCSI_PORT"]))],
        devices=[dict(path=facts["ISCSI_TARGET_IQN"])],
        initiator_iqn=facts["ISCSI_INITIATOR_IQN"],
        auth=dict(type="chap", username=facts["ISCSI_CHAP_USER"], secret=dict(usage=usage))))


def test_iscsi_direct_pool_with_chap(iscsi, prefix, pools):
    """An iscsi-direct pool logs in with CHAP and lists the LUNs; a wrong password fails to start."""
    secrets = []
    try:
        usage = prefix + "chap"
        secrets.append(define_chap_secret(usage, iscsi["ISCSI_CHAP_PASSWORD"]))
        name = prefix + "iscsi"
        pools.append(name)

        def after():
            assert_running(name)
            assert "unit:0:0:1" in volumes(name)
            source = pool_xml(name).find("source")
            assert source.find("host").get("port") == iscsi["ISCSI_PORT"]
            assert source.find("auth").get("username") == iscsi["ISCSI_CHAP_USER"]
            assert source.find("auth/secret").get("usage") == usage

        six_steps("storage_pool", iscsi_args(name, iscsi, usage), lambda: not_exists(name), after)
        (pool,) = info(name)["pools"]
        assert pool["type"] == "iscsi-direct" and pool["target_path"] is None, pool
        assert pool["volume_count"] == 1 + len(iscsi["ISCSI_LUNS"].split(",")), pool  # LUN 0 too
        assert pool["capacity"] > 0, pool

        bad_usage = prefix + "badchap"
        secrets.append(define_chap_secret(bad_usage, "not-" + iscsi["ISCSI_CHAP_PASSWORD"]))
        bad = prefix + "badiscsi"
        pools.append(bad)
        failed = run_module("storage_pool", iscsi_args(bad, iscsi, bad_usage))
        assert_failed(failed, "starting pool %s failed" % bad, "Authentication failure",
                      "done before the failure: define pool %s" % bad,
                      "the pool was undefined again: the host is as before")
        assert not pool_exists(bad)  # the pool this task defined is gone, as the message says
    finally:
        for secret in secrets:
            virsh("secret-undefine", secret, check=False)


def not_exists(name):
    assert not pool_exists(name)


def test_a_dir_pool_whose_directory_was_removed_converges_again(workdir, prefix, pools):  # noqa: F811  pylint: disable=redefined-outer-name
    """The directory of a running dir pool removed behind libvirt's back (libvirt still lists its volumes and
    fails on each): the rerun stops, builds and starts the pool, and its volume is made again."""
    name = prefix + "gone"
    pools.append(name)
    target = os.path.join(workdir, "gone")
    pool = dict(name=name, type="dir", target=dict(path=target), state="active")
    volume = dict(pool=name, name="a.qcow2", capacity="16M", format="qcow2")
    run_ok("storage_pool", pool, changed=True)
    run_ok("storage_volume", volume, changed=True)
    shutil.rmtree(target)
    assert "a.qcow2" in virsh("vol-list", name)  # libvirt still lists it
    planned = run_ok("storage_pool", pool, check=True, changed=True)
    assert planned["actions"][0] == "stop pool %s (its directory %s is gone)" % (name, target), planned
    assert not os.path.exists(target)
    run_ok("storage_pool", pool, changed=True)
    assert os.path.isdir(target) and "a.qcow2" not in virsh("vol-list", name)
    run_ok("storage_volume", volume, changed=True)
    assert os.path.isfile(os.path.join(target, "a.qcow2"))
    run_ok("storage_pool", pool, changed=False)
    run_ok("storage_volume", volume, changed=False)
