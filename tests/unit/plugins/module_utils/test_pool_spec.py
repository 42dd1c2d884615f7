"""pool_spec: module parameters -> desired pool spec, and its validation against the pool-type table."""

import copy

import pytest

from ansible_collections.virtops.storage.plugins.module_utils.errors import ParameterError
from ansible_collections.virtops.storage.plugins.module_utils.pool_spec import (
    EXTRA_OPTIONS, spec_from_params, validate_spec)
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import POOL_TYPES, SOURCE_FIELDS

TYPES = sorted(POOL_TYPES)
UUID = "2ec115d7-3a88-3ceb-bc12-0ac909a6fd87"
WWNN, WWPN = "20000000c9831b4b", "10000000c9831b4b"

# A valid value for every source field and pool-level option.
VALUES = {
    "hosts": [{"name": "h1.example.com"}],
    "devices": [{"path": "/dev/sdz"}],
    "dir": "/export",
    "adapter": {"type": "scsi_host", "name": "host0"},
    "name": "n",
    "format": "auto",
    "auth": {"type": "chap", "username": "u", "secret_usage": "s"},
    "initiator_iqn": "iqn.2024-01.com.example:init",
    "protocol_version": "4",
    "vendor": "LIO",
    "product": "disk",
}
EXTRAS = {"mount_options": ["ro"], "config_options": {"a": "1"}, "cow": True, "refresh_volume_allocation": "capacity"}


def params(**kwargs):
    """storage_pool's parameters as AnsibleModule passes them (unset options are None)."""
    result = dict(name="p", type=None, xml=None, state="present", source=None, target=None,
                  mount_options=None, config_options=None, cow=None, refresh_volume_allocation=None)
    result.update(kwargs)
    return result


def minimal(name):
    """The smallest spec pool type ``name`` can be defined with."""
    row = POOL_TYPES[name]
    spec = {"name": "p", "type": name}
    if row.required:
        spec["source"] = dict((field, copy.deepcopy(VALUES[field])) for field in row.required)
    if row.target == "required":
        spec["target"] = {"path": "/srv/p"}
    return spec


def refused(spec, param, new=True, from_xml=False, fragment=None):
    with pytest.raises(ParameterError) as caught:
        validate_spec(spec, new=new, from_xml=from_xml)
    assert caught.value.param == param, caught.value.msg
    assert caught.value.msg.startswith(param + ": ")
    if fragment:
        assert fragment in caught.value.msg
    return caught.value


# ---------------------------------------------------------------- spec_from_params

