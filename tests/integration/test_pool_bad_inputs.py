"""Bad input to storage_pool against the real libvirtd: refused, named, and nothing created.

Every case runs the installed module as Ansible does and checks that it
failed, that ``msg`` names the offending parameter, that no Python traceback
leaked out, and that no pool was defined afterwards.
"""

import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from .conftest import URI, assert_refused, pool_exists, pool_info, remove_pool, run_module, virsh

UUID = "2ec115d7-3a88-3ceb-bc12-0ac909a6fd87"
WWNN, WWPN = "20000000c9831b4b", "10000000c9831b4b"


def pools_named(prefix):
    """The pools (defined or transient) whose name holds ``prefix`` (a list turned into a name starts with '[')."""
    return [n for n in virsh("pool-list", "--all", "--name").splitlines() if prefix in n]


# ---------------------------------------------------------------- stateless cases

def _netfs(**source):
    return dict(type="netfs", source=dict(dict(hosts=[{"name": "nfs.example.com"}], dir="/export"), **source),
                target={"path": "/var/lib/virtops-never"}, build=False)


def _iscsi(**source):
    return dict(type="iscsi", source=dict(dict(hosts=[{"name": "san.example.com"}],
                                               devices=[{"path": "iqn.2024-01.com.example:t"}]), **source),
                target={"path": "/dev/disk/by-path"})


def _rbd(**extra):
    return dict(dict(type="rbd", source={"hosts": [{"name": "mon1.example.com"}], "name": "rbd"}), **extra)


def _scsi(**adapter):
    return dict(type="scsi", source={"adapter": adapter}, target={"path": "/dev/disk/by-path"})


def _dir(**extra):
    return dict(dict(type="dir", target={"path": "/var/lib/virtops-never"}, build=False), **extra)


def _fs(**extra):
    return dict(dict(type="fs", source={"devices": [{"path": "/dev/virtops-never"}]},
                     target={"path": "/var/lib/virtops-never"}, build=False), **extra)


def _xml(pool_type, name, body=""):
    return "<pool type='%s'><name>%s</name>%s</pool>" % (pool_type, name, body)


CHAP = {"type": "chap", "username": "hv1", "secret": {"usage": "chap"}}

