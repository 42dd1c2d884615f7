"""Every pool type of the table against the real libvirtd: define, compare, redefine, remove.

Defining a pool needs no back end (nothing is started here): the daemon only
parses and stores the definition. Which types the daemon supports is read
from ``virsh pool-capabilities`` when the test runs; a type it lacks must be
refused before anything is defined.
"""

import copy
import os
import uuid

import pytest
from lxml import etree

from ansible_collections.virtops.storage.plugins.module_utils.pool_types import DISK_SECRET_TYPES, POOL_TYPES

from .conftest import define_secret, pool_exists, run_module, virsh

FS_NS = "http://libvirt.org/schemas/storagepool/fs/1.0"
RBD_NS = "http://libvirt.org/schemas/storagepool/rbd/1.0"


def daemon_pool_types():
    """pool type -> supported (bool), as the daemon reports it now."""
    root = etree.fromstring(virsh("pool-capabilities").encode("utf-8"))
    return dict((p.get("type"), p.get("supported") == "yes") for p in root.findall("pool"))


def dumpxml(name):
    """The persistent (inactive) definition of pool ``name`` as an lxml element."""
    return etree.fromstring(virsh("pool-dumpxml", "--inactive", name).encode("utf-8"))


def _hex(count):
    return uuid.uuid4().hex[:count]


def _wwn():
    return "2001" + _hex(12)


# ---------------------------------------------------------------- the cases

def case(pool_type, tag, workdir):
    """(args, change, changed field, derived) for ``pool_type``.

    ``args`` is a realistic structured definition, unique to this run (libvirt
    refuses two pools with the same source); ``change`` (dotted path, value)
    is one field to change for the redefinition; ``derived`` are (xpath,
    value) pairs libvirt fills in from the declared fields.
    """
    iqn = "iqn.2024-01.com.example.virtops:%s" % tag
    cases = {
        "dir": (
            dict(target={"path": os.path.join(workdir, "dir-pool"),
                         "permissions": {"mode": "0711", "owner": 0, "group": 0}}),
            ("target.permissions.mode", "0750"), "target.permissions.mode", []),
        "fs": (
            dict(source={"devices": [{"path": "/dev/disk/by-id/virtops-%s" % tag}], "format": "ext4"},
                 target={"path": os.path.join(workdir, "fs-pool")}, mount_options=["noatime", "nodev"],
                 build=False),  # no device here: building would probe it
            ("source.format", "xfs"), "source.format", []),
        "netfs": (
            dict(source={"hosts": [{"name": "nfs-%s.example.com" % tag, "port": 2049}], "dir": "/export/images",
                         "format": "nfs", "protocol_version": "4"},
                 target={"path": os.path.join(workdir, "nfs-pool"), "permissions": {"mode": "0755"}},
                 mount_options=["soft", "noatime"]),
            ("source.hosts", [{"name": "nfs2-%s.example.com" % tag, "port": 2049}]), "source.hosts", []),
        "logical": (
            dict(source={"name": "vg_%s" % tag, "format": "lvm2",
                         "devices": [{"path": "/dev/disk/by-id/virtops-%s-1" % tag},
                                     {"path": "/dev/disk/by-id/virtops-%s-2" % tag}]}),
            ("source.devices", [{"path": "/dev/disk/by-id/virtops-%s-3" % tag}]), "source.devices",
            [("target/path", "/dev/vg_%s" % tag)]),
        "disk": (
            dict(source={"devices": [{"path": "/dev/disk/by-id/virtops-%s" % tag, "part_separator": True}],
                         "format": "gpt"},
                 target={"path": "/dev"}, build=False),
            ("source.format", "dos"), "source.format", []),
        "iscsi": (
            dict(source={"hosts": [{"name": "san-%s.example.com" % tag, "port": 3260}],
                         "devices": [{"path": iqn}],
                         "initiator_iqn": "iqn.2024-01.com.example:hv-%s" % tag,
                         "auth": {"type": "chap", "username": "hv1", "secret": {"usage": "chap-%s" % tag}},
                         "vendor": "LIO-ORG", "product": "TCMU device"},
                 target={"path": "/dev/disk/by-path"}),
            ("source.hosts", [{"name": "san-%s.example.com" % tag, "port": 3261}]), "source.hosts", []),
        "iscsi-direct": (
            dict(source={"hosts": [{"name": "192.0.2.10", "port": 3260}],
                         "devices": [{"path": iqn}],
                         "initiator_iqn": "iqn.2024-01.com.example:hv-%s" % tag,
                         "auth": {"type": "chap", "username": "hv1", "secret": {"uuid": str(uuid.uuid4())}}}),
            ("source.initiator_iqn", "iqn.2024-01.com.example:hv2-%s" % tag), "source.initiator_iqn", []),
        "scsi": (
            dict(source={"adapter": {"type": "fc_host", "parent": "scsi_host3", "managed": True,
                                     "wwnn": _wwn(), "wwpn": _wwn()}},
                 target={"path": "/dev/disk/by-path"}),
            ("source.adapter.parent", "scsi_host4"), "source.adapter.parent", []),
        "mpath": (
            dict(target={"path": "/dev/mapper", "permissions": {"mode": "0755"}}),
            ("target.permissions.mode", "0750"), "target.permissions.mode", []),
        "rbd": (
            dict(source={"hosts": [{"name": "mon1-%s.example.com" % tag, "port": 6789},
                                   {"name": "mon2-%s.example.com" % tag},
                                   {"name": "mon3-%s.example.com" % tag, "port": 3300}],
                         "name": "libvirt-%s" % tag,
                         "auth": {"type": "ceph", "username": "libvirt",
                                  "secret": {"usage": "client.libvirt-%s secret" % tag}}},
                 config_options={"rados_osd_op_timeout": "20", "client_mount_timeout": "30"},
                 refresh_volume_allocation="capacity"),
            ("source.hosts", [{"name": "mon1-%s.example.com" % tag, "port": 6790},
                              {"name": "mon2-%s.example.com" % tag},
                              {"name": "mon3-%s.example.com" % tag, "port": 3300}]), "source.hosts", []),
        "gluster": (
            dict(source={"hosts": [{"name": "gluster-%s.example.com" % tag}], "name": "gv-%s" % tag,
                         "dir": "/vms"}),
            ("source.dir", "/images"), "source.dir", []),
        "zfs": (
            dict(source={"name": "tank-%s" % tag, "devices": [{"path": "/dev/disk/by-id/virtops-%s" % tag}]}),
            ("source.devices", [{"path": "/dev/disk/by-id/virtops-%s-b" % tag}]), "source.devices",
            [("target/path", "/dev/zvol/tank-%s" % tag)]),
        "vstorage": (
            dict(source={"name": "cluster-%s" % tag}, target={"path": os.path.join(workdir, "vstorage-pool")}),
            ("source.name", "cluster2-%s" % tag), "source.name", []),
    }
    return cases[pool_type]


