"""Gluster pools end to end on a real glusterd (tests/integration/backends/gluster-up) and the real libvirtd.

One gluster volume seen two ways: the native gluster pool (libgfapi; libvirt lists and deletes its files but
cannot create them) and a netfs pool with format glusterfs (a FUSE mount, where volumes are created). A volume
made through the netfs pool is listed by the gluster pool once refreshed, and becomes a gluster network disk of
the running Linux test guest, which reads what the host wrote. Every libgfapi session costs ~10 s in glusterfs
10.3's teardown (pool start and refresh, attach, detach), so the tests make few of them.
"""

import json
import os

from .attach_helpers import SECTOR, first_bytes
# pytest fixtures, used as test arguments
from .backends import gluster  # noqa: F401  pylint: disable=unused-import
from .conftest import run_module, run_ok, six_steps, virsh, workdir  # noqa: F401  pylint: disable=unused-import
from .linux_guest import linux_guest  # noqa: F401  pylint: disable=unused-import
from .test_disk_attach_sources import attach_then_detach, expect_disk

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


def test_one_gluster_volume_two_pools(gluster, prefix, pools, workdir):  # noqa: F811  pylint: disable=redefined-outer-name
    """Both pools in the six steps; the gluster pool refuses to create a volume before anything is tried; a volume
    created through the netfs pool (six steps, on the brick) is listed by the gluster pool after a refresh, with
    its gluster network disk, and deleted through the gluster pool."""
    native, fuse = prefix + "gluster", prefix + "glusterfs"
    pools.extend([fuse, native])
    mount = os.path.join(workdir, "mnt")
    six_steps("storage_pool", netfs_pool_args(fuse, gluster, mount), pool_is(fuse, []), pool_is(fuse, ["active"]))
    assert any(line.split()[1] == mount for line in open("/proc/mounts") if "fuse.glusterfs" in line)
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

    names = [v["name"] for v in run_ok("storage_volume_info", dict(pool=native))["volumes"]]
    assert "shared.raw" not in names  # libvirt lists what it read when the pool started
    listed = dict((v["name"], v) for v in run_ok("storage_volume_info", dict(pool=native, refresh=True))["volumes"])
    assert "shared.raw" in listed, sorted(listed)
    disk = listed["shared.raw"]["disk"]
    assert disk["type"] == "network" and disk["source"]["protocol"] == "gluster", disk
    assert disk["source"]["name"] == "%s/shared.raw" % gluster["GLUSTER_VOLUME"], disk
    assert [host["name"] for host in disk["source"]["hosts"]] == [gluster["GLUSTER_HOST"]], disk

    six_steps("storage_volume", dict(pool=native, name="shared.raw", state="absent"), present, absent)
    assert "shared.raw" not in [v["name"] for v in run_ok("storage_volume_info", dict(pool=fuse, refresh=True))[
        "volumes"]]


def test_a_guest_reads_and_writes_gluster_network_disks(gluster, prefix, pools, workdir, linux_guest):  # noqa: F811  pylint: disable=redefined-outer-name
    """Volumes made through the netfs pool, attached from the gluster pool as network disks (protocol gluster, the
    server), hot-plugged: the guest reads what the host wrote into a raw one, and writes into a qcow2 one, read
    back on the host through the FUSE mount. qcow2 over gluster works because storage_volume pads the file it
    made (QEMU's gluster driver fails to read the L1 table at the end of a file whose length is not a multiple of
    512: 'Could not read L1 table: Input/output error')."""
    native, fuse = prefix + "gluster", prefix + "glusterfs"
    pools.extend([fuse, native])
    mount = os.path.join(workdir, "mnt")
    run_ok("storage_pool", netfs_pool_args(fuse, gluster, mount), changed=True)
    guest = linux_guest(persistent=True)  # started after the mount: QEMU sees it (a private mount namespace)
    run_ok("storage_pool", gluster_pool_args(native, gluster), changed=True)
    raw = run_ok("storage_volume", dict(pool=fuse, name="read.raw", capacity="16M", format="raw"), changed=True)
    qcow2 = run_ok("storage_volume", dict(pool=fuse, name="write.qcow2", capacity="16M", format="qcow2"),
                   changed=True)
    assert os.path.getsize(qcow2["volume"]["path"]) % (64 * 1024) == 0
    content = b"HOST-WROTE-GLUSTER-%s" % prefix.encode()
    with open(raw["volume"]["path"], "r+b") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    run_ok("storage_volume_info", dict(pool=native, refresh=True))

    results = attach_then_detach(
        guest, dict(domain=guest.name, volume=dict(pool=native, name="read.raw"), disk=dict(serial="Rgluster")),
        "Rgluster", 16 * MIB // SECTOR,
        expect_disk("network", {"name": "qemu", "type": "raw"},
                    {"protocol": "gluster", "name": "%s/read.raw" % gluster["GLUSTER_VOLUME"]},
                    {"dev": "vda", "bus": "virtio"}),
        lambda: content.ljust(32, b"\0")[:32])
    assert results[0]["disk"]["source"]["protocol"] == "gluster", json.dumps(results[0])
    attach_then_detach(
        guest, dict(domain=guest.name, volume=dict(pool=native, name="write.qcow2"), disk=dict(serial="Wglq")),
        "Wglq", 16 * MIB // SECTOR,
        expect_disk("network", {"name": "qemu", "type": "qcow2"},
                    {"protocol": "gluster", "name": "%s/write.qcow2" % gluster["GLUSTER_VOLUME"]},
                    {"dev": "vda", "bus": "virtio"}),
        lambda: first_bytes(qcow2["volume"]["path"], "qcow2"))