# (id, args (NAME is replaced by the pool name), parameter named in msg, fragment of msg, ours)
CASES = [
    # source fields a type requires
    ("fs-without-devices", dict(type="fs", target={"path": "/var/lib/virtops-never"}, build=False),
     "source.devices", "pool type fs requires it", True),
    ("netfs-without-hosts", dict(type="netfs", source={"dir": "/export"}, target={"path": "/srv/never"}),
     "source.hosts", "pool type netfs requires it", True),
    ("netfs-without-dir", dict(type="netfs", source={"hosts": [{"name": "nfs"}]}, target={"path": "/srv/never"}),
     "source.dir", "pool type netfs requires it", True),
    ("iscsi-without-devices", dict(type="iscsi", source={"hosts": [{"name": "san"}]}, target={"path": "/dev"}),
     "source.devices", "pool type iscsi requires it", True),
    ("iscsi-without-hosts", dict(type="iscsi", source={"devices": [{"path": "iqn.2024-01.com.example:t"}]},
                                 target={"path": "/dev"}), "source.hosts", "pool type iscsi requires it", True),
    ("iscsi-direct-without-initiator", dict(type="iscsi-direct", source={
        "hosts": [{"name": "san"}], "devices": [{"path": "iqn.2024-01.com.example:t"}]}),
     "source.initiator_iqn", "pool type iscsi-direct requires it", True),
    ("rbd-without-name", dict(type="rbd", source={"hosts": [{"name": "mon1"}]}),
     "source.name", "pool type rbd requires it", True),
    ("rbd-without-hosts", dict(type="rbd", source={"name": "rbd"}), "source.hosts", "requires it", True),
    ("scsi-without-adapter", dict(type="scsi", target={"path": "/dev/disk/by-path"}),
     "source.adapter", "pool type scsi requires it", True),
    ("disk-without-devices", dict(type="disk", source={"format": "gpt"}, target={"path": "/dev"}, build=False),
     "source.devices", "pool type disk requires it", True),
    ("gluster-without-hosts", dict(type="gluster", source={"name": "gv0"}), "source.hosts", "requires it", True),
    ("dir-without-target", dict(type="dir"), "target.path", "pool type dir requires it", True),
    ("new-pool-without-type", dict(target={"path": "/srv/never"}), "type", "required to define pool", True),
    # fields a type does not take
    ("dir-with-hosts", _dir(source={"hosts": [{"name": "nfs"}]}), "source.hosts",
     "pool type dir does not take it", True),
    ("rbd-with-target", _rbd(target={"path": "/srv/never"}), "target", "has no target", True),
    ("iscsi-direct-with-target", dict(type="iscsi-direct", source={
        "hosts": [{"name": "san"}], "devices": [{"path": "iqn.2024-01.com.example:t"}],
        "initiator_iqn": "iqn.2024-01.com.example:i"}, target={"path": "/dev"}), "target", "has no target", True),
    ("fs-with-config-options", _fs(config_options={"a": "1"}), "config_options",
     "pool type fs does not take it", True),
    ("dir-with-mount-options", _dir(mount_options=["ro"]), "mount_options", "pool type dir does not take it", True),
    ("rbd-with-cow", _rbd(cow=True), "cow", "pool type rbd does not take it", True),
    ("dir-with-refresh", _dir(refresh_volume_allocation="capacity"), "refresh_volume_allocation",
     "does not take it", True),
    ("iscsi-with-adapter", _iscsi(adapter={"type": "scsi_host", "name": "host0"}), "source.adapter",
     "pool type iscsi does not take it", True),
    ("netfs-with-auth", _netfs(auth=CHAP), "source.auth", "pool type netfs does not take it", True),
    ("part-separator-on-fs", _fs(source={"devices": [{"path": "/dev/virtops-never", "part_separator": True}]}),
     "source.devices.part_separator", "only disk pools take it", True),
    # counts
    ("netfs-two-hosts", _netfs(hosts=[{"name": "a"}, {"name": "b"}]), "source.hosts",
     "takes at most 1, got 2", True),
    ("iscsi-two-devices", _iscsi(devices=[{"path": "iqn.2024-01.com.example:a"},
                                          {"path": "iqn.2024-01.com.example:b"}]),
     "source.devices", "takes at most 1, got 2", True),
    ("fs-two-devices", _fs(source={"devices": [{"path": "/dev/a"}, {"path": "/dev/b"}]}), "source.devices",
     "takes at most 1, got 2", True),
    # formats
    ("fs-format-ntfs", _fs(source={"devices": [{"path": "/dev/a"}], "format": "ntfs"}), "source.format",
     "'ntfs' is not valid for pool type fs", True),
    ("disk-format-ext4", dict(type="disk", source={"devices": [{"path": "/dev/a"}], "format": "ext4"},
                              target={"path": "/dev"}, build=False),
     "source.format", "'ext4' is not valid for pool type disk", True),
    ("netfs-format-smb", _netfs(format="smb"), "source.format", "'smb' is not valid for pool type netfs", True),
    ("netfs-protocol-with-cifs", _netfs(format="cifs", protocol_version="3"), "source.protocol_version",
     "not cifs", True),
    ("netfs-protocol-word", _netfs(format="nfs", protocol_version="four"), "source.protocol_version",
     "not an NFS protocol version", True),
    # auth
    ("auth-ceph-on-iscsi", _iscsi(auth={"type": "ceph", "username": "u", "secret": {"usage": "s"}}),
     "source.auth.type", "'ceph' is not valid for pool type iscsi", True),
    ("auth-chap-on-rbd", _rbd(source={"hosts": [{"name": "m"}], "name": "r", "auth": CHAP}),
     "source.auth.type", "'chap' is not valid for pool type rbd", True),
    ("auth-uuid-and-usage", _iscsi(auth={"type": "chap", "username": "u", "secret": {"uuid": UUID, "usage": "s"}}),
     "secret", "mutually exclusive: uuid|usage", False),
    ("auth-secret-not-uuid", _iscsi(auth={"type": "chap", "username": "u", "secret": {"uuid": "not-a-uuid"}}),
     "source.auth.secret.uuid", "is not a UUID", True),
    ("auth-without-username", _iscsi(auth={"type": "chap", "username": "", "secret": {"usage": "s"}}),
     "source.auth.username", "cannot be empty", True),
    # hosts and devices
    ("port-0", _netfs(hosts=[{"name": "nfs", "port": 0}]), "source.hosts.port", "is not a TCP port", True),
    ("port-70000", _iscsi(hosts=[{"name": "san", "port": 70000}]), "source.hosts.port", "is not a TCP port", True),
    ("port-negative", _rbd(source={"hosts": [{"name": "a"}, {"name": "b", "port": -6789}], "name": "r"}),
     "source.hosts.port", "is not a TCP port", True),
    ("host-name-empty", _iscsi(hosts=[{"name": ""}]), "source.hosts.name", "cannot be empty", True),
    ("device-path-empty", _iscsi(devices=[{"path": ""}]), "source.devices.path", "cannot be empty", True),
    # adapters
    ("fc-host-without-wwn", _scsi(type="fc_host", parent="scsi_host3"), "source.adapter.wwnn", "requires it", True),
    ("fc-host-malformed-wwpn", _scsi(type="fc_host", wwnn=WWNN, wwpn="10:00:00:00:c9:83:1b:4b"),
     "source.adapter.wwpn", "is not a WWN", True),
    ("scsi-host-with-wwnn", _scsi(type="scsi_host", name="host0", wwnn=WWNN), "source.adapter.wwnn",
     "a scsi_host adapter does not take it", True),
    ("scsi-host-without-name", _scsi(type="scsi_host"), "source.adapter", "requires name or parent_address", True),
    ("adapter-without-type-with-wwn", _scsi(wwnn=WWNN, wwpn=WWPN), "source.adapter.type", "fc_host", True),
    ("parent-address-function-8", _scsi(type="scsi_host", parent_address={"unique_id": 1, "slot": 1,
                                                                          "function": 8}),
     "source.adapter.parent_address.function", "out of range", True),
    # target
    ("relative-target-path", _dir(target={"path": "relative/images"}), "target.path",
     "is not an absolute path", True),
    ("mode-rwx", _dir(target={"path": "/srv/never", "permissions": {"mode": "rwx"}}), "target.permissions.mode",
     "is not an octal mode", True),
    ("mode-too-large", _dir(target={"path": "/srv/never", "permissions": {"mode": "17777"}}),
     "target.permissions.mode", "beyond 0777", True),
    ("mode-boolean", _dir(target={"path": "/srv/never", "permissions": {"mode": True}}),
     "target.permissions.mode", "boolean", True),
    ("owner-negative", _dir(target={"path": "/srv/never", "permissions": {"owner": -5}}),
     "target.permissions.owner", "is not a numeric id", True),
    # pool-level options
    ("config-options-nested", _rbd(config_options={"rados": {"timeout": 20}}), "config_options",
     "must be a string or a number", True),
    ("mount-option-empty", _fs(mount_options=["noatime", ""]), "mount_options", "cannot be empty", True),
    # names, options and values AnsibleModule refuses
    ("name-with-slash", _dir(name="NAME/sub"), "name", "cannot contain '/'", True),
    ("name-empty", _dir(name=""), "name", "cannot be empty", True),
    ("unknown-option", _dir(bogus_option=1), "bogus_option", "Unsupported parameters", False),
    ("unknown-source-option", _dir(source={"colour": "blue"}), "colour", "Unsupported parameters", False),
    ("unknown-type-value", dict(type="sheepdog", source={"hosts": [{"name": "s"}]}), "type",
     "value of type must be one of", False),
    ("unknown-state-value", _dir(state="running"), "state", "value of state must be one of", False),
    ("missing-name-and-xml", dict(name=None, type="dir", target={"path": "/srv/never"}), "name, xml",
     "one of the following is required", False),
    ("xml-and-type", dict(xml=_xml("dir", "NAME", "<target><path>/srv/never</path></target>"), type="dir"),
     "xml|type", "mutually exclusive", False),
    ("xml-and-source", dict(xml=_xml("dir", "NAME"), source={"name": "x"}), "xml|source", "mutually exclusive",
     False),
    # raw XML
    ("xml-malformed", dict(name=None, xml="<pool type='dir'><name>NAME</name><target>"), "xml",
     "not well-formed XML", True),
    ("xml-unknown-type", dict(name=None, xml=_xml("sheepdog", "NAME")), "xml", "unknown pool type 'sheepdog'", True),
    ("xml-not-a-pool", dict(name=None, xml="<volume><name>NAME</name></volume>"), "xml", "expected <pool>", True),
    ("xml-without-name", dict(name=None, xml="<pool type='dir'><target><path>/srv/never</path></target></pool>"),
     "xml", "no <name>", True),
    ("xml-bad-uuid", dict(name=None, xml=_xml("dir", "NAME", "<uuid>1234</uuid><target><path>/srv/never</path>"
                                                             "</target>")), "xml", "is not a UUID", True),
    ("xml-field-not-taken", dict(name=None, xml=_xml("dir", "NAME", "<source><host name='h'/></source>"
                                                                    "<target><path>/srv/never</path></target>")),
     "xml", "pool type dir does not take it", True),
    ("xml-missing-target", dict(name=None, xml=_xml("dir", "NAME")), "xml", "pool type dir requires it", True),
    ("xml-name-differs", dict(xml=_xml("dir", "NAME-other", "<target><path>/srv/never</path></target>")), "name",
     "differs from the <name>", True),
    ("xml-unsupported-type", dict(name=None, xml=_xml("vstorage", "NAME", "<source><name>c</name></source>"
                                                                          "<target><path>/srv/never</path></target>")),
     "type", "vstorage is not supported by the libvirt daemon", True),
    # connection
    ("uri-unknown-scheme", _dir(uri="bogus:///system"), "uri", "cannot connect to libvirt", True),
    ("uri-empty", _dir(uri=""), "uri", "must not be empty", True),
    # flags
    ("delete-volumes-without-delete-storage", dict(state="absent", delete_volumes=True), "delete_volumes",
     "only applies with delete_storage", True),
    ("delete-storage-with-state-present", _dir(delete_storage=True), "delete_storage",
     "only applies with state: absent", True),
    ("delete-storage-with-state-active", _dir(state="active", delete_storage=True, delete_volumes=True),
     "delete_storage", "only applies with state: absent", True),
    # a type the daemon lacks
    # modes libvirt refuses ("malformed octal mode": bits beyond 0777), and YAML's decimal integers
    ("mode-int-777", _dir(target={"path": "/srv/never", "permissions": {"mode": 777}}),
     "target.permissions.mode", "777 was read as a decimal YAML integer (= 0o1411): quote it ('0777')", True),
    ("mode-int-1000", _dir(target={"path": "/srv/never", "permissions": {"mode": 1000}}),
     "target.permissions.mode", "decimal YAML integer", True),
    ("mode-int-octal-sticky", _dir(target={"path": "/srv/never", "permissions": {"mode": 0o1777}}),
     "target.permissions.mode", "beyond 0777", True),
    ("mode-string-sticky", _dir(target={"path": "/srv/never", "permissions": {"mode": "1777"}}),
     "target.permissions.mode", "beyond 0777", True),
    ("mode-string-setuid", _dir(target={"path": "/srv/never", "permissions": {"mode": "04755"}}),
     "target.permissions.mode", "beyond 0777", True),
    ("mode-int-negative", _dir(target={"path": "/srv/never", "permissions": {"mode": -1}}),
     "target.permissions.mode", "not a mode", True),
    ("mode-list", _dir(target={"path": "/srv/never", "permissions": {"mode": ["0755"]}}),
     "target.permissions.mode", "is not an octal mode", True),
    # lists and dicts where a string belongs (AnsibleModule would turn them into their repr)
    ("name-list", _dir(name=["NAME", "b"]), "name", "a string, not a list", True),
    ("name-dict", _dir(name={"NAME": "NAME"}), "name", "a string, not a dict", True),
    ("xml-dict", dict(name=None, xml={"pool": "NAME"}), "xml", "a string, not a dict", True),
    ("source-dir-list", _netfs(dir=["/export", "/other"]), "source.dir", "a string, not a list", True),
    ("source-name-dict", _rbd(source={"hosts": [{"name": "mon1"}], "name": {"rbd": 1}}), "source.name",
     "a string, not a dict", True),
    ("host-name-list", _iscsi(hosts=[{"name": ["san", "san2"]}]), "source.hosts.name", "a string, not a list",
     True),
    ("second-host-name-dict", _rbd(source={"hosts": [{"name": "a"}, {"name": {"b": 1}}], "name": "r"}),
     "source.hosts.name", "a string, not a dict", True),
    ("device-path-list", _iscsi(devices=[{"path": ["iqn.2024-01.com.example:t"]}]), "source.devices.path",
     "a string, not a list", True),
    ("auth-username-list", _iscsi(auth={"type": "chap", "username": ["u"], "secret": {"usage": "s"}}),
     "source.auth.username", "a string, not a list", True),
    ("auth-secret-usage-dict", _iscsi(auth={"type": "chap", "username": "u", "secret": {"usage": {"a": 1}}}),
     "source.auth.secret.usage", "a string, not a dict", True),
    ("adapter-name-list", _scsi(type="scsi_host", name=["host0"]), "source.adapter.name", "a string, not a list",
     True),
    ("adapter-wwnn-list", _scsi(type="fc_host", wwnn=[WWNN], wwpn=WWPN), "source.adapter.wwnn",
     "a string, not a list", True),
    ("initiator-iqn-dict", _iscsi(initiator_iqn={"iqn": 1}), "source.initiator_iqn", "a string, not a dict", True),
    ("target-path-list", _dir(target={"path": ["/srv/never"]}), "target.path", "a string, not a list", True),
    ("permissions-label-list", _dir(target={"path": "/srv/never", "permissions": {"label": ["a", "b"]}}),
     "target.permissions.label", "a string, not a list", True),
    ("mount-option-list", _fs(mount_options=["noatime", ["ro"]]), "mount_options", "a string, not a list", True),
    ("uri-list", _dir(uri=["qemu:///system"]), "uri", "a string, not a list", True),
    # names libvirt cannot store (as /etc/libvirt/storage/<name>.xml) or that hold control characters
    ("name-300-characters", _dir(name="NAME" + "x" * 300), "name", "bytes", True),
    # 135 characters, 255 bytes in UTF-8
    ("name-255-bytes-utf8", _dir(name="NAME" + "\u00e9" * 120), "name", "at most 247 bytes", True),
    ("name-newline", _dir(name="NAME\nx"), "name", "control characters", True),
    ("name-tab", _dir(name="NAME\tx"), "name", "control characters", True),
    ("name-escape", _dir(name="NAME\x1b[31m"), "name", "control characters", True),
    ("name-delete-character", _dir(name="NAME\x7f"), "name", "control characters", True),
    ("xml-name-newline", dict(name=None, xml=_xml("dir", "NAME&#10;x", "<target><path>/srv/never</path></target>")),
     "xml", "control characters", True),
    ("xml-name-too-long", dict(name=None, xml=_xml("dir", "NAME" + "z" * 300,
                                                   "<target><path>/srv/never</path></target>")),
     "xml", "bytes", True),
    # targets that are system directories: a build would chmod them, delete_storage remove them,
    # delete_volumes empty them
    ("target-root", _dir(target={"path": "/"}), "target.path", "system directory", True),
    ("target-tmp-in-disguise", _dir(target={"path": "/tmp/../tmp/x/.."}), "target.path",
     "'/tmp' is a system directory", True),
    ("target-etc-trailing-slash", _dir(target={"path": "/etc/"}), "target.path", "'/etc' is a system directory",
     True),
    ("target-var-lib-libvirt", _dir(target={"path": "/var/lib/libvirt"}), "target.path", "system directory", True),
    ("target-usr-double-slash", _dir(target={"path": "/usr//"}), "target.path", "'/usr' is a system directory",
     True),
    ("target-home-dot", _dir(target={"path": "/home/./"}), "target.path", "'/home' is a system directory", True),
    ("target-var-tmp-fs", _fs(target={"path": "/var/tmp"}), "target.path", "system directory", True),
    ("target-dev-netfs", dict(_netfs(), target={"path": "/dev"}), "target.path", "system directory", True),
    ("target-boot-no-build", _dir(target={"path": "/boot"}, state="active"), "target.path", "system directory",
     True),
    ("xml-target-tmp", dict(name=None, xml=_xml("dir", "NAME", "<target><path>/tmp/</path></target>")), "xml",
     "system directory", True),
    ("unsupported-type-vstorage", dict(type="vstorage", source={"name": "cluster1"},
                                       target={"path": "/srv/never"}),
     "type", "pool type vstorage is not supported by the libvirt daemon", True),
]