@pytest.mark.parametrize("given, expected", [
    (params(type="dir", target={"path": "/srv/p", "permissions": None}),
     {"name": "p", "type": "dir", "target": {"path": "/srv/p"}}),
    (params(), {"name": "p"}),                                               # type None is dropped
    (params(type="dir", source={"hosts": None, "dir": None, "devices": None, "adapter": None, "name": None,
                                "format": None, "auth": None}, target={"path": None, "permissions": None}),
     {"name": "p", "type": "dir"}),                                          # nothing declared: no source/target
    (params(type="netfs", source={"hosts": [{"name": "nfs1", "port": None}], "dir": "/export", "format": "nfs",
                                  "protocol_version": "4"}, target={"path": "/mnt/nfs/"}),
     {"name": "p", "type": "netfs", "source": {"hosts": [{"name": "nfs1"}], "dir": "/export", "format": "nfs",
                                               "protocol_version": "4"}, "target": {"path": "/mnt/nfs"}}),
    (params(type="dir", target={"path": "/srv///p//"}), {"name": "p", "type": "dir", "target": {"path": "/srv/p"}}),
    (params(type="dir", target={"path": "//srv/p"}), {"name": "p", "type": "dir", "target": {"path": "//srv/p"}}),
    (params(type="dir", target={"path": "/p", "permissions": {"mode": "755", "owner": None, "group": 0,
                                                              "label": None}}),
     {"name": "p", "type": "dir", "target": {"path": "/p", "permissions": {"mode": "0755", "group": 0}}}),
    (params(type="dir", target={"path": "/p", "permissions": {"mode": 0o750}}),
     {"name": "p", "type": "dir", "target": {"path": "/p", "permissions": {"mode": "0750"}}}),
    (params(type="dir", target={"path": "/p", "permissions": {"mode": "0o711"}}),
     {"name": "p", "type": "dir", "target": {"path": "/p", "permissions": {"mode": "0711"}}}),
    (params(type="dir", target={"path": "/p", "permissions": {"mode": 511}}),
     {"name": "p", "type": "dir", "target": {"path": "/p", "permissions": {"mode": "0777"}}}),
    (params(type="dir", target={"path": "/tmp/../srv/./p/x/.."}), {"name": "p", "type": "dir", "target": {"path": "/srv/p"}}),
    (params(type="dir", target={"path": "/srv/p//"}), {"name": "p", "type": "dir", "target": {"path": "/srv/p"}}),
    (params(type="dir", target={"path": "relative/../p"}), {"name": "p", "type": "dir", "target": {"path": "relative/../p"}}),
    (params(name="p" * 247, type="dir"), {"name": "p" * 247, "type": "dir"}),
    (params(type="iscsi", source={"auth": {"type": "chap", "username": "u", "secret": {"uuid": None, "usage": "s"}}}),
     {"name": "p", "type": "iscsi", "source": {"auth": {"type": "chap", "username": "u", "secret_usage": "s"}}}),
    (params(type="iscsi", source={"auth": {"type": "chap", "username": "u", "secret": {"uuid": UUID.upper()}}}),
     {"name": "p", "type": "iscsi", "source": {"auth": {"type": "chap", "username": "u", "secret_uuid": UUID}}}),
    (params(type="iscsi", source={"auth": {"type": "chap", "username": "u",
                                           "secret": {"uuid": UUID.replace("-", "")}}}),
     {"name": "p", "type": "iscsi", "source": {"auth": {"type": "chap", "username": "u", "secret_uuid": UUID}}}),
    (params(type="rbd", config_options={"a": 20, "b": "x", "c": True, "d": False, "e": 0.5}),
     {"name": "p", "type": "rbd", "config_options": {"a": "20", "b": "x", "c": "true", "d": "false", "e": "0.5"}}),
    (params(type="rbd", refresh_volume_allocation="capacity"),
     {"name": "p", "type": "rbd", "refresh_volume_allocation": "capacity"}),
    # libvirt's default: None, which equals a pool without the setting and clears 'capacity'
    (params(type="rbd", refresh_volume_allocation="default"),
     {"name": "p", "type": "rbd", "refresh_volume_allocation": None}),
    (params(type="dir", cow=False), {"name": "p", "type": "dir", "cow": False}),
    (params(type="dir", cow=True), {"name": "p", "type": "dir", "cow": True}),
    (params(type="fs", mount_options=["noatime", "nodev"]),
     {"name": "p", "type": "fs", "mount_options": ["noatime", "nodev"]}),
    (params(type="fs", mount_options=[], config_options={}), {"name": "p", "type": "fs"}),
    (params(type="scsi", source={"adapter": {"type": "fc_host", "wwnn": WWNN, "wwpn": WWPN, "managed": False,
                                             "parent_address": None, "name": None}}),
     {"name": "p", "type": "scsi", "source": {"adapter": {"type": "fc_host", "wwnn": WWNN, "wwpn": WWPN,
                                                          "managed": False}}}),
    (params(type="disk", source={"devices": [{"path": "/dev/sdb", "part_separator": False}]}),
     {"name": "p", "type": "disk", "source": {"devices": [{"path": "/dev/sdb", "part_separator": False}]}}),
])
def test_spec_from_params(given, expected):
    before = copy.deepcopy(given)
    assert spec_from_params(given) == expected
    assert given == before  # the module's parameters are not changed


