"""Small host-side helpers for the storage volume integration tests.

Everything here reads or prepares the host the way an operator would check it
(virsh, qemu-img, stat, parted, sha256); nothing goes through the modules
except ``make_dir_pool``. The helpers that create something (pools, secrets,
guests, an HTTP server) are paired with their removal, and the test fixtures
call the removal whatever happened.
"""

import contextlib
import functools
import hashlib
import http.server
import json
import os
import subprocess
import tempfile
import threading

from lxml import etree

from .conftest import URI, define_secret, run_module, virsh

MIB = 1024 * 1024


# ---------------------------------------------------------------- pools and volumes (virsh)

def make_dir_pool(pools, name, path):
    """Define, build and start dir pool ``name`` at ``path`` with storage_pool; register it in ``pools``."""
    pools.append(name)
    result = run_module("storage_pool", dict(name=name, type="dir", target=dict(path=path), state="active"))
    assert not result.get("failed") and result["pool"]["active"], result
    return path


def vol_names(pool, refresh=True):
    """Names of the volumes of ``pool``: after a pool refresh (what is on the storage), or as libvirt lists them."""
    if refresh:
        virsh("pool-refresh", pool)
    return [line.split()[0] for line in virsh("vol-list", pool).splitlines() if line.strip()]


def vol_exists(pool, name):
    """True when libvirt knows volume ``name`` of ``pool`` (no refresh: what libvirt currently lists)."""
    return subprocess.run(["virsh", "-q", "-c", URI, "vol-info", "--pool", pool, name],
                          capture_output=True, check=False).returncode == 0


def vol_xml(pool, name):
    """``virsh vol-dumpxml`` of a volume as an lxml element."""
    return etree.fromstring(virsh("vol-dumpxml", "--pool", pool, name).encode("utf-8"))


def vol_info(pool, name):
    """``virsh vol-info --bytes`` as a dict: {'Type': 'file', 'Capacity': int, 'Allocation': int}."""
    facts = {}
    for line in virsh("vol-info", "--bytes", "--pool", pool, name).splitlines():
        if ":" in line:
            key, value = (part.strip() for part in line.split(":", 1))
            facts[key] = int(value.split()[0]) if key in ("Capacity", "Allocation") else value
    return facts


# ---------------------------------------------------------------- images (qemu-img, stat, sha256)

def qemu_img_info(path):
    """``qemu-img info --output=json`` of an image (-U: readable while libvirt holds it)."""
    proc = subprocess.run(["qemu-img", "info", "-U", "--output=json", path], capture_output=True, text=True,
                          check=True)
    return json.loads(proc.stdout)


def allocated(path):
    """Bytes the file at ``path`` really occupies (st_blocks, what du counts)."""
    return os.stat(path).st_blocks * 512