def with_change(args, dotted, value):
    """A copy of ``args`` with the option at ``dotted`` (source.hosts, target.permissions.mode) set."""
    changed = copy.deepcopy(args)
    node = changed
    keys = dotted.split(".")
    for key in keys[:-1]:
        node = node[key]
    assert node[keys[-1]] != value, "the change must change something"
    node[keys[-1]] = value
    return changed


# ---------------------------------------------------------------- checking the XML

def one(root, path):
    found = root.find(path)
    assert found is not None, "no %s in %s" % (path, etree.tostring(root, encoding="unicode"))
    return found


def _yes_no(value):
    return "yes" if value else "no"


def assert_declared(root, args):
    """The pool XML libvirt stored shows every field ``args`` declares, with its value."""
    assert root.tag == "pool"
    assert root.get("type") == args["type"]
    assert root.findtext("name") == args["name"]
    source = args.get("source", {})
    if source:
        node = one(root, "source")
    if "hosts" in source:
        assert [(h.get("name"), h.get("port")) for h in node.findall("host")] == [
            (h["name"], str(h["port"]) if h.get("port") is not None else None) for h in source["hosts"]]
    if "devices" in source:
        assert [(d.get("path"), d.get("part_separator")) for d in node.findall("device")] == [
            (d["path"], _yes_no(d["part_separator"]) if "part_separator" in d else None) for d in source["devices"]]
    if "dir" in source:
        assert one(node, "dir").get("path") == source["dir"]
    if "adapter" in source:
        adapter = one(node, "adapter")
        for key, value in source["adapter"].items():
            assert adapter.get(key) == (_yes_no(value) if isinstance(value, bool) else value), key
    if "name" in source:
        assert node.findtext("name") == source["name"]
    if "format" in source:
        assert one(node, "format").get("type") == source["format"]
    if "auth" in source:
        auth = one(node, "auth")
        assert (auth.get("type"), auth.get("username")) == (source["auth"]["type"], source["auth"]["username"])
        secret = one(auth, "secret")
        for key, value in source["auth"]["secret"].items():
            assert secret.get(key) == value
    if "initiator_iqn" in source:
        assert one(node, "initiator/iqn").get("name") == source["initiator_iqn"]
    if "protocol_version" in source:
        assert one(node, "protocol").get("ver") == source["protocol_version"]
    for key in ("vendor", "product"):
        if key in source:
            assert one(node, key).get("name") == source[key]
    target = args.get("target", {})
    if "path" in target:
        assert root.findtext("target/path") == target["path"]
    for key, value in target.get("permissions", {}).items():
        assert root.findtext("target/permissions/" + key) == str(value), key
    if "mount_options" in args:
        assert [o.get("name") for o in root.findall("{%s}mount_opts/{%s}option" % (FS_NS, FS_NS))] == \
            args["mount_options"]
    if "config_options" in args:
        assert dict((o.get("name"), o.get("value")) for o in root.findall(
            "{%s}config_opts/{%s}option" % (RBD_NS, RBD_NS))) == args["config_options"]
    if "refresh_volume_allocation" in args:
        assert one(root, "refresh/volume").get("allocation") == args["refresh_volume_allocation"]
    if POOL_TYPES[args["type"]].target == "none":
        assert root.find("target") is None  # a network pool has no local target