@pytest.mark.parametrize("given, param, fragment", [
    (params(name="", type="dir"), "name", "cannot be empty"),
    (params(name="   ", type="dir"), "name", "cannot be empty"),
    (params(name=None, type="dir"), "name", "cannot be empty"),
    (params(name="a/b", type="dir"), "name", "cannot contain '/'"),
    (params(type="dir", target={"path": "/p", "permissions": {"mode": "rwx"}}), "target.permissions.mode", "octal"),
    (params(type="dir", target={"path": "/p", "permissions": {"mode": "0758"}}), "target.permissions.mode", "octal"),
    (params(type="dir", target={"path": "/p", "permissions": {"mode": "17777"}}), "target.permissions.mode",
     "beyond 0777"),
    (params(type="dir", target={"path": "/p", "permissions": {"mode": "01777"}}), "target.permissions.mode",
     "beyond 0777"),
    (params(type="dir", target={"path": "/p", "permissions": {"mode": 777}}), "target.permissions.mode",
     "777 was read as a decimal YAML integer (= 0o1411): quote it ('0777')"),
    (params(type="dir", target={"path": "/p", "permissions": {"mode": -1}}), "target.permissions.mode", "negative"),
    (params(name="p" * 248, type="dir"), "name", "248 bytes long, libvirt stores at most 247 bytes"),
    (params(name="\u00e9" * 124, type="dir"), "name", "248 bytes long"),
    (params(name="a\nb", type="dir"), "name", "the pool name must be one line without control characters (found U+000A)"),
    (params(name="a\x7f", type="dir"), "name", "U+007F"),
    (params(name="a\tb", type="dir"), "name", "U+0009"),
    (params(type="dir", target={"path": "/p", "permissions": {"mode": ""}}), "target.permissions.mode", "octal"),
    (params(type="dir", target={"path": "/p", "permissions": {"mode": True}}), "target.permissions.mode", "boolean"),
    (params(type="dir", target={"path": "/p", "permissions": {"mode": 7.5}}), "target.permissions.mode", "octal"),
    (params(type="iscsi", source={"auth": {"type": "chap", "username": "u", "secret": {"uuid": "not-a-uuid"}}}),
     "source.auth.secret.uuid", "is not a UUID"),
    (params(type="iscsi", source={"auth": {"type": "chap", "username": "u", "secret": {"uuid": UUID + "0"}}}),
     "source.auth.secret.uuid", "is not a UUID"),
    (params(type="rbd", config_options={"a": {"nested": 1}}), "config_options", "string or a number"),
    (params(type="rbd", config_options={"a": [1]}), "config_options", "string or a number"),
    (params(type="rbd", config_options={"a": None}), "config_options", "not null"),
    (params(type="rbd", config_options={"": "1"}), "config_options", "name cannot be empty"),
    (params(type="fs", mount_options=["ro", ""]), "mount_options", "cannot be empty"),
    (params(type="fs", mount_options=[" "]), "mount_options", "cannot be empty"),
])
def test_spec_from_params_refuses(given, param, fragment):
    with pytest.raises(ParameterError) as caught:
        spec_from_params(given)
    assert caught.value.param == param
    assert caught.value.msg.startswith(param + ": ") and fragment in caught.value.msg


DIR_XML = "<pool type='dir'><name>p</name><target><path>/srv/p/</path><permissions><mode>755</mode>" \
          "</permissions></target></pool>"


@pytest.mark.parametrize("given, expected", [
    (params(name=None, xml=DIR_XML),
     {"name": "p", "type": "dir", "target": {"path": "/srv/p", "permissions": {"mode": "0755"}}}),
    (params(name="p", xml=DIR_XML),
     {"name": "p", "type": "dir", "target": {"path": "/srv/p", "permissions": {"mode": "0755"}}}),
    (params(name=None, xml="<pool type='dir'><name>p</name><uuid>%s</uuid><target><path>/p</path></target>"
                           "</pool>" % UUID.upper()),
     {"name": "p", "type": "dir", "uuid": UUID, "target": {"path": "/p"}}),
    (params(name=None, xml="<pool type='rbd' xmlns:rbd='http://libvirt.org/schemas/storagepool/rbd/1.0'>"
                           "<name>p</name><source><host name='m1'/><host name='m2' port='6789'/><name>pool</name>"
                           "<auth type='ceph' username='u'><secret uuid='%s'/></auth></source>"
                           "<rbd:config_opts><rbd:option name='a' value='1'/></rbd:config_opts></pool>"
                           % UUID.replace("-", "")),
     {"name": "p", "type": "rbd", "source": {"hosts": [{"name": "m1"}, {"name": "m2", "port": 6789}], "name": "pool",
                                             "auth": {"type": "ceph", "username": "u", "secret_uuid": UUID}},
      "config_options": {"a": "1"}}),
])
def test_spec_from_xml(given, expected):
    assert spec_from_params(given) == expected