def _substitute(value, name):
    if isinstance(value, str):
        return value.replace("NAME", name)
    if isinstance(value, dict):
        return dict((k, _substitute(v, name)) for k, v in value.items())
    if isinstance(value, list):
        return [_substitute(v, name) for v in value]
    return value


def test_enough_cases():
    assert len(CASES) >= 35
    assert len(set(c[0] for c in CASES)) == len(CASES)


PARAMS = [pytest.param(c[1:], check, id=c[0] + ("-check" if check else "")) for c in CASES for check in (False, True)]


@pytest.mark.parametrize("case, check", PARAMS)
def test_bad_input(case, check, prefix, pools):
    args, param, fragment, ours = case
    name = prefix + "bad"
    pools.append(name)
    args = _substitute(dict({"name": "NAME"}, **args), name)
    if args.get("name") is None:
        del args["name"]
    assert pools_named(prefix) == []
    try:
        result = run_module("storage_pool", args, check=check)
        assert_refused(result, param, fragment, ours)
        assert not pool_exists(name)
        assert pools_named(prefix) == []  # nothing else either (a name from the xml, a slash name, a list)
    finally:
        for leftover in pools_named(prefix):
            remove_pool(leftover)


@pytest.mark.parametrize("check", [False, True], ids=["real", "check"])
def test_pool_name_length_limit(check, prefix, pools):
    """247 bytes is the longest pool name libvirt can save (/etc/libvirt/storage/<name>.xml.new): one more is
    refused naming ``name``, before anything is defined."""
    longest = prefix + "x" * (247 - len(prefix))
    pools.append(longest)
    args = dict(type="dir", target={"path": "/var/lib/virtops-never"}, build=False)
    result = run_module("storage_pool", dict(args, name=longest + "x"), check=check)
    assert_refused(result, "name", "at most 247 bytes")
    assert pools_named(prefix) == []
    result = run_module("storage_pool", dict(args, name=longest), check=check)
    assert not result.get("failed") and result["changed"] is True, result
    assert pool_exists(longest) is not check


