"""Bad input to storage_volume and storage_volume_info against the real libvirtd: refused, named, nothing changed.

Every case runs the installed module as Ansible does (in normal mode and, where
check mode must see the same error without touching the host, in check mode
too) and checks that it failed, that ``msg`` names the offending parameter,
that no Python traceback leaked out, and that the host is exactly as before:
the volumes of every pool (name, type, capacity, allocation, format, path) as
libvirt sees them after a refresh, the files of the file pools (size and
content), the partition table of the disk pool, the pools and the secrets.

The pools are made once for the module (a dir pool, an fs pool on a loop
device, a gpt disk pool on a partition-scanned loop device, and a defined but
inactive dir pool), with a few volumes the cases refer to.
"""

import base64
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
import xml.etree.ElementTree as ET

import libvirt
import pytest

from .backends import Backend
from .conftest import URI, assert_refused, run_module, substitute, virsh

MIB = 1024 * 1024
RAW_SIZE = 2 * MIB
QCOW2_SIZE = 2 * MIB
FS_VOLUME_SIZE = 1 * MIB
PARTITION_SIZE = 16 * MIB
MARKER = b"virtops bad-input marker: this content must survive every refused task\n"


# ---------------------------------------------------------------- the pools, made once

def _run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, "%s failed: %s %s" % (" ".join(argv), proc.stdout, proc.stderr)
    return proc.stdout


def _define_and_start(xml, build_flags=None):
    folder = tempfile.mkdtemp(prefix="virtops-volbad-xml-")
    path = os.path.join(folder, "pool.xml")
    with open(path, "w") as handle:
        handle.write(xml)
    name = ET.fromstring(xml).findtext("name")
    try:
        virsh("pool-define", path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if build_flags is not None:
        virsh("pool-build", name, *build_flags)
    virsh("pool-start", name)
    return name


def _remove_pool(name):
    virsh("pool-destroy", name, check=False)
    virsh("pool-undefine", name, check=False)


def _closed_port():
    """A local TCP port nothing listens on (bound once, then released)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture(scope="module")
def conn():
    connection = libvirt.open(URI)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def env(conn):
    """Make the pools, volumes, secrets and files the cases use; remove them all afterwards."""
    prefix = "vt-%s-" % uuid.uuid4().hex[:8]
    workdir = tempfile.mkdtemp(prefix="virtops-volbad-")
    os.chmod(workdir, 0o755)
    pools, backends, secrets = [], [], []
    try:
        # a dir pool with a raw volume (holding a marker) and a qcow2 volume
        dir_name = prefix + "dir"
        dir_path = os.path.join(workdir, "dir-pool")
        pools.append(dir_name)
        _define_and_start("<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>"
                          % (dir_name, dir_path), build_flags=[])
        virsh("vol-create-as", dir_name, "raw.img", str(RAW_SIZE), "--format", "raw")
        virsh("vol-create-as", dir_name, "base.qcow2", str(QCOW2_SIZE), "--format", "qcow2")
        with open(os.path.join(dir_path, "raw.img"), "r+b") as handle:
            handle.write(MARKER)
        virsh("pool-refresh", dir_name)

        # an fs pool (ext4 on a loop device) with one raw volume
        loopfs = Backend("loopfs", LOOPFS_FSTYPE="ext4", LOOPFS_SIZE="64M")
        backends.append(loopfs)
        fs_facts = loopfs.up()
        fs_name = prefix + "fs"
        pools.append(fs_name)
        _define_and_start("<pool type='fs'><name>%s</name><source><device path='%s'/><format type='ext4'/>"
                          "</source><target><path>%s</path></target></pool>"
                          % (fs_name, fs_facts["LOOPFS_DEVICE"], fs_facts["LOOPFS_TARGET"]))
        virsh("vol-create-as", fs_name, "other.img", str(FS_VOLUME_SIZE), "--format", "raw")

        # a gpt disk pool on a partition-scanned loop device with its first partition
        loopdisk = Backend("loopdisk", LOOPDISK_SIZE="128M")
        backends.append(loopdisk)
        disk_facts = loopdisk.up()
        device = disk_facts["LOOPDISK_DEVICE"]
        part_prefix = disk_facts["LOOPDISK_PART_PREFIX"]
        disk_name = prefix + "disk"
        pools.append(disk_name)
        _define_and_start("<pool type='disk'><name>%s</name><source><device path='%s'/><format type='gpt'/>"
                          "</source><target><path>/dev</path></target></pool>" % (disk_name, device),
                          build_flags=["--overwrite"])
        virsh("vol-create-as", disk_name, part_prefix + "1", str(PARTITION_SIZE), "--format", "linux")

        # a dir pool defined but never started
        inactive_name = prefix + "inactive"
        pools.append(inactive_name)
        virsh("pool-define-as", inactive_name, "dir", "--target", os.path.join(workdir, "inactive-pool"))

        # secrets: volume secrets without a value (one private: its value cannot be read back, so only
        # libvirt's refusal at creation tells), a ceph secret with one
        novalue = conn.secretDefineXML("<secret ephemeral='no' private='no'><usage type='volume'>"
                                       "<volume>%s/novalue.img</volume></usage></secret>" % dir_path, 0)
        secrets.append(novalue.UUIDString())
        private_novalue = conn.secretDefineXML("<secret ephemeral='no' private='yes'><usage type='volume'>"
                                               "<volume>%s/private-novalue.img</volume></usage></secret>" % dir_path, 0)
        secrets.append(private_novalue.UUIDString())
        ceph = conn.secretDefineXML("<secret ephemeral='no' private='yes'><usage type='ceph'>"
                                    "<name>%sceph</name></usage></secret>" % prefix, 0)
        secrets.append(ceph.UUIDString())
        ceph.setValue(b"not-a-volume-passphrase", 0)

        # a small real image to import
        src = os.path.join(workdir, "src.raw")
        with open(src, "wb") as handle:
            handle.write(MARKER * 64)
            handle.truncate(MIB)
        with open(src, "rb") as handle:
            src_sha256 = hashlib.sha256(handle.read()).hexdigest()

        tokens = {
            "@PREFIX": prefix, "@WORK": workdir,
            "@DIRPATH": dir_path, "@DIR": dir_name, "@FS": fs_name, "@DISK": disk_name,
            "@INACTIVE": inactive_name, "@MISSING": prefix + "nopool",
            "@P1": part_prefix + "1", "@NEXT": part_prefix + "2", "@WRONG": part_prefix + "5",
            "@SRCSUM": src_sha256, "@SRC": src, "@PORT": str(_closed_port()),
            "@NOSECRET": str(uuid.uuid4()), "@NOVALUE": novalue.UUIDString(),
            "@PRIVATE_NOVALUE": private_novalue.UUIDString(), "@CEPH": ceph.UUIDString(),
        }
        info = {
            "prefix": prefix, "workdir": workdir, "tokens": tokens, "device": device,
            "pools": {dir_name: ("dir", dir_path), fs_name: ("fs", fs_facts["LOOPFS_TARGET"]),
                      disk_name: ("disk", device)},
            "inactive": inactive_name, "part_prefix": part_prefix,
        }
        info["baseline"] = host_state(conn, info)
        yield info
    finally:
        for name in reversed(pools):
            _remove_pool(name)
        for secret_uuid in secrets:
            virsh("secret-undefine", secret_uuid, check=False)
        for backend in reversed(backends):
            backend.down()
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------- the host, before and after

def _volume_row(volume):
    root = ET.fromstring(volume.XMLDesc(0))
    fmt = root.find("target/format")
    return {"type": root.get("type"), "capacity": int(root.findtext("capacity")),
            "allocation": int(root.findtext("allocation")), "path": root.findtext("target/path"),
            "format": fmt.get("type") if fmt is not None else None,
            "backing": root.findtext("backingStore/path"), "encrypted": root.find("target/encryption") is not None}


def _files(path):
    """name -> (size, sha256) of the files in a file pool's directory (directories by name only)."""
    result = {}
    for entry in sorted(os.listdir(path)):
        full = os.path.join(path, entry)
        if os.path.isdir(full):
            result[entry] = "dir"
            continue
        with open(full, "rb") as handle:
            result[entry] = (os.path.getsize(full), hashlib.sha256(handle.read()).hexdigest())
    return result


def host_state(conn, info):
    """Everything a refused task must leave as it was."""
    state = {}
    for name, (kind, where) in sorted(info["pools"].items()):
        pool = conn.storagePoolLookupByName(name)
        assert pool.isActive(), "pool %s is not running any more" % name
        pool.refresh(0)  # what libvirt would find now, not what it last saw
        state[name] = dict((v.name(), _volume_row(v)) for v in pool.listAllVolumes(0))
        if kind == "disk":
            state[name + " parted"] = _run(["parted", "-s", "-m", where, "unit", "B", "print"])
        else:
            state[name + " files"] = _files(where)
    inactive = conn.storagePoolLookupByName(info["inactive"])
    state["inactive pool"] = (inactive.isActive(), inactive.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE))
    state["pools"] = sorted(p.name() for p in conn.listAllStoragePools(0) if p.name().startswith(info["prefix"]))
    # the daemon is shared: only the secrets that name this module's pools, paths or prefix
    state["secrets"] = sorted(s.UUIDString() for s in conn.listAllSecrets(0)
                              if info["prefix"] in (s.usageID() or "") or info["workdir"] in (s.usageID() or ""))
    return state


