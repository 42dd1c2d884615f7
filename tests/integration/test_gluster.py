"""Gluster pools end to end on a real glusterd (tests/integration/backends/gluster-up) and the real libvirtd.

One gluster volume seen two ways: the native gluster pool (libgfapi; libvirt lists and deletes its files but
cannot create them) and a netfs pool with format glusterfs (a FUSE mount, where volumes are created). A volume
made through the netfs pool is listed by the gluster pool once refreshed, and becomes a gluster network disk of
the running Linux test guest, which reads what the host wrote. Every libgfapi session costs ~10 s in glusterfs
10.3's teardown (pool start and refresh, attach, detach), so the tests make few of them. Faults (no such
volume, glusterd down, a stopped volume, bricks down under running pools) are clear errors that leave no pool
active, and the rerun after the repair converges.
"""

import glob
import json
import os

from .attach_helpers import SECTOR, first_bytes
# pytest fixtures, used as test arguments
from .backends import gluster, run, stop_pid, up_again  # noqa: F401  pylint: disable=unused-import
from .conftest import run_module, run_ok, six_steps, virsh, workdir  # noqa: F401  pylint: disable=unused-import
from .linux_guest import linux_guest  # noqa: F401  pylint: disable=unused-import
from .test_disk_attach_sources import attach_in_six_steps, attach_then_detach, detach_in_six_steps, expect_disk

MIB = 1024 * 1024


def gluster_pool_args(name, facts):
    return dict(name=name, type="gluster", state="active",
                source=dict(hosts=[dict(name=facts["GLUSTER_HOST"])], name=facts["GLUSTER_VOLUME"], dir="/"))


def netfs_pool_args(name, facts, target):
    return dict(name=name, type="netfs", state="active", target=dict(path=target),
                source=dict(hosts=[dict(name=facts["GLUSTER_HOST"])], dir="/" + facts["GLUSTER_VOLUME"],
                            format="glusterfs"))


def pool_is(name, states):
    """A check that the pool ``name`` is listed with ``states`` ([] for no such pool, ['active'])."""
    def check():
        rows = [line.split() for line in virsh("pool-list", "--all").splitlines()]
        assert [row[1] for row in rows if row and row[0] == name] == states, (name, states)
    return check


def brick_file(facts, name):
    return os.path.join(facts["GLUSTER_BRICK_PATH"], name)


