"""storage_pool when a pool cannot be made: nothing half-made is left, and bad targets are refused up front.

A pool this task defined that cannot be built or started is undefined again and
the directories its build made are removed; a pool that existed before stays
defined. A target that is not a directory, a target or source device another
pool uses, and a missing auth secret are refused before anything changes, in
check mode as in the real run. Real daemon, real failures: no NFS client and
no LVM on this host, a target below a regular file.
"""

import os
import socket
import uuid

import pytest

from .conftest import assert_refused, pool_exists, pool_info, run_module, virsh, warnings_of


def defined_pools():
    return virsh("pool-list", "--all", "--name").split()


def free_port():
    """A loopback TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _netfs(name, workdir):
    """A netfs pool whose mount fails: nothing serves NFS on the port (and no NFS client here)."""
    return dict(name=name, type="netfs", state="active",
                source=dict(hosts=[dict(name="127.0.0.1", port=free_port())], dir="/export/%s" % name,
                            format="nfs"),
                target=dict(path=os.path.join(workdir, "nfs", "mnt"))), [os.path.join(workdir, "nfs")]


def _dir_below_file(name, workdir):
    """A dir pool whose target's parent is a regular file: building it fails (not a directory)."""
    parent = os.path.join(workdir, "plain-file")
    with open(parent, "w") as handle:
        handle.write("not a directory\n")
    return dict(name=name, type="dir", state="active", target=dict(path=os.path.join(parent, "images"))), []


def _logical(name, workdir):
    """A logical pool: no LVM here, so starting it fails."""
    return dict(name=name, type="logical", state="active", source=dict(name="vg_" + name.replace("-", "_"))), []


FAILING = {"netfs": _netfs, "dir-below-file": _dir_below_file, "logical": _logical}


@pytest.mark.parametrize("kind", sorted(FAILING))
def test_failed_new_pool_is_undone(kind, prefix, pools, workdir):
    """The task defines the pool, fails to build or start it, and leaves the host as it was."""
    name = prefix + kind
    pools.append(name)
    args, made_dirs = FAILING[kind](name, workdir)
    planned = run_module("storage_pool", args, check=True)
    assert planned["changed"] is True and planned["actions"][0] == "define pool %s" % name, planned

    failed = run_module("storage_pool", args)
    assert failed.get("failed") is True, failed
    assert "the pool was undefined again" in failed["msg"] and "the host is as before" in failed["msg"], failed
    for directory in made_dirs:
        assert "removed" in failed["msg"] and directory in failed["msg"], failed["msg"]
    assert name not in defined_pools()
    target = args.get("target", {}).get("path")
    if target:
        assert not os.path.isdir(target), target
    for directory in made_dirs:
        assert not os.path.exists(directory), directory
    assert sorted(os.listdir(workdir)) == (["plain-file"] if kind == "dir-below-file" else [])


@pytest.mark.parametrize("kind", sorted(FAILING))
def test_failed_existing_pool_stays_defined(kind, prefix, pools, workdir):
    """The same failure on a pool that existed before: it stays defined, and the message says what was done."""
    name = prefix + kind
    pools.append(name)
    args, dummy = FAILING[kind](name, workdir)
    defined = run_module("storage_pool", dict(args, state="present", build=False))
    assert defined.get("failed") is not True and defined["changed"] is True, defined
    xml_before = virsh("pool-dumpxml", "--inactive", name)

    failed = run_module("storage_pool", args)
    assert failed.get("failed") is True, failed
    assert "undefined again" not in failed["msg"], failed["msg"]
    assert "pool %s" % name in failed["msg"] and "failed" in failed["msg"], failed["msg"]
    assert pool_exists(name) and pool_info(name)["State"] == "inactive"
    assert virsh("pool-dumpxml", "--inactive", name) == xml_before


# ---------------------------------------------------------------- refused up front