def assert_unchanged(args):
    result = run_module("storage_pool", args)
    assert not result.get("failed"), result
    assert result["changed"] is False, result
    assert result["actions"] == []
    return result


@pytest.fixture
def auth_secrets():
    """Defines the secret a pool's source auth names (a real run needs it); removes them afterwards."""
    made = []

    def define(args):
        auth = (args.get("source") or {}).get("auth")
        if auth:
            usage_type = DISK_SECRET_TYPES[auth["type"]]
            reference = auth["secret"]
            made.append(define_secret(usage_type, reference.get("usage") or "virtops-%s" % uuid.uuid4().hex, "pw"))
            if reference.get("uuid"):
                reference["uuid"] = made[-1]
        return args

    yield define
    for secret_uuid in made:
        virsh("secret-undefine", secret_uuid, check=False)


# ---------------------------------------------------------------- the tests

def test_daemon_knows_every_table_type():
    """Every type of the table is in the daemon's capabilities (supported or not)."""
    known = daemon_pool_types()
    assert set(POOL_TYPES) <= set(known), set(POOL_TYPES) - set(known)
    assert known["dir"] is True  # any storage driver has the dir backend


@pytest.mark.parametrize("pool_type", sorted(POOL_TYPES))
def test_pool_type(pool_type, prefix, pools, workdir, auth_secrets):  # pylint: disable=redefined-outer-name
    name = prefix + pool_type
    pools.append(name)
    args, (field, value), changed_field, derived = case(pool_type, prefix.strip("-").split("-")[-1], workdir)
    args = auth_secrets(dict(args, name=name, type=pool_type, state="present"))

    if not daemon_pool_types().get(pool_type):
        result = run_module("storage_pool", args)
        assert result.get("failed") is True, result
        assert result["msg"].startswith("type: pool type %s is not supported by the libvirt daemon" % pool_type), \
            result["msg"]
        assert result.get("param") == "type"
        assert "Traceback" not in result["msg"] + result["_stderr"] + result.get("exception", "")
        assert not pool_exists(name)
        return

    # define
    result = run_module("storage_pool", args)
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert result["actions"][0] == "define pool %s" % name
    assert not any(a.startswith("start") for a in result["actions"])
    assert result["pool"]["type"] == pool_type and result["pool"]["active"] is False
    assert result["pool"]["persistent"] is True
    root = dumpxml(name)
    assert_declared(root, args)
    for path, expected in derived:
        assert root.findtext(path) == expected, path
    info = virsh("pool-info", name)
    assert "inactive" in info  # defined, never started
    uuid_before = root.findtext("uuid")

    # second run: nothing to do
    assert_unchanged(args)

    # one field changed: redefined in place (same uuid), then nothing to do again
    changed_args = with_change(args, field, value)
    result = run_module("storage_pool", changed_args)
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert result["actions"][0] == "redefine (%s) pool %s" % (changed_field, name), result["actions"]
    root = dumpxml(name)
    assert_declared(root, changed_args)
    assert root.findtext("uuid") == uuid_before
    assert_unchanged(changed_args)

    # absent: undefined, and absent again changes nothing
    result = run_module("storage_pool", {"name": name, "state": "absent"})
    assert not result.get("failed"), result
    assert result["changed"] is True and result["actions"] == ["undefine pool %s" % name]
    assert result["pool"] is None
    assert not pool_exists(name)
    result = run_module("storage_pool", {"name": name, "state": "absent"})
    assert result["changed"] is False and not result.get("failed")


