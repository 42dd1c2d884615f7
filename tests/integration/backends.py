"""Real storage back ends for the pool lifecycle tests, as pytest fixtures.

The scripts in ``backends/`` (copied from the shared back-end kit) start and
stop one back end each: ``<type>-up`` prints ``KEY=value`` facts on stdout and
keeps its state under ``$STATE_DIR/<type>``; ``<type>-down`` stops only what
``-up`` started. Every fixture gives every back end its own STATE_DIR under a
fresh temporary directory, so parallel or repeated runs never share a loop
device, a tgtd or a state file, and tears it down whatever the test did.
"""

import glob
import os
import random
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "backends")


def parse_facts(text):
    """Parse the ``KEY=value`` lines of an ``-up`` script (values may be shell-quoted)."""
    facts = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or "=" not in line or line.startswith("#"):
            continue
        key, value = line.split("=", 1)
        words = shlex.split(value)
        facts[key] = " ".join(words) if words else ""
    return facts


def run(argv, env=None, check=True):
    """Run a command; return the CompletedProcess (AssertionError with its output on failure)."""
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (rc %d): %s %s" % (" ".join(argv), proc.returncode,
                                                           proc.stdout, proc.stderr))
    return proc


def stop_leftovers(kind, env):
    """Stop what a killed test run left of back end ``kind`` (its fixture never tore it down): every
    ``virtops-be-<kind>-*`` state directory goes through ``<kind>-down`` (with ``env(state_dir)``), which stops only the processes its pid
    files name. A glusterd left running holds the one port a gluster back end can use."""
    for state_dir in glob.glob(os.path.join(tempfile.gettempdir(), "virtops-be-%s-*" % kind)):
        run([os.path.join(SCRIPTS, kind + "-down")], env=dict(os.environ, STATE_DIR=state_dir, **env(state_dir)),
            check=False)
        shutil.rmtree(state_dir, ignore_errors=True)


class Backend:
    """One instance of a back end: its own STATE_DIR, ``up`` once, ``down`` always."""

    def __init__(self, kind, **env):
        self.kind = kind
        self.state_dir = tempfile.mkdtemp(prefix="virtops-be-%s-" % kind)
        os.chmod(self.state_dir, 0o755)  # QEMU (libvirt-qemu) must traverse to loop images and mounts
        self.env = dict(os.environ, STATE_DIR=self.state_dir, **dict((k, str(v)) for k, v in env.items()))
        self.facts = None

    def up(self):
        proc = run([os.path.join(SCRIPTS, self.kind + "-up")], env=self.env, check=False)
        if proc.returncode != 0:
            self.down()
            raise AssertionError("%s-up failed (rc %d): %s" % (self.kind, proc.returncode, proc.stderr))
        self.facts = parse_facts(proc.stdout)
        return self.facts

    def down(self):
        run([os.path.join(SCRIPTS, self.kind + "-down")], env=self.env, check=False)
        shutil.rmtree(self.state_dir, ignore_errors=True)


def _unmount_device(device):
    """Unmount every mount of ``device`` (a pool a failed test left mounted)."""
    with open("/proc/mounts") as handle:
        points = [line.split()[1] for line in handle if line.split()[0] == device]
    for point in reversed(points):
        run(["umount", point], check=False)


@pytest.fixture
def loopfs():
    """Factory: ``loopfs(fstype='none', size='512M')`` -> the facts of a new loopfs back end.

    ``fstype`` is LOOPFS_FSTYPE: ext4, xfs or none (a blank device for the
    module to format). Every device made is unmounted and detached afterwards.
    """
    made = []

    def make(fstype="none", size="512M"):
        backend = Backend("loopfs", LOOPFS_FSTYPE=fstype, LOOPFS_SIZE=size)
        made.append(backend)
        facts = backend.up()
        assert facts["LOOPFS_DEVICE"].startswith("/dev/loop"), facts
        return facts

    yield make
    for backend in reversed(made):
        if backend.facts:
            _unmount_device(backend.facts["LOOPFS_DEVICE"])
        backend.down()


@pytest.fixture
def loopdisk():
    """Factory: ``loopdisk(size='512M')`` -> the facts of a new blank, partition-scanned loop device."""
    made = []

    def make(size="512M"):
        backend = Backend("loopdisk", LOOPDISK_SIZE=size)
        made.append(backend)
        facts = backend.up()
        assert facts["LOOPDISK_DEVICE"].startswith("/dev/loop"), facts
        return facts

    yield make
    for backend in reversed(made):
        if backend.facts:
            device = backend.facts["LOOPDISK_DEVICE"]
            with open("/proc/mounts") as handle:
                parts = sorted(set(line.split()[0] for line in handle if line.startswith(device)))
            for part in parts:
                _unmount_device(part)
        backend.down()