def assert_unchanged(before, after):
    """The host state ``after`` a task is ``before``; the message shows what differs."""
    changed = dict((key, (before.get(key), after.get(key))) for key in sorted(set(before) | set(after))
                   if before.get(key) != after.get(key))
    assert not changed, "the host changed (before, after): %r" % changed


def restore(conn, info):
    """Best effort: remove volumes a failed case left behind, so that the next cases start from the baseline."""
    baseline = info["baseline"]
    for name, (kind, where) in info["pools"].items():
        pool = conn.storagePoolLookupByName(name)
        pool.refresh(0)
        for volume in pool.listAllVolumes(0):
            if volume.name() in baseline[name]:
                continue
            try:
                volume.delete(0)
            except libvirt.libvirtError:
                if kind == "disk":  # libvirt 9.0 cannot delete loopNpM: remove the partition by number
                    number = volume.name()[len(info["part_prefix"]):]
                    subprocess.run(["parted", "-s", where, "rm", number], check=False, capture_output=True)
        pool.refresh(0)


# ---------------------------------------------------------------- the cases

def _secret(**secret):
    return {"secret": secret}


def _import(src="@SRC", **extra):
    return dict({"src": src}, **extra)


VOL, INFO = "storage_volume", "storage_volume_info"
NEW = "new.img"