@pytest.mark.parametrize("xml, name, param, fragment", [
    ("<pool type='dir'><name>p</name>", None, "xml", "not well-formed"),
    ("", None, "xml", ""),
    ("not xml at all", None, "xml", "not well-formed"),
    ("<volume type='dir'><name>p</name></volume>", None, "xml", "expected <pool>"),
    ("<pool><name>p</name></pool>", None, "xml", "no type"),
    ("<pool type='dir'><target><path>/p</path></target></pool>", None, "xml", "no <name>"),
    ("<pool type='dir'><name>a/b</name></pool>", None, "xml", "cannot contain '/'"),
    ("<pool type='sheepdog'><name>p</name></pool>", None, "xml", "unknown pool type 'sheepdog'"),
    ("<pool type='dir'><name>p</name><uuid>zzz</uuid></pool>", None, "xml", "is not a UUID"),
    ("<pool type='iscsi'><name>p</name><source><auth type='chap' username='u'><secret uuid='x'/></auth></source>"
     "</pool>", None, "xml", "is not a UUID"),
    ("<pool type='dir'><name>p</name></pool>", "q", "name", "differs from the <name> 'p' in xml"),
    ("<pool type='dir'><name>p</name><features><cow state='maybe'/></features></pool>", None, "xml", "yes or no"),
    ("<pool type='netfs'><name>p</name><source><host name='h' port='x'/></source></pool>", None, "xml", "integer"),
    ("<pool type='dir'><name>p</name><target><path>/p</path><permissions><mode>1777</mode></permissions></target>"
     "</pool>", None, "xml", "beyond 0777"),
    ("<pool type='dir'><name>p</name><target><path>/p</path><permissions><mode>rwx</mode></permissions></target>"
     "</pool>", None, "xml", "not an octal mode"),
    ("<pool type='dir'><name>a&#10;b</name></pool>", None, "xml", "the pool name must be one line"),
    ("<pool type='dir'><name>%s</name></pool>" % ("n" * 300), None, "xml", "300 bytes long"),
])
def test_spec_from_xml_refuses(xml, name, param, fragment):
    given = params(name=name, xml=xml)
    if xml == "":  # an empty xml is no xml: the name/type path takes over and needs a name
        given = params(name="", xml="")
        param, fragment = "name", "cannot be empty"
    with pytest.raises(ParameterError) as caught:
        spec_from_params(given)
    assert caught.value.param == param
    assert fragment in caught.value.msg


# ---------------------------------------------------------------- validate_spec: the table

@pytest.mark.parametrize("name", TYPES)
def test_minimal_spec_is_valid(name):
    validate_spec(minimal(name), new=True)
    validate_spec(minimal(name), new=False)


@pytest.mark.parametrize("name, field", [(t, f) for t in TYPES for f in POOL_TYPES[t].required])
def test_required_field_missing(name, field):
    spec = minimal(name)
    del spec["source"][field]
    error = refused(spec, "source." + field, fragment="pool type %s requires it" % name)
    assert name in error.msg
    refused(spec, "xml", from_xml=True)
    validate_spec(spec, new=False)  # an existing pool already has it


@pytest.mark.parametrize("name, field", [(t, f) for t in TYPES for f in POOL_TYPES[t].required])
def test_required_field_empty(name, field):
    spec = minimal(name)
    spec["source"][field] = [] if isinstance(spec["source"][field], list) else ""
    refused(spec, "source." + field)


@pytest.mark.parametrize("name, field", [(t, f) for t in TYPES for f in SOURCE_FIELDS
                                         if f not in POOL_TYPES[t].required + POOL_TYPES[t].optional])
def test_source_field_not_taken(name, field):
    spec = minimal(name)
    spec.setdefault("source", {})[field] = copy.deepcopy(VALUES[field])
    refused(spec, "source." + field, fragment="pool type %s does not take it" % name)
    refused(spec, "source." + field, new=False)
    refused(spec, "xml", from_xml=True)


@pytest.mark.parametrize("name, option", [(t, o) for t in TYPES for o in EXTRA_OPTIONS
                                          if o not in POOL_TYPES[t].extras])
def test_extra_not_taken(name, option):
    spec = dict(minimal(name), **{option: EXTRAS[option]})
    refused(spec, option, fragment="pool type %s does not take it" % name)
    refused(spec, "xml", from_xml=True)


@pytest.mark.parametrize("name, option", [(t, o) for t in TYPES for o in POOL_TYPES[t].extras])
def test_extra_taken(name, option):
    validate_spec(dict(minimal(name), **{option: EXTRAS[option]}), new=True)