def test_unreachable_uri_fails_fast(prefix, pools):
    name = prefix + "uri"
    pools.append(name)
    started = time.monotonic()
    result = run_module("storage_pool", {"name": name, "type": "dir", "target": {"path": "/srv/never"},
                                         "uri": "qemu+tcp://127.0.0.1:1/system"})
    elapsed = time.monotonic() - started
    # nothing answers there: the error says the daemon does not answer, it does not blame the option
    assert_refused(result, "uri", "qemu+tcp://127.0.0.1:1/system", ours=False)
    assert "cannot connect to libvirt" in result["msg"] and "is the libvirt daemon running?" in result["msg"]
    assert result.get("param") is None, result
    assert elapsed < 10, elapsed
    assert not pool_exists(name)


# ---------------------------------------------------------------- cases that need a pool or a device

def test_type_change_of_existing_pool(prefix, pools, workdir):
    name = prefix + "retype"
    pools.append(name)
    path = os.path.join(workdir, "retype")
    result = run_module("storage_pool", {"name": name, "type": "dir", "target": {"path": path}})
    assert not result.get("failed") and result["changed"] is True, result
    uuid_before = virsh("pool-uuid", name).strip()

    result = run_module("storage_pool", {"name": name, "type": "netfs", "target": {"path": path},
                                         "source": {"hosts": [{"name": "nfs.example.com"}], "dir": "/export"}})
    assert_refused(result, "type", "exists with type dir")
    assert "remove it (state: absent) first" in result["msg"]
    assert pool_exists(name)
    assert "<pool type='dir'>" in virsh("pool-dumpxml", "--inactive", name)
    assert virsh("pool-uuid", name).strip() == uuid_before

    result = run_module("storage_pool", {"name": name, "state": "absent"})
    assert result["changed"] is True and not pool_exists(name)


