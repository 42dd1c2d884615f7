"""PoolConverger's plan steps, plan_build, _plan_absent, source conflicts and the undoing of a failed creation.

Runs over the shared libvirt fake (fake_libvirt), which raises libvirt's real
error codes, and a fake HostProbe: no daemon, no host paths (except where the
undo removes real directories, under tmp_path).
"""

import os

import libvirt
import pytest

from ansible_collections.virtops.storage.plugins.module_utils import pool as pool_module
from ansible_collections.virtops.storage.plugins.module_utils import volume as volume_module
from ansible_collections.virtops.storage.plugins.module_utils.errors import (
    LibvirtCallError, ParameterError, UnsafeActionError, VirtopsError)
from ansible_collections.virtops.storage.plugins.module_utils.host_probe import HostProbe
from ansible_collections.virtops.storage.plugins.module_utils.pool import PoolConverger, plan_build, source_conflict
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import POOL_TYPES
from ansible_collections.virtops.storage.plugins.module_utils.pool_xml import build_pool_xml

from . import fake_libvirt
from .fake_libvirt import FakeConnection, FakePool, FakeProbe, FakeVolume, volume_xml

# the module's argument spec defaults (plugins/modules/storage_pool.py)
DEFAULTS = {"name": None, "type": None, "xml": None, "state": "present", "autostart": None, "build": True,
            "overwrite": False, "restart": False, "delete_storage": False, "delete_volumes": False,
            "allow_in_use": False, "source": None,
            "target": None, "mount_options": None, "config_options": None, "cow": None,
            "refresh_volume_allocation": None, "uri": fake_libvirt.URI}
NAME = "images"
TARGET = "/srv/images"
DIR = {"name": NAME, "type": "dir", "target": {"path": TARGET}}
DEVICE = "/dev/vdb"
FS = {"name": NAME, "type": "fs", "source": {"devices": [{"path": DEVICE}], "format": "ext4"},
      "target": {"path": "/srv/fs"}}


def _merged(base, **changes):
    """``base`` with ``changes`` (top-level keys replaced)."""
    merged = dict(base)
    merged.update(changes)
    return merged


def _module(check_mode=False, **params):
    return fake_libvirt.FakeModule(DEFAULTS, check_mode=check_mode, **params)


def _converger(connection, probe=None, check_mode=False, **params):
    return PoolConverger(_module(check_mode=check_mode, **params), connection,
                         probe=probe or FakeProbe({TARGET: "directory", "/srv": "directory"}))


def _plan(connection, probe=None, **params):
    converger = _converger(connection, probe, **params)
    desired = converger.read_desired()
    return converger, [a.description for a in converger.plan(converger.read_current(), desired)]


def _run(connection, probe=None, check_mode=False, **params):
    return _converger(connection, probe, check_mode=check_mode, **params).run()


def _existing(connection, spec, **state):
    """A pool libvirt already has, defined from ``spec`` (with the target permissions libvirt reports)."""
    if "target" in spec:
        spec = dict(spec, target=dict({"permissions": {"mode": "0755", "owner": 0, "group": 0}}, **spec["target"]))
    return connection.conn.add_pool(build_pool_xml(spec), **state)


# ---------------------------------------------------------------- definition

def test_new_pool_defined_built_started_autostarted():
    connection = FakeConnection()
    probe = FakeProbe({"/srv": "directory"})
    result = _run(connection, probe, state="active", autostart=True, **DIR)
    assert result["actions"] == ["define pool images", "build pool images: create directory /srv/images",
                                 "start pool images", "enable autostart of pool images"]
    assert [entry[0] for entry in connection.conn.log] == ["definePool", "build", "create", "setAutostart"]
    assert result["pool"]["active"] is True and result["pool"]["autostart"] is True
    assert result["diff"]["before"] == {"state": "absent"} and result["diff"]["after"]["state"] == "active"


def test_new_pool_check_mode_changes_nothing():
    connection = FakeConnection()
    result = _run(connection, FakeProbe({"/srv": "directory"}), check_mode=True, state="active", **DIR)
    assert result["changed"] is True and len(result["actions"]) == 3
    assert connection.conn.log == [] and result["pool"] is None