def _assert_refused_both_ways(args, param, *fragments):
    """Check mode and the real run fail alike, naming ``param`` and every fragment; no pool is defined."""
    for check in (True, False):
        result = run_module("storage_pool", args, check=check)
        assert_refused(result, param)
        for fragment in fragments:
            assert fragment in result["msg"], (fragment, result["msg"])
        assert not pool_exists(args["name"])


@pytest.mark.parametrize("pool_type", ["dir", "netfs"])
def test_target_that_is_a_regular_file(pool_type, prefix, pools, workdir):
    name = prefix + "file-target"
    pools.append(name)
    target = os.path.join(workdir, "a-file")
    with open(target, "w") as handle:
        handle.write("data\n")
    args = dict(name=name, type=pool_type, state="present", target=dict(path=target))
    if pool_type == "netfs":
        args["source"] = dict(hosts=[dict(name="127.0.0.1")], dir="/export/" + name)
    _assert_refused_both_ways(args, "target.path", target, "not a directory")
    with open(target) as handle:
        assert handle.read() == "data\n"


def test_target_path_of_another_dir_pool(prefix, pools, workdir):
    first, second = prefix + "first", prefix + "second"
    pools.extend([first, second])
    target = os.path.join(workdir, "shared")
    made = run_module("storage_pool", dict(name=first, type="dir", target=dict(path=target)))
    assert made.get("failed") is not True, made
    # spelled differently, stored the same by libvirt
    _assert_refused_both_ways(dict(name=second, type="dir", target=dict(path=target + "//")),
                              "target.path", first, target)
    # redefining the first pool with its own target is no conflict
    again = run_module("storage_pool", dict(name=first, type="dir", target=dict(path=target)), check=True)
    assert again.get("failed") is not True and again["changed"] is False, again


def test_source_device_of_another_pool(prefix, pools):
    first, second = prefix + "fsdev", prefix + "diskdev"
    pools.extend([first, second])
    device = "/dev/disk/by-id/virtops-%s" % uuid.uuid4().hex[:8]
    made = run_module("storage_pool", dict(name=first, type="fs", target=dict(path="/srv/virtops-never-" + first),
                                           source=dict(devices=[dict(path=device)]), build=False))
    assert made.get("failed") is not True, made
    # libvirt compares the devices of fs, disk, logical and zfs pools with each other
    _assert_refused_both_ways(dict(name=second, type="disk", target=dict(path="/dev"), build=False,
                                   source=dict(devices=[dict(path=device)], format="gpt")),
                              "source.devices", first, device)


def test_netfs_export_of_another_pool(prefix, pools, workdir):
    first, second = prefix + "nfs1", prefix + "nfs2"
    pools.extend([first, second])
    source = dict(hosts=[dict(name="nfs-%s.example.com" % prefix.strip("-"))], dir="/export/images")
    made = run_module("storage_pool", dict(name=first, type="netfs", source=source,
                                           target=dict(path=os.path.join(workdir, "one")), build=False))
    assert made.get("failed") is not True, made
    _assert_refused_both_ways(dict(name=second, type="netfs", source=source, build=False,
                                   target=dict(path=os.path.join(workdir, "two"))), "source.dir", first)


def test_missing_auth_secret_fails_the_real_run_whatever_the_state(prefix, pools):
    """The secret a pool's auth names must exist in a real run; check mode only warns (a task may define it)."""
    name = prefix + "chap"
    pools.append(name)
    usage = prefix + "missing-chap"
    args = dict(name=name, type="iscsi", state="present", target=dict(path="/dev/disk/by-path"), source=dict(
        hosts=[dict(name="san.example.com")], devices=[dict(path="iqn.2024-01.com.example:%s" % name)],
        auth=dict(type="chap", username="u", secret=dict(usage=usage))))
    for state in ("present", "inactive"):
        planned = run_module("storage_pool", dict(args, state=state), check=True)
        assert planned.get("failed") is not True and planned["changed"] is True, planned
        assert any("source.auth.secret" in w and usage in w for w in warnings_of(planned)), planned
        refused = run_module("storage_pool", dict(args, state=state))
        assert_refused(refused, "source.auth.secret", usage)
        assert not pool_exists(name)