def test_delete_storage_of_a_type_that_cannot_delete(prefix, pools):
    name = prefix + "iscsi"
    pools.append(name)
    iqn = "iqn.2024-01.com.example.virtops:%s" % uuid.uuid4().hex[:8]
    result = run_module("storage_pool", dict(_iscsi(devices=[{"path": iqn}]), name=name))
    assert not result.get("failed") and result["changed"] is True, result
    xml_before = virsh("pool-dumpxml", "--inactive", name)

    result = run_module("storage_pool", {"name": name, "state": "absent", "delete_storage": True})
    assert_refused(result, "delete_storage", "pool type iscsi cannot delete its underlying storage")
    assert pool_exists(name)  # refused before anything: still defined, unchanged, not started
    assert virsh("pool-dumpxml", "--inactive", name) == xml_before
    assert pool_info(name)["State"] == "inactive"

    result = run_module("storage_pool", {"name": name, "state": "absent"})
    assert result["changed"] is True and not pool_exists(name)


def test_fs_pool_on_missing_device(prefix, pools, workdir):
    name = prefix + "nodev"
    pools.append(name)
    device = "/dev/disk/by-id/virtops-missing-%s" % uuid.uuid4().hex[:8]
    result = run_module("storage_pool", {"name": name, "type": "fs", "state": "active",
                                         "source": {"devices": [{"path": device}], "format": "ext4"},
                                         "target": {"path": os.path.join(workdir, "mnt")}})
    assert_refused(result, "source.devices", "device %s does not exist on the host" % device)
    assert not pool_exists(name)
    assert not os.path.exists(os.path.join(workdir, "mnt"))