@pytest.mark.parametrize("params, param, fragment", [
    ({"name": NAME, "target": {"path": TARGET}}, "type", "required to define pool images"),
    (_merged(DIR, type="vstorage", source={"name": "c"}), "type", "not supported by the libvirt daemon"),
])
def test_new_pool_refused(params, param, fragment):
    connection = FakeConnection()
    with pytest.raises(ParameterError) as info:
        _run(connection, **params)
    assert info.value.param == param and fragment in info.value.msg
    assert connection.conn.log == []


def test_existing_pool_unchanged():
    connection = FakeConnection()
    _existing(connection, DIR)
    assert _plan(connection, **DIR)[1] == []


def test_existing_pool_redefined():
    connection = FakeConnection()
    _existing(connection, DIR)
    changed = _merged(DIR, target={"path": TARGET, "permissions": {"mode": "0711"}})
    probe = FakeProbe({TARGET: "directory"}, permissions={TARGET: {"mode": "0711", "owner": 0, "group": 0}})
    assert _plan(connection, probe, **changed)[1] == ["redefine (target.permissions.mode) pool images"]


def test_transient_pool_made_persistent():
    connection = FakeConnection()
    _existing(connection, DIR, active=True, persistent=False)
    assert _plan(connection, **DIR)[1] == ["redefine (make persistent) pool images"]


def test_type_change_refused():
    connection = FakeConnection()
    _existing(connection, DIR)
    with pytest.raises(ParameterError) as info:
        _plan(connection, **_merged(FS, name=NAME))
    assert info.value.param == "type" and "exists with type dir" in info.value.msg


# ---------------------------------------------------------------- restart, state, autostart

CHANGED = _merged(DIR, target={"path": TARGET, "permissions": {"mode": "0711"}})
PERMS_0711 = {TARGET: {"mode": "0711", "owner": 0, "group": 0}}


def test_active_pool_redefined_warns_without_restart():
    connection = FakeConnection()
    _existing(connection, DIR, active=True)
    converger, actions = _plan(connection, FakeProbe({TARGET: "directory"}, permissions=PERMS_0711), **CHANGED)
    assert actions == ["redefine (target.permissions.mode) pool images"]
    (warning,) = converger.warnings
    assert "still uses its old definition (target.permissions.mode changed)" in warning and "restart" in warning


def test_active_pool_restarted():
    connection = FakeConnection()
    _existing(connection, DIR, active=True)
    converger, actions = _plan(connection, FakeProbe({TARGET: "directory"}, permissions=PERMS_0711),
                               restart=True, **CHANGED)
    assert actions == ["redefine (target.permissions.mode) pool images", "stop pool images", "start pool images"]
    assert converger.warnings == []


def test_pending_definition_restarted_later():
    """A redefinition the running pool has not picked up yet still calls for a restart."""
    connection = FakeConnection()
    pool = _existing(connection, DIR, active=True)
    pool.definition = build_pool_xml(_merged(CHANGED, target={"path": TARGET, "permissions": {"mode": "0711"}}))
    converger, actions = _plan(connection, FakeProbe({TARGET: "directory"}, permissions=PERMS_0711),
                               restart=True, **CHANGED)
    assert actions == ["stop pool images", "start pool images"]


def test_inactive_state_stops_without_restart():
    connection = FakeConnection()
    _existing(connection, DIR, active=True)
    converger, actions = _plan(connection, state="inactive", restart=True, **CHANGED)
    assert actions == ["redefine (target.permissions.mode) pool images", "stop pool images"]
    assert converger.warnings == []


def test_autostart_disabled():
    connection = FakeConnection()
    _existing(connection, DIR, autostart=True)
    assert _plan(connection, autostart=False, **DIR)[1] == ["disable autostart of pool images"]
    assert _plan(connection, autostart=True, **DIR)[1] == []


def test_build_false_only_starts():
    connection = FakeConnection()
    _existing(connection, DIR)
    probe = FakeProbe({"/srv": "directory"})
    assert _plan(connection, probe, state="active", build=False, **DIR)[1] == ["start pool images"]


# ---------------------------------------------------------------- target and source checks

@pytest.mark.parametrize("check_mode", [True, False])
@pytest.mark.parametrize("state", ["present", "active"])
def test_target_that_is_a_file_refused(check_mode, state):
    connection = FakeConnection()
    with pytest.raises(ParameterError) as info:
        _run(connection, FakeProbe({TARGET: "regular file"}), check_mode=check_mode, state=state, **DIR)
    assert info.value.param == "target.path" and "is a regular file, not a directory" in info.value.msg
    assert connection.conn.log == []


