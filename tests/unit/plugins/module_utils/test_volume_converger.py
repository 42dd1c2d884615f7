"""VolumeConverger branch by branch: read, create, existing volumes, re-import, wipe, delete, the diff.

Runs over the shared libvirt fake (fake_libvirt), which raises libvirt's real
error codes, a fake HostProbe and import records in tmp_path: no daemon, no
host paths (except files under tmp_path where the module itself touches one).
"""

import hashlib
import io
import json
import os
import stat
import time

import libvirt
import pytest

from ansible.module_utils import urls
from ansible_collections.virtops.storage.plugins.module_utils import volume as volume_module
from ansible_collections.virtops.storage.plugins.module_utils.errors import (
    LibvirtCallError, ParameterError, UnsafeActionError, VirtopsError)
from ansible_collections.virtops.storage.plugins.module_utils.image_import import ImportRecords, import_key
from ansible_collections.virtops.storage.plugins.module_utils.volume import (
    VolumeConverger, pool_handle, refresh_pool)
from ansible_collections.virtops.storage.plugins.module_utils.volume_xml import build_volume_xml, parse_volume_xml

from . import fake_libvirt
from .fake_libvirt import UUID, FakeConnection, FakeProbe, FakeVolume, libvirt_error
# the storage_volume defaults and the pools the resize tests use
from .test_volume_resize import DEFAULTS, DIR_POOL, GIB, ISCSI_POOL

MIB = 1024 ** 2
TIB = 1024 ** 4
PIB = 1024 ** 5
TARGET = "/var/lib/libvirt/images"
REMOTE = "qemu+ssh://kvm1.example/system"
DISK_POOL = ("<pool type='disk'><name>disks</name><source><device path='/dev/loop3' part_separator='yes'/>"
             "<format type='dos'/></source><target><path>/dev</path></target></pool>")
RBD_POOL = "<pool type='rbd'><name>ceph</name><source><host name='mon1'/><name>rbdpool</name></source></pool>"
ZFS_POOL = "<pool type='zfs'><name>zfs</name><source><name>tank</name></source><target><path>/dev/zvol/tank</path>" \
           "</target></pool>"
# libvirt's refusal to refresh a pool a volume is being created in (storagePoolRefresh)
BUSY = "internal error: pool 'images' has asynchronous jobs running."
# libvirt 9.0 deleting partition loop3p2 (it hands parted 'p2')
PARTED_ERROR = ("internal error: Child process (/sbin/parted /dev/loop3 rm --script p2) unexpected exit status 1: "
                "Error: Partition doesn't exist.")
SHA_A = "sha256:" + "a" * 64
SHA_B = "sha256:" + "b" * 64
# an existing regular file: check mode checks no more of an import source than that it is one
IMAGE = os.path.abspath(__file__)


@pytest.fixture(autouse=True)
def records(tmp_path, monkeypatch):
    """The import records of these tests: in tmp_path (the converger's own store included), never the user's."""
    directories = (str(tmp_path / "imports"),)
    monkeypatch.setattr(volume_module, "ImportRecords", lambda: ImportRecords(directories))
    return ImportRecords(directories)


# ---------------------------------------------------------------- helpers

def _file(name, capacity=GIB, fmt="raw", path=None, **fields):
    """A file volume as libvirt reports it (mode 0600, root's, like the volumes libvirt creates)."""
    path = path or os.path.join(TARGET, name)
    spec = dict({"name": name, "type": "file", "key": path, "capacity": capacity, "allocation": 0, "path": path,
                 "format": fmt, "permissions": {"mode": "0600", "owner": 0, "group": 0}}, **fields)
    return FakeVolume(name, build_volume_xml(spec))


def _partition(number, capacity=64 * MIB):
    """Partition ``number`` of the disk pool's /dev/loop3: libvirt reads every partition back as format 'none'."""
    name = "loop3p%d" % number
    path = "/dev/" + name
    return FakeVolume(name, build_volume_xml({"name": name, "type": "block", "key": path, "capacity": capacity,
                                              "allocation": capacity, "path": path, "format": "none"}))


def _pool(*volumes, xml=DIR_POOL, uri=fake_libvirt.URI, guests=(), active=True):
    """A connection with one pool holding ``volumes``; returns (connection, pool)."""
    connection = FakeConnection(guests=guests, uri=uri)
    return connection, connection.conn.add_pool(xml, active=active, volumes=list(volumes))


def _converger(connection, probe=None, check_mode=False, **params):
    module = fake_libvirt.FakeModule(DEFAULTS, check_mode=check_mode, **params)
    return VolumeConverger(module, connection, probe=probe or FakeProbe())


def _run(connection, probe=None, check_mode=False, **params):
    return _converger(connection, probe, check_mode, **params).run()


def _refused(connection, param, probe=None, check_mode=False, error=ParameterError, **params):
    """Run, expecting ``error`` naming ``param``; nothing may have been changed. Returns the message."""
    with pytest.raises(error) as info:
        _run(connection, probe, check_mode, **params)
    assert info.value.details["param"] == param
    assert _changes(connection) == []
    return info.value.msg


def _calls(connection, kind):
    return [entry for entry in connection.conn.log if entry[0] == kind]


def _changes(connection):
    return [entry for entry in connection.conn.log if entry[0] != "refresh"]


def _guest_using(path):
    return [("vm1", [{"type": "file", "source": {"file": path}}])]


def _created(pool, name="a.img"):
    """The spec libvirt reports of the volume ``name`` the run made."""
    return parse_volume_xml(pool.storageVolLookupByName(name).XMLDesc(0))


# ---------------------------------------------------------------- read_current

def test_a_listed_volume_is_read_without_a_refresh():
    connection, dummy = _pool(_file("a.img"))
    result = _run(connection, capacity="1 GiB")
    assert result["changed"] is False and result["volume"]["path"] == TARGET + "/a.img"
    assert connection.conn.log == []


def test_a_volume_not_listed_yet_is_found_after_a_refresh():
    connection, pool = _pool()
    pool.appear_on_storage(_file("a.img"))  # e.g. copied into the directory by another program
    result = _run(connection, capacity="1 GiB")
    assert result["changed"] is False and result["volume"]["name"] == "a.img"
    assert connection.conn.log == [("refresh", "images")]


def test_a_busy_pool_refresh_is_retried():
    connection, pool = _pool()
    pool.fail("refresh", libvirt.VIR_ERR_INTERNAL_ERROR, BUSY, times=2)
    pool.appear_on_storage(_file("a.img"))
    result = _run(connection, capacity="1 GiB")
    assert result["changed"] is False and len(_calls(connection, "refresh")) == 3


def test_a_pool_busy_for_longer_than_the_wait_is_given_up_on():
    connection, pool = _pool()
    pool.fail("refresh", libvirt.VIR_ERR_INTERNAL_ERROR, BUSY)
    start = time.monotonic()
    assert refresh_pool(pool_handle(pool), 0.05) is False
    assert time.monotonic() - start < 1 and len(_calls(connection, "refresh")) >= 1


def test_a_refresh_failing_otherwise_is_not_retried():
    connection, pool = _pool()
    pool.fail("refresh", libvirt.VIR_ERR_INTERNAL_ERROR, "cannot open directory '%s': Permission denied" % TARGET)
    with pytest.raises(LibvirtCallError) as info:
        _run(connection, capacity="1 GiB")
    assert info.value.msg.startswith("refreshing pool images failed: cannot open directory")
    assert connection.conn.log == [("refresh", "images")]


@pytest.mark.parametrize("check_mode", [True, False])
@pytest.mark.parametrize("exists, message", [
    (False, "pool: storage pool images does not exist"),
    (True, "pool: storage pool images is inactive: libvirt manages the volumes of active pools only (start it, "
           "e.g. virtops.storage.storage_pool with state: active)"),
])
def test_a_missing_or_inactive_pool_is_refused(exists, message, check_mode):
    connection = FakeConnection()
    if exists:
        connection.conn.add_pool(DIR_POOL, active=False)
    assert _refused(connection, "pool", check_mode=check_mode, capacity="1 GiB") == message