# (id, module, args, parameter named in msg, fragment of msg, ours, same error in check mode)
# '@...' tokens are replaced by the names of the module's pools, volumes, files and secrets (see env).
CASES = [
    # pools
    ("unknown-pool", VOL, dict(pool="@MISSING", name=NEW, capacity="1M"), "pool",
     "storage pool @MISSING does not exist", True, True),
    ("inactive-pool", VOL, dict(pool="@INACTIVE", name=NEW, capacity="1M"), "pool",
     "storage pool @INACTIVE is inactive", True, True),
    # names
    ("missing-name-dir-pool", VOL, dict(pool="@DIR", capacity="1M"), "name",
     "required (only disk pools pick a name", True, True),
    ("missing-name-absent-disk-pool", VOL, dict(pool="@DISK", state="absent"), "name",
     "required with state: absent", True, True),
    ("name-with-slash", VOL, dict(pool="@DIR", name="a/b", capacity="1M"), "name",
     "'a/b' is not a volume name", True, True),
    ("name-dot-dot", VOL, dict(pool="@DIR", name="..", capacity="1M"), "name",
     "'..' is not a volume name", True, True),
    ("name-dot", VOL, dict(pool="@DIR", name=".", capacity="1M"), "name", "'.' is not a volume name", True, True),
    ("name-empty", VOL, dict(pool="@DIR", name="", capacity="1M"), "name", "cannot be empty", True, True),
    ("wrong-partition-number", VOL, dict(pool="@DISK", name="@WRONG", capacity="16M", format="linux"), "name",
     "a new volume of disk pool @DISK must be named @NEXT", True, True),
    ("partition-name-not-of-device", VOL, dict(pool="@DISK", name="data", capacity="16M"), "name",
     "must be named @NEXT", True, True),
    # sizes
    ("capacity-unknown-unit", VOL, dict(pool="@DIR", name=NEW, capacity="10 foo"), "capacity",
     "unknown unit 'foo'", True, True),
    ("capacity-negative", VOL, dict(pool="@DIR", name=NEW, capacity="-1G"), "capacity", "cannot be negative",
     True, True),
    ("capacity-word", VOL, dict(pool="@DIR", name=NEW, capacity="abc"), "capacity", "'abc' is not a size",
     True, True),
    ("capacity-boolean", VOL, dict(pool="@DIR", name=NEW, capacity=True), "capacity", "got a boolean", True, True),
    ("capacity-decimal", VOL, dict(pool="@DIR", name=NEW, capacity="1.5G"), "capacity", "is not a size",
     True, True),
    ("capacity-list", VOL, dict(pool="@DIR", name=NEW, capacity=[1, "G"]), "capacity", "is not a size",
     True, True),
    ("capacity-too-large", VOL, dict(pool="@DIR", name=NEW, capacity="20E"), "capacity",
     "larger than libvirt can store", True, True),
    ("capacity-zero", VOL, dict(pool="@DIR", name=NEW, capacity=0), "capacity", "above 0", True, True),
    ("capacity-zero-with-unit", VOL, dict(pool="@DIR", name=NEW, capacity="0G"), "capacity", "above 0",
     True, True),
    ("capacity-missing-new-volume", VOL, dict(pool="@DIR", name=NEW, format="raw"), "capacity",
     "required to create volume new.img", True, True),
    ("capacity-missing-new-partition", VOL, dict(pool="@DISK", format="linux"), "capacity",
     "required to create volume (next partition)", True, True),
    ("allocation-word", VOL, dict(pool="@DIR", name=NEW, capacity="1M", allocation="lots"), "allocation",
     "is not a size", True, True),
    ("allocation-negative", VOL, dict(pool="@DIR", name=NEW, capacity="1M", allocation=-5), "allocation",
     "cannot be negative", True, True),
    ("allocation-above-capacity", VOL, dict(pool="@DIR", name=NEW, capacity="1M", allocation="2M"), "allocation",
     "is larger than capacity", True, True),
    ("allocation-with-falloc", VOL, dict(pool="@DIR", name=NEW, capacity="2M", allocation="1M",
                                         preallocation="falloc"), "allocation",
     "cannot be combined with preallocation falloc", True, True),
    # formats
    ("format-qcow2-on-disk-pool", VOL, dict(pool="@DISK", capacity="16M", format="qcow2"), "format",
     "'qcow2' is not a volume format of disk pools", True, True),
    ("format-bogus", VOL, dict(pool="@DIR", name=NEW, capacity="1M", format="bogus"), "format",
     "'bogus' is not a volume format of dir pools", True, True),
    ("format-bogus-fs-pool", VOL, dict(pool="@FS", name=NEW, capacity="1M", format="bogus"), "format",
     "'bogus' is not a volume format of fs pools", True, True),
    ("format-change-of-existing", VOL, dict(pool="@DIR", name="raw.img", format="qcow2"), "format",
     "volume raw.img exists with format raw", True, True),
    ("format-change-of-existing-qcow2", VOL, dict(pool="@DIR", name="base.qcow2", format="raw",
                                                  capacity=QCOW2_SIZE), "format",
     "volume base.qcow2 exists with format qcow2", True, True),
    # qcow2 options and preallocation
    ("compat-on-raw", VOL, dict(pool="@DIR", name=NEW, capacity="1M", format="raw", compat="1.1"),
     "compat", "applies to qcow2 volumes only, and format is raw: set format: qcow2", True, True),
    ("cluster-size-on-default-format", VOL, dict(pool="@DIR", name=NEW, capacity="1M", cluster_size="64K"),
     "cluster_size", "format is unset (raw, libvirt's default): set format: qcow2", True, True),
    ("lazy-refcounts-with-compat-0.10", VOL, dict(pool="@DIR", name="new.qcow2", capacity="1M", format="qcow2",
                                                  compat="0.10", lazy_refcounts=True), "lazy_refcounts",
     "needs compat 1.1", True, True),
    ("cluster-size-not-power-of-two", VOL, dict(pool="@DIR", name="new.qcow2", capacity="1M", format="qcow2",
                                                cluster_size=3000), "cluster_size", "must be a power of two",
     True, True),
    ("cluster-size-too-large", VOL, dict(pool="@DIR", name="new.qcow2", capacity="8M", format="qcow2",
                                         cluster_size="4M"), "cluster_size", "between 512 bytes and 2 MiB", True, True),
    ("cluster-size-too-small", VOL, dict(pool="@DIR", name="new.qcow2", capacity="1M", format="qcow2",
                                         cluster_size=256), "cluster_size", "between 512 bytes and 2 MiB", True, True),
    ("compat-unknown", VOL, dict(pool="@DIR", name="new.qcow2", capacity="1M", format="qcow2", compat="2.0"),
     "compat", "value of compat must be one of", False, True),
    ("preallocation-metadata-on-raw", VOL, dict(pool="@DIR", name=NEW, capacity="1M", format="raw",
                                                preallocation="metadata"), "preallocation",
     "metadata preallocation needs format: qcow2", True, True),
    ("preallocation-full-on-qcow2", VOL, dict(pool="@DIR", name="new.qcow2", capacity="1M", format="qcow2",
                                              preallocation="full"), "preallocation",
     "applies to raw volumes only", True, True),
    ("preallocation-falloc-with-clone", VOL, dict(pool="@DIR", name=NEW, preallocation="falloc",
                                                  clone_from={"name": "raw.img"}), "preallocation",
     "applies to empty volumes only, not with clone_from", True, True),
    ("preallocation-unknown", VOL, dict(pool="@DIR", name=NEW, capacity="1M", preallocation="sparse"),
     "preallocation", "value of preallocation must be one of", False, True),
    ("preallocation-on-disk-pool", VOL, dict(pool="@DISK", capacity="16M", preallocation="falloc"),
     "preallocation", "does not apply to volumes of disk pools", True, True),
    ("permissions-on-disk-pool", VOL, dict(pool="@DISK", capacity="16M", permissions={"mode": "0600"}),
     "permissions", "does not apply to volumes of disk pools", True, True),
    ("permissions-mode-word", VOL, dict(pool="@DIR", name=NEW, capacity="1M", permissions={"mode": "rwx"}),
     "permissions.mode", None, True, True),
    ("permissions-owner-negative", VOL, dict(pool="@DIR", name=NEW, capacity="1M", permissions={"owner": -7}),
     "permissions.owner", "is not a uid/gid", True, True),
    # sources
    ("clone-and-import", VOL, dict(pool="@DIR", name=NEW, clone_from={"name": "raw.img"}, import_from=_import()),
     "import_from", "cannot be combined with clone_from", True, True),
    ("clone-and-backing-store", VOL, dict(pool="@DIR", name="new.qcow2", clone_from={"name": "raw.img"},
                                          backing_store={"name": "base.qcow2", "format": "qcow2"}),
     "backing_store", "cannot be combined with clone_from", True, True),
    ("import-and-backing-store", VOL, dict(pool="@DIR", name="new.qcow2", import_from=_import(),
                                           backing_store={"name": "base.qcow2", "format": "qcow2"}),
     "backing_store", "cannot be combined with import_from", True, True),
    ("clone-source-missing", VOL, dict(pool="@DIR", name=NEW, clone_from={"name": "nothing.img"}),
     "clone_from.name", "pool @DIR has no volume nothing.img to clone", True, True),
    ("clone-source-missing-other-pool", VOL, dict(pool="@DIR", name=NEW,
                                                  clone_from={"pool": "@FS", "name": "raw.img"}),
     "clone_from.name", "pool @FS has no volume raw.img to clone", True, True),
    ("clone-source-pool-missing", VOL, dict(pool="@DIR", name=NEW, clone_from={"pool": "@MISSING", "name": "x"}),
     "clone_from.pool", "storage pool @MISSING does not exist", True, True),
    ("clone-source-pool-inactive", VOL, dict(pool="@DIR", name=NEW, clone_from={"pool": "@INACTIVE", "name": "x"}),
     "clone_from.pool", "storage pool @INACTIVE is inactive", True, True),
    ("clone-without-name", VOL, dict(pool="@DIR", name=NEW, clone_from={"pool": "@FS"}), "clone_from",
     "missing required arguments: name", False, True),
    ("backing-store-path-and-name", VOL, dict(pool="@DIR", name="new.qcow2", backing_store={
        "path": "@DIRPATH/base.qcow2", "name": "base.qcow2", "format": "qcow2"}), "backing_store",
     "by path, or by name", True, True),
    ("backing-store-neither-path-nor-name", VOL, dict(pool="@DIR", name="new.qcow2",
                                                      backing_store={"format": "qcow2"}), "backing_store",
     "by path, or by name", True, True),
    ("backing-store-pool-with-path", VOL, dict(pool="@DIR", name="new.qcow2", backing_store={
        "path": "@DIRPATH/base.qcow2", "pool": "@DIR", "format": "qcow2"}), "backing_store.pool",
     "only applies with backing_store.name", True, True),
    ("backing-store-path-missing", VOL, dict(pool="@DIR", name="new.qcow2", backing_store={
        "path": "@WORK/nowhere.qcow2", "format": "qcow2"}), "backing_store.path",
     "@WORK/nowhere.qcow2 does not exist on the host", True, True),
    ("backing-store-volume-missing", VOL, dict(pool="@DIR", name="new.qcow2", backing_store={
        "name": "nothing.qcow2", "format": "qcow2"}), "backing_store.name", "pool @DIR has no volume nothing.qcow2",
     True, True),
    ("backing-store-volume-missing-other-pool", VOL, dict(pool="@DIR", name="new.qcow2", backing_store={
        "pool": "@FS", "name": "base.qcow2", "format": "qcow2"}), "backing_store.name",
     "pool @FS has no volume base.qcow2", True, True),
    ("backing-store-pool-missing", VOL, dict(pool="@DIR", name="new.qcow2", backing_store={
        "pool": "@MISSING", "name": "base.qcow2", "format": "qcow2"}), "backing_store.pool",
     "storage pool @MISSING does not exist", True, True),
    ("backing-store-without-format", VOL, dict(pool="@DIR", name="new.qcow2", backing_store={"name": "base.qcow2"}),
     "backing_store", "missing required arguments: format", False, True),
    ("backing-store-under-raw", VOL, dict(pool="@DIR", name=NEW, format="raw", backing_store={
        "name": "base.qcow2", "format": "qcow2"}), "format", "needs a format that has one", True, True),
    ("backing-store-format-bogus", VOL, dict(pool="@DIR", name="new.qcow2", backing_store={
        "name": "base.qcow2", "format": "bogus"}), "backing_store.format", "bogus", True, True),
    ("backing-store-on-disk-pool", VOL, dict(pool="@DISK", backing_store={"name": "@P1", "format": "linux"}),
     "backing_store", "does not apply to volumes of disk pools", True, True),
    # imports
    ("import-missing-file", VOL, dict(pool="@DIR", name=NEW, import_from=_import("@WORK/nothing.raw")),
     "import_from.src", "file @WORK/nothing.raw does not exist on the host", True, True),
    ("import-relative-path", VOL, dict(pool="@DIR", name=NEW, import_from=_import("images/src.raw")),
     "import_from.src", "'images/src.raw' is neither an absolute path", True, True),
    ("import-file-url", VOL, dict(pool="@DIR", name=NEW, import_from=_import("file://@SRC")), "import_from.src",
     "is neither an absolute path on the host nor an http, https or ftp URL", True, True),
    ("import-sftp-url", VOL, dict(pool="@DIR", name=NEW, import_from=_import("sftp://127.0.0.1/src.raw")),
     "import_from.src", "is neither an absolute path on the host nor an http, https or ftp URL", True, True),
    ("import-directory", VOL, dict(pool="@DIR", name=NEW, import_from=_import("@WORK")), "import_from.src",
     "@WORK", True, True),
    ("checksum-without-algorithm", VOL, dict(pool="@DIR", name=NEW, import_from=_import(checksum="abc")),
     "import_from.checksum", "'abc' is not <algorithm>:<hex digest>", True, True),
    ("checksum-not-hex", VOL, dict(pool="@DIR", name=NEW, import_from=_import(checksum="sha256:zz")),
     "import_from.checksum", "'zz' is not a sha256 digest (64 hex digits)", True, True),
    ("checksum-unknown-algorithm", VOL, dict(pool="@DIR", name=NEW, import_from=_import(checksum="md7:00")),
     "import_from.checksum", "unknown algorithm 'md7'", True, True),
    ("checksum-short", VOL, dict(pool="@DIR", name=NEW, import_from=_import(checksum="sha256:" + "a" * 63)),
     "import_from.checksum", "is not a sha256 digest", True, True),
    # check mode does not read the image (documented in image_import.ImportSource.check): real runs only
    ("checksum-mismatch", VOL, dict(pool="@DIR", name=NEW, import_from=_import(
        checksum="sha256:" + hashlib.sha256(b"something else").hexdigest())), "import_from.checksum",
     "nothing was imported", True, False),
    ("import-url-unreachable", VOL, dict(pool="@DIR", name=NEW, import_from=_import(
        "http://127.0.0.1:@PORT/image.raw", timeout=5)), "import_from.src",
     "cannot download http://127.0.0.1:@PORT/image.raw", True, False),
    ("import-format-bogus", VOL, dict(pool="@DIR", name=NEW, import_from=_import(format="bogus")),
     "import_from.format", "bogus", True, True),
    ("import-on-state-absent", VOL, dict(pool="@DIR", name=NEW, state="absent", import_from=_import()),
     "import_from", "does not apply with state: absent", True, True),
    ("reimport-without-import", VOL, dict(pool="@DIR", name="raw.img", reimport=True), "reimport",
     "only applies with import_from", True, True),
    # encryption
    ("encryption-uuid-and-usage", VOL, dict(pool="@DIR", name=NEW, capacity="1M", encryption=_secret(
        uuid="@NOSECRET", usage="@DIRPATH/new.img")), "encryption.secret", "exactly one of uuid or usage",
     True, True),
    ("encryption-empty-secret", VOL, dict(pool="@DIR", name=NEW, capacity="1M", encryption=_secret()),
     "encryption.secret", "exactly one of uuid or usage", True, True),
    # a missing secret fails the real run only: check mode warns, as an earlier task of the play may define it
    # (test_secret_lifecycle.py proves the warning)
    ("encryption-missing-secret-uuid", VOL, dict(pool="@DIR", name=NEW, capacity="1M", encryption=_secret(
        uuid="@NOSECRET")), "encryption.secret", "no libvirt secret with uuid @NOSECRET", True, False),
    ("encryption-missing-secret-usage", VOL, dict(pool="@DIR", name=NEW, capacity="1M", encryption=_secret(
        usage="@DIRPATH/nothing.img")), "encryption.secret", "no libvirt secret with usage @DIRPATH/nothing.img",
     True, False),
    ("encryption-secret-not-a-uuid", VOL, dict(pool="@DIR", name=NEW, capacity="1M", encryption=_secret(
        uuid="not-a-uuid")), "encryption.secret.uuid", "'not-a-uuid' is not a UUID", True, True),
    ("encryption-secret-without-value", VOL, dict(pool="@DIR", name=NEW, capacity="1M", format="raw",
                                                  encryption=_secret(uuid="@NOVALUE")), "encryption.secret",
     "@NOVALUE", True, True),
    # check mode cannot read a private secret's value: only the real run (libvirt) finds it missing
    ("encryption-private-secret-without-value", VOL, dict(pool="@DIR", name=NEW, capacity="1M", format="raw",
                                                          encryption=_secret(uuid="@PRIVATE_NOVALUE")),
     "encryption.secret", "does not have a value", True, False),
    ("encryption-secret-without-value-default-format", VOL, dict(pool="@DIR", name=NEW, capacity="1M",
                                                                 encryption=_secret(uuid="@NOVALUE")),
     "encryption.secret", "@NOVALUE", True, True),
    ("encryption-secret-of-usage-ceph", VOL, dict(pool="@DIR", name=NEW, capacity="1M", format="raw",
                                                  encryption=_secret(uuid="@CEPH")), "encryption.secret", "@CEPH",
     True, True),
    ("encryption-on-disk-pool", VOL, dict(pool="@DISK", capacity="16M", encryption=_secret(usage="x")),
     "encryption", "does not apply to volumes of disk pools", True, True),
    ("encryption-with-vmdk", VOL, dict(pool="@DIR", name="new.vmdk", capacity="1M", format="vmdk",
                                       encryption=_secret(usage="@DIRPATH/new.vmdk")), "format",
     "LUKS encryption needs format raw or qcow2", True, True),
    ("encryption-format-unknown", VOL, dict(pool="@DIR", name=NEW, capacity="1M", encryption={
        "format": "qcow", "secret": {"usage": "x"}}), "format", "value of format must be one of", False, True),
    # wipe
    ("wipe-algorithm-without-wipe", VOL, dict(pool="@DIR", name="raw.img", wipe_algorithm="dod"), "wipe_algorithm",
     "only applies with wipe: true", True, True),
    ("wipe-algorithm-without-wipe-absent", VOL, dict(pool="@DIR", name="gone.img", state="absent",
                                                     wipe_algorithm="dod"), "wipe_algorithm",
     "only applies with wipe: true", True, True),
    ("wipe-qcow2-present", VOL, dict(pool="@DIR", name="base.qcow2", wipe=True), "wipe",
     "volume base.qcow2 is qcow2", True, True),
    ("wipe-algorithm-unknown", VOL, dict(pool="@DIR", name="raw.img", wipe=True, wipe_algorithm="shred"),
     "wipe_algorithm", "value of wipe_algorithm must be one of", False, True),
    # guest disk options
    ("disk-device-lun-on-dir-pool", VOL, dict(pool="@DIR", name="raw.img", disk={"device": "lun", "bus": "scsi"}),
     "disk.device", "volumes of dir pools are files", True, True),
    ("disk-device-lun-on-virtio", VOL, dict(pool="@DISK", name="@P1", disk={"device": "lun"}), "disk.device",
     "needs bus: scsi", True, True),
    ("disk-mode-on-dir-pool", VOL, dict(pool="@DIR", name="raw.img", disk={"mode": "host"}), "disk.mode",
     "applies to iscsi pools only", True, True),
    ("disk-mode-direct-on-disk-pool", VOL, dict(pool="@DISK", name="@P1", disk={"mode": "direct"}), "disk.mode",
     "pool type disk has no such choice", True, True),
    ("disk-io-native-cache-writeback", VOL, dict(pool="@FS", name="other.img", disk={"io": "native",
                                                                                     "cache": "writeback"}),
     "disk.io", "io native needs cache none or directsync", True, True),
    ("disk-bus-unknown", VOL, dict(pool="@DIR", name="raw.img", disk={"bus": "nvme0"}), "bus",
     "value of bus must be one of", False, True),
    # existing volumes
    ("capacity-with-state-absent", VOL, dict(pool="@DIR", name="raw.img", state="absent", capacity="2M"),
     "capacity", "does not apply with state: absent", True, True),
    ("clone-with-state-absent", VOL, dict(pool="@DIR", name="raw.img", state="absent",
                                          clone_from={"name": "base.qcow2"}), "clone_from",
     "does not apply with state: absent", True, True),
    ("shrink-without-allow-shrink", VOL, dict(pool="@DIR", name="raw.img", capacity="1M"), "allow_shrink",
     "shrinking volume raw.img from 2 MiB to 1 MiB (2097152 -> 1048576 bytes)", True, True),
    ("shrink-fs-volume-without-allow-shrink", VOL, dict(pool="@FS", name="other.img", capacity="512K"),
     "allow_shrink", "Set allow_shrink: true", True, True),
    ("resize-partition", VOL, dict(pool="@DISK", name="@P1", capacity="64M"), "capacity",
     "disk pools cannot resize volumes", True, True),
    # AnsibleModule's checks and the connection
    ("unknown-option", VOL, dict(pool="@DIR", name=NEW, capacity="1M", bogus_option=1), "bogus_option",
     "Unsupported parameters", False, True),
    ("unknown-state", VOL, dict(pool="@DIR", name=NEW, state="running"), "state", "value of state must be one of",
     False, True),
    ("missing-pool", VOL, dict(name=NEW, capacity="1M"), "pool", "missing required arguments", False, True),
    # nothing answers there: the daemon is named as not running, not the option as wrong (no param)
    ("uri-nowhere", VOL, dict(pool="@DIR", name=NEW, capacity="1M", uri="qemu+tcp://127.0.0.1:@PORT/system"),
     "uri", "is the libvirt daemon running?", False, True),
    ("uri-unknown-scheme", VOL, dict(pool="@DIR", name=NEW, capacity="1M", uri="bogus:///system"), "uri",
     "cannot connect to libvirt", True, True),
    ("uri-empty", VOL, dict(pool="@DIR", name=NEW, capacity="1M", uri=""), "uri", "must not be empty", True, True),
    # modes libvirt refuses ("malformed octal mode": bits beyond 0777), and YAML's decimal integers
    ("mode-int-777", VOL, dict(pool="@DIR", name=NEW, capacity="1M", permissions={"mode": 777}), "permissions.mode",
     "777 was read as a decimal YAML integer (= 0o1411): quote it ('0777')", True, True),
    ("mode-int-644", VOL, dict(pool="@DIR", name=NEW, capacity="1M", permissions={"mode": 644}), "permissions.mode",
     "644 was read as a decimal YAML integer (= 0o1204): quote it ('0644')", True, True),
    ("mode-int-on-existing", VOL, dict(pool="@DIR", name="raw.img", permissions={"mode": 600}), "permissions.mode",
     "decimal YAML integer", True, True),
    ("mode-string-sticky", VOL, dict(pool="@DIR", name=NEW, capacity="1M", permissions={"mode": "1777"}),
     "permissions.mode", "beyond 0777", True, True),
    ("mode-string-setgid", VOL, dict(pool="@FS", name=NEW, capacity="1M", permissions={"mode": "2755"}),
     "permissions.mode", "beyond 0777", True, True),
    ("mode-int-negative", VOL, dict(pool="@DIR", name=NEW, capacity="1M", permissions={"mode": -8}),
     "permissions.mode", "not a mode", True, True),
    ("mode-word", VOL, dict(pool="@DIR", name=NEW, capacity="1M", permissions={"mode": "u+rw"}), "permissions.mode",
     "is not an octal mode", True, True),
    # lists and dicts where a string belongs (AnsibleModule would turn them into their repr)
    ("name-list", VOL, dict(pool="@DIR", name=["a", "b"], capacity="1M"), "name", "a string, not a list", True, True),
    ("name-dict", VOL, dict(pool="@DIR", name={"a": "b"}, capacity="1M"), "name", "a string, not a dict", True, True),
    ("pool-list", VOL, dict(pool=["@DIR"], name=NEW, capacity="1M"), "pool", "a string, not a list", True, True),
    ("format-list", VOL, dict(pool="@DIR", name=NEW, capacity="1M", format=["raw"]), "format",
     "a string, not a list", True, True),
    ("backing-path-list", VOL, dict(pool="@DIR", name="new.qcow2", format="qcow2", backing_store={
        "path": ["@DIRPATH/base.qcow2"], "format": "qcow2"}), "backing_store.path", "a string, not a list", True, True),
    ("backing-name-dict", VOL, dict(pool="@DIR", name="new.qcow2", format="qcow2", backing_store={
        "name": {"base.qcow2": 1}, "format": "qcow2"}), "backing_store.name", "a string, not a dict", True, True),
    ("backing-format-list", VOL, dict(pool="@DIR", name="new.qcow2", format="qcow2", backing_store={
        "name": "base.qcow2", "format": ["qcow2"]}), "backing_store.format", "a string, not a list", True, True),
    ("clone-name-list", VOL, dict(pool="@DIR", name=NEW, clone_from={"name": ["raw.img"]}), "clone_from.name",
     "a string, not a list", True, True),
    ("clone-pool-dict", VOL, dict(pool="@DIR", name=NEW, clone_from={"pool": {"@DIR": 1}, "name": "raw.img"}),
     "clone_from.pool", "a string, not a dict", True, True),
    ("import-src-list", VOL, dict(pool="@DIR", name=NEW, import_from={"src": ["@SRC"]}), "import_from.src",
     "a string, not a list", True, True),
    ("import-checksum-dict", VOL, dict(pool="@DIR", name=NEW, import_from=_import(checksum={"sha256": "@SRCSUM"})),
     "import_from.checksum", "a string, not a dict", True, True),
    ("encryption-secret-usage-list", VOL, dict(pool="@DIR", name=NEW, capacity="1M", encryption=_secret(
        usage=["@DIRPATH/new.img"])), "encryption.secret.usage", "a string, not a list", True, True),
    ("permissions-label-dict", VOL, dict(pool="@DIR", name=NEW, capacity="1M", permissions={"label": {"a": 1}}),
     "permissions.label", "a string, not a dict", True, True),
    ("disk-dev-list", VOL, dict(pool="@DIR", name="raw.img", disk={"dev": ["vdb"]}), "disk.dev",
     "a string, not a list", True, True),
    ("uri-dict", VOL, dict(pool="@DIR", name=NEW, capacity="1M", uri={"qemu": "system"}), "uri",
     "a string, not a dict", True, True),
    # empty required strings and numbers out of range
    ("pool-empty", VOL, dict(pool="", name=NEW, capacity="1M"), "pool", "cannot be empty", True, True),
    ("clone-name-empty", VOL, dict(pool="@DIR", name=NEW, clone_from={"name": ""}), "clone_from.name",
     "cannot be empty", True, True),
    ("backing-format-empty", VOL, dict(pool="@DIR", name="new.qcow2", format="qcow2", backing_store={
        "name": "base.qcow2", "format": ""}), "backing_store.format", "cannot be empty", True, True),
    ("import-src-blank", VOL, dict(pool="@DIR", name=NEW, import_from={"src": "  "}), "import_from.src",
     "cannot be empty", True, True),
    ("import-timeout-zero", VOL, dict(pool="@DIR", name=NEW, import_from=_import(timeout=0)), "import_from.timeout",
     "at least 1 second", True, True),
    ("import-timeout-negative", VOL, dict(pool="@DIR", name=NEW, import_from=_import(timeout=-60)),
     "import_from.timeout", "at least 1 second", True, True),
    # names a file (or partition) of the pool cannot have
    ("name-300-characters", VOL, dict(pool="@DIR", name="v" * 300, capacity="1M"), "name", "at most 255 bytes",
     True, True),
    ("name-256-bytes", VOL, dict(pool="@FS", name="w" * 256, capacity="1M"), "name", "at most 255 bytes", True, True),
    ("name-256-bytes-utf8", VOL, dict(pool="@DIR", name="\u00e9" * 128, capacity="1M"), "name", "at most 255 bytes",
     True, True),
    ("name-newline", VOL, dict(pool="@DIR", name="new\n.img", capacity="1M"), "name", "control characters", True,
     True),
    ("name-trailing-newline", VOL, dict(pool="@DIR", name="new.img\n", capacity="1M"), "name",
     "control characters", True, True),
    ("name-tab", VOL, dict(pool="@FS", name="a\tb", capacity="1M"), "name", "control characters", True, True),
    ("name-escape", VOL, dict(pool="@DIR", name="\x1b[2Jnew.img", capacity="1M"), "name", "control characters",
     True, True),
    ("name-carriage-return-absent", VOL, dict(pool="@DIR", name="raw.img\r", state="absent"), "name",
     "control characters", True, True),
    # guest disk target and serial (libvirt's domain schema: diskTargetDev, diskSerial)
    ("disk-dev-traversal", VOL, dict(pool="@DIR", name="raw.img", disk={"dev": "../../etc"}), "disk.dev",
     "'../../etc' is not a target device name", True, True),
    ("disk-dev-slash", VOL, dict(pool="@DIR", name="raw.img", disk={"dev": "vdb/x"}), "disk.dev",
     "is not a target device name", True, True),
    ("disk-dev-other-prefix", VOL, dict(pool="@FS", name="other.img", disk={"dev": "eth0"}), "disk.dev",
     "is not a target device name", True, True),
    ("disk-dev-prefix-only", VOL, dict(pool="@DISK", name="@P1", disk={"dev": "vd"}), "disk.dev",
     "is not a target device name", True, True),
    ("disk-dev-newline", VOL, dict(pool="@DIR", name="raw.img", disk={"dev": "vdb\n"}), "disk.dev",
     "is not a target device name", True, True),
    ("disk-dev-quote", VOL, dict(pool="@DIR", name="raw.img", disk={"dev": "vdb'"}), "disk.dev",
     "is not a target device name", True, True),
    ("disk-serial-markup", VOL, dict(pool="@DIR", name="raw.img", disk={"serial": "<b>x</b>"}), "disk.serial",
     "is not a disk serial", True, True),
    ("disk-serial-newline", VOL, dict(pool="@DIR", name="raw.img", disk={"serial": "abc\ndef"}), "disk.serial",
     "is not a disk serial", True, True),
    ("disk-serial-slash", VOL, dict(pool="@FS", name="other.img", disk={"serial": "a/b"}), "disk.serial",
     "is not a disk serial", True, True),
    # storage_volume_info
    ("info-disk-dev-traversal", INFO, dict(pool="@DIR", disk={"dev": "../../etc"}), "disk.dev",
     "is not a target device name", True, True),
    ("info-disk-serial-markup", INFO, dict(pool="@FS", name="other.img", disk={"serial": "x'y"}), "disk.serial",
     "is not a disk serial", True, True),
    ("info-name-list", INFO, dict(pool="@DIR", name=["raw.img"]), "name", "a string, not a list", True, True),
    ("info-pool-dict", INFO, dict(pool={"@DIR": 1}), "pool", "a string, not a dict", True, True),
    ("info-pool-empty", INFO, dict(pool=""), "pool", "cannot be empty", True, True),
    ("info-unknown-pool", INFO, dict(pool="@MISSING"), "pool", "storage pool @MISSING does not exist", True, True),
    ("info-inactive-pool", INFO, dict(pool="@INACTIVE"), "pool", "storage pool @INACTIVE is inactive", True, True),
    ("info-disk-device-lun-on-dir-pool", INFO, dict(pool="@DIR", disk={"device": "lun", "bus": "scsi"}),
     "disk.device", "volumes of dir pools are files", True, True),
    ("info-disk-mode-on-fs-pool", INFO, dict(pool="@FS", name="other.img", disk={"mode": "direct"}), "disk.mode",
     "applies to iscsi pools only", True, True),
    ("info-disk-io-native-cache-writeback", INFO, dict(pool="@DISK", disk={"io": "native", "cache": "writeback"}),
     "disk.io", "io native needs cache none or directsync", True, True),
    ("info-unknown-option", INFO, dict(pool="@DIR", capacity="1M"), "capacity", "Unsupported parameters", False,
     True),
    ("info-uri-nowhere", INFO, dict(pool="@DIR", uri="qemu+tcp://127.0.0.1:@PORT/system"), "uri",
     "is the libvirt daemon running?", False, True),
]