def test_target_not_checked_on_a_remote_daemon_or_without_build_or_start():
    probe = FakeProbe({TARGET: "regular file"})
    assert _plan(FakeConnection(uri="qemu+ssh://hv1/system"), probe, build=False, state="active", **DIR)[1] == [
        "define pool images", "start pool images"]
    assert _plan(FakeConnection(), probe, build=False, **DIR)[1] == ["define pool images"]


def test_source_conflict_refused_in_check_mode_too():
    connection = FakeConnection()
    _existing(connection, _merged(DIR, name="other"))
    for check_mode in (True, False):
        with pytest.raises(ParameterError) as info:
            _run(connection, check_mode=check_mode, **_merged(DIR, target={"path": TARGET + "/"}))
        assert info.value.param == "target.path"
        assert "pool other already uses target path /srv/images" in info.value.msg
    assert [entry[0] for entry in connection.conn.log] == []


def _spec(pool_type, **fields):
    spec = {"name": fields.pop("name", "new"), "type": pool_type}
    spec.update(fields)
    return spec


@pytest.mark.parametrize("ours, theirs, param", [
    (_spec("dir", target={"path": "/a"}), _spec("dir", name="o", target={"path": "/a"}), "target.path"),
    (_spec("dir", target={"path": "/a"}), _spec("dir", name="o", target={"path": "/b"}), None),
    (_spec("dir", target={"path": "/a"}), _spec("dir", target={"path": "/a"}), None),  # itself
    (_spec("dir", target={"path": "/a"}), _spec("netfs", name="o", target={"path": "/a"}), None),
    (_spec("disk", source={"devices": [{"path": "/dev/a"}]}),
     _spec("fs", name="o", source={"devices": [{"path": "/dev/a"}]}), "source.devices"),
    (_spec("logical", source={"devices": [{"path": "/dev/b"}, {"path": "/dev/a"}]}),
     _spec("zfs", name="o", source={"devices": [{"path": "/dev/a"}]}), "source.devices"),
    (_spec("fs", source={"devices": [{"path": "/dev/a"}]}),
     _spec("fs", name="o", source={"devices": [{"path": "/dev/b"}]}), None),
    (_spec("fs", source={"devices": [{"path": "/dev/a"}]}),
     _spec("iscsi", name="o", source={"devices": [{"path": "/dev/a"}]}), None),
    (_spec("iscsi", source={"devices": [{"path": "iqn.t"}], "initiator_iqn": "iqn.i"}),
     _spec("iscsi", name="o", source={"devices": [{"path": "iqn.t"}], "initiator_iqn": "iqn.i"}), "source.devices"),
    (_spec("iscsi", source={"devices": [{"path": "iqn.t"}], "initiator_iqn": "iqn.i"}),
     _spec("iscsi", name="o", source={"devices": [{"path": "iqn.t"}], "initiator_iqn": "iqn.j"}), None),
    (_spec("netfs", source={"hosts": [{"name": "h"}], "dir": "/e"}),
     _spec("netfs", name="o", source={"hosts": [{"name": "h", "port": 2049}], "dir": "/e"}), "source.dir"),
    (_spec("netfs", source={"hosts": [{"name": "h", "port": 2050}], "dir": "/e"}),
     _spec("netfs", name="o", source={"hosts": [{"name": "h", "port": 2049}], "dir": "/e"}), None),
    (_spec("netfs", source={"hosts": [{"name": "h"}], "dir": "/e"}),
     _spec("netfs", name="o", source={"hosts": [{"name": "h"}], "dir": "/f"}), None),
    (_spec("mpath"), _spec("mpath", name="o"), "type"),
    (_spec("rbd", source={"name": "r"}), _spec("rbd", name="o", source={"name": "r"}), None),
], ids=["dir-same-target", "dir-other-target", "dir-itself", "dir-vs-netfs", "disk-vs-fs", "logical-vs-zfs",
        "fs-other-device", "fs-vs-iscsi", "iscsi-same-initiator", "iscsi-other-initiator", "netfs-same-export",
        "netfs-other-port", "netfs-other-dir", "mpath", "rbd-never"])
def test_source_conflict(ours, theirs, param):
    assert source_conflict(POOL_TYPES[ours["type"]], ours, POOL_TYPES[theirs["type"]], theirs) == param