def test_a_disk_pool_without_name_makes_the_lowest_free_partition_number():
    connection, pool = _pool(_partition(1), _partition(3), xml=DISK_POOL)
    result = _run(connection, pool="disks", name=None, capacity="64 MiB")
    assert result["actions"] == ["create volume loop3p2 in pool disks (64 MiB; 67108864 bytes)"]
    assert result["volume"]["path"] == "/dev/loop3p2" and result["volume"]["format"] == "none"
    assert [v.name() for v in pool.volumes] == ["loop3p1", "loop3p3", "loop3p2"]


@pytest.mark.parametrize("xml, params, message", [
    (DIR_POOL, {"capacity": "64 MiB"}, "name: required (only disk pools pick a name: the next partition's)"),
    (DISK_POOL, {"pool": "disks", "state": "absent"}, "name: required with state: absent"),
])
def test_name_is_required_outside_disk_pools_and_to_delete(xml, params, message):
    connection, dummy = _pool(xml=xml)
    assert _refused(connection, "name", name=None, **params) == message


# ---------------------------------------------------------------- lock_names

@pytest.mark.parametrize("params, sources", [
    ({"capacity": "64 MiB"}, []),
    ({"clone_from": {"name": "base.img"}}, ["volume/images/base.img"]),
    ({"clone_from": {"pool": "other", "name": "base.img"}}, ["volume/other/base.img"]),
    ({"backing_store": {"name": "base.qcow2", "format": "qcow2"}}, ["volume/images/base.qcow2"]),
    ({"backing_store": {"pool": "other", "name": "base.qcow2", "format": "qcow2"}}, ["volume/other/base.qcow2"]),
    ({"backing_store": {"path": "/srv/base.qcow2", "format": "qcow2"}}, []),  # a file of no pool
])
def test_a_task_locks_its_volume_and_the_volume_it_is_made_from(params, sources):
    connection, dummy = _pool()
    connection.conn.add_pool(DIR_POOL.replace("images", "other"), active=True)
    converger = _converger(connection, **params)
    assert converger.lock_names(converger.read_desired()) == ["volume/images/a.img"] + sources


@pytest.mark.parametrize("name", [None, "loop3p2", "loop3p7"])
def test_the_partition_tasks_of_a_disk_pool_share_one_lock(name):
    """The next partition's name is the pool's to give: two tasks must not both take it."""
    connection, dummy = _pool(_partition(1), xml=DISK_POOL)
    converger = _converger(connection, pool="disks", name=name, capacity="64 MiB")
    assert converger.lock_names(converger.read_desired()) == ["volume/disks/"]


def _lock_names(connection, **params):
    converger = _converger(connection, **params)
    return set(converger.lock_names(converger.read_desired()))


@pytest.mark.parametrize("option", ["clone_from", "backing_store"])
@pytest.mark.parametrize("xml, pool, name", [
    (DIR_POOL.replace("images", "other"), "other", "base.img"),
    (DISK_POOL, "disks", "loop3p1"),
], ids=["dir", "disk"])
def test_a_task_made_from_a_volume_shares_a_lock_with_the_tasks_that_change_that_volume(option, xml, pool, name):
    """The source must not be deleted, wiped or re-imported while it is copied or overlaid, whatever its pool:
    a task made from it must wait for a task on it, so both take one lock."""
    connection, dummy = _pool()
    connection.conn.add_pool(xml, active=True, volumes=[_file(name)])
    source = {"pool": pool, "name": name}
    if option == "backing_store":
        source["format"] = "raw"
    made_from = _lock_names(connection, name="a.qcow2", **{option: source})
    assert made_from & _lock_names(connection, pool=pool, name=name, state="absent")


def test_the_lock_of_a_volume_of_a_missing_pool_is_refused():
    converger = _converger(FakeConnection(), capacity="64 MiB")
    with pytest.raises(ParameterError) as info:
        converger.lock_names(converger.read_desired())
    assert info.value.msg == "pool: storage pool images does not exist"


@pytest.mark.parametrize("option", ["clone_from", "backing_store"])
def test_the_lock_of_a_source_in_a_missing_pool_names_the_option(option):
    connection, dummy = _pool()
    source = {"pool": "gone", "name": "b"}
    if option == "backing_store":
        source["format"] = "raw"
    converger = _converger(connection, name="a.qcow2", **{option: source})
    with pytest.raises(ParameterError) as info:
        converger.lock_names(converger.read_desired())
    assert info.value.param == option + ".pool"


# ---------------------------------------------------------------- _plan_create

@pytest.mark.parametrize("check_mode", [True, False])
def test_create_an_empty_volume(check_mode):
    connection, pool = _pool()
    result = _run(connection, check_mode=check_mode, capacity="64 MiB", format="qcow2")
    assert result["changed"] is True
    assert result["actions"] == ["create volume a.img in pool images (64 MiB, qcow2; 67108864 bytes)"]
    assert result["volume"]["format"] == "qcow2" and result["volume"]["capacity"] == 64 * MIB
    if check_mode:
        assert connection.conn.log == [("refresh", "images")] and pool.volumes == []
    else:
        assert _calls(connection, "createVolume") == [("createVolume", "a.img", "images")]
        assert _created(pool)["format"] == "qcow2" and pool.volumes[0].flags == 0


@pytest.mark.parametrize("fmt, preallocation, details, flags, allocation", [
    ("raw", "off", "64 MiB, raw", 0, 0),
    ("raw", "falloc", "64 MiB, raw, falloc preallocation", 0, 64 * MIB),
    ("qcow2", "falloc", "64 MiB, qcow2, falloc preallocation", libvirt.VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA,
     64 * MIB),
    ("qcow2", "metadata", "64 MiB, qcow2, metadata preallocation", libvirt.VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA,
     0),
    ("raw", "full", "64 MiB, raw, full preallocation", 0, 64 * MIB),
])
def test_create_with_preallocation(fmt, preallocation, details, flags, allocation):
    connection, pool = _pool()
    result = _run(connection, capacity="64 MiB", format=fmt, preallocation=preallocation)
    assert result["actions"] == ["create volume a.img in pool images (%s; 67108864 bytes)" % details]
    made = pool.storageVolLookupByName("a.img")
    assert made.flags == flags and _created(pool)["allocation"] == allocation
    # full: every byte written (zeros), not only reserved
    assert made.uploaded == (64 * MIB if preallocation == "full" else None)


def test_a_volume_whose_zeros_cannot_be_written_is_removed():
    connection, pool = _pool()
    connection.conn.fail("newStream", libvirt.VIR_ERR_INTERNAL_ERROR, "cannot open stream")
    with pytest.raises(VirtopsError) as info:
        _run(connection, capacity="64 MiB", preallocation="full")
    assert info.value.msg == "writing zeros into volume a.img failed: cannot open stream; the new volume was removed"
    assert _changes(connection) == [("createVolume", "a.img", "images"), ("deleteVolume", "a.img")]
    assert pool.volumes == []


def test_create_when_another_client_made_the_volume_meanwhile_says_so():
    connection, pool = _pool()
    converger = _converger(connection, capacity="64 MiB")
    actions = converger.plan(converger.read_current(), converger.read_desired())
    pool.volumes.append(_file("a.img"))
    with pytest.raises(VirtopsError) as info:
        actions[0].apply()
    assert info.value.details["libvirt_code"] == libvirt.VIR_ERR_STORAGE_VOL_EXIST
    assert info.value.msg.startswith("volume a.img appeared in pool images while this task was creating it: another "
                                     "host sharing the pool or another client made it first"), info.value.msg
    assert "(creating volume a.img in pool images failed: storage volume 'a.img' exists already)" in info.value.msg