def test_enough_cases():
    assert len(CASES) >= 40
    assert len(set(c[0] for c in CASES)) == len(CASES)
    assert all(len(c) == 7 and c[1] in (VOL, INFO) for c in CASES)


PARAMS = []
for _case in CASES:
    PARAMS.append(pytest.param(_case, False, id=_case[0]))
    if _case[6]:
        PARAMS.append(pytest.param(_case, True, id=_case[0] + "-check"))


@pytest.mark.parametrize("case, check", PARAMS)
def test_bad_input(case, check, env, conn):
    dummy, module, args, param, fragment, ours, dummy_check = case
    tokens = env["tokens"]
    args = substitute(args, tokens)
    fragment = substitute(fragment, tokens)
    before = host_state(conn, env)
    assert_unchanged(env["baseline"], before)  # the cases before this one left nothing behind
    clean = False
    try:
        result = run_module(module, args, check=check)
        after = host_state(conn, env)
        clean = after == before
        assert_refused(result, param, fragment, ours)
        assert_unchanged(before, after)
    finally:
        if not clean:
            restore(conn, env)


def test_baseline_is_what_the_cases_assume(env):
    """The volumes the cases name exist with the sizes and formats their messages quote."""
    baseline = env["baseline"]
    tokens = env["tokens"]
    dir_volumes = baseline[tokens["@DIR"]]
    assert sorted(dir_volumes) == ["base.qcow2", "raw.img"]
    assert (dir_volumes["raw.img"]["format"], dir_volumes["raw.img"]["capacity"]) == ("raw", RAW_SIZE)
    assert (dir_volumes["base.qcow2"]["format"], dir_volumes["base.qcow2"]["capacity"]) == ("qcow2", QCOW2_SIZE)
    assert sorted(baseline[tokens["@FS"]]) == ["lost+found", "other.img"]
    assert list(baseline[tokens["@DISK"]]) == [tokens["@P1"]]
    with open(os.path.join(tokens["@DIRPATH"], "raw.img"), "rb") as handle:
        assert handle.read(len(MARKER)) == MARKER
    assert baseline["inactive pool"][0] == 0