def test_device_conflict_names_the_other_pool():
    connection = FakeConnection()
    _existing(connection, _merged(FS, name="fspool"))
    with pytest.raises(ParameterError) as info:
        _plan(connection, **{"name": "disk", "type": "disk", "target": {"path": "/dev"}, "build": False,
                             "source": {"devices": [{"path": DEVICE}], "format": "gpt"}})
    assert info.value.param == "source.devices" and "pool fspool already uses device(s) /dev/vdb" in info.value.msg


# ---------------------------------------------------------------- the auth secret

ISCSI = {"name": "san", "type": "iscsi", "target": {"path": "/dev/disk/by-path"},
         "source": {"hosts": [{"name": "san"}], "devices": [{"path": "iqn.2024-01.com.example:t"}],
                    "auth": {"type": "chap", "username": "u", "secret": {"usage": "chap"}}}}


@pytest.mark.parametrize("state", ["present", "inactive", "active"])
def test_missing_auth_secret_fails_the_real_run(state):
    connection = FakeConnection()
    with pytest.raises(ParameterError) as info:
        _run(connection, state=state, **ISCSI)
    assert info.value.param == "source.auth.secret" and "no libvirt secret with usage chap" in info.value.msg
    assert connection.conn.log == []


def test_missing_auth_secret_warns_in_check_mode():
    result = _run(FakeConnection(), check_mode=True, **ISCSI)
    (warning,) = result["warnings"]
    assert warning.startswith("source.auth.secret: no libvirt secret with usage chap")


@pytest.mark.parametrize("check_mode", [True, False])
def test_auth_secret_of_another_usage_type_fails(check_mode):
    connection = FakeConnection()
    connection.conn.add(usage_type="ceph", usage_id="chap")
    connection.conn.add(uuid=fake_libvirt.UUID.replace("0", "1"), usage_type="volume", usage_id="/x")
    auth = {"type": "chap", "username": "u", "secret": {"uuid": fake_libvirt.UUID.replace("0", "1")}}
    params = _merged(ISCSI, source=dict(ISCSI["source"], auth=auth))
    with pytest.raises(ParameterError) as info:
        _run(connection, check_mode=check_mode, **params)
    assert info.value.param == "source.auth.secret" and "usage type volume, not iscsi" in info.value.msg


def test_existing_auth_secret():
    connection = FakeConnection()
    connection.conn.add(usage_type="iscsi", usage_id="chap")
    result = _run(connection, **ISCSI)
    assert result["actions"] == ["define pool san"] and "warnings" not in result


# ---------------------------------------------------------------- plan_build

DIR_ROW, FS_ROW, DISK_ROW = POOL_TYPES["dir"], POOL_TYPES["fs"], POOL_TYPES["disk"]


def _fs(fmt="ext4", device=DEVICE):
    return {"name": "p", "type": "fs", "source": {"devices": [{"path": device}], "format": fmt},
            "target": {"path": "/mnt/p"}}


def _disk(fmt="gpt"):
    return {"name": "p", "type": "disk", "source": {"devices": [{"path": DEVICE}], "format": fmt},
            "target": {"path": "/dev"}}


def test_plan_build_types_without_build():
    assert plan_build(POOL_TYPES["iscsi"], ISCSI, FakeProbe(), False) is None


@pytest.mark.parametrize("paths, permissions, declared, expected", [
    ({}, {}, {}, ("new", "create directory /srv/images")),
    ({TARGET: "directory"}, {}, {}, None),
    ({TARGET: "directory"}, {}, {"mode": "0755"}, None),
    ({TARGET: "directory"}, {}, {"mode": "0700", "owner": 107},
     ("new", "set mode/owner of directory /srv/images to 0700, 107")),
])
def test_plan_build_directory(paths, permissions, declared, expected):
    spec = _merged(DIR, target={"path": TARGET, "permissions": declared})
    assert plan_build(DIR_ROW, spec, FakeProbe(paths), False) == expected


def test_plan_build_directory_declared_permissions_only():
    """Only the permissions the user declared count (the full spec holds libvirt's)."""
    full = _merged(DIR, target={"path": TARGET, "permissions": {"mode": "0700"}})
    assert plan_build(DIR_ROW, full, FakeProbe({TARGET: "directory"}), False, declared=DIR) is None