@pytest.mark.parametrize("check_mode", [True, False])
def test_clone_a_volume(check_mode):
    connection, pool = _pool(_file("base.qcow2", 2 * GIB, "qcow2"))
    result = _run(connection, check_mode=check_mode, clone_from={"name": "base.qcow2"}, format="qcow2")
    assert result["actions"] == ["clone volume base.qcow2 of pool images into volume a.img in pool images"]
    assert result["volume"]["capacity"] == 2 * GIB and result["volume"]["format"] == "qcow2"
    assert _calls(connection, "cloneVolume") == ([] if check_mode else [("cloneVolume", "base.qcow2", "a.img", "images")])


def test_a_clone_without_format_keeps_the_sources_format():
    """A clone declared without a format is made in the source's format (libvirt alone would give it the
    pool's default, raw: createXMLFrom of a qcow2 volume with no <format>, checked on libvirt 9.0); check
    mode's facts and the diff say what the real run makes."""
    connection, pool = _pool(_file("base.qcow2", 2 * GIB, "qcow2"))
    planned = _run(connection, check_mode=True, clone_from={"name": "base.qcow2"})
    made = _run(connection, clone_from={"name": "base.qcow2"})
    assert made["volume"]["format"] == _created(pool)["format"] == "qcow2"
    assert planned["volume"]["format"] == made["volume"]["format"]
    assert planned["diff"]["after"]["format"] == made["volume"]["format"]


def test_a_clone_declared_smaller_than_its_source_takes_the_sources_size():
    """libvirt makes a clone at least as large as its source (createXMLFrom; checked on libvirt 9.0), and the
    documentation says so ("takes the size of its source unless a larger one is declared"): check mode must
    plan that size, and the task run again must change nothing (not plan a shrink of the new clone)."""
    connection, pool = _pool(_file("base.img", GIB))
    params = {"clone_from": {"name": "base.img"}, "format": "raw", "capacity": "512 MiB"}
    planned = _run(connection, check_mode=True, **params)
    made = _run(connection, **params)
    assert made["volume"]["capacity"] == _created(pool)["capacity"] == GIB
    assert planned["volume"]["capacity"] == planned["diff"]["after"]["capacity"] == GIB
    assert _run(connection, **params)["changed"] is False


def test_clone_from_another_pool():
    connection, dummy = _pool()
    connection.conn.add_pool(DIR_POOL.replace("images", "other"), active=True, volumes=[_file("base.img")])
    result = _run(connection, check_mode=True, clone_from={"pool": "other", "name": "base.img"})
    assert result["actions"] == ["clone volume base.img of pool other into volume a.img in pool images"]
    assert result["diff"]["after"]["clone_from"] == "other/base.img"


@pytest.mark.parametrize("check_mode", [True, False])
@pytest.mark.parametrize("clone_from, param, message", [
    ({"name": "base.img"}, "clone_from.name", "clone_from.name: pool images has no volume base.img to clone"),
    ({"pool": "nowhere", "name": "base.img"}, "clone_from.pool", "clone_from.pool: storage pool nowhere does not exist"),
])
def test_clone_of_a_missing_source_is_refused(clone_from, param, message, check_mode):
    connection, dummy = _pool()
    assert _refused(connection, param, check_mode=check_mode, clone_from=clone_from) == message


BASE = TARGET + "/base.qcow2"


@pytest.mark.parametrize("check_mode", [True, False])
def test_create_over_a_backing_volume_named_by_name(check_mode):
    connection, pool = _pool(_file("base.qcow2", GIB, "qcow2"))
    result = _run(connection, FakeProbe(formats={BASE: "qcow2"}), check_mode, name="a.qcow2",
                  backing_store={"name": "base.qcow2", "format": "qcow2"})
    assert result["actions"] == ["create volume a.qcow2 in pool images over backing store %s" % BASE]
    assert result["diff"]["after"]["backing_store"] == {"path": BASE, "format": "qcow2"}
    if not check_mode:
        made = _created(pool, "a.qcow2")
        assert made["format"] == "qcow2" and made["backing_store"] == {"path": BASE, "format": "qcow2"}


def test_create_over_a_backing_file_named_by_path(tmp_path):
    base = tmp_path / "base.raw"
    base.write_bytes(b"\0" * 512)
    connection, dummy = _pool()
    result = _run(connection, FakeProbe(formats={str(base): "raw"}), check_mode=True, name="a.qcow2",
                  backing_store={"path": str(base), "format": "raw"})
    assert result["actions"] == ["create volume a.qcow2 in pool images over backing store %s" % base]


@pytest.mark.parametrize("uri, probe", [
    (fake_libvirt.URI, FakeProbe(formats={BASE: "qcow2"})),  # the host reads the image: qemu-img says qcow2
    (REMOTE, FakeProbe()),  # another host: libvirt's report is all there is
])
@pytest.mark.parametrize("check_mode", [True, False])
def test_a_backing_store_declared_raw_over_a_qcow2_image_is_refused(uri, probe, check_mode):
    connection, dummy = _pool(_file("base.qcow2", GIB, "qcow2"), uri=uri)
    message = _refused(connection, "backing_store.format", probe, check_mode, name="a.qcow2",
                       backing_store={"name": "base.qcow2", "format": "raw"})
    assert message == ("backing_store.format: the backing store %s is a qcow2 image, not raw: declare format: "
                       "qcow2 (a guest would read the qcow2 metadata as data)" % BASE)


def test_a_backing_partition_read_back_as_none_is_a_raw_image():
    connection, dummy = _pool(_file("base.img", GIB, "none"), uri=REMOTE)
    result = _run(connection, check_mode=True, name="a.qcow2", backing_store={"name": "base.img", "format": "raw"})
    assert len(result["actions"]) == 1


@pytest.mark.parametrize("backing, param, message", [
    ({"name": "base.qcow2", "format": "qcow2"}, "backing_store.name",
     "backing_store.name: pool images has no volume base.qcow2"),
    ({"path": "/nonexistent/base.qcow2", "format": "qcow2"}, "backing_store.path",
     "backing_store.path: /nonexistent/base.qcow2 does not exist on the host"),
    ({"pool": "nowhere", "name": "base.qcow2", "format": "qcow2"}, "backing_store.pool",
     "backing_store.pool: storage pool nowhere does not exist"),
])
def test_a_missing_backing_store_is_refused(backing, param, message):
    connection, dummy = _pool()
    assert _refused(connection, param, name="a.qcow2", backing_store=backing) == message


def test_create_from_an_image_check_mode():
    connection, dummy = _pool()
    result = _run(connection, check_mode=True, capacity="1 GiB", import_from={"src": IMAGE, "checksum": SHA_A})
    assert result["actions"] == ["create volume a.img in pool images from %s" % IMAGE]
    assert result["diff"]["after"]["import_from"] == "%s (%s)" % (IMAGE, SHA_A)
    assert result["volume"]["format"] == "raw"


def test_an_image_url_password_is_shown_masked():
    connection, dummy = _pool()
    converger = _converger(connection, check_mode=True,
                           import_from={"src": "https://joe:s3cret@images.example/a.img"})
    result = converger.run()
    assert result["actions"] == ["create volume a.img in pool images from https://joe:********@images.example/a.img"]
    assert "s3cret" not in str(result) and "s3cret" in converger.module.no_log_values


@pytest.mark.parametrize("check_mode", [True, False])
@pytest.mark.parametrize("src, message", [
    ("/nonexistent/a.img", "import_from.src: file /nonexistent/a.img does not exist on the host"),
    ("images/a.img", "import_from.src: 'images/a.img' is neither an absolute path on the host nor an http, https "
                     "or ftp URL"),
    ("/", "import_from.src: / is not a regular file"),
])
def test_an_image_that_is_not_a_file_on_the_host_is_refused(src, message, check_mode):
    connection, dummy = _pool()
    assert _refused(connection, "import_from.src", check_mode=check_mode, import_from={"src": src}) == message