@pytest.mark.parametrize("name", [t for t in TYPES if POOL_TYPES[t].target == "none"])
def test_network_pool_has_no_target(name):
    refused(dict(minimal(name), target={"path": "/srv/p"}), "target", fragment="has no target")
    refused(dict(minimal(name), target={"permissions": {"mode": "0755"}}), "target", new=False)


@pytest.mark.parametrize("name", [t for t in TYPES if POOL_TYPES[t].target == "required"])
def test_target_path_required(name):
    spec = minimal(name)
    del spec["target"]
    refused(spec, "target.path", fragment="requires it")
    refused(dict(spec, target={"permissions": {"mode": "0755"}}), "target.path")
    validate_spec(spec, new=False)


@pytest.mark.parametrize("name", [t for t in TYPES if POOL_TYPES[t].target == "optional"])
def test_target_path_optional(name):
    spec = minimal(name)
    assert "target" not in spec
    validate_spec(spec, new=True)


@pytest.mark.parametrize("name", [t for t in TYPES if POOL_TYPES[t].target != "none"])
@pytest.mark.parametrize("path", ["relative", "./p", "~/p", "srv/p"])
def test_target_path_absolute(name, path):
    refused(dict(minimal(name), target={"path": path}), "target.path", fragment="is not an absolute path")
    refused(dict(minimal(name), target={"path": path}), "target.path", new=False)


# the pool types whose backend builds and deletes the target directory (and the volume files in it)
DIRECTORY_TYPES = ["dir", "fs", "netfs", "vstorage"]


@pytest.mark.parametrize("name", DIRECTORY_TYPES)
@pytest.mark.parametrize("path", ["/", "/tmp", "//tmp", "/tmp/", "/tmp/../tmp/x/..", "/var/lib/libvirt", "/etc",
                                  "/home/./", "/var/lib", "/usr//", "/root"])
def test_target_path_system_directory(name, path):
    refused(dict(minimal(name), target={"path": path}), "target.path", fragment="is a system directory")
    refused(dict(minimal(name), target={"path": path}), "xml", from_xml=True, fragment="is a system directory")
    refused(dict(minimal(name), target={"path": path}), "target.path", new=False)


@pytest.mark.parametrize("name", DIRECTORY_TYPES)
@pytest.mark.parametrize("path", ["/var/lib/libvirt/images", "/tmp/pool", "/srv/p", "/home/vms", "/var/lib/libvirt/x"])
def test_target_path_of_its_own(name, path):
    validate_spec(dict(minimal(name), target={"path": path}), new=True)


@pytest.mark.parametrize("name", sorted(set(TYPES) - set(DIRECTORY_TYPES)))
def test_system_directory_as_a_device_directory(name):
    """Pools of other types only read their target (/dev, /dev/disk/by-path): no refusal for those."""
    if POOL_TYPES[name].target != "none":
        validate_spec(dict(minimal(name), target={"path": "/dev"}), new=True)


def test_directory_types_are_the_table_s():
    """DIRECTORY_TYPES is what the table says: file volumes, build and delete."""
    assert DIRECTORY_TYPES == sorted(t for t in TYPES if POOL_TYPES[t].disk_type == "file"
                                     and {"build", "delete"} <= POOL_TYPES[t].operations)


@pytest.mark.parametrize("name, field, most", [(t, f, getattr(POOL_TYPES[t], "max_" + f)) for t in TYPES
                                               for f in ("hosts", "devices") if getattr(POOL_TYPES[t], "max_" + f)])
def test_too_many(name, field, most):
    spec = minimal(name)
    item = VALUES[field][0]
    spec.setdefault("source", {})[field] = [copy.deepcopy(item) for dummy in range(most)]
    validate_spec(spec, new=True)
    spec["source"][field].append(copy.deepcopy(item))
    refused(spec, "source." + field, fragment="takes at most %d, got %d" % (most, most + 1))


@pytest.mark.parametrize("name, fmt", [(t, f) for t in TYPES for f in POOL_TYPES[t].source_formats])
def test_every_source_format(name, fmt):
    spec = minimal(name)
    spec.setdefault("source", {})["format"] = fmt
    validate_spec(spec, new=True)