def _xml_cases(name, tag, workdir):
    """(xml, xpath -> expected) of raw XML definitions of three types."""
    pool_uuid = str(uuid.uuid4())
    return {
        "dir": (
            "<pool type='dir'><name>%s</name><uuid>%s</uuid><target><path>%s</path><permissions>"
            "<mode>0750</mode><owner>0</owner><group>0</group></permissions></target></pool>"
            % (name, pool_uuid.upper(), os.path.join(workdir, "xml-dir")),
            {"uuid": pool_uuid, "target/path": os.path.join(workdir, "xml-dir"),
             "target/permissions/mode": "0750", "target/permissions/owner": "0"}),
        "rbd": (
            "<pool type='rbd' xmlns:rbd='%s'><name>%s</name><source><host name='mon1-%s' port='6789'/>"
            "<host name='mon2-%s'/><name>rbd-%s</name><auth type='ceph' username='libvirt'>"
            "<secret usage='client.libvirt-%s secret'/></auth></source><rbd:config_opts>"
            "<rbd:option name='rados_osd_op_timeout' value='20'/></rbd:config_opts></pool>"
            % (RBD_NS, name, tag, tag, tag, tag),
            {"source/host[1]/@name": "mon1-%s" % tag, "source/host[1]/@port": "6789",
             "source/host[2]/@name": "mon2-%s" % tag, "source/name": "rbd-%s" % tag,
             "source/auth/@type": "ceph", "source/auth/secret/@usage": "client.libvirt-%s secret" % tag,
             "rbd:config_opts/rbd:option/@value": "20"}),
        "netfs": (
            "<pool type='netfs' xmlns:fs='%s'><name>%s</name><source><host name='nfs-%s'/>"
            "<dir path='/export/%s'/><format type='nfs'/><protocol ver='3'/></source><target><path>%s</path>"
            "</target><fs:mount_opts><fs:option name='soft'/></fs:mount_opts></pool>"
            % (FS_NS, name, tag, tag, os.path.join(workdir, "xml-nfs")),
            {"source/host/@name": "nfs-%s" % tag, "source/dir/@path": "/export/%s" % tag,
             "source/format/@type": "nfs", "source/protocol/@ver": "3",
             "target/path": os.path.join(workdir, "xml-nfs"), "fs:mount_opts/fs:option/@name": "soft"}),
    }


@pytest.mark.parametrize("pool_type", ["dir", "rbd", "netfs"])
def test_pool_from_xml(pool_type, prefix, pools, workdir, auth_secrets):  # pylint: disable=redefined-outer-name
    name = prefix + "xml-" + pool_type
    pools.append(name)
    xml, expected = _xml_cases(name, prefix.strip("-").split("-")[-1], workdir)[pool_type]
    assert daemon_pool_types()[pool_type] is True
    if "source/auth/secret/@usage" in expected:
        auth_secrets({"source": {"auth": {"type": "ceph", "secret": {"usage": expected["source/auth/secret/@usage"]}}}})

    result = run_module("storage_pool", {"xml": xml})
    assert not result.get("failed"), result
    assert result["changed"] is True and result["actions"][0] == "define pool %s" % name
    root = dumpxml(name)
    assert root.get("type") == pool_type
    namespaces = {"fs": FS_NS, "rbd": RBD_NS}
    for path, value in expected.items():
        found = root.xpath(path + ("" if "@" in path else "/text()"), namespaces=namespaces)
        assert found == [value], (path, found)

    # the same XML again (with the name given too): nothing to do
    assert_unchanged({"xml": xml})
    assert_unchanged({"xml": xml, "name": name})

    result = run_module("storage_pool", {"name": name, "state": "absent"})
    assert result["changed"] is True and not pool_exists(name)