def test_checksum_mismatch_leaves_no_volume_and_no_record(env, conn):
    """A real import whose checksum differs: refused, no volume, no import record, the source untouched."""
    tokens = env["tokens"]
    wrong = hashlib.sha256(b"not the image").hexdigest()
    volume_path = os.path.join(tokens["@DIRPATH"], "mismatch.img")
    record = hashlib.sha256(volume_path.encode("utf-8")).hexdigest() + ".json"
    src_before = _files(tokens["@WORK"])["src.raw"]
    try:
        result = run_module(VOL, {"pool": tokens["@DIR"], "name": "mismatch.img", "format": "raw",
                                  "import_from": {"src": tokens["@SRC"], "checksum": "sha256:" + wrong}})
        assert_refused(result, "import_from.checksum", "is %s, not the declared %s" % (tokens["@SRCSUM"], wrong))
        assert not os.path.exists(volume_path)
        assert_unchanged(env["baseline"], host_state(conn, env))
        assert _files(tokens["@WORK"])["src.raw"] == src_before
        for directory in ("/var/lib/virtops-storage/imports",
                          os.path.expanduser("~/.local/state/virtops-storage/imports")):
            assert not os.path.exists(os.path.join(directory, record))
    finally:
        restore(conn, env)


def test_checksum_in_a_base64_costume(env, conn):
    """A base64 digest (as some sites publish) is not hex: refused naming the checksum, nothing made."""
    tokens = env["tokens"]
    digest = base64.b64encode(bytes.fromhex(tokens["@SRCSUM"])).decode("ascii")
    result = run_module(VOL, {"pool": tokens["@DIR"], "name": NEW,
                              "import_from": {"src": tokens["@SRC"], "checksum": "sha256:" + digest}})
    assert_refused(result, "import_from.checksum", "is not a sha256 digest")
    assert_unchanged(env["baseline"], host_state(conn, env))


@pytest.mark.parametrize("check", [False, True], ids=["real", "check"])
def test_wipe_algorithm_without_wipe_never_deletes_unwiped(check, env, conn):
    """state: absent with wipe_algorithm but without wipe: refused, and the volume (and its data) stays.

    Deleting it without the wipe the task names would leave the data readable on the storage.
    """
    tokens = env["tokens"]
    path = os.path.join(tokens["@DIRPATH"], "wipeme.img")
    virsh("vol-create-as", tokens["@DIR"], "wipeme.img", str(MIB), "--format", "raw")
    try:
        with open(path, "r+b") as handle:
            handle.write(MARKER)
        before = host_state(conn, env)
        result = run_module(VOL, {"pool": tokens["@DIR"], "name": "wipeme.img", "state": "absent",
                                  "wipe_algorithm": "dod"}, check=check)
        assert_refused(result, "wipe_algorithm", "only applies with wipe: true")
        assert_unchanged(before, host_state(conn, env))
        with open(path, "rb") as handle:
            assert handle.read(len(MARKER)) == MARKER
    finally:
        restore(conn, env)