@pytest.mark.parametrize("name, fmt", [
    ("fs", "ntfs"), ("fs", "nfs"), ("fs", "gpt"), ("fs", "EXT4"), ("netfs", "smb"), ("netfs", "ext4"),
    ("disk", "ext4"), ("disk", "msdos"), ("disk", "auto"), ("logical", "gpt"), ("logical", "auto"),
])
def test_bad_source_format(name, fmt):
    spec = minimal(name)
    spec["source"] = dict(spec.get("source", {}), format=fmt)
    error = refused(spec, "source.format", fragment="'%s' is not valid for pool type %s" % (fmt, name))
    assert POOL_TYPES[name].source_formats[0] in error.msg  # lists the valid ones
    refused(spec, "xml", from_xml=True)


def _with(name, **source):
    spec = minimal(name)
    spec["source"] = dict(spec.get("source", {}), **source)
    return spec


def _adapter(**adapter):
    return _with("scsi", adapter=adapter)


def _perms(**perms):
    return dict(minimal("dir"), target={"path": "/srv/p", "permissions": perms})


CHAP = {"type": "chap", "username": "u", "secret_usage": "s"}
CEPH = {"type": "ceph", "username": "u", "secret_uuid": UUID}
PCI = {"unique_id": 1, "domain": 0, "bus": 0, "slot": 31, "function": 2}