def test_one_gluster_volume_two_pools_and_a_guest(gluster, prefix, pools, workdir, linux_guest):  # noqa: F811  pylint: disable=redefined-outer-name
    """Both pools in the six steps; the gluster pool refuses to create a volume before anything is tried; a volume
    created through the netfs pool (six steps, on the brick) is listed by the gluster pool after a refresh, with
    its gluster network disk, and deleted through the gluster pool. In between, the guest reads and writes volumes
    of the netfs pool attached from the gluster pool (``guest_reads_and_writes``). One test: every libgfapi session
    costs ~10 s, so the pools are started once."""
    native, fuse = prefix + "gluster", prefix + "glusterfs"
    pools.extend([fuse, native])
    mount = os.path.join(workdir, "mnt")
    six_steps("storage_pool", netfs_pool_args(fuse, gluster, mount), pool_is(fuse, []), pool_is(fuse, ["active"]))
    assert any(line.split()[1] == mount for line in open("/proc/mounts") if "fuse.glusterfs" in line)
    guest = linux_guest(persistent=True)  # started after the mount: QEMU sees it (a private mount namespace)
    six_steps("storage_pool", gluster_pool_args(native, gluster), pool_is(native, []), pool_is(native, ["active"]))

    for check in (True, False):
        refused = run_module("storage_volume", dict(pool=native, name="g.raw", capacity="8M", format="raw"),
                             check=check)
        assert refused.get("failed") is True and "cannot create" in refused["msg"], refused
    assert not os.path.exists(brick_file(gluster, "g.raw"))

    volume = dict(pool=fuse, name="shared.raw", capacity="8M", format="raw")

    def absent():
        assert not os.path.exists(brick_file(gluster, "shared.raw"))

    def present():
        assert os.path.getsize(brick_file(gluster, "shared.raw")) == 8 * MIB

    six_steps("storage_volume", volume, absent, present)
    raw = run_ok("storage_volume", dict(pool=fuse, name="read.raw", capacity="16M", format="raw"), changed=True)
    qcow2 = run_ok("storage_volume", dict(pool=fuse, name="write.qcow2", capacity="16M", format="qcow2"),
                   changed=True)

    names = [v["name"] for v in run_ok("storage_volume_info", dict(pool=native))["volumes"]]
    assert "shared.raw" not in names  # libvirt lists what it read when the pool started
    listed = dict((v["name"], v) for v in run_ok("storage_volume_info", dict(pool=native, refresh=True))["volumes"])
    assert {"shared.raw", "read.raw", "write.qcow2"} <= set(listed), sorted(listed)
    disk = listed["shared.raw"]["disk"]
    assert disk["type"] == "network" and disk["source"]["protocol"] == "gluster", disk
    assert disk["source"]["name"] == "%s/shared.raw" % gluster["GLUSTER_VOLUME"], disk
    assert [host["name"] for host in disk["source"]["hosts"]] == [gluster["GLUSTER_HOST"]], disk

    guest_reads_and_writes(guest, gluster, native, raw["volume"]["path"], qcow2["volume"]["path"], prefix)

    six_steps("storage_volume", dict(pool=native, name="shared.raw", state="absent"), present, absent)
    assert "shared.raw" not in [v["name"] for v in run_ok("storage_volume_info", dict(pool=fuse, refresh=True))[
        "volumes"]]