@pytest.mark.parametrize("spec, signature, paths, expected", [
    (_fs(), {}, {}, ("no_overwrite", "format /dev/vdb as ext4")),
    (_fs(), {"filesystem": "ext4"}, {"/mnt/p": "directory"}, None),
    (_fs("auto"), {"filesystem": "xfs"}, {"/mnt/p": "directory"}, None),
    (_fs(), {"filesystem": "ext4"}, {}, ("new", "create mount point /mnt/p")),
    (_disk(), {}, {}, ("no_overwrite", "write a gpt partition table on /dev/vdb")),
    (_disk("unknown"), {}, {}, ("no_overwrite", "write a dos partition table on /dev/vdb")),
    (_disk(), {"label": "gpt", "partitions": ["vdb1"]}, {}, None),
    (_disk("unknown"), {"label": "dos", "partitions": []}, {}, None),
], ids=["fs-blank", "fs-same", "fs-auto-any", "fs-mount-point", "disk-blank", "disk-blank-default",
        "disk-same", "disk-any-label"])
def test_plan_build_device(spec, signature, paths, expected):
    row = POOL_TYPES[spec["type"]]
    probe = FakeProbe(dict(paths, **{DEVICE: "block device"}), signatures={DEVICE: signature})
    assert plan_build(row, spec, probe, False) == expected


@pytest.mark.parametrize("spec, signature, what", [
    (_fs(), {"filesystem": "xfs"}, "a xfs filesystem"),
    (_fs(), {"label": "gpt", "partitions": ["vdb1", "vdb2"]}, "a gpt partition table with 2 partition(s) (vdb1, vdb2)"),
    (_disk(), {"label": "dos", "partitions": []}, "a dos partition table"),
    (_disk(), {"filesystem": "ext4"}, "a ext4 filesystem"),
    (_disk(), {"other": "USAGE=crypto"}, "data (USAGE=crypto)"),
], ids=["fs-other-filesystem", "fs-over-label", "disk-other-label", "disk-over-filesystem", "disk-other-data"])
def test_plan_build_other_data(spec, signature, what):
    row = POOL_TYPES[spec["type"]]
    probe = FakeProbe({DEVICE: "block device"}, signatures={DEVICE: signature})
    with pytest.raises(UnsafeActionError) as info:
        plan_build(row, spec, probe, False)
    assert info.value.details["param"] == "overwrite"
    assert "device /dev/vdb holds %s" % what in info.value.msg and "overwrite: true" in info.value.msg
    mode, description = plan_build(row, spec, probe, True)
    assert mode == "overwrite" and description.endswith("destroying %s" % what)


def test_plan_build_blank_device_needs_a_filesystem_name():
    with pytest.raises(ParameterError) as info:
        plan_build(FS_ROW, _fs("auto"), FakeProbe({DEVICE: "block device"}), False)
    assert info.value.param == "source.format" and "device /dev/vdb is blank" in info.value.msg


def test_plan_build_missing_device():
    with pytest.raises(ParameterError) as info:
        plan_build(DISK_ROW, _disk(), FakeProbe(), False)
    assert info.value.param == "source.devices" and "does not exist on the host" in info.value.msg


def test_plan_build_probe_error():
    probe = FakeProbe({DEVICE: "block device"}, signatures={DEVICE: {"error": "permission denied"}})
    with pytest.raises(VirtopsError) as info:
        plan_build(FS_ROW, _fs(), probe, False)
    assert "cannot probe device /dev/vdb" in info.value.msg and "permission denied" in info.value.msg


# ---------------------------------------------------------------- absent

def test_absent_missing_pool():
    assert _plan(FakeConnection(), state="absent", name=NAME)[1] == []


@pytest.mark.parametrize("active, expected", [
    (False, ["undefine pool images"]),
    (True, ["stop pool images", "undefine pool images"]),
])
def test_absent(active, expected):
    connection = FakeConnection()
    _existing(connection, DIR, active=active)
    result = _run(connection, state="absent", name=NAME)
    assert result["actions"] == expected and result["pool"] is None
    assert NAME not in connection.conn.pools


def test_absent_delete_storage_of_an_inactive_pool_starts_it_to_inspect():
    connection = FakeConnection()
    _existing(connection, DIR)
    result = _run(connection, state="absent", name=NAME, delete_storage=True)
    assert result["actions"] == ["start pool images to list its volumes", "check that pool images holds no volumes",
                                 "stop pool images", "delete the underlying storage of pool images",
                                 "undefine pool images"]
    assert [entry[0] for entry in connection.conn.log] == ["create", "refresh", "destroy", "delete", "undefine"]