# (id, spec, new, param refused or None when valid)
CASES = [
    ("port-0", _with("netfs", hosts=[{"name": "h", "port": 0}]), True, "source.hosts.port"),
    ("port-70000", _with("netfs", hosts=[{"name": "h", "port": 70000}]), True, "source.hosts.port"),
    ("port-65536", _with("iscsi", hosts=[{"name": "h", "port": 65536}]), True, "source.hosts.port"),
    ("port-negative", _with("rbd", hosts=[{"name": "a"}, {"name": "b", "port": -1}]), True, "source.hosts.port"),
    ("port-1", _with("netfs", hosts=[{"name": "h", "port": 1}]), True, None),
    ("port-65535", _with("netfs", hosts=[{"name": "h", "port": 65535}]), True, None),
    ("port-existing", _with("netfs", hosts=[{"name": "h", "port": 0}]), False, "source.hosts.port"),
    ("host-empty", _with("netfs", hosts=[{"name": ""}]), True, "source.hosts.name"),
    ("host-blank", _with("rbd", hosts=[{"name": "m1"}, {"name": "  "}]), True, "source.hosts.name"),
    ("device-empty", _with("fs", devices=[{"path": ""}]), True, "source.devices.path"),
    ("device-empty-existing", _with("logical", devices=[{"path": "/dev/a"}, {"path": ""}]), False,
     "source.devices.path"),
    ("auth-chap-iscsi", _with("iscsi", auth=CHAP), True, None),
    ("auth-chap-iscsi-direct", _with("iscsi-direct", auth=CHAP), True, None),
    ("auth-ceph-rbd", _with("rbd", auth=CEPH), True, None),
    ("auth-ceph-iscsi", _with("iscsi", auth=dict(CHAP, type="ceph")), True, "source.auth.type"),
    ("auth-chap-rbd", _with("rbd", auth=dict(CEPH, type="chap")), True, "source.auth.type"),
    ("auth-no-username", _with("iscsi", auth={"type": "chap", "secret_usage": "s"}), True, "source.auth.username"),
    ("auth-both", _with("iscsi", auth=dict(CHAP, secret_uuid=UUID)), True, "source.auth.secret"),
    ("auth-neither", _with("rbd", auth={"type": "ceph", "username": "u"}), True, "source.auth.secret"),
    ("part-separator-disk", _with("disk", devices=[{"path": "/dev/sdb", "part_separator": True}]), True, None),
    ("part-separator-fs", _with("fs", devices=[{"path": "/dev/sdb", "part_separator": False}]), True,
     "source.devices.part_separator"),
    ("part-separator-logical", _with("logical", devices=[{"path": "/dev/sdb", "part_separator": True}]), True,
     "source.devices.part_separator"),
    ("protocol-nfs", _with("netfs", format="nfs", protocol_version="4.1"), True, None),
    ("protocol-auto", _with("netfs", protocol_version="3"), True, None),
    ("protocol-cifs", _with("netfs", format="cifs", protocol_version="3"), True, "source.protocol_version"),
    ("protocol-glusterfs", _with("netfs", format="glusterfs", protocol_version="3"), True,
     "source.protocol_version"),
    ("protocol-existing-no-format", _with("netfs", protocol_version="4"), False, None),
    ("protocol-word", _with("netfs", protocol_version="four"), True, "source.protocol_version"),
    ("protocol-v4", _with("netfs", protocol_version="v4"), True, "source.protocol_version"),
    ("adapter-scsi-host-name", _adapter(type="scsi_host", name="host0"), True, None),
    ("adapter-legacy-name", _adapter(name="host0"), True, None),
    ("adapter-scsi-host-parent-address", _adapter(type="scsi_host", parent_address=PCI), True, None),
    ("adapter-scsi-host-partial-address", _adapter(type="scsi_host", parent_address={"unique_id": 0, "slot": 1}),
     True, None),
    ("adapter-scsi-host-both", _adapter(type="scsi_host", name="host0", parent_address=PCI), True,
     "source.adapter"),
    ("adapter-scsi-host-neither", _adapter(type="scsi_host"), True, "source.adapter"),
    ("adapter-scsi-host-neither-existing", _adapter(type="scsi_host"), False, None),
    ("adapter-scsi-host-wwnn", _adapter(type="scsi_host", name="host0", wwnn=WWNN), True, "source.adapter.wwnn"),
    ("adapter-scsi-host-managed", _adapter(type="scsi_host", name="host0", managed=True), True,
     "source.adapter.managed"),
    ("adapter-scsi-host-parent", _adapter(type="scsi_host", parent="scsi_host0"), True, "source.adapter.parent"),
    ("adapter-no-type-wwnn", _adapter(wwnn=WWNN, wwpn=WWPN), True, "source.adapter.type"),
    ("adapter-unknown-type", _adapter(type="pci_host", name="x"), True, "source.adapter.type"),
    ("adapter-fc-host", _adapter(type="fc_host", wwnn=WWNN, wwpn=WWPN, parent="scsi_host3", managed=True), True,
     None),
    ("adapter-fc-host-0x", _adapter(type="fc_host", wwnn="0x" + WWNN, wwpn=WWPN.upper()), True, None),
    ("adapter-fc-host-parents", _adapter(type="fc_host", wwnn=WWNN, wwpn=WWPN, parent_wwnn=WWNN, parent_wwpn=WWPN,
                                         parent_fabric_wwn=WWNN), True, None),
    ("adapter-fc-host-no-wwnn", _adapter(type="fc_host", wwpn=WWPN), True, "source.adapter.wwnn"),
    ("adapter-fc-host-no-wwpn", _adapter(type="fc_host", wwnn=WWNN), True, "source.adapter.wwpn"),
    ("adapter-fc-host-no-wwn-existing", _adapter(type="fc_host", parent="scsi_host4"), False, None),
    ("adapter-fc-host-short-wwn", _adapter(type="fc_host", wwnn=WWNN[:-1], wwpn=WWPN), True, "source.adapter.wwnn"),
    ("adapter-fc-host-0X-wwn", _adapter(type="fc_host", wwnn=WWNN, wwpn="0X" + WWPN), True, "source.adapter.wwpn"),
    ("adapter-fc-host-hex", _adapter(type="fc_host", wwnn=WWNN, wwpn="z" * 16), True, "source.adapter.wwpn"),
    ("adapter-fc-host-fabric", _adapter(type="fc_host", wwnn=WWNN, wwpn=WWPN, parent_fabric_wwn="2000"), True,
     "source.adapter.parent_fabric_wwn"),
    ("adapter-fc-host-parent-wwnn-alone", _adapter(type="fc_host", wwnn=WWNN, wwpn=WWPN, parent_wwnn=WWNN), True,
     "source.adapter.parent_wwpn"),
    ("adapter-fc-host-parent-wwpn-alone", _adapter(type="fc_host", wwnn=WWNN, wwpn=WWPN, parent_wwpn=WWPN), True,
     "source.adapter.parent_wwnn"),
    ("adapter-fc-host-name", _adapter(type="fc_host", name="host5", wwnn=WWNN, wwpn=WWPN), True,
     "source.adapter.name"),
    ("adapter-fc-host-parent-address", _adapter(type="fc_host", wwnn=WWNN, wwpn=WWPN, parent_address=PCI), True,
     "source.adapter.parent_address"),
    ("adapter-address-no-unique-id", _adapter(type="scsi_host", parent_address={"slot": 1}), True,
     "source.adapter.parent_address.unique_id"),
    ("adapter-address-no-pci", _adapter(type="scsi_host", parent_address={"unique_id": 1}), True,
     "source.adapter.parent_address"),
    ("adapter-address-function", _adapter(type="scsi_host", parent_address=dict(PCI, function=8)), True,
     "source.adapter.parent_address.function"),
    ("adapter-address-slot", _adapter(type="scsi_host", parent_address=dict(PCI, slot=32)), True,
     "source.adapter.parent_address.slot"),
    ("adapter-address-bus", _adapter(type="scsi_host", parent_address=dict(PCI, bus=256)), True,
     "source.adapter.parent_address.bus"),
    ("adapter-address-unique-id", _adapter(type="scsi_host", parent_address=dict(PCI, unique_id=-1)), True,
     "source.adapter.parent_address.unique_id"),
    ("adapter-address-domain", _adapter(type="scsi_host", parent_address=dict(PCI, domain=2 ** 32)), True,
     "source.adapter.parent_address.domain"),
    ("perms-ok", _perms(mode="0755", owner=0, group=4294967294, label="system_u:object_r:virt_image_t:s0"), True,
     None),
    ("perms-owner-negative", _perms(owner=-5), True, "target.permissions.owner"),
    ("perms-owner-unset", _perms(owner=-1), True, "target.permissions.owner"),
    ("perms-group-unset", _perms(group=4294967295), True, "target.permissions.group"),
    ("perms-group-huge", _perms(group=2 ** 40), False, "target.permissions.group"),
]


