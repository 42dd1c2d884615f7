# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""storage_volume parameters -> the desired volume, validated against the pool-type table.

Pure functions (no libvirt): ``desired_from_params`` checks what needs no
pool, ``check_against_pool`` what the pool type allows, ``creation_spec``
builds the volume spec handed to ``build_volume_xml``.
"""

from __future__ import annotations

import re

from ansible_collections.virtops.storage.plugins.module_utils.disk_xml import DISK_OPTIONS_SPEC
from ansible_collections.virtops.storage.plugins.module_utils.errors import ParameterError
from ansible_collections.virtops.storage.plugins.module_utils.image_import import parse_checksum
from ansible_collections.virtops.storage.plugins.module_utils.params import MAX_ID, canonical_uuid, check_text
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import supports
from ansible_collections.virtops.storage.plugins.module_utils.pool_xml import normalize_mode
from ansible_collections.virtops.storage.plugins.module_utils.units import to_bytes

PREALLOCATIONS = ("off", "metadata", "falloc", "full")
QCOW2_COMPATS = ("0.10", "1.1")
WIPE_ALGORITHMS = ("zero", "nnsa", "dod", "bsi", "gutmann", "schneier", "pfitzner7", "pfitzner33", "random", "trim")
# formats that can sit on a backing file
BACKING_FORMATS = ("qcow2", "qed", "vmdk", "qcow", "cow")
# libvirt derives nothing from these: a volume created from one keeps its capacity
_SOURCES = ("clone_from", "import_from", "backing_store")
# image formats qemu-img reads (an import source)
IMAGE_FORMATS = ("raw", "qcow2", "qcow", "qed", "vmdk", "vdi", "vpc", "vhdx", "dmg", "cloop", "bochs", "parallels", "luks")
_NAME = re.compile(r"^[^/]+$")
# a volume of a file pool is a file, of a disk pool a partition device, named after it (NAME_MAX)
MAX_FILE_NAME_BYTES = 255


def desired_from_params(params):
    """Return the desired volume built from the module parameters (pool-independent checks only)."""
    desired = dict((key, params.get(key)) for key in (
        "pool", "name", "state", "format", "preallocation", "compat", "lazy_refcounts", "nocow",
        "wipe", "wipe_algorithm", "allow_shrink", "allow_in_use", "reimport", "disk"))
    name = params.get("name")
    if name is not None and not name:
        raise ParameterError("name", "cannot be empty")
    if name is not None:
        check_text(name, "name", what="a volume name")
        if not _NAME.match(name) or name in (".", ".."):
            raise ParameterError("name", "'%s' is not a volume name (no '/', not . or ..)" % name)
    for key in ("capacity", "allocation", "cluster_size"):
        desired[key] = to_bytes(params[key], key) if params.get(key) is not None else None
    if desired["capacity"] == 0:
        raise ParameterError("capacity", "a volume needs a capacity above 0")
    if desired["cluster_size"] is not None and (desired["cluster_size"] < 512 or desired["cluster_size"] > 2 * 1024 * 1024
                                                or desired["cluster_size"] & (desired["cluster_size"] - 1)):
        raise ParameterError("cluster_size", "must be a power of two between 512 bytes and 2 MiB (qcow2)")
    sources = [key for key in _SOURCES if params.get(key)]
    if len(sources) > 1:
        raise ParameterError(sources[1], "cannot be combined with %s: a volume is created one way" % sources[0])
    desired["source"] = sources[0] if sources else None
    for key in _SOURCES:
        desired[key] = params.get(key)
    if desired["import_from"] and desired["import_from"].get("checksum"):
        parse_checksum(desired["import_from"]["checksum"])
    if desired["import_from"] and desired["import_from"].get("timeout") is not None \
            and desired["import_from"]["timeout"] < 1:
        raise ParameterError("import_from.timeout", "%d is no timeout: give at least 1 second"
                             % desired["import_from"]["timeout"])
    if desired["import_from"] and desired["import_from"].get("format") not in (None,) + IMAGE_FORMATS:
        raise ParameterError("import_from.format", "'%s' is not an image format qemu-img reads (%s)" % (
            desired["import_from"]["format"], ", ".join(IMAGE_FORMATS)))
    if desired["reimport"] and not desired["import_from"]:
        raise ParameterError("reimport", "only applies with import_from")
    backing = desired["backing_store"]
    if backing:
        if bool(backing.get("path")) == bool(backing.get("name")):
            raise ParameterError("backing_store", "name the backing volume by path, or by name (and pool)")
        if backing.get("pool") and not backing.get("name"):
            raise ParameterError("backing_store.pool", "only applies with backing_store.name")
    desired["permissions"] = _permissions(params.get("permissions"))
    desired["encryption"] = _encryption(params.get("encryption"))
    prealloc = desired["preallocation"]
    if prealloc not in (None, "off") and desired["allocation"] is not None:
        raise ParameterError("allocation", "cannot be combined with preallocation %s, which sets it" % prealloc)
    if desired["allocation"] is not None and desired["capacity"] is not None and desired["allocation"] > desired["capacity"]:
        raise ParameterError("allocation", "is larger than capacity")
    if desired["state"] == "absent":
        for key in ("capacity", "import_from", "clone_from", "backing_store"):
            if params.get(key):
                raise ParameterError(key, "does not apply with state: absent")
    if desired["wipe_algorithm"] and not desired["wipe"]:
        raise ParameterError("wipe_algorithm", "only applies with wipe: true")
    if params.get("delete_snapshots") and desired["state"] != "absent":
        raise ParameterError("delete_snapshots", "only applies with state: absent")
    return desired


def _permissions(permissions):
    if not permissions:
        return None
    result = dict((k, v) for k, v in permissions.items() if v is not None)
    if "mode" in result:
        try:
            result["mode"] = normalize_mode(result["mode"])
        except ValueError as exc:
            raise ParameterError("permissions.mode", str(exc))
    for key in ("owner", "group"):
        if key in result and not 0 <= result[key] <= MAX_ID:
            raise ParameterError("permissions." + key, "%s is not a uid/gid" % result[key])
    return result or None


def _encryption(encryption):
    if not encryption:
        return None
    secret = dict((k, v) for k, v in (encryption.get("secret") or {}).items() if v)
    if len(secret) != 1:
        raise ParameterError("encryption.secret", "name the passphrase secret by exactly one of uuid or usage")
    if secret.get("uuid"):
        secret["uuid"] = canonical_uuid(secret["uuid"], "encryption.secret.uuid")
    return {"format": encryption.get("format") or "luks", "secret": secret}


def _check_name_length(name, row):
    """A file or partition named after the volume holds at most 255 bytes (UTF-8) in its name."""
    size = len((name or "").encode("utf-8"))
    if (row.disk_type == "file" or row.volume_naming == "partition") and size > MAX_FILE_NAME_BYTES:
        raise ParameterError("name", "the volume name is %d bytes long; a volume of a %s pool is a file named "
                                     "after it, which holds at most %d bytes (UTF-8)"
                             % (size, row.name, MAX_FILE_NAME_BYTES))


def effective_format(desired, row):
    """Return the format the new volume gets: declared, qcow2 over a backing file, or None (libvirt's default)."""
    if desired["format"]:
        return desired["format"]
    if desired["backing_store"] and "qcow2" in row.volume_formats:
        return "qcow2"
    return None


def _check_clone_kind(clone_from, row, pool_name):
    """Refuse a clone of another kind than libvirt makes in pools of type ``row`` (its clone_kind)."""
    mode = clone_from.get("mode") or row.clone_kind
    if mode != row.clone_kind and row.clone_kind == "cow":
        raise ParameterError("clone_from.mode", "libvirt clones an image of %s pool %s only as a Ceph copy-on-write "
                             "clone (of a protected snapshot of the source, which stays the clone's parent) and cannot "
                             "copy one: leave clone_from.mode unset (or cow), or copy the image outside libvirt ('rbd "
                             "cp', or 'rbd flatten' the clone)" % (row.name, pool_name))
    if mode != row.clone_kind:
        raise ParameterError("clone_from.mode", "libvirt clones a volume of %s pool %s as a full copy; a copy-on-write "
                             "volume over another is a volume over a backing store (backing_store)" % (row.name, pool_name))
    if row.clone_kind == "cow" and (clone_from.get("pool") or pool_name) != pool_name:
        raise ParameterError("clone_from.pool", "libvirt clones an image of %s pool %s from an image of the same pool "
                             "only (it looks the source's name up in that pool)" % (row.name, pool_name))


def check_against_pool(desired, row, pool_name, new):
    """Raise ParameterError for options pool type ``row`` cannot honour (before libvirt is asked)."""
    _check_name_length(desired["name"], row)
    fmt = desired["format"]
    if fmt is not None:
        if not row.volume_formats:
            raise ParameterError("format", "volumes of %s pools have no format (pool %s); leave format unset" % (
                row.name, pool_name))
        if fmt not in row.volume_formats:
            raise ParameterError("format", "'%s' is not a volume format of %s pools (pool %s): use one of %s" % (
                fmt, row.name, pool_name, ", ".join(row.volume_formats)))
    if not new:
        return
    if not supports(row, "volume_create"):
        raise ParameterError("state", "pool %s is a %s pool, which cannot create volumes (libvirt's %s backend has "
                             "no volume creation%s)" % (pool_name, row.name, row.name,
                                                        "; its volumes are the target's LUNs" if row.volume_naming == "lun" else ""))
    if desired["clone_from"] and not supports(row, "volume_clone"):
        raise ParameterError("clone_from", "%s pools cannot create a volume from another one (pool %s)" % (row.name, pool_name))
    if desired["clone_from"]:
        _check_clone_kind(desired["clone_from"], row, pool_name)
    if desired["import_from"] and not supports(row, "volume_upload"):
        raise ParameterError("import_from", "%s pools cannot upload into volumes (pool %s)" % (row.name, pool_name))
    if desired["capacity"] is None and not desired["source"]:
        raise ParameterError("capacity", "required to create volume %s (unless it comes from clone_from, "
                             "import_from or backing_store)" % (desired["name"] or "(next partition)"))
    options = {
        "allocation": desired["allocation"] is not None,
        "preallocation": desired["preallocation"] not in (None, "off"),
        "permissions": bool(desired["permissions"]),
        "qcow2": bool(desired["compat"] or desired["lazy_refcounts"] or desired["cluster_size"]),
        "nocow": bool(desired["nocow"]),
        "backing_store": bool(desired["backing_store"]),
        "encryption": bool(desired["encryption"]),
    }
    for option, given in sorted(options.items()):
        if given and option not in row.volume_options:
            param = [key for key in ("compat", "lazy_refcounts", "cluster_size") if desired[key]][0] \
                if option == "qcow2" else option
            raise ParameterError(param, "does not apply to volumes of %s pools (pool %s)" % (row.name, pool_name))
    fmt = effective_format(desired, row)
    if options["qcow2"] and fmt != "qcow2":
        given = [key for key in ("compat", "lazy_refcounts", "cluster_size") if desired[key]]
        raise ParameterError(given[0], "applies to qcow2 volumes only, and format is %s: set format: qcow2" % (
            fmt or "unset (%s, libvirt's default)" % (row.volume_default_format or "none")))
    if desired["lazy_refcounts"] and desired["compat"] == "0.10":
        raise ParameterError("lazy_refcounts", "needs compat 1.1 (qcow2 0.10 has no lazy refcounts)")
    prealloc = desired["preallocation"]
    if prealloc == "metadata" and fmt != "qcow2":
        raise ParameterError("preallocation", "metadata preallocation needs format: qcow2")
    if prealloc == "full" and fmt not in (None, "raw"):
        raise ParameterError("preallocation", "full preallocation (zeros written) applies to raw volumes only")
    if prealloc in ("falloc", "full") and (desired["backing_store"] or desired["import_from"] or desired["clone_from"]):
        raise ParameterError("preallocation", "applies to empty volumes only, not with %s" % desired["source"])
    backing_format = (desired["backing_store"] or {}).get("format")
    if backing_format and row.volume_formats and backing_format not in row.volume_formats:
        raise ParameterError("backing_store.format", "'%s' is not a volume format of %s pools: use one of %s" % (
            backing_format, row.name, ", ".join(row.volume_formats)))
    if desired["backing_store"] and row.volume_formats and fmt not in BACKING_FORMATS:
        raise ParameterError("format", "a volume over a backing store needs a format that has one (%s), not %s" % (
            ", ".join(BACKING_FORMATS), fmt))
    if desired["encryption"] and fmt not in (None, "raw", "qcow2"):
        raise ParameterError("format", "LUKS encryption needs format raw or qcow2, not %s" % fmt)


def creation_spec(desired, row, name, backing_path=None):
    """Return the volume spec to create (the XML libvirt gets)."""
    prealloc = desired["preallocation"]
    allocation = desired["allocation"]
    if prealloc in ("falloc", "full"):
        allocation = desired["capacity"]
    elif prealloc == "metadata" or (allocation is None and "allocation" in row.volume_options):
        allocation = 0  # sparse unless asked otherwise
    spec = {
        "name": name,
        "capacity": desired["capacity"],
        "allocation": allocation,
        "format": effective_format(desired, row),
        "permissions": desired["permissions"],
        "compat": desired["compat"],
        "lazy_refcounts": desired["lazy_refcounts"] or None,
        "cluster_size": desired["cluster_size"],
        "nocow": desired["nocow"] or None,
        "encryption": desired["encryption"],
    }
    if backing_path:
        spec["backing_store"] = {"path": backing_path, "format": desired["backing_store"]["format"]}
    return dict((k, v) for k, v in spec.items() if v is not None)


# The options of storage_volume (besides uri), composed by storage_volume and the batched storage_host.
VOLUME_ARGUMENT_SPEC = dict(
    pool=dict(type="str", required=True),
    name=dict(type="str"),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    capacity=dict(type="raw"),
    allocation=dict(type="raw"),
    format=dict(type="str"),
    preallocation=dict(type="str", choices=list(PREALLOCATIONS)),
    permissions=dict(type="dict", options=dict(
        mode=dict(type="raw"), owner=dict(type="int"), group=dict(type="int"), label=dict(type="str"))),
    compat=dict(type="str", choices=list(QCOW2_COMPATS)),
    lazy_refcounts=dict(type="bool"),
    cluster_size=dict(type="raw"),
    nocow=dict(type="bool"),
    backing_store=dict(type="dict", options=dict(
        path=dict(type="path"), pool=dict(type="str"), name=dict(type="str"),
        format=dict(type="str", required=True))),
    clone_from=dict(type="dict", options=dict(pool=dict(type="str"), name=dict(type="str", required=True),
                                              mode=dict(type="str", choices=["copy", "cow"]))),
    import_from=dict(type="dict", options=dict(
        src=dict(type="str", required=True), checksum=dict(type="str"), format=dict(type="str"),
        validate_certs=dict(type="bool", default=True), timeout=dict(type="int", default=60))),
    reimport=dict(type="bool", default=False),
    # names a libvirt secret (uuid or usage); the passphrase itself never passes through here
    encryption=dict(type="dict", no_log=False, options=dict(
        format=dict(type="str", default="luks", choices=["luks"]),
        secret=dict(type="dict", required=True, no_log=False, options=dict(
            uuid=dict(type="str"), usage=dict(type="str"))))),
    allow_shrink=dict(type="bool", default=False),
    allow_in_use=dict(type="bool", default=False),
    delete_snapshots=dict(type="bool", default=False),
    wipe=dict(type="bool", default=False),
    wipe_algorithm=dict(type="str", choices=list(WIPE_ALGORITHMS)),
    disk=dict(type="dict", options=DISK_OPTIONS_SPEC),
)