def guest_reads_and_writes(guest, gluster, native, raw_path, qcow2_path, prefix):  # noqa: F811  pylint: disable=redefined-outer-name
    """Volumes made through the netfs pool, attached from the gluster pool as network disks (protocol gluster, the
    server), hot-plugged: the guest reads what the host wrote into a raw one, and writes into a qcow2 one, read
    back on the host through the FUSE mount. qcow2 over gluster works because storage_volume pads the file it
    made (QEMU's gluster driver fails to read the L1 table at the end of a file whose length is not a multiple of
    512: 'Could not read L1 table: Input/output error')."""
    assert os.path.getsize(qcow2_path) % (64 * 1024) == 0
    content = b"HOST-WROTE-GLUSTER-%s" % prefix.encode()
    with open(raw_path, "r+b") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())

    # the qcow2 disk comes and goes while the raw one is attached: QEMU opens a gluster volume once for all its
    # disks there, so the qcow2 disk's detach does not wait for QEMU's libgfapi teardown (libvirt's own sessions
    # still cost ~10 s an attach or a detach)
    read_args = dict(domain=guest.name, volume=dict(pool=native, name="read.raw"), disk=dict(serial="Rgluster"))
    read_disk = expect_disk("network", {"name": "qemu", "type": "raw"},
                            {"protocol": "gluster", "name": "%s/read.raw" % gluster["GLUSTER_VOLUME"]},
                            {"dev": "vda", "bus": "virtio"})

    def read_content():
        return content.ljust(32, b"\0")[:32]
    attached = attach_in_six_steps(guest, read_args, "Rgluster", 16 * MIB // SECTOR, read_disk, read_content)
    assert attached["disk"]["source"]["protocol"] == "gluster", json.dumps(attached)
    attach_then_detach(
        guest, dict(domain=guest.name, volume=dict(pool=native, name="write.qcow2"), disk=dict(serial="Wglq")),
        "Wglq", 16 * MIB // SECTOR,
        expect_disk("network", {"name": "qemu", "type": "qcow2"},
                    {"protocol": "gluster", "name": "%s/write.qcow2" % gluster["GLUSTER_VOLUME"]},
                    {"dev": "vdb", "bus": "virtio"}),
        lambda: first_bytes(qcow2_path, "qcow2"))
    detach_in_six_steps(guest, read_args, "Rgluster", read_disk, read_content)


def gluster_cli(facts, *args):
    """Run the gluster command line against the back end's glusterd."""
    return run(facts["GLUSTER_CLI"].split() + list(args)).stdout


def stop_process(pid_file):
    """Stop the process of ``pid_file``."""
    with open(pid_file) as handle:
        stop_pid(int(handle.read().strip()))


def assert_refused(result, param, *words):
    assert result.get("failed") is True and result.get("param") == param, result
    for text in words:
        assert text in result["msg"], (text, result["msg"])


def test_gluster_faults_are_named_and_a_rerun_converges(gluster, prefix, pools, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    """A missing gluster volume, glusterd down, a stopped volume, and bricks down under running pools, for the gluster
    pool and the netfs/glusterfs pool: each a clear error naming its cause and parameter, no pool left active (a
    pool that fails to start is not left defined; libvirt stops a running pool whose refresh fails), and once the
    fault is repaired the rerun converges and the next changes nothing."""
    native, fuse = prefix + "gluster", prefix + "glusterfs"
    pools.extend([fuse, native])
    mount = os.path.join(workdir, "mnt")
    volume, host = gluster["GLUSTER_VOLUME"], gluster["GLUSTER_HOST"]
    declared = {native: gluster_pool_args(native, gluster), fuse: netfs_pool_args(fuse, gluster, mount)}
    params = {native: "source.name", fuse: "source.dir"}

    missing = dict(gluster, GLUSTER_VOLUME="nosuch" + volume)
    for name, args in ((native, gluster_pool_args(native, missing)), (fuse, netfs_pool_args(fuse, missing, mount))):
        assert_refused(run_module("storage_pool", args), params[name],
                       "glusterd at %s answers, but has no volume nosuch%s" % (host, volume))
        pool_is(name, [])()

    stop_process(os.path.join(gluster["GLUSTER_STATE_DIR"], "glusterd.pid"))
    try:
        for name, args in declared.items():
            assert_refused(run_module("storage_pool", args), "source.hosts", "no glusterd answers at %s:24007" % host)
            pool_is(name, [])()
    finally:
        up_again("gluster", gluster, "GLUSTER_VOLUME")

    gluster_cli(gluster, "volume", "stop", volume)
    for name, args in declared.items():
        assert_refused(run_module("storage_pool", args), params[name],
                       "gluster volume %s on %s is stopped, or none of its bricks answers" % (volume, host),
                       "'gluster volume start %s force'" % volume)
        pool_is(name, [])()
    gluster_cli(gluster, "volume", "start", volume)
    for name, args in declared.items():
        run_ok("storage_pool", args, changed=True)
        pool_is(name, ["active"])()

    # the bricks go down under the running pools: a task that reads a pool again names the cause, and libvirt
    # stops the pool
    for pid_file in glob.glob(os.path.join(gluster["GLUSTER_STATE_DIR"], "run", "vols", volume, "*.pid")):
        stop_process(pid_file)
    for name in declared:
        assert_refused(run_module("storage_volume_info", dict(pool=name, refresh=True)), "pool",
                       "gluster volume %s on %s is stopped, or none of its bricks answers" % (volume, host),
                       "libvirt stopped pool %s when its refresh failed" % name)
        pool_is(name, ["inactive"])()
    assert not any(line.split()[1] == mount for line in open("/proc/mounts"))
    gluster_cli(gluster, "volume", "start", volume, "force")  # starts the bricks again
    for name, args in declared.items():
        run_ok("storage_pool", args, changed=True)
        run_ok("storage_pool", args, changed=False)
        pool_is(name, ["active"])()
