"""libvirtd killed in the middle of a task (SIGTERM and SIGKILL): a clear error, then a rerun converges.

Each test kills the real daemon while a task works (a volume creation loop, an
import, a pool build), checks that the failing task says the daemon went away
(not that a parameter is wrong), starts the daemon again as the test command
does (scripts/start-libvirt.sh) and reruns: the host converges to the declared
state, the import to the source's content by checksum.

These tests stop the shared daemon: the suite runs them serially (as
``make test`` runs every integration test).
"""

import json
import os
import signal
import subprocess
import threading
import time

import pytest

# pytest fixtures, used as test arguments
from .backends import loopfs  # noqa: F401  pylint: disable=unused-import
from .conftest import REPO, URI, run_module, run_ok, virsh
from .test_trust_volumes import _start_import, _wait_for_allocation, write_pattern
from .volume_helpers import make_dir_pool, sha256_file, vol_names

# these tests stop the daemon every other test uses: `make integration` runs them after the others, alone
pytestmark = pytest.mark.exclusive

SIGNALS = [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGKILL, id="SIGKILL")]
# what a task that lost the daemon says (LibvirtCallError, or the connection that cannot be opened)
DAEMON_WORDS = ("connection to the libvirt daemon was lost", "is the libvirt daemon running?")


def daemon_pid():
    """The pid of the running system libvirtd (root's: a user's session daemon may run too)."""
    out = subprocess.run(["pgrep", "-u", "root", "-x", "libvirtd"], capture_output=True, text=True, check=False).stdout.split()
    assert len(out) == 1, "expected one libvirtd, found %r" % out
    return int(out[0])


def kill_daemon(sig):
    """Send ``sig`` to libvirtd and wait until it is gone."""
    pid = daemon_pid()
    os.kill(pid, sig)
    deadline = time.time() + 60
    while os.path.exists("/proc/%d" % pid) and time.time() < deadline:
        time.sleep(0.05)
    assert not os.path.exists("/proc/%d" % pid), "libvirtd %d did not stop" % pid


def start_daemon():
    """Start libvirtd again, as the test command does, and wait until it answers."""
    subprocess.run([os.path.join(REPO, "scripts", "start-libvirt.sh")], check=True, capture_output=True)
    assert subprocess.run(["virsh", "-q", "-c", URI, "version"], capture_output=True, check=False).returncode == 0


@pytest.fixture
def daemon_restarted():
    """Whatever a test does to the daemon, it answers again afterwards."""
    yield
    start_daemon()


def assert_daemon_lost(result):
    """The task failed saying the daemon went away, and does not blame a parameter."""
    assert result.get("failed") is True, result
    assert any(words in result["msg"] for words in DAEMON_WORDS), result["msg"]
    assert result.get("param") is None, result
    assert "Traceback" not in result["msg"] + (result.get("exception") or "") + result.get("_stderr", "")


@pytest.mark.parametrize("sig", SIGNALS)
def test_volume_creation_loop(sig, workdir, prefix, pools, daemon_restarted):  # pylint: disable=unused-argument
    """Killed during a loop of volume creations; the rerun of the loop makes every volume, each one clean."""
    pool = prefix + "loop"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "loop"))
    tasks = [dict(pool=pool, name="vm%02d.qcow2" % i, capacity="64M", format="qcow2", preallocation="metadata")
             for i in range(12)] + \
            [dict(pool=pool, name="raw%02d.img" % i, capacity="48M", preallocation="full") for i in range(12)]
    results = []

    def loop():
        for args in tasks:
            results.append(run_module("storage_volume", args))
            if results[-1].get("failed"):
                return

    worker = threading.Thread(target=loop)
    worker.start()
    while len(results) < 4:
        time.sleep(0.02)
    kill_daemon(sig)
    worker.join(300)
    failed = [result for result in results if result.get("failed")]
    assert len(failed) == 1 and results[-1] is failed[0], results
    assert_daemon_lost(failed[0])

    start_daemon()
    for args in tasks:
        run_ok("storage_volume", args)
    assert sorted(vol_names(pool)) == sorted(args["name"] for args in tasks)
    for args in tasks:
        path = os.path.join(target, args["name"])
        check = subprocess.run(["qemu-img", "check", "-U", path], capture_output=True, text=True, check=False)
        if args["name"].endswith(".qcow2"):
            assert check.returncode == 0, (path, check.stdout, check.stderr)
        else:
            assert os.path.getsize(path) == 48 * 1024 * 1024
            with open(path, "rb") as handle:
                assert handle.read().count(0) == 48 * 1024 * 1024, path
    for args in tasks:
        assert run_ok("storage_volume", args)["changed"] is False


