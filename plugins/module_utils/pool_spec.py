# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""storage_pool parameters -> desired pool spec, validated against the pool-type table.

Pure functions (no libvirt): every error is a ParameterError naming the
parameter, raised before anything is changed.
"""

from __future__ import annotations

import posixpath
import re

from ansible_collections.virtops.storage.plugins.module_utils.errors import ParameterError
from ansible_collections.virtops.storage.plugins.module_utils.params import MAX_ID, canonical_uuid, check_text
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import (
    POOL_TYPE_NAMES, POOL_TYPES, PROTOCOL_VERSION_FORMATS, SOURCE_FIELDS, supports, takes)
from ansible_collections.virtops.storage.plugins.module_utils.pool_xml import (
    normalize_mode, normalize_pool_spec, parse_pool_xml)

# Pool-level options beyond source and target, as module parameters.
EXTRA_OPTIONS = ("mount_options", "config_options", "cow", "refresh_volume_allocation")

# Adapter fields by adapter type (libvirt drops, or refuses, the other type's fields).
SCSI_HOST_ADAPTER_FIELDS = ("type", "name", "parent_address")
FC_HOST_ADAPTER_FIELDS = ("type", "parent", "managed", "wwnn", "wwpn", "parent_wwnn", "parent_wwpn",
                          "parent_fabric_wwn")
WWN_FIELDS = ("wwnn", "wwpn", "parent_wwnn", "parent_wwpn", "parent_fabric_wwn")
# libvirt's virValidateWWN: 16 hex digits, optionally after a lower-case '0x'
_WWN = re.compile(r"^(0x)?[0-9a-fA-F]{16}$")
# Largest value libvirt accepts for each parent_address field (unique_id is an unsigned int,
# the rest a PCI address).
PARENT_ADDRESS_LIMITS = (("unique_id", 0xFFFFFFFF), ("domain", 0xFFFFFFFF), ("bus", 0xFF),
                         ("slot", 0x1F), ("function", 7))
_PROTOCOL_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)?$")
# libvirt saves a pool as /etc/libvirt/storage/<name>.xml, written through <name>.xml.new: a file name
# holds at most 255 bytes (NAME_MAX)
MAX_POOL_NAME_BYTES = 255 - len(".xml.new")
# Directories of the system that a pool building or deleting its target directory must not own: a build
# would chown and chmod them, delete_storage remove them and delete_volumes empty them.
# (/var/lib/libvirt/images, libvirt's default pool, is fine.)
SYSTEM_DIRECTORIES = frozenset([
    "/", "/tmp", "/var/tmp", "/dev", "/proc", "/sys", "/run", "/etc", "/usr", "/var", "/boot", "/home",
    "/root", "/bin", "/sbin", "/lib", "/lib64", "/opt", "/srv", "/var/lib", "/var/lib/libvirt",
])


def _clean(value):
    """Drop None, empty dicts and empty lists, recursively."""
    if isinstance(value, dict):
        cleaned = dict((k, _clean(v)) for k, v in value.items())
        return dict((k, v) for k, v in cleaned.items() if v is not None and v != {} and v != [])
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def spec_from_params(params):
    """Return the desired pool spec holding only what the user declared.

    ``params`` are storage_pool's validated parameters. With ``xml`` the spec
    comes from the XML; otherwise from name/type/source/target and the extras.
    """
    if params.get("xml"):
        return _spec_from_xml(params)
    _check_name(params["name"], "name")
    spec = {"name": params["name"], "type": params.get("type")}
    source = _clean(params.get("source") or {})
    auth = source.get("auth")
    if auth and "secret" in auth:
        secret = auth.pop("secret")
        auth.update(dict(("secret_" + k, v) for k, v in secret.items()))
    if source:
        spec["source"] = source
    target = _clean(params.get("target") or {})
    if target:
        spec["target"] = target
    for option in EXTRA_OPTIONS:
        if params.get(option) not in (None, [], {}):
            spec[option] = params[option]
    if "config_options" in spec:
        spec["config_options"] = _config_options(spec["config_options"])
    for option in spec.get("mount_options", []):
        if not option or not option.strip():
            raise ParameterError("mount_options", "a mount option cannot be empty")
    spec = _clean(spec)
    if spec.get("refresh_volume_allocation") == "default":
        # libvirt's default is no <refresh> setting: declared as None, it equals a pool without
        # one and clears a pool's 'capacity' (the XML parser reads allocation='default' as unset)
        spec["refresh_volume_allocation"] = None
    _normalise_mode(spec)
    _normalise_target_path(spec)
    _canonical_uuids(spec, "source.auth.secret.uuid")  # the options hold no pool uuid
    return normalize_pool_spec(spec)


def _check_name(name, param):
    """libvirt names files after pools: no empty name, no '/', no control characters, not too long."""
    if not name or not name.strip():
        raise ParameterError(param, "the pool name cannot be empty")
    if "/" in name:
        raise ParameterError(param, "the pool name '%s' cannot contain '/'" % name)
    check_text(name, param, what="the pool name")
    size = len(name.encode("utf-8"))
    if size > MAX_POOL_NAME_BYTES:
        raise ParameterError(param, "the pool name is %d bytes long, libvirt stores at most %d bytes (UTF-8) "
                                    "(its file /etc/libvirt/storage/<name>.xml)" % (size, MAX_POOL_NAME_BYTES))


def _canonical_uuids(spec, param):
    """Spell the pool's and the auth secret's uuids as libvirt prints them, so they compare equal."""
    if spec.get("uuid"):
        spec["uuid"] = canonical_uuid(spec["uuid"], param)
    auth = spec.get("source", {}).get("auth", {})
    if auth.get("secret_uuid"):
        auth["secret_uuid"] = canonical_uuid(auth["secret_uuid"], param)


def _config_options(options):
    """Ceph config options as libvirt stores them: name -> string value."""
    result = {}
    for name, value in options.items():
        if not str(name).strip():
            raise ParameterError("config_options", "an option name cannot be empty")
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float, str)):
            value = str(value)
        else:
            raise ParameterError("config_options", "the value of %s must be a string or a number, not %s" % (
                name, "null" if value is None else type(value).__name__))
        result[str(name)] = value
    return result


def _normalise_mode(spec):
    perms = spec.get("target", {}).get("permissions", {})
    if "mode" in perms:
        try:
            perms["mode"] = normalize_mode(perms["mode"])
        except ValueError as exc:
            raise ParameterError("target.permissions.mode", str(exc))


def _normalise_target_path(spec):
    """The target directory as the path it names ('/tmp/../tmp/x/..' is /tmp), so that it compares and is
    checked as what it is. Relative paths stay as written: validate_spec refuses them."""
    target = spec.get("target") or {}
    if target.get("path", "").startswith("/"):
        target["path"] = posixpath.normpath(target["path"])


def _spec_from_xml(params):
    try:
        spec = parse_pool_xml(params["xml"])
    except ValueError as exc:  # PoolXMLError, or a mode libvirt refuses
        raise ParameterError("xml", str(exc))
    if not spec.get("name"):
        raise ParameterError("xml", "the pool XML has no <name>")
    _check_name(spec["name"], "xml")
    if params.get("name") and params["name"] != spec["name"]:
        raise ParameterError("name", "'%s' differs from the <name> '%s' in xml" % (params["name"], spec["name"]))
    if spec["type"] not in POOL_TYPES:
        raise ParameterError("xml", "unknown pool type '%s' (known: %s)" % (spec["type"], ", ".join(POOL_TYPES)))
    _normalise_target_path(spec)
    _canonical_uuids(spec, "xml")
    return normalize_pool_spec(spec)


def validate_spec(spec, new, from_xml=False):
    """Check ``spec`` against the pool-type table; ``new`` when the pool will be defined.

    Fields a type does not take are refused always; required fields only
    when the pool is defined anew (an existing pool already has them).
    """
    row = POOL_TYPES[spec["type"]]
    where = "xml" if from_xml else None  # errors in raw XML name the xml parameter
    source = spec.get("source", {})
    for field in source:
        if field not in SOURCE_FIELDS:
            raise ParameterError(where or "source", "unknown source field '%s'" % field)
        if not takes(row, field):
            raise ParameterError(where or "source." + field,
                                 "pool type %s does not take it (it takes: %s)" % (
                                     row.name, ", ".join(row.required + row.optional) or "no source"))
    if new:
        for field in row.required:
            if not source.get(field):
                raise ParameterError(where or "source." + field,
                                     "pool type %s requires it" % row.name)
    _check_counts(row, source, where)
    _check_choice(row.source_formats, source.get("format"), where or "source.format",
                  "pool type %s" % row.name)
    _check_protocol_version(row, source, new, where)
    for device in source.get("devices", []):
        if not (device.get("path") or "").strip():
            raise ParameterError(where or "source.devices.path", "a device path cannot be empty")
        if device.get("part_separator") is not None and not row.part_separator:
            raise ParameterError(where or "source.devices.part_separator", "only %s pools take it, not pool type %s" % (
                "/".join(t.name for t in POOL_TYPES.values() if t.part_separator), row.name))
    if source.get("adapter"):
        _check_adapter(source["adapter"], new, where)
    auth = source.get("auth")
    if auth:
        _check_choice(row.auth_types, auth.get("type"), where or "source.auth.type",
                      "pool type %s" % row.name)
        if not auth.get("username"):
            raise ParameterError(where or "source.auth.username", "auth needs a username")
        if bool(auth.get("secret_uuid")) == bool(auth.get("secret_usage")):
            raise ParameterError(where or "source.auth.secret",
                                 "name the secret by exactly one of uuid or usage")
    target = spec.get("target")
    if row.target == "none" and target:
        raise ParameterError(where or "target", "pool type %s has no target (it is not a local path)" % row.name)
    if new and row.target == "required" and not (target or {}).get("path"):
        raise ParameterError(where or "target.path", "pool type %s requires it" % row.name)
    if (target or {}).get("path"):
        _check_target_path(row, target["path"], where or "target.path")
    perms = (target or {}).get("permissions") or {}
    for field in ("owner", "group"):
        value = perms.get(field)
        if value is not None and not 0 <= value <= MAX_ID:
            raise ParameterError(where or "target.permissions." + field,
                                 "%s is not a numeric id (0-%d); leave it out to keep libvirt's" % (value, MAX_ID))
    for option in EXTRA_OPTIONS:
        if option in spec and not takes(row, option):
            raise ParameterError(where or option, "pool type %s does not take it" % row.name)


def _check_target_path(row, path, param):
    if not path.startswith("/"):
        raise ParameterError(param, "'%s' is not an absolute path" % path)
    # the pools whose backend builds and deletes the target directory (and deletes the volume files in it)
    owns_directory = row.disk_type == "file" and supports(row, "build") and supports(row, "delete")
    plain = "/" + posixpath.normpath(path).lstrip("/")  # '//tmp' is /tmp too
    if owns_directory and plain in SYSTEM_DIRECTORIES:
        raise ParameterError(param, "'%s' is a system directory: a %s pool builds (chown, chmod) and may delete "
                                    "its target and the files in it; use a directory of its own such as "
                                    "/var/lib/libvirt/images/<pool>" % (plain, row.name))


def _check_counts(row, source, where):
    for field, most in (("hosts", row.max_hosts), ("devices", row.max_devices)):
        count = len(source.get(field, []))
        if count > most:
            raise ParameterError(where or "source." + field,
                                 "pool type %s takes at most %d, got %d" % (row.name, most, count))
    for host in source.get("hosts", []):
        if not (host.get("name") or "").strip():
            raise ParameterError(where or "source.hosts.name", "a host name cannot be empty")
        port = host.get("port")
        if port is not None and not 0 < port < 65536:
            raise ParameterError(where or "source.hosts.port", "%s is not a TCP port (1-65535)" % port)


def _check_choice(allowed, value, param, what):
    if value is not None and value not in allowed:
        if not allowed:
            raise ParameterError(param, "%s does not take it" % what)
        raise ParameterError(param, "'%s' is not valid for %s (valid: %s)" % (value, what, ", ".join(allowed)))


def _check_protocol_version(row, source, new, where):
    version = source.get("protocol_version")
    if version is None:
        return
    if not _PROTOCOL_VERSION.match(str(version)):
        raise ParameterError(where or "source.protocol_version",
                             "'%s' is not an NFS protocol version (such as 3, 4 or 4.1)" % version)
    # an existing pool keeps its format when none is declared: libvirt checks the result
    fmt = source.get("format") or (row.source_formats[0] if new and row.source_formats else None)
    if fmt is not None and fmt not in PROTOCOL_VERSION_FORMATS:
        raise ParameterError(where or "source.protocol_version",
                             "only source formats %s take it, not %s" % (", ".join(PROTOCOL_VERSION_FORMATS), fmt))


def _check_adapter(adapter, new, where):
    """The adapter fields libvirt accepts, per adapter type (libvirt reads no type as scsi_host)."""
    def param(field):
        return where or "source.adapter." + field if field else where or "source.adapter"

    kind = adapter.get("type") or ("scsi_host" if new else None)
    if kind not in (None, "scsi_host", "fc_host"):
        raise ParameterError(param("type"), "'%s' is not an adapter type (scsi_host, fc_host)" % kind)
    if kind is not None:
        allowed = SCSI_HOST_ADAPTER_FIELDS if kind == "scsi_host" else FC_HOST_ADAPTER_FIELDS
        for field in sorted(adapter):
            if field in allowed:
                continue
            if not adapter.get("type"):
                raise ParameterError(param("type"), "set it to fc_host to use %s (an adapter without a "
                                                    "type is a scsi_host adapter)" % field)
            raise ParameterError(param(field), "a %s adapter does not take it (it takes: %s)" % (
                kind, ", ".join(f for f in allowed if f != "type")))
    if adapter.get("name") and adapter.get("parent_address"):
        raise ParameterError(param(None), "a scsi_host adapter takes name or parent_address, not both")
    if new and kind == "scsi_host" and not (adapter.get("name") or adapter.get("parent_address")):
        raise ParameterError(param(None), "a scsi_host adapter requires name or parent_address")
    if new and kind == "fc_host":
        for field in ("wwnn", "wwpn"):
            if not adapter.get(field):
                raise ParameterError(param(field), "an fc_host adapter requires it")
    for field in WWN_FIELDS:
        value = adapter.get(field)
        if value is not None and not _WWN.match(value):
            raise ParameterError(param(field), "'%s' is not a WWN (16 hex digits, optionally after 0x)" % value)
    if bool(adapter.get("parent_wwnn")) != bool(adapter.get("parent_wwpn")):
        raise ParameterError(param("parent_wwpn" if adapter.get("parent_wwnn") else "parent_wwnn"),
                             "parent_wwnn and parent_wwpn go together")
    parent = adapter.get("parent_address")
    if parent:
        if parent.get("unique_id") is None:
            raise ParameterError(param("parent_address.unique_id"), "parent_address requires it")
        if all(parent.get(field) is None for field, dummy in PARENT_ADDRESS_LIMITS[1:]):
            raise ParameterError(param("parent_address"),
                                 "requires the PCI address (domain, bus, slot, function) of the parent")
        for field, most in PARENT_ADDRESS_LIMITS:
            value = parent.get(field)
            if value is not None and not 0 <= value <= most:
                raise ParameterError(param("parent_address." + field), "%s is out of range (0-%d)" % (value, most))


# The options of storage_pool (besides uri) and their constraints, composed by storage_pool and storage_host.
HOST_SPEC = dict(name=dict(type="str", required=True), port=dict(type="int"))
DEVICE_SPEC = dict(path=dict(type="str", required=True), part_separator=dict(type="bool"))
PARENT_ADDRESS_SPEC = dict((key, dict(type="int")) for key in ("unique_id", "domain", "bus", "slot", "function"))
ADAPTER_SPEC = dict(
    type=dict(type="str", choices=["scsi_host", "fc_host"]),
    name=dict(type="str"), parent=dict(type="str"), managed=dict(type="bool"),
    wwnn=dict(type="str"), wwpn=dict(type="str"), parent_wwnn=dict(type="str"),
    parent_wwpn=dict(type="str"), parent_fabric_wwn=dict(type="str"),
    parent_address=dict(type="dict", options=PARENT_ADDRESS_SPEC),
)
AUTH_SPEC = dict(
    type=dict(type="str", required=True, choices=["chap", "ceph"]),
    username=dict(type="str", required=True),
    # names a libvirt secret (uuid or usage); the secret value itself never passes through here
    secret=dict(type="dict", required=True, no_log=False,
                options=dict(uuid=dict(type="str"), usage=dict(type="str")),
                mutually_exclusive=[("uuid", "usage")], required_one_of=[("uuid", "usage")]),
)
SOURCE_SPEC = dict(
    hosts=dict(type="list", elements="dict", options=HOST_SPEC),
    dir=dict(type="str"),
    devices=dict(type="list", elements="dict", options=DEVICE_SPEC),
    adapter=dict(type="dict", options=ADAPTER_SPEC),
    name=dict(type="str"),
    format=dict(type="str"),
    auth=dict(type="dict", options=AUTH_SPEC),
    initiator_iqn=dict(type="str"),
    protocol_version=dict(type="str"),
    vendor=dict(type="str"),
    product=dict(type="str"),
)
TARGET_SPEC = dict(
    path=dict(type="path"),
    permissions=dict(type="dict", options=dict(
        mode=dict(type="raw"), owner=dict(type="int"), group=dict(type="int"), label=dict(type="str"))),
)
DEFINITION_OPTIONS = ("type", "source", "target", "mount_options", "config_options", "cow",
                      "refresh_volume_allocation")


POOL_ARGUMENT_SPEC = dict(
    name=dict(type="str"),
    type=dict(type="str", choices=list(POOL_TYPE_NAMES)),
    xml=dict(type="str"),
    state=dict(type="str", default="present", choices=["present", "active", "inactive", "absent"]),
    autostart=dict(type="bool"),
    build=dict(type="bool", default=True),
    overwrite=dict(type="bool", default=False),
    restart=dict(type="bool", default=False),
    delete_storage=dict(type="bool", default=False),
    delete_volumes=dict(type="bool", default=False),
    allow_in_use=dict(type="bool", default=False),
    source=dict(type="dict", options=SOURCE_SPEC),
    target=dict(type="dict", options=TARGET_SPEC),
    mount_options=dict(type="list", elements="str"),
    config_options=dict(type="dict"),
    cow=dict(type="bool"),
    refresh_volume_allocation=dict(type="str", choices=["default", "capacity"]),
)
POOL_CONSTRAINTS = dict(
    required_one_of=[("name", "xml")],
    mutually_exclusive=[("xml", option) for option in DEFINITION_OPTIONS],
)