@pytest.fixture
def blank_loop_device():
    """A small blank loop device (sparse image), detached and removed afterwards."""
    folder = tempfile.mkdtemp(prefix="virtops-bad-")
    image = os.path.join(folder, "blank.img")
    subprocess.run(["truncate", "-s", "16M", image], check=True)
    device = subprocess.run(["losetup", "-f", "--show", image], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert device.startswith("/dev/loop"), device
    try:
        yield device
    finally:
        subprocess.run(["losetup", "-d", device], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def _blkid(device):
    proc = subprocess.run(["blkid", "-p", "-o", "export", device], capture_output=True, text=True, check=False)
    assert proc.returncode in (0, 2), proc.stderr
    return proc.stdout


@pytest.mark.parametrize("state", ["present", "active"])
def test_fs_pool_on_blank_device_with_format_auto(state, prefix, pools, workdir, blank_loop_device):
    name = prefix + "blank"
    pools.append(name)
    assert _blkid(blank_loop_device) == ""  # blank before
    result = run_module("storage_pool", {"name": name, "type": "fs", "state": state,
                                         "source": {"devices": [{"path": blank_loop_device}], "format": "auto"},
                                         "target": {"path": os.path.join(workdir, "mnt")}})
    assert_refused(result, "source.format", "device %s is blank" % blank_loop_device)
    assert not pool_exists(name)
    assert _blkid(blank_loop_device) == ""  # and still blank: nothing was formatted
    with open("/proc/mounts") as handle:
        assert blank_loop_device not in handle.read()


def test_uri_names_the_daemon_it_checked(prefix, pools):
    """The unsupported-type message names the daemon's uri (the default, qemu:///system)."""
    name = prefix + "vz"
    pools.append(name)
    result = run_module("storage_pool", {"name": name, "type": "vstorage", "source": {"name": "c"},
                                         "target": {"path": "/srv/never"}})
    assert_refused(result, "type", "at %s" % URI)
    assert not pool_exists(name)


# ---------------------------------------------------------------- spellings that are right

def _target_of(name):
    xml = virsh("pool-dumpxml", "--inactive", name)
    return xml.split("<path>", 1)[1].split("</path>", 1)[0], xml


def test_target_path_is_normalised(prefix, pools, workdir):
    """A target written with '..', '.' and a trailing slash is the directory it names: defined as such, and
    the plain spelling afterwards changes nothing."""
    name = prefix + "norm"
    pools.append(name)
    plain = os.path.join(workdir, "images")
    winding = workdir + "/other/../././images/"
    result = run_module("storage_pool", {"name": name, "type": "dir", "target": {"path": winding}})
    assert not result.get("failed") and result["changed"] is True, result
    assert _target_of(name)[0] == plain
    assert os.path.isdir(plain) and not os.path.exists(os.path.join(workdir, "other"))
    for path in (winding, plain, plain + "/"):
        for check in (True, False):
            result = run_module("storage_pool", {"name": name, "type": "dir", "target": {"path": path}}, check=check)
            assert not result.get("failed") and result["changed"] is False, (path, result)


def test_integer_mode_is_its_value(prefix, pools, workdir):
    """YAML 0755 reaches the module as the integer 493: that is mode 0755, for the pool as in the quoted form."""
    name = prefix + "intmode"
    pools.append(name)
    args = {"name": name, "type": "dir", "target": {"path": os.path.join(workdir, "p"), "permissions": {"mode": 0o755}}}
    result = run_module("storage_pool", args)
    assert not result.get("failed") and result["changed"] is True, result
    assert "<mode>0755</mode>" in _target_of(name)[1]
    for mode in (0o755, "0755", "755"):
        args["target"]["permissions"]["mode"] = mode
        result = run_module("storage_pool", args)
        assert not result.get("failed") and result["changed"] is False, (mode, result)