def test_a_new_partition_must_take_the_next_name():
    connection, dummy = _pool(_partition(1), xml=DISK_POOL)
    message = _refused(connection, "name", pool="disks", name="loop3p5", capacity="64 MiB")
    assert message == ("name: a new volume of disk pool disks must be named loop3p2: libvirt names partitions after "
                       "the device, and the next one is loop3p2 (or leave name unset)")


# -- encryption

ENCRYPTED = {"capacity": "64 MiB", "format": "qcow2", "encryption": {"secret": {"uuid": UUID}}}


def _unreadable_value(flags):
    raise libvirt_error(libvirt.VIR_ERR_INVALID_SECRET, "Invalid secret: secret is private")


def test_create_an_encrypted_volume():
    connection, pool = _pool()
    connection.conn.add(value="passphrase", usage_type="volume", usage_id=TARGET + "/a.img")
    result = _run(connection, **ENCRYPTED)
    assert result["changed"] is True
    assert _created(pool)["encryption"] == {"format": "luks", "secret": {"uuid": UUID}}


def test_a_private_secret_whose_value_cannot_be_read_is_left_to_libvirt():
    connection, pool = _pool()
    secret = connection.conn.add(value="passphrase", usage_type="volume", usage_id=TARGET + "/a.img")
    secret.value = _unreadable_value
    assert _run(connection, **ENCRYPTED)["changed"] is True and len(pool.volumes) == 1


def test_a_secret_libvirt_cannot_use_at_creation_is_named():
    connection, pool = _pool()
    connection.conn.add(value="passphrase", usage_type="volume", usage_id=TARGET + "/a.img")
    pool.fail("createXML", libvirt.VIR_ERR_NO_SECRET, "secret not found: no secret with matching uuid")
    with pytest.raises(ParameterError) as info:
        _run(connection, **ENCRYPTED)
    assert info.value.param == "encryption.secret" and info.value.msg.endswith("no volume was created")


@pytest.mark.parametrize("secret, message", [
    (None, "encryption.secret: no libvirt secret with uuid %s (usage type volume): define it first, for example "
           "with virtops.storage.storage_secret" % UUID),
    ({"usage_type": "ceph", "usage_id": "client.admin"},
     "encryption.secret: secret uuid %s has usage type ceph, not volume" % UUID),
    ({"usage_type": "volume", "usage_id": TARGET + "/a.img"},
     "encryption.secret: secret %s has no value: set the passphrase first" % UUID),
])
def test_an_unusable_passphrase_secret_is_refused(secret, message):
    connection, dummy = _pool()
    if secret:
        connection.conn.add(**secret)
    assert _refused(connection, "encryption.secret", **ENCRYPTED) == message


def test_check_mode_warns_of_a_secret_an_earlier_task_may_define():
    connection, dummy = _pool()
    result = _run(connection, check_mode=True, **ENCRYPTED)
    assert result["changed"] is True and result["warnings"] == [
        "encryption.secret: no libvirt secret with uuid %s (usage type volume): define it first, for example "
        "with virtops.storage.storage_secret" % UUID]


# -- capacity limits

@pytest.mark.parametrize("check_mode", [True, False])
@pytest.mark.parametrize("setup, params, message", [
    ((DIR_POOL, None), {"capacity": "3 PiB", "format": "qcow2"},
     "capacity: 3 PiB (3377699720527872 bytes) is more than a qcow2 image with 64 KiB clusters (set a larger "
     "cluster_size) can hold: at most 2 PiB (2251799813685248 bytes)"),
    ((DIR_POOL, {TARGET: 16 * TIB - 4096}), {"capacity": "17 TiB"},
     "capacity: 17 TiB (18691697672192 bytes) is more than a file on the filesystem of %s can hold: at most "
     "16 TiB (17592186040320 bytes)" % TARGET),
    ((DISK_POOL, None), {"pool": "disks", "name": None, "capacity": "1 GiB"},
     "capacity: 1 GiB (1073741824 bytes) does not fit: disk pool disks has 32 MiB (33554432 bytes) free"),
])
def test_a_capacity_the_volume_cannot_have_is_refused(setup, params, message, check_mode):
    xml, max_file_sizes = setup
    connection, pool = _pool(xml=xml)
    pool.free = 32 * MIB
    probe = FakeProbe(max_file_sizes=max_file_sizes)
    assert _refused(connection, "capacity", probe, check_mode, **params) == message
    assert pool.volumes == []


@pytest.mark.parametrize("xml, params", [
    (DIR_POOL, {"capacity": "3 PiB", "format": "qcow2", "cluster_size": "2 MiB"}),  # larger clusters hold more
    (DISK_POOL, {"pool": "disks", "name": None, "capacity": 32 * MIB + 8 * MIB}),  # within the alignment
])
def test_a_capacity_within_the_limits_is_planned(xml, params):
    connection, pool = _pool(xml=xml)
    pool.free = 32 * MIB
    assert _run(connection, check_mode=True, **params)["changed"] is True


def test_the_filesystem_limit_is_only_checked_on_this_host():
    connection, dummy = _pool(uri=REMOTE)
    probe = FakeProbe(max_file_sizes={TARGET: 16 * TIB - 4096})
    assert _run(connection, probe, check_mode=True, capacity="17 TiB")["changed"] is True


# ---------------------------------------------------------------- _plan_existing

def test_a_volume_is_not_converted_in_place():
    connection, dummy = _pool(_file("a.img"))
    message = _refused(connection, "format", format="qcow2")
    assert message == ("format: volume a.img exists with format raw; a volume is not converted in place: clone it "
                       "into a new volume (clone_from) with format qcow2")


def test_a_partition_read_back_as_none_is_not_a_format_mismatch():
    connection, dummy = _pool(_partition(1), xml=DISK_POOL)
    result = _run(connection, pool="disks", name="loop3p1", format="linux", capacity="64 MiB")
    assert result["changed"] is False and "warnings" not in result