@pytest.mark.parametrize("spec, new, param", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validate(spec, new, param):
    before = copy.deepcopy(spec)
    if param is None:
        validate_spec(spec, new=new)
    else:
        refused(spec, param, new=new)
        refused(spec, "xml", new=new, from_xml=True)  # raw XML errors name the xml parameter
    assert spec == before  # validation never changes the spec


def test_unknown_source_field():
    spec = _with("dir", colour="blue")
    refused(spec, "source", fragment="unknown source field 'colour'")
    refused(spec, "xml", from_xml=True)


def test_unknown_type_is_a_key_error():
    """Module argument choices and spec_from_params keep unknown types out; the table has no row."""
    with pytest.raises(KeyError):
        validate_spec({"name": "p", "type": "sheepdog"}, new=True)


def test_from_params_then_validate_every_type():
    """The structured options of every type, through spec_from_params, pass validation."""
    for name in TYPES:
        spec = minimal(name)
        given = params(type=name, source=copy.deepcopy(spec.get("source")), target=spec.get("target"))
        validate_spec(spec_from_params(given), new=True)


def maximal(name):
    """A valid spec of pool type ``name`` holding every source field and option the type takes."""
    row = POOL_TYPES[name]
    spec = minimal(name)
    source = spec.setdefault("source", {})
    for field in row.required + row.optional:
        source[field] = copy.deepcopy(VALUES[field])
    if "format" in source:
        source["format"] = row.source_formats[1]  # a concrete format, not the auto default
    if "auth" in source:
        source["auth"]["type"] = row.auth_types[0]
    if row.auth_types == ("chap",):  # iSCSI: the device is the target IQN
        source["devices"] = [{"path": "iqn.2024-01.com.example:target"}]
    for option in row.extras:
        spec[option] = copy.deepcopy(EXTRAS[option])
    if row.target != "none":
        permissions = {"mode": "0755", "owner": 0, "group": 0, "label": "system_u:object_r:virt_image_t:s0"}
        spec["target"] = {"path": "/srv/p", "permissions": permissions}
    if not source:
        del spec["source"]
    return spec


@pytest.mark.parametrize("name", TYPES)
def test_every_built_pool_xml_validates_against_libvirt_schema(name, pool_schema):
    """What the builder makes from a valid spec (every field the type takes) is valid libvirt XML,
    and parses back into the same spec."""
    from lxml import etree
    from ansible_collections.virtops.storage.plugins.module_utils.pool_xml import build_pool_xml, parse_pool_xml
    spec = maximal(name)
    validate_spec(spec, new=True)
    xml = build_pool_xml(spec)
    assert pool_schema.validate(etree.fromstring(xml)), (pool_schema.error_log, xml)
    assert parse_pool_xml(xml) == spec