def test_absent_delete_volumes_named():
    connection = FakeConnection()
    _existing(connection, DIR, active=True)
    assert _plan(connection, state="absent", name=NAME, delete_storage=True, delete_volumes=True)[1] == [
        "delete every volume of pool images", "stop pool images", "delete the underlying storage of pool images",
        "undefine pool images"]


def test_absent_delete_storage_refused_while_the_pool_holds_volumes():
    connection = FakeConnection()
    pool = _existing(connection, DIR, volumes=[fake_libvirt.FakeVolume("a.img", fake_libvirt.volume_xml("a.img", 1))])
    with pytest.raises(UnsafeActionError) as info:
        _run(connection, state="absent", name=NAME, delete_storage=True)
    assert info.value.details["param"] == "delete_volumes" and "a.img" in info.value.msg
    assert pool.isActive() == 0 and NAME in connection.conn.pools  # left as it was found: inactive, defined


@pytest.mark.parametrize("check_mode", [True, False])
def test_absent_delete_storage_refused_at_plan_when_the_host_shows_the_volumes(check_mode):
    """An active pool lists its volumes, an inactive dir pool shows them in its directory: check mode fails too."""
    for active, probe in ((True, None), (False, FakeProbe({TARGET: "directory", TARGET + "/a.img": "regular file"}))):
        connection = FakeConnection()
        _existing(connection, DIR, active=active,
                  volumes=[fake_libvirt.FakeVolume("a.img", fake_libvirt.volume_xml("a.img", 1))])
        with pytest.raises(UnsafeActionError) as info:
            _run(connection, probe, check_mode=check_mode, state="absent", name=NAME, delete_storage=True)
        assert info.value.details["param"] == "delete_volumes" and "a.img" in info.value.msg
        assert [entry[0] for entry in connection.conn.log if entry[0] != "refresh"] == []  # nothing stopped


def test_absent_keeps_volumes_on_disk_and_says_so():
    connection = FakeConnection()
    _existing(connection, DIR, active=True, volumes=[fake_libvirt.FakeVolume("a.img", fake_libvirt.volume_xml("a.img", 1))])
    converger = _converger(connection, state="absent", name=NAME)
    result = converger.run()
    assert result["diff"]["before"]["volumes"] == "a.img" and result["diff"]["after"] == {
        "state": "absent", "volumes": "left on disk"}
    (warning,) = converger.warnings
    assert "1 volume(s) (a.img) stay on disk" in warning


def test_absent_delete_storage_of_a_type_without_delete():
    connection = FakeConnection()
    _existing(connection, _merged(ISCSI, source=dict(ISCSI["source"], auth=None)))
    with pytest.raises(ParameterError) as info:
        _run(connection, state="absent", name="san", delete_storage=True)
    assert info.value.param == "delete_storage" and connection.conn.log == []


@pytest.mark.parametrize("params, param", [
    ({"state": "absent", "delete_volumes": True}, "delete_volumes"),
    ({"state": "present", "delete_storage": True}, "delete_storage"),
])
def test_absent_flags_misused(params, param):
    with pytest.raises(ParameterError) as info:
        _run(FakeConnection(), name=NAME, **params)
    assert info.value.param == param


# ---------------------------------------------------------------- delete_volumes spares what others use

DELETE_ALL = {"state": "absent", "name": NAME, "delete_storage": True, "delete_volumes": True}


def _volume(name, directory=TARGET, backing=None):
    return FakeVolume(name, volume_xml(name, 1, path="%s/%s" % (directory, name), backing=backing))


def _pool_in_use(guest=True, other_pool=True):
    """Active pool images holding a.img (vm1's disk), b.img (under other/c.qcow2) and d.qcow2, an overlay of b.img
    in the pool itself (deleted with it: it breaks nothing that stays)."""
    connection = FakeConnection()
    pool = _existing(connection, DIR, active=True, volumes=[
        _volume("a.img"), _volume("b.img"), _volume("d.qcow2", backing=TARGET + "/b.img")])
    if guest:
        connection.conn.add_domain("vm1", [TARGET + "/a.img"])
    if other_pool:
        connection.conn.add_pool(build_pool_xml({"name": "other", "type": "dir", "target": {"path": "/srv/other"}}),
                                 active=True, volumes=[_volume("c.qcow2", "/srv/other", backing=TARGET + "/b.img")])
    return connection, pool