def test_set_the_mode_of_a_volume(tmp_path):
    path = tmp_path / "a.img"
    path.write_bytes(b"")
    path.chmod(0o600)
    connection, dummy = _pool(_file("a.img", path=str(path)))
    result = _run(connection, permissions={"mode": "0644", "owner": 0})
    assert result["actions"] == ["set mode of volume a.img to mode 0644"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_permissions_of_a_volume_on_another_host_are_refused():
    connection, dummy = _pool(_file("a.img"), uri=REMOTE)
    message = _refused(connection, "permissions", permissions={"mode": "0644"})
    assert message == ("permissions: volume a.img is not a file or device on this host: its permissions can only be "
                       "set when it is created")


def test_a_different_label_is_a_warning():
    label = "system_u:object_r:virt_image_t:s0"
    connection, dummy = _pool(_file("a.img", permissions={"mode": "0600", "owner": 0, "group": 0, "label": label}))
    result = _run(connection, permissions={"label": "system_u:object_r:svirt_image_t:s0"})
    assert result["changed"] is False and result["warnings"] == [
        "volume a.img has label %s: libvirt applies permissions.label only when it creates a volume" % label]


def test_creation_only_options_that_differ_are_a_warning():
    connection, dummy = _pool(_file("a.qcow2", fmt="qcow2", compat="1.1"))
    result = _run(connection, name="a.qcow2", compat="0.10", cluster_size="128 KiB", lazy_refcounts=True,
                  encryption={"secret": {"uuid": UUID}}, backing_store={"name": "base.qcow2", "format": "qcow2"})
    assert result["changed"] is False and result["warnings"] == [
        "volume a.qcow2 exists and differs in compat, cluster_size, encryption, lazy_refcounts, backing_store, which "
        "apply only when a volume is created: left as they are"]


# ---------------------------------------------------------------- resize messages

def test_a_shrink_refusal_says_what_it_would_destroy():
    connection, dummy = _pool(_file("a.img"))
    message = _refused(connection, "allow_shrink", error=UnsafeActionError, capacity="512 MiB")
    assert message == ("shrinking volume a.img from 1 GiB to 512 MiB (1073741824 -> 536870912 bytes) destroys the "
                       "data beyond 512 MiB (536870912 bytes). Set allow_shrink: true to shrink it")


def test_a_resize_the_pool_type_cannot_do_says_why():
    lun = "unit:0:0:1"
    connection, dummy = _pool(FakeVolume(lun, fake_libvirt.volume_xml(lun, GIB)), xml=ISCSI_POOL)
    message = _refused(connection, "capacity", name=lun, capacity="2 GiB")
    assert message == ("capacity: volume unit:0:0:1 is 1 GiB (1073741824 bytes), not the declared 2 GiB (2147483648 "
                       "bytes), and iscsi-direct pools cannot resize volumes (libvirt's iscsi-direct backend has no "
                       "resize)")


# ---------------------------------------------------------------- _plan_reimport

A_IMG = TARGET + "/a.img"


def _imported(records, pool, state="done", checksum=SHA_A, identity=None, name="a.img"):
    """The record of an import of IMAGE into volume ``name`` (a.img) of ``pool``."""
    records.write(import_key(pool.UUIDString(), name), {"src": IMAGE, "checksum": checksum, "state": state,
                                                        "identity": identity})


def _record(records, pool, name="a.img"):
    return records.read(import_key(pool.UUIDString(), name))


# what _imported writes, as ImportRecords.read returns it
DONE_A = {"src": IMAGE, "checksum": SHA_A, "state": "done", "identity": None}


def _reimport(connection, probe=None, check_mode=True, **params):
    return _run(connection, probe, check_mode, **dict({"import_from": {"src": IMAGE, "checksum": SHA_B}}, **params))


IDENTITY = "file:64769:12:2026-12-07"


def test_an_unfinished_import_is_done_again(records):
    connection, pool = _pool(_file("a.img"))
    _imported(records, pool, state="importing", checksum=SHA_B, identity=IDENTITY)
    result = _reimport(connection, FakeProbe(identities={A_IMG: IDENTITY}))
    assert result["actions"] == ["re-import volume a.img from %s (the import into it did not finish)" % IMAGE]
    assert result["diff"]["before"]["import_from"] == "%s (%s, did not finish)" % (IMAGE, SHA_B)
    assert result["diff"]["after"]["import_from"] == "%s (%s)" % (IMAGE, SHA_B)


@pytest.mark.parametrize("check_mode", [True, False])
@pytest.mark.parametrize("identities", [{}, {A_IMG: IDENTITY}], ids=["host-cannot-identify", "identified"])
def test_an_unfinished_import_without_identity_needs_reimport(records, check_mode, identities):
    """A run cut off before the new volume was identified (or where volumes have none) left a record that could
    be any volume's of that name: the module asks for reimport: true instead of replacing the content."""
    connection, pool = _pool(_file("a.img"))
    _imported(records, pool, state="importing", checksum=SHA_B, identity=None)
    with pytest.raises(ParameterError) as info:
        _reimport(connection, FakeProbe(identities=identities), check_mode=check_mode)
    assert info.value.param == "reimport" and "cut off before the module could identify" in info.value.msg
    result = _reimport(connection, FakeProbe(identities=identities), reimport=True)
    assert result["actions"] == ["re-import volume a.img from %s (the import into it did not finish)" % IMAGE]


@pytest.mark.parametrize("import_from", [{"src": IMAGE, "checksum": SHA_A}, {"src": IMAGE}])
def test_the_image_last_imported_is_not_imported_again(records, import_from):
    connection, pool = _pool(_file("a.img"))
    _imported(records, pool)
    result = _run(connection, import_from=import_from)
    assert result["changed"] is False and "warnings" not in result


def test_another_checksum_without_reimport_is_a_warning(records):
    connection, pool = _pool(_file("a.img"))
    _imported(records, pool)
    result = _reimport(connection)
    assert result["changed"] is False and result["warnings"] == [
        "volume a.img exists and was not imported from %s with checksum %s (last import: %s): its content is kept. "
        "Set reimport: true to replace it" % (IMAGE, SHA_B, SHA_A)]


def test_another_checksum_with_reimport_is_imported(records):
    connection, pool = _pool(_file("a.img"))
    _imported(records, pool)
    result = _reimport(connection, reimport=True)
    assert result["actions"] == ["re-import volume a.img from %s (checksum %s)" % (IMAGE, SHA_B)]


@pytest.mark.parametrize("identity", [None, "file:64769:12:2026-12-06"])
def test_without_a_record_of_this_volume_the_content_is_kept(records, identity):
    """No record, or a stale one: written for an earlier volume of that name (another identity)."""
    connection, pool = _pool(_file("a.img"))
    if identity:
        _imported(records, pool, checksum=SHA_B, identity=identity)
    probe = FakeProbe(identities={A_IMG: "file:64769:12:2026-12-07"})
    result = _reimport(connection, probe)
    assert result["changed"] is False and result["warnings"] == [
        "volume a.img exists and was not imported from %s with checksum %s (no import into it is recorded): its "
        "content is kept. Set reimport: true to replace it" % (IMAGE, SHA_B)]
    result = _reimport(connection, probe, import_from={"src": IMAGE}, reimport=True)
    assert result["actions"] == ["re-import volume a.img from %s (reimport: true)" % IMAGE]


def test_a_record_of_this_very_volume_is_used(records):
    connection, pool = _pool(_file("a.img"))
    _imported(records, pool, checksum=SHA_B, identity="file:64769:12:2026-12-07")
    probe = FakeProbe(identities={A_IMG: "file:64769:12:2026-12-07"})
    assert _reimport(connection, probe)["changed"] is False


def _backing_user():
    return _file("c.qcow2", fmt="qcow2", backing_store={"path": A_IMG, "format": "raw"})


@pytest.mark.parametrize("params, what", [
    ({"import_from": {"src": IMAGE}, "reimport": True}, "replacing its content"),
    ({"wipe": True}, "wiping it"),
    ({"state": "absent"}, "deleting it"),
    ({"capacity": "512 MiB", "allow_shrink": True}, "shrinking it"),
])
@pytest.mark.parametrize("check_mode", [True, False])
def test_a_volume_in_use_is_not_changed_under_its_users(params, what, check_mode):
    connection, dummy = _pool(_file("a.img"), guests=_guest_using(A_IMG))
    message = _refused(connection, "allow_in_use", error=UnsafeActionError, check_mode=check_mode, **params)
    assert message == ("volume a.img of pool images is used by guest(s) vm1: %s would break them. Detach it first, "
                       "or set allow_in_use: true" % what)
    connection, dummy = _pool(_file("a.img"))
    connection.conn.add_pool(DIR_POOL.replace("images", "other"), active=True, volumes=[_backing_user()])
    message = _refused(connection, "allow_in_use", error=UnsafeActionError, check_mode=check_mode, **params)
    assert message == ("volume a.img of pool images is the backing store of other/c.qcow2: %s would break them "
                       "(they read it under their own writes). Delete them first, or set allow_in_use: true" % what)


def test_allow_in_use_lets_a_volume_in_use_be_changed():
    connection, dummy = _pool(_file("a.img"), _backing_user(), guests=_guest_using(A_IMG))
    result = _run(connection, check_mode=True, allow_in_use=True, import_from={"src": IMAGE}, reimport=True)
    assert result["actions"] == ["re-import volume a.img from %s (reimport: true)" % IMAGE]


# -- imports that run (qemu-img answers through the fake module)

def _image(tmp_path):
    """A sparse 1 MiB raw image (64 KiB of data, then a hole) and its checksum."""
    path = tmp_path / "image.raw"
    with open(path, "wb") as handle:
        handle.write(b"x" * 64 * 1024)
        handle.truncate(MIB)
    return str(path), "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _importer(connection, probe=None, **params):
    """A converger whose qemu-img info finds a 1 MiB raw image."""
    converger = _converger(connection, probe, **params)
    converger.module.command = lambda args: (0, json.dumps({"format": "raw", "virtual-size": MIB}), "")
    return converger


UPLOAD = ("upload", 0, 0, libvirt.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM, "a.img")


def test_import_into_a_new_volume(records, tmp_path):
    src, checksum = _image(tmp_path)
    connection, pool = _pool()
    probe = FakeProbe(identities={A_IMG: "file:64769:12:2026-12-07"})
    params = {"capacity": "64 MiB", "import_from": {"src": src, "checksum": checksum}}
    result = _importer(connection, probe, **params).run()
    assert result["actions"] == ["create volume a.img in pool images from %s" % src]
    assert _changes(connection) == [("createVolume", "a.img", "images"), UPLOAD]
    assert pool.storageVolLookupByName("a.img").uploaded == MIB and _created(pool)["capacity"] == 64 * MIB
    key = import_key(pool.UUIDString(), "a.img")
    assert records.read(key) == {"src": src, "checksum": checksum, "state": "done",
                                 "identity": "file:64769:12:2026-12-07", "key": key}
    assert _importer(connection, probe, **params).run()["changed"] is False


def test_an_image_with_another_checksum_is_not_imported(records, tmp_path):
    src, checksum = _image(tmp_path)
    connection, pool = _pool()
    with pytest.raises(VirtopsError) as info:
        _importer(connection, import_from={"src": src, "checksum": SHA_A}).run()
    assert info.value.msg == ("import_from.checksum: the sha256 of %s is %s, not the declared %s: nothing was "
                              "imported" % (src, checksum.split(":")[1], SHA_A.split(":")[1]))
    assert pool.volumes == [] and records.read(import_key(pool.UUIDString(), "a.img")) is None


def test_a_failed_import_removes_the_new_volume_and_its_record(records, tmp_path):
    src, dummy = _image(tmp_path)
    connection, pool = _pool()
    connection.conn.fail("newStream", libvirt.VIR_ERR_INTERNAL_ERROR, "cannot open stream")
    with pytest.raises(VirtopsError) as info:
        _importer(connection, import_from={"src": src}).run()
    assert info.value.msg == ("importing %s into volume a.img failed: uploading into volume a.img failed: cannot "
                              "open stream; the new volume was removed" % src)
    assert pool.volumes == [] and records.read(import_key(pool.UUIDString(), "a.img")) is None


def test_reimport_grows_zeroes_and_uploads(records, tmp_path):
    src, checksum = _image(tmp_path)
    connection, pool = _pool(_file("a.img", capacity=512 * 1024))
    _imported(records, pool)
    result = _importer(connection, import_from={"src": src, "checksum": checksum}, reimport=True).run()
    assert result["actions"] == ["re-import volume a.img from %s (checksum %s)" % (src, checksum)]
    # the image is larger than the volume; zeros first, or the old content shows through the image's holes
    zeros = ("wipe", libvirt.VIR_STORAGE_VOL_WIPE_ALG_ZERO, "a.img")
    assert _changes(connection) == [("resize", MIB, 0, "a.img"), zeros, UPLOAD]
    assert records.read(import_key(pool.UUIDString(), "a.img"))["checksum"] == checksum
    assert result["diff"]["before"]["import_from"] == "%s (%s)" % (IMAGE, SHA_A)


def test_a_failed_grow_before_a_reimport_leaves_the_import_record_as_it_was(records, tmp_path):
    """The volume is grown before the import is marked as started: a grow that fails leaves the old content, and
    its record must not say that the volume holds a cut-off import (the next run would replace it unasked)."""
    src, checksum = _image(tmp_path)
    connection, pool = _pool(_file("a.img", capacity=512 * 1024))
    _imported(records, pool)
    pool.storageVolLookupByName("a.img").fail("resize", libvirt.VIR_ERR_INTERNAL_ERROR, "No space left on device")
    with pytest.raises(LibvirtCallError):
        _importer(connection, import_from={"src": src, "checksum": checksum}, reimport=True).run()
    assert _changes(connection) == [("resize", MIB, 0, "a.img")]
    assert _record(records, pool) == dict(DONE_A, key=import_key(pool.UUIDString(), "a.img"))


def test_a_reimport_after_a_grow_of_the_same_run_never_shrinks_the_volume(records, tmp_path):
    """capacity grows the volume first (4 MiB); the 1 MiB image then fits the volume as it is now: the re-import
    must compare with the volume's current size, not the size it had when the run was planned (512 KiB)."""
    src, checksum = _image(tmp_path)
    connection, pool = _pool(_file("a.img", capacity=512 * 1024))
    _imported(records, pool)
    result = _importer(connection, capacity="4 MiB", import_from={"src": src, "checksum": checksum},
                       reimport=True).run()
    assert result["actions"] == ["grow volume a.img from 512 KiB to 4 MiB (524288 -> 4194304 bytes)",
                                 "re-import volume a.img from %s (checksum %s)" % (src, checksum)]
    assert [entry[1] for entry in _calls(connection, "resize")] == [4 * MIB]
    assert _created(pool)["capacity"] == 4 * MIB and _record(records, pool)["checksum"] == checksum


def _small_partition_imported(records):
    """Disk pool (no volume resize) with partition loop3p1 of 512 KiB, imported from IMAGE (checksum SHA_A)."""
    connection, pool = _pool(_partition(1, capacity=512 * 1024), xml=DISK_POOL)
    _imported(records, pool, name="loop3p1")
    return connection, pool


TOO_SMALL = ("import_from: the image is 1 MiB (1048576 bytes) and volume loop3p1 512 KiB (524288 bytes), and disk "
             "pools cannot resize volumes: nothing was replaced")


@pytest.mark.parametrize("check_mode", [True, False])
def test_a_local_image_larger_than_a_volume_its_pool_cannot_grow_is_refused_at_plan(records, tmp_path, check_mode):
    src, checksum = _image(tmp_path)
    connection, pool = _small_partition_imported(records)
    converger = _importer(connection, check_mode=check_mode, pool="disks", name="loop3p1",
                          import_from={"src": src, "checksum": checksum}, reimport=True)
    with pytest.raises(ParameterError) as info:
        converger.run()
    assert info.value.param == "import_from" and info.value.msg == TOO_SMALL
    assert ["/usr/sbin/qemu-img", "info", "--output=json", src] in converger.module.commands  # its size, read
    assert _changes(connection) == [] and pool.volumes[0].uploaded is None
    assert _record(records, pool, "loop3p1") == dict(DONE_A, key=import_key(pool.UUIDString(), "loop3p1"))


def test_a_url_image_larger_than_a_volume_its_pool_cannot_grow_is_refused_before_anything_is_written(
        records, monkeypatch):
    """A URL's size is known only once it is downloaded: check mode plans the re-import, the real run refuses it
    before the import is marked as started or the volume is wiped."""
    image = b"x" * MIB
    checksum = "sha256:" + hashlib.sha256(image).hexdigest()
    monkeypatch.setattr(urls, "open_url", lambda *args, **kwargs: io.BytesIO(image))
    connection, pool = _small_partition_imported(records)
    params = {"pool": "disks", "name": "loop3p1",
              "import_from": {"src": "https://images.example/a.img", "checksum": checksum}, "reimport": True}
    assert _importer(connection, check_mode=True, **params).run()["actions"] == [
        "re-import volume loop3p1 from https://images.example/a.img (checksum %s)" % checksum]
    with pytest.raises(ParameterError) as info:
        _importer(connection, **params).run()
    assert info.value.param == "import_from" and info.value.msg == TOO_SMALL
    assert _changes(connection) == [] and pool.volumes[0].uploaded is None
    assert _record(records, pool, "loop3p1") == dict(DONE_A, key=import_key(pool.UUIDString(), "loop3p1"))


def test_an_import_record_that_cannot_be_kept_stops_the_import_before_the_volume_is_made(tmp_path, monkeypatch):
    """Without a record a run cut off during the import would leave a half-written volume nothing tells from
    the user's data: no record, no import."""
    src, dummy = _image(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    unwritable = ImportRecords((str(blocker / "imports"),))  # no directory can be made under a file
    assert unwritable.write("key", {"state": "importing"}) is False
    monkeypatch.setattr(volume_module, "ImportRecords", lambda: unwritable)
    connection, pool = _pool()
    with pytest.raises(VirtopsError) as info:
        _importer(connection, import_from={"src": src}).run()
    assert info.value.msg.startswith("cannot keep the import record in %s/imports" % blocker)
    assert info.value.msg.endswith("nothing was imported")
    assert _changes(connection) == [] and pool.volumes == []


def test_a_volume_libvirt_refuses_to_create_leaves_no_import_record(records, tmp_path):
    src, dummy = _image(tmp_path)
    connection, pool = _pool()
    pool.fail("createXML", libvirt.VIR_ERR_INTERNAL_ERROR, "cannot create volume: No space left on device")
    with pytest.raises(LibvirtCallError):
        _importer(connection, import_from={"src": src}).run()
    assert pool.volumes == [] and _record(records, pool) is None


def test_an_import_whose_daemon_was_lost_during_creation_keeps_its_record_and_needs_reimport(records, tmp_path):
    """The daemon may have made the volume before the connection broke: the 'importing' record stays. It has no
    identity (the volume was never read), so the next run asks for reimport: true instead of trusting it."""
    src, checksum = _image(tmp_path)
    connection, pool = _pool()
    pool.fail("createXML", libvirt.VIR_ERR_INTERNAL_ERROR, "End of file while reading data: Input/output error",
              times=1, domain=libvirt.VIR_FROM_RPC)
    params = {"import_from": {"src": src, "checksum": checksum}}
    with pytest.raises(LibvirtCallError) as info:
        _importer(connection, **params).run()
    assert info.value.details["daemon_lost"] is True
    assert _record(records, pool) == {"src": src, "checksum": checksum, "state": "importing", "identity": None,
                                      "key": import_key(pool.UUIDString(), "a.img")}
    pool.appear_on_storage(_file("a.img"))  # what the daemon made before it went away
    with pytest.raises(ParameterError) as info:
        _importer(connection, **params).run()
    assert info.value.param == "reimport" and "Set reimport: true to import it again" in info.value.msg
    result = _importer(connection, reimport=True, **params).run()
    assert result["actions"] == ["re-import volume a.img from %s (the import into it did not finish)" % src]
    assert _calls(connection, "upload") == [UPLOAD] and _record(records, pool)["state"] == "done"


# ---------------------------------------------------------------- import records of the volumes a volume is made from

@pytest.mark.parametrize("params", [
    {"capacity": "64 MiB"},
    {"clone_from": {"name": "base.img"}},
    {"backing_store": {"name": "base.img", "format": "raw"}},
], ids=["create", "clone", "overlay"])
def test_a_new_volume_forgets_the_import_record_of_an_earlier_volume_of_that_name(records, params):
    """A record left by an earlier a.img (deleted by other means) is not the new volume's: kept, it would make
    the next run take the new volume for a cut-off import and replace its content."""
    connection, pool = _pool(_file("base.img"))
    _imported(records, pool, state="importing")
    assert _run(connection, **params)["changed"] is True
    assert _record(records, pool) is None


SOURCES = [
    ("clone_from", {"name": "base.img"}),
    ("backing_store", {"name": "base.img", "format": "raw"}),
]


@pytest.mark.parametrize("check_mode", [True, False])
@pytest.mark.parametrize("option, source", SOURCES)
def test_a_volume_whose_import_did_not_finish_is_no_source(records, option, source, check_mode):
    connection, pool = _pool(_file("base.img"))
    _imported(records, pool, state="importing", name="base.img")
    message = _refused(connection, option + ".name", check_mode=check_mode, **{option: source})
    assert message == ("%s.name: volume base.img of pool images holds an import of %s that did not finish: run its "
                       "import task again first" % (option, IMAGE))
    _imported(records, pool, state="done", name="base.img")
    assert _run(connection, check_mode=check_mode, **{option: source})["changed"] is True


@pytest.mark.parametrize("option, source", SOURCES)
def test_the_import_record_of_a_source_in_another_pool_is_that_pools(records, option, source):
    connection, pool = _pool()
    other = connection.conn.add_pool(DIR_POOL.replace("images", "other"), active=True, volumes=[_file("base.img")])
    _imported(records, pool, state="importing", name="base.img")  # another pool's volume of that name: no matter
    assert _run(connection, check_mode=True, **{option: dict(source, pool="other")})["changed"] is True
    _imported(records, other, state="importing", name="base.img")
    _refused(connection, option + ".name", **{option: dict(source, pool="other")})


# ---------------------------------------------------------------- _plan_wipe

def test_wipe_a_volume():
    connection, dummy = _pool(_file("a.img"))
    result = _run(connection, wipe=True, wipe_algorithm="nnsa")
    assert result["actions"] == ["wipe volume a.img (nnsa)"]
    assert _changes(connection) == [("wipe", libvirt.VIR_STORAGE_VOL_WIPE_ALG_NNSA, "a.img")]


def test_a_volume_of_zeros_is_not_wiped_with_zeros():
    connection, dummy = _pool(_file("a.img"))
    probe = FakeProbe(zeros=[A_IMG])
    assert _run(connection, probe, wipe=True)["changed"] is False
    assert _run(connection, probe, wipe=True, wipe_algorithm="random")["actions"] == ["wipe volume a.img (random)"]


def test_wiping_a_qcow2_volume_is_refused():
    connection, dummy = _pool(_file("a.img", fmt="qcow2"))
    assert _refused(connection, "wipe", wipe=True) == (
        "wipe: volume a.img is qcow2: wiping overwrites its header and leaves a raw volume of zeros. Delete it with "
        "wipe (state: absent) and create it again instead")


def test_a_pool_type_without_wipe_is_refused():
    zvol = FakeVolume("vm1", build_volume_xml({"name": "vm1", "type": "block", "capacity": GIB,
                                               "path": "/dev/zvol/tank/vm1"}))
    connection, dummy = _pool(zvol, xml=ZFS_POOL)
    assert _refused(connection, "wipe", pool="zfs", name="vm1", wipe=True) == (
        "wipe: zfs pools cannot wipe volumes (libvirt's zfs backend has no wipe)")


# ---------------------------------------------------------------- _plan_absent

@pytest.mark.parametrize("check_mode", [True, False])
def test_delete_a_volume_and_its_import_record(records, check_mode):
    connection, pool = _pool(_file("a.img"))
    _imported(records, pool)
    result = _run(connection, check_mode=check_mode, state="absent", wipe=True)
    assert result["actions"] == ["wipe volume a.img (zero)", "delete volume a.img of pool images"]
    recorded = records.read(import_key(pool.UUIDString(), "a.img"))
    if check_mode:  # the volume as it is: still there
        assert connection.conn.log == [] and recorded is not None and result["volume"]["name"] == "a.img"
    else:
        assert connection.conn.log == [("wipe", libvirt.VIR_STORAGE_VOL_WIPE_ALG_ZERO, "a.img"),
                                       ("deleteVolume", "a.img")]
        assert pool.volumes == [] and recorded is None and result["volume"] is None


def test_deleting_a_missing_volume_changes_nothing():
    connection, dummy = _pool()
    result = _run(connection, state="absent")
    assert result["changed"] is False and connection.conn.log == [("refresh", "images")]


def test_a_pool_type_without_volume_deletion_is_refused():
    lun = "unit:0:0:1"
    connection, dummy = _pool(FakeVolume(lun, fake_libvirt.volume_xml(lun, GIB)), xml=ISCSI_POOL)
    assert _refused(connection, "state", name=lun, state="absent") == (
        "state: pool images is a iscsi-direct pool, which cannot delete volumes (libvirt's iscsi-direct backend "
        "has no volume deletion)")


def _partition_delete_failing(uri=fake_libvirt.URI, xml=DISK_POOL):
    """Disk pool with loop3p1 and loop3p2, whose deletion fails as libvirt 9.0's does (parted gets 'p2')."""
    second = _partition(2)
    second.fail("delete", libvirt.VIR_ERR_INTERNAL_ERROR, PARTED_ERROR)
    connection, pool = _pool(_partition(1), second, xml=xml, uri=uri)
    return connection, pool, _converger(connection, pool=pool.name(), name="loop3p2", state="absent")


def test_a_partition_libvirt_cannot_delete_is_removed_with_parted():
    connection, pool, converger = _partition_delete_failing()

    def parted(args):
        pool.vanish_from_storage("loop3p2")
        return 0, "", ""
    converger.module.command = parted
    result = converger.run()
    assert result["actions"] == ["delete volume loop3p2 of pool disks"] and result["volume"] is None
    assert converger.module.commands == [["/usr/sbin/parted", "-s", "/dev/loop3", "rm", "2"]]
    assert connection.conn.log == [("deleteVolume", "loop3p2"), ("refresh", "disks")]
    assert [v.name() for v in pool.volumes] == ["loop3p1"]


def test_a_parted_failure_is_reported_with_libvirts():
    connection, dummy, converger = _partition_delete_failing()
    converger.module.command = lambda args: (1, "", "Error: Partition doesn't exist.\n")
    with pytest.raises(VirtopsError) as info:
        converger.run()
    assert info.value.msg == ("deleting volume loop3p2 of pool disks failed: %s; removing partition 2 of /dev/loop3 "
                              "with parted failed too: Error: Partition doesn't exist." % PARTED_ERROR)


@pytest.mark.parametrize("uri, xml", [
    (REMOTE, DISK_POOL),  # parted would run on the wrong host
    (fake_libvirt.URI, DIR_POOL),  # not a partition
])
def test_the_parted_workaround_is_for_partitions_on_this_host_only(uri, xml):
    connection, dummy, converger = _partition_delete_failing(uri, xml)
    with pytest.raises(LibvirtCallError) as info:
        converger.run()
    assert PARTED_ERROR in info.value.msg and converger.module.commands == []


# ---------------------------------------------------------------- diff_view

def _standard_pool():
    """a.img (raw, 1 GiB, 0600) and base.qcow2 (qcow2, 1 GiB) in pool images."""
    return _pool(_file("a.img"), _file("base.qcow2", fmt="qcow2"))


@pytest.mark.parametrize("params, changed", [
    ({"name": "new.img", "capacity": "64 MiB"}, True),
    ({"name": "new.img", "capacity": "64 MiB", "preallocation": "falloc"}, True),
    ({"name": "new.qcow2", "clone_from": {"name": "base.qcow2"}, "format": "qcow2"}, True),
    ({"name": "new.qcow2", "backing_store": {"name": "base.qcow2", "format": "qcow2"}}, True),
    ({"name": "new.img", "import_from": {"src": IMAGE}}, True),
    ({"capacity": "2 GiB"}, True),
    ({"capacity": "512 MiB", "allow_shrink": True}, True),
    ({"permissions": {"mode": "0644"}}, True),
    ({"import_from": {"src": IMAGE}, "reimport": True}, True),
    ({"wipe": True}, True),
    ({"state": "absent"}, True),
    ({"state": "absent", "wipe": True}, True),
    ({"capacity": "1 GiB", "permissions": {"mode": "0600"}}, False),
    ({"import_from": {"src": IMAGE}}, False),  # kept, with a warning
    ({"permissions": {"label": "system_u:object_r:virt_image_t:s0"}}, False),  # a warning only
    ({"name": "gone.img", "state": "absent"}, False),
])
def test_the_diff_shows_a_change_exactly_when_there_is_one(params, changed):
    connection, dummy = _standard_pool()
    result = _run(connection, check_mode=True, **params)
    assert result["changed"] is changed and bool(result["actions"]) is changed
    assert (result["diff"]["before"] != result["diff"]["after"]) is changed


PRESENT = {"name": "a.img", "path": A_IMG, "capacity": GIB, "format": "raw",
           "permissions": {"mode": "0600", "owner": 0, "group": 0}, "state": "present"}


@pytest.mark.parametrize("params, after", [
    ({"capacity": "2 GiB"}, dict(PRESENT, capacity=2 * GIB)),
    ({"permissions": {"mode": "0644"}}, dict(PRESENT, permissions={"mode": "0644", "owner": 0, "group": 0})),
    ({"import_from": {"src": IMAGE, "checksum": SHA_A}, "reimport": True},
     dict(PRESENT, import_from="%s (%s)" % (IMAGE, SHA_A))),
    ({"wipe": True}, dict(PRESENT, wiped="zero")),
    ({"state": "absent"}, {"state": "absent"}),
    ({"state": "absent", "wipe": True, "wipe_algorithm": "dod"}, {"wiped": "dod", "state": "absent"}),
])
def test_the_diff_of_an_existing_volume(params, after):
    connection, dummy = _standard_pool()
    diff = _run(connection, check_mode=True, **params)["diff"]
    assert diff == {"before": PRESENT, "after": after}


@pytest.mark.parametrize("params, after", [
    ({"capacity": "64 MiB", "format": "qcow2", "preallocation": "metadata"},
     {"capacity": 64 * MIB, "format": "qcow2", "preallocation": "metadata"}),
    ({"capacity": "64 MiB", "permissions": {"mode": "0640"}},
     {"capacity": 64 * MIB, "format": "raw", "permissions": {"mode": "0640"}}),
    ({"clone_from": {"name": "base.qcow2"}, "format": "qcow2"},
     {"capacity": GIB, "format": "qcow2", "clone_from": "images/base.qcow2"}),
    ({"backing_store": {"name": "base.qcow2", "format": "qcow2"}},
     {"capacity": GIB, "format": "qcow2", "backing_store": {"path": BASE, "format": "qcow2"}}),
    ({"capacity": "64 MiB", "format": "qcow2", "encryption": {"secret": {"usage": "a.img"}}},
     {"capacity": 64 * MIB, "format": "qcow2", "encryption": {"format": "luks", "secret": {"usage": "a.img"}}}),
    ({"import_from": {"src": IMAGE}}, {"format": "raw", "import_from": IMAGE}),
])
def test_the_diff_of_a_new_volume(params, after):
    connection, dummy = _standard_pool()
    diff = _run(connection, check_mode=True, name="new", **params)["diff"]
    assert diff == {"before": {"state": "absent"}, "after": dict(after, name="new", state="present")}


# ---------------------------------------------------------------- check mode: the facts of a volume to be created

@pytest.mark.parametrize("xml, params, path, disk_source", [
    (DIR_POOL, {}, A_IMG, {"file": A_IMG}),
    (DISK_POOL, {"pool": "disks", "name": None}, "/dev/loop3p1", {"dev": "/dev/loop3p1"}),
    (RBD_POOL, {"pool": "ceph"}, None, {"protocol": "rbd", "name": "rbdpool/a.img", "hosts": [{"name": "mon1"}]}),
])
def test_check_mode_facts_of_a_volume_to_be_created(xml, params, path, disk_source):
    connection, dummy = _pool(xml=xml)
    facts = _run(connection, check_mode=True, capacity="64 MiB", **params)["volume"]
    assert facts["path"] == path and facts["key"] is None and facts["xml"] is None
    assert facts["capacity"] == 64 * MIB and facts["disk"]["source"] == disk_source
    assert facts["disk_xml"].startswith("<disk ")


def test_the_diff_of_a_reimport_that_grows_the_volume_shows_the_new_capacity(records, tmp_path):
    """The re-import grows a volume smaller than the image: the diff says so, as the plan does it."""
    src, checksum = _image(tmp_path)
    connection, pool = _pool(_file("a.img", MIB // 2))
    _imported(records, pool)
    result = _importer(connection, check_mode=True, import_from={"src": src, "checksum": checksum}, reimport=True).run()
    assert result["diff"]["before"]["capacity"] == MIB // 2 and result["diff"]["after"]["capacity"] == MIB