@pytest.mark.parametrize("sig", SIGNALS)
def test_import(sig, workdir, prefix, pools, imported, daemon_restarted):  # pylint: disable=unused-argument
    """Killed during the upload of an import: a clear error; the rerun imports again, the checksum matches."""
    pool = prefix + "imp"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "imp"))
    source = write_pattern(os.path.join(workdir, "big.raw"), 512 * 1024 * 1024)
    source_sha = sha256_file(source)
    path = os.path.join(target, "big.img")
    imported.append((pool, "big.img"))
    args = dict(pool=pool, name="big.img", format="raw", import_from=dict(src=source, checksum="sha256:" + source_sha))

    proc = _start_import(args)
    try:
        _wait_for_allocation(path, 64 * 1024 * 1024, proc)
        kill_daemon(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        os.unlink(proc.args_file)
    result = dict(json.loads(out), _stderr=err.decode())
    assert_daemon_lost(result)

    start_daemon()
    real = run_ok("storage_volume", args, changed=True)
    assert real["actions"][0].startswith("re-import volume big.img") or \
        real["actions"][0].startswith("create volume big.img"), real["actions"]
    assert sha256_file(path) == source_sha
    assert run_ok("storage_volume", args)["changed"] is False


def _wait_for_mkfs(device, worker):
    """True once the daemon runs mkfs on ``device``; False when the build ended first."""
    while worker.is_alive():
        if subprocess.run(["pgrep", "-f", "mkfs.*%s" % device], capture_output=True, check=False).stdout.strip():
            return True
        time.sleep(0.002)
    return False


@pytest.mark.parametrize("sig", SIGNALS)
def test_pool_build(sig, loopfs, workdir, prefix, pools, daemon_restarted):  # pylint: disable=unused-argument,redefined-outer-name
    """Killed while the fs pool's build runs mkfs: a clear error; the rerun builds, mounts and starts the pool."""
    device = loopfs("none", "1G")["LOOPFS_DEVICE"]
    pool = prefix + "build"
    target = os.path.join(workdir, "build")
    pools.append(pool)
    args = dict(name=pool, type="fs", state="active", target=dict(path=target),
                source=dict(devices=[dict(path=device)], format="ext4"))
    results = []

    def build():
        try:
            results.append(run_module("storage_pool", args))
        except AssertionError as exc:  # the module printed no JSON: keep why, for the assertion below
            results.append({"failed": True, "msg": "no result: %s" % exc})

    # mkfs of a blank device can end before the test sees it: then undo that pool and try again
    for dummy_attempt in range(5):
        results.clear()
        worker = threading.Thread(target=build)
        worker.start()
        if _wait_for_mkfs(device, worker):
            break
        worker.join(120)
        virsh("pool-destroy", pool, check=False)
        virsh("pool-undefine", pool, check=False)
        subprocess.run(["umount", target], capture_output=True, check=False)
        subprocess.run(["wipefs", "-a", "-q", device], capture_output=True, check=True)
    else:
        raise AssertionError("the build's mkfs was never seen running in 5 attempts: %s" % results)
    kill_daemon(sig)
    worker.join(120)
    assert_daemon_lost(results[0])
    while subprocess.run(["pgrep", "-f", "mkfs.*%s" % device], capture_output=True, check=False).stdout.strip():
        time.sleep(0.1)  # the daemon's mkfs, orphaned, finishes on its own

    start_daemon()
    real = run_ok("storage_pool", args)
    assert real["pool"]["active"], real
    with open("/proc/mounts") as handle:
        assert any(line.split()[:3] == [device, target, "ext4"] for line in handle)
    assert run_ok("storage_pool", args)["changed"] is False
    assert virsh("pool-info", pool).count("running") == 1