@pytest.mark.parametrize("check_mode", [True, False])
def test_absent_delete_volumes_refused_while_others_use_them(check_mode):
    connection, pool = _pool_in_use()
    with pytest.raises(UnsafeActionError) as info:
        _run(connection, check_mode=check_mode, **DELETE_ALL)
    assert info.value.details["param"] == "allow_in_use"
    assert info.value.msg == ("pool images: deleting its volumes would break what uses them: a.img (used by vm1); "
                              "b.img (used by other/c.qcow2). Detach or delete those first, or set allow_in_use: true")
    assert [entry for entry in connection.conn.log if entry[0] != "refresh"] == [] and len(pool.volumes) == 3


@pytest.mark.parametrize("guest, other_pool", [(True, False), (False, True)])
def test_absent_delete_volumes_refused_for_one_user(guest, other_pool):
    connection, dummy = _pool_in_use(guest, other_pool)
    with pytest.raises(UnsafeActionError) as info:
        _run(connection, check_mode=True, **DELETE_ALL)
    assert ("a.img (used by vm1)" in info.value.msg) is guest
    assert ("b.img (used by other/c.qcow2)" in info.value.msg) is other_pool


def test_absent_delete_volumes_of_overlays_within_the_pool_only():
    connection, pool = _pool_in_use(guest=False, other_pool=False)
    result = _run(connection, **DELETE_ALL)
    assert result["actions"][0] == "delete every volume of pool images" and pool.volumes == []


def test_absent_delete_volumes_in_use_allowed():
    connection, pool = _pool_in_use()
    result = _run(connection, allow_in_use=True, **DELETE_ALL)
    assert result["actions"] == ["delete every volume of pool images", "stop pool images",
                                 "delete the underlying storage of pool images", "undefine pool images"]
    assert [entry[0] for entry in connection.conn.log].count("deleteVolume") == 3 and pool.volumes == []


def test_absent_delete_volumes_stops_while_a_volume_is_being_created(monkeypatch):
    """libvirt refuses to refresh a pool a volume is being created in: what it lists may miss that volume, so the
    storage is not deleted (nor any volume)."""
    monkeypatch.setattr(volume_module.refresh_pool, "__defaults__", (0.05, "pool"))  # the wait for a busy pool, then param
    connection = FakeConnection()
    pool = _existing(connection, DIR, active=True, volumes=[_volume("a.img")])
    pool.fail("refresh", libvirt.VIR_ERR_INTERNAL_ERROR, "internal error: pool 'images' has asynchronous jobs running.")
    with pytest.raises(VirtopsError) as info:
        _run(connection, **DELETE_ALL)
    assert info.value.msg.startswith("pool images is busy (another client is creating a volume in it): its volumes "
                                     "cannot be listed for sure, so its storage is not deleted; run the task again")
    assert [entry for entry in connection.conn.log if entry[0] != "refresh"] == []
    assert len(pool.volumes) == 1 and pool.isActive() == 1 and NAME in connection.conn.pools


# ---------------------------------------------------------------- a failed creation is undone

@pytest.fixture
def builds_directories(monkeypatch):
    """The fake build makes the pool's target directory (and its parents), as libvirt's does."""
    def build(pool, flags):
        pool.libvirt_conn.log.append(("build", flags, pool.name()))
        os.makedirs(pool_module.parse_pool_xml(pool.definition)["target"]["path"])
        pool._check("build")  # pylint: disable=protected-access
    monkeypatch.setattr(FakePool, "build", build)


def _failing(connection, method):
    """Make ``method`` of every pool the fake defines fail with libvirt's internal error."""
    original = connection.conn.add_pool

    def add_pool(xml, **state):
        made = original(xml, **state)
        made.fail(method, libvirt.VIR_ERR_INTERNAL_ERROR, "mount failed")
        return made
    connection.conn.add_pool = add_pool