@pytest.fixture
def loop_device():
    """Factory: ``loop_device(size='512M', partscan=False)`` -> the path of an extra loop device.

    A sparse image (truncate) under a private temporary directory attached with
    ``losetup -f --show [-P]``; detached and removed afterwards.
    """
    made = []
    tmp = tempfile.mkdtemp(prefix="virtops-loop-")

    def make(size="512M", partscan=False):
        image = os.path.join(tmp, "disk%d.img" % len(made))
        run(["truncate", "-s", size, image])
        argv = ["losetup", "-f", "--show"] + (["-P"] if partscan else []) + [image]
        device = run(argv).stdout.strip()
        assert device.startswith("/dev/loop"), device
        made.append(device)
        return device

    yield make
    for device in reversed(made):
        _unmount_device(device)
        run(["losetup", "-d", device], check=False)
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def iscsi():
    """A private tgtd (CHAP, two 256M LUNs) on 127.0.0.1; its facts. Stopped afterwards.

    A random portal port (from 3262) and control port (20-60) so that it never
    meets another run's tgtd; a port somebody else holds is retried.
    """
    def settings():
        return dict(ISCSI_PORT=3262 + random.randint(0, 2000), TGT_CONTROL_PORT=random.randint(20, 60))
    backend = started_on_free_ports("iscsi", settings)
    try:
        yield backend.facts
    finally:
        backend.down()


def started_on_free_ports(kind, settings, attempts=6):
    """A Backend of ``kind`` up with ``settings()`` (random ports); other ports when some are taken."""
    errors = []
    for dummy in range(attempts):
        backend = Backend(kind, **settings())
        try:
            backend.up()
            return backend
        except AssertionError as exc:  # a port in use: up() already ran down()
            errors.append(str(exc))
    raise AssertionError("%s-up never succeeded: %s" % (kind, errors))


@pytest.fixture(scope="module")
def ceph():
    """A single-node Ceph on 127.0.0.1 (1 mon, 1 osd on a 4 GiB file, 1 mgr, cephx); its facts, for the tests of
    one module (its daemons would slow down the rest of the run).

    Random monitor ports (from 16789) so that it never meets another run's cluster; ports somebody else holds
    are retried. ``ceph_admin(*args)`` runs the ``ceph``/``rbd`` command line against it. Stopped at the end.
    """
    def settings():
        port = 16789 + 2 * random.randint(0, 4000)
        return dict(CEPH_MON_PORT=port, CEPH_MON_PORT_V2=port + 1, CEPH_OSD_SIZE="4G")
    stop_leftovers("ceph", lambda state_dir: {})
    backend = started_on_free_ports("ceph", settings, attempts=4)
    try:
        yield backend.facts
    finally:
        backend.down()


def stop_pid(pid):
    """Stop process ``pid`` of a back end (a fault a test makes) and wait until it is gone."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists("/proc/%d" % pid), "process %d did not stop" % pid


def up_again(kind, facts, *settings):
    """Run ``<kind>-up`` again on the state of the back end of ``facts`` (it starts what is down, keeps the rest),
    with the ``settings`` facts it was started with; ``facts`` is updated (new pids)."""
    state_dir = os.path.dirname(facts["%s_STATE_DIR" % kind.upper()])
    env = dict(os.environ, STATE_DIR=state_dir, **dict((key, facts[key]) for key in settings))
    facts.update(parse_facts(run([os.path.join(SCRIPTS, kind + "-up")], env=env).stdout))


def ceph_admin(facts, command, *args, check=True):
    """Run ``ceph`` or ``rbd`` (``command``) as client.admin of the cluster of ``facts``; its stdout."""
    return run([command, "-c", facts["CEPH_CONF"]] + list(args), check=check).stdout


@pytest.fixture(scope="module")
def gluster():
    """A glusterd on 127.0.0.1 with one started single-brick volume; its facts, for the tests of one module.

    glusterd listens on 24007 (libgfapi and mount.glusterfs know no other port), so one run at a time per host;
    the volume's name is random, so that a leftover of another run is never taken for this one's.
    """
    def leftover_volume(state_dir):
        volumes = glob.glob(os.path.join(state_dir, "gluster", "lib", "vols", "*"))
        return dict(GLUSTER_VOLUME=os.path.basename(volumes[0])) if volumes else {}
    stop_leftovers("gluster", leftover_volume)
    backend = Backend("gluster", GLUSTER_VOLUME="vt%s" % random.randint(100000, 999999))
    backend.up()
    try:
        yield backend.facts
    finally:
        backend.down()


@pytest.fixture
def session_hypervisor():
    """A second hypervisor on this host: the qemu:///session daemon of a non-root user (lbt-session, made for the
    test and removed after it); its facts. Modules reach it as that user (sudo) with uri qemu:///session; its
    daemon is spawned by the first connection and stopped, with its state, at the end."""
    stop_leftovers("session", lambda state_dir: {})
    backend = Backend("session")
    backend.up()
    try:
        yield backend.facts
    finally:
        backend.down()