def sha256_file(path):
    """sha256 hex digest of a file's or block device's bytes."""
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(4 * MIB), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def raw_sha256(path, fmt=None):
    """sha256 of the guest-visible content of an image: ``qemu-img convert -O raw`` of it, hashed."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw")
        argv = ["qemu-img", "convert", "-U"] + (["-f", fmt] if fmt else []) + ["-O", "raw", path, raw]
        subprocess.run(argv, check=True, capture_output=True)
        return sha256_file(raw)


def reads_as_zeros(path):
    """True when every byte of ``path`` is zero."""
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(4 * MIB), b""):
            if chunk.count(0) != len(chunk):
                return False
    return True


def write_random(path, offsets_mib, length_mib=1, size=None):
    """Write ``length_mib`` MiB of random bytes at each offset (MiB) of ``path``; ``size`` truncates it first.

    With ``size`` a new sparse file of that many bytes is made: holes except the data written.
    """
    if size is not None:
        with open(path, "wb") as handle:
            handle.truncate(size)
    with open(path, "r+b") as handle:
        for offset in offsets_mib:
            handle.seek(offset * MIB)
            handle.write(os.urandom(length_mib * MIB))
    return path


def parted_numbers(device):
    """Partition numbers on ``device`` as ``parted -s -m DEV unit B print`` lists them."""
    out = subprocess.run(["parted", "-s", "-m", device, "unit", "B", "print"], capture_output=True, text=True,
                         check=True).stdout
    # machine format: 'BYT;', the device line, then 'number:start:end:size:fs:name:flags;'
    return [int(line.split(":")[0]) for line in out.splitlines()[2:] if line.split(":")[0].isdigit()]


# ---------------------------------------------------------------- what an operator sees of the host

def partition_table(device):
    """``parted -s -m DEV unit B print`` of ``device`` with its exit code (parted fails on a device without a label)."""
    proc = subprocess.run(["parted", "-s", "-m", device, "unit", "B", "print"], capture_output=True, text=True,
                          check=False)
    return proc.returncode, proc.stdout


def signatures(device):
    """``blkid -p`` (no cache) of ``device`` as a dict: TYPE, PTTYPE, UUID, ... ({} when blkid finds nothing)."""
    proc = subprocess.run(["blkid", "-p", "-o", "export", device], capture_output=True, text=True, check=False)
    assert proc.returncode in (0, 2), proc.stderr  # 2: nothing found
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def mount_points(device):
    """Where ``device`` is mounted, from /proc/mounts."""
    with open("/proc/mounts") as handle:
        return [line.split()[1] for line in handle if line.split()[0] == device]


def _listed(*args):
    """The lines of a virsh listing, each split into words."""
    return [line.split() for line in virsh(*args).splitlines() if line.strip()]


def pool_definition(name):
    """The persistent XML of pool ``name`` without its sizes (capacity, allocation, available follow the host)."""
    root = etree.fromstring(virsh("pool-dumpxml", "--inactive", name).encode("utf-8"))
    for element in root.xpath("capacity | allocation | available"):
        root.remove(element)
    return etree.tostring(root, encoding="unicode")


def host_state(prefix, devices=()):
    """What virsh, parted, blkid and /proc/mounts show of one test's objects, to compare before and after a task.

    Only the pools, guests and secrets named with ``prefix`` count (the daemon is shared with other runs):
    pools with their state, autostart, persistent definition and volumes, guests with their definition,
    secrets with their usage; and each of ``devices`` with its partition table, signatures and mounts.
    """
    pools = [row for row in _listed("pool-list", "--all") if row[0].startswith(prefix)]
    guests = [row[0] for row in _listed("list", "--all", "--name") if row[0].startswith(prefix)]
    return {
        "pools": dict((row[0], (row[1:], pool_definition(row[0]),
                                vol_names(row[0], refresh=False) if row[1] == "active" else None))
                      for row in pools),
        "guests": dict((name, virsh("dumpxml", "--inactive", name)) for name in guests),
        "secrets": [row for row in _listed("secret-list") if any(prefix in word for word in row)],
        "devices": dict((device, (partition_table(device), signatures(device), mount_points(device)))
                        for device in devices),
    }


# ---------------------------------------------------------------- secrets and guests

def define_volume_secret(usage, passphrase):
    """Define a private volume secret for ``usage`` holding ``passphrase``; return its uuid."""
    return define_secret("volume", usage, passphrase)


def undefine_secret(secret_uuid):
    """Undefine a secret (no error when it is already gone)."""
    virsh("secret-undefine", secret_uuid, check=False)


def define_guest(name, disk_sources):
    """Define (not start) a minimal guest whose disks are the given ``<source>`` attribute dicts.

    ``{'file': path}`` makes a file disk, ``{'pool': p, 'volume': v}`` a ``type='volume'`` disk.
    """
    disks = []
    for index, source in enumerate(disk_sources):
        kind = "volume" if "volume" in source else "file"
        attrs = " ".join("%s='%s'" % item for item in sorted(source.items()))
        disks.append("<disk type='%s' device='disk'><driver name='qemu' type='raw'/><source %s/>"
                     "<target dev='vd%s' bus='virtio'/></disk>" % (kind, attrs, "abcdefgh"[index]))
    xml = ("<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
           "<os><type arch='x86_64'>hvm</type></os><devices>%s</devices></domain>" % (name, "".join(disks)))
    with tempfile.NamedTemporaryFile("w", suffix=".xml") as handle:
        handle.write(xml)
        handle.flush()
        virsh("define", handle.name)


def undefine_guest(name):
    """Undefine a guest (no error when it is already gone)."""
    virsh("undefine", name, check=False)


# ---------------------------------------------------------------- http

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@contextlib.contextmanager
def http_server(directory):
    """Serve ``directory`` over HTTP on 127.0.0.1 on a free port; yields the base URL; stops it after."""
    handler = functools.partial(_QuietHandler, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