@pytest.mark.parametrize("method", ["create", "build"])
def test_failed_new_pool_is_undefined_and_its_directories_removed(method, tmp_path, builds_directories):
    connection = FakeConnection()
    _failing(connection, method)
    target = str(tmp_path / "a" / "b")
    converger = PoolConverger(_module(state="active", name=NAME, type="dir", target={"path": target}), connection,
                              probe=HostProbe(None))
    with pytest.raises(LibvirtCallError) as info:
        converger.run()
    assert NAME not in connection.conn.pools and connection.conn.log[-1] == ("undefine", NAME)
    assert os.listdir(str(tmp_path)) == []
    assert info.value.msg.endswith("; the pool was undefined again and directories %s, %s removed: the host is as "
                                   "before" % (target, str(tmp_path / "a")))


def test_failed_new_pool_keeps_a_directory_that_is_not_empty(tmp_path, builds_directories):
    connection = FakeConnection()
    _failing(connection, "create")
    target = str(tmp_path / "t")
    original = FakePool.build

    def build_and_write(pool, flags):
        original(pool, flags)
        with open(os.path.join(target, "file"), "w") as handle:
            handle.write("x")
    FakePool.build = build_and_write
    try:
        with pytest.raises(LibvirtCallError) as info:
            PoolConverger(_module(state="active", name=NAME, type="dir", target={"path": target}), connection,
                          probe=HostProbe(None)).run()
    finally:
        FakePool.build = original
    assert NAME not in connection.conn.pools and os.path.isdir(target)
    assert "the pool was undefined again; directory %s (Directory not empty), made by its build, is left" % target \
        in info.value.msg


def test_failed_new_pool_on_a_remote_daemon_leaves_its_directories():
    connection = FakeConnection(uri="qemu+ssh://hv1/system")
    _failing(connection, "create")
    with pytest.raises(LibvirtCallError) as info:
        _run(connection, FakeProbe({"/srv": "directory"}), state="active", **DIR)
    assert NAME not in connection.conn.pools
    assert "undefined again; directories its build made on the daemon's host are left" in info.value.msg


def test_failed_new_pool_after_a_device_build():
    connection = FakeConnection()
    _failing(connection, "create")
    probe = FakeProbe({DEVICE: "block device", "/srv": "directory"}, signatures={DEVICE: {}})
    with pytest.raises(LibvirtCallError) as info:
        _run(connection, probe, state="active", **FS)
    assert NAME not in connection.conn.pools
    assert "device /dev/vdb may keep what the build wrote on it" in info.value.msg


def test_failed_start_of_an_existing_pool_leaves_it_defined():
    connection = FakeConnection()
    pool = _existing(connection, DIR)
    pool.fail("create", libvirt.VIR_ERR_INTERNAL_ERROR, "mount failed")
    with pytest.raises(LibvirtCallError) as info:
        _run(connection, state="active", autostart=True, **DIR)
    assert NAME in connection.conn.pools and ("undefine", NAME) not in connection.conn.log
    assert info.value.msg == ("starting pool images failed: mount failed; not done: enable autostart of pool images")


def test_failed_undefine_is_reported():
    connection = FakeConnection()
    original = connection.conn.add_pool

    def add_pool(xml, **state):
        made = original(xml, **state)
        made.fail("create")
        made.fail("undefine", libvirt.VIR_ERR_OPERATION_INVALID, "busy")
        return made
    connection.conn.add_pool = add_pool
    with pytest.raises(LibvirtCallError) as info:
        _run(connection, state="active", **DIR)
    assert info.value.msg.endswith("; undefining the new pool again failed too: undefining pool images failed: busy")


def test_failed_autostart_is_not_undone():
    connection = FakeConnection()
    _failing(connection, "setAutostart")
    with pytest.raises(LibvirtCallError) as info:
        _run(connection, autostart=True, **DIR)
    assert NAME in connection.conn.pools and "undefined again" not in info.value.msg


def test_a_running_dir_pool_whose_directory_is_gone_is_built_and_started_again():
    """libvirt keeps listing a running dir pool whose directory was removed behind its back: stop, build, start."""
    connection = FakeConnection()
    _existing(connection, DIR, active=True)
    converger, actions = _plan(connection, FakeProbe({"/srv": "directory"}), state="active", **DIR)
    assert actions[0] == "stop pool images (its directory %s is gone)" % TARGET, actions
    assert actions[-1] == "start pool images" and any(action.startswith("build pool images") for action in actions)
    assert _plan(connection, FakeProbe({TARGET: "directory"}), state="active", **DIR)[1] == []
    assert _plan(connection, FakeProbe({"/srv": "directory"}), state="present", **DIR)[1] == []  # not asked to run
