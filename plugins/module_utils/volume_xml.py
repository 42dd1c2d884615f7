# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure XML build and parse for libvirt storage volumes (formatstorage, "Storage volume XML").

``parse_volume_xml`` turns volume XML into a *volume spec*, ``build_volume_xml``
turns a spec back into XML in libvirt's element order. No libvirt import here:
the functions are tested against libvirt's schema (storagevol.rng) and its
storagevolxml2xml corpus.

A volume spec is a flat dict of what the XML says (sizes in bytes)::

    {'name': 'vm1.qcow2', 'type': 'file', 'key': '/images/vm1.qcow2',
     'capacity': 10737418240, 'allocation': 196624, 'physical': 196624,
     'path': '/images/vm1.qcow2', 'format': 'qcow2',
     'permissions': {'mode': '0600', 'owner': 0, 'group': 0, 'label': '...'},
     'compat': '1.1', 'lazy_refcounts': True, 'extended_l2': False, 'cluster_size': 65536,
     'nocow': True,
     'encryption': {'format': 'luks', 'secret': {'uuid': '...'} or {'usage': '...'},
                    'cipher': {'name': 'aes', 'size': 256, 'mode': 'xts', 'hash': 'sha256'},
                    'ivgen': {'name': 'plain64', 'hash': 'sha256'}},
     'backing_store': {'path': '/images/base.qcow2', 'format': 'qcow2', 'permissions': {...}},
     'devices': [{'path': '/dev/sdb', 'extents': [{'start': 1048576, 'end': 68157440}]}]}
"""

from __future__ import annotations

import copy

from ansible_collections.virtops.storage.plugins.module_utils.errors import ParameterError
from ansible_collections.virtops.storage.plugins.module_utils.pool_xml import (
    PoolXMLError, _drop_none, _int_or_none, _text, etree, normalize_mode, parse_root)
from ansible_collections.virtops.storage.plugins.module_utils.units import to_bytes

# the libvirt volume type of a volume in a pool whose volumes become guest disks of this type
VOLUME_TYPE_OF_DISK_TYPE = {"file": "file", "block": "block", "network": "network"}
_SIZE_FIELDS = ("capacity", "allocation", "physical")
# the qcow2 compat level libvirt gives a volume with <features> and no <compat>
QCOW2_FEATURES_COMPAT = "1.1"


class VolumeXMLError(PoolXMLError):
    """The XML is not a storage volume libvirt would accept."""


# ---------------------------------------------------------------- parse

def parse_volume_xml(xml):
    """Parse volume XML (str or bytes) into a volume spec dict."""
    return parse_volume_element(parse_root(xml, VolumeXMLError))


def parse_volume_element(root):
    """Parse a ``<volume>`` lxml element into a volume spec dict."""
    if root.tag != "volume":
        raise VolumeXMLError("the root element is <%s>, expected <volume>" % root.tag)
    try:
        return _parse_volume(root)
    except VolumeXMLError:
        raise
    except ValueError as exc:  # PoolXMLError of the shared helpers, ValueError of normalize_mode
        raise VolumeXMLError(str(exc))


def _parse_volume(root):
    spec = {"name": _text(root, "name"), "type": root.get("type"), "key": _text(root, "key")}
    for field in _SIZE_FIELDS:
        spec[field] = _size(root.find(field), field)
    devices = []
    for device in root.findall("source/device"):
        extents = [{"start": _int_or_none(e.get("start"), "source/device/extent/@start"),
                    "end": _int_or_none(e.get("end"), "source/device/extent/@end")}
                   for e in device.findall("extent")]
        devices.append(_drop_none({"path": device.get("path"), "extents": extents}))
    spec["devices"] = devices
    target = root.find("target")
    if target is not None:
        spec.update(_parse_target(target))
    backing = root.find("backingStore")
    if backing is not None:
        spec["backing_store"] = _drop_none({
            "path": _text(backing, "path"),
            "format": _format(backing),
            "permissions": _parse_permissions(backing.find("permissions")),
        })
    return _drop_none(spec)


def _size(element, what):
    if element is None or element.text is None or not element.text.strip():
        return None
    unit = element.get("unit") or "bytes"
    try:
        return to_bytes("%s %s" % (element.text.strip(), unit), what)
    except ParameterError as exc:
        raise VolumeXMLError(exc.msg)


def _format(element):
    node = element.find("format")
    return node.get("type") if node is not None else None


def _parse_permissions(perms):
    if perms is None:
        return None
    mode = _text(perms, "mode")
    return _drop_none({
        "mode": normalize_mode(mode) if mode is not None else None,
        "owner": _int_or_none(_text(perms, "owner"), "permissions/owner"),
        "group": _int_or_none(_text(perms, "group"), "permissions/group"),
        "label": _text(perms, "label"),
    })


def _parse_target(target):
    features = target.find("features")
    spec = {
        "path": _text(target, "path"),
        "format": _format(target),
        "permissions": _parse_permissions(target.find("permissions")),
        "compat": _text(target, "compat"),
        "cluster_size": _size(target.find("clusterSize"), "clusterSize"),
        "nocow": True if target.find("nocow") is not None else None,
        # qcow2 features are flags: present or not (an empty <features/> sets no flag)
        "lazy_refcounts": True if features is not None and features.find("lazy_refcounts") is not None else None,
        "extended_l2": True if features is not None and features.find("extended_l2") is not None else None,
    }
    if features is not None and spec["compat"] is None:
        # libvirt's parser: any <features>, even an empty one, means qcow2 compat 1.1
        spec["compat"] = QCOW2_FEATURES_COMPAT
    encryption = target.find("encryption")
    if encryption is not None:
        spec["encryption"] = parse_encryption(encryption)
    return spec


def parse_encryption(encryption):
    """Parse an ``<encryption>`` element (of a volume, or of a guest disk's source)."""
    secret = encryption.find("secret")
    cipher = encryption.find("cipher")
    ivgen = encryption.find("ivgen")
    return _drop_none({
        "format": encryption.get("format"),
        "secret": _drop_none({"uuid": secret.get("uuid"), "usage": secret.get("usage")})
        if secret is not None else None,
        "cipher": _drop_none({"name": cipher.get("name"),
                              "size": _int_or_none(cipher.get("size"), "encryption/cipher/@size"),
                              "mode": cipher.get("mode"), "hash": cipher.get("hash")})
        if cipher is not None else None,
        "ivgen": _drop_none({"name": ivgen.get("name"), "hash": ivgen.get("hash")}) if ivgen is not None else None,
    })


# ---------------------------------------------------------------- defaults

def with_volume_defaults(spec, row):
    """Return a copy of ``spec`` with what libvirt fills in for a volume of pool type ``row``.

    The volume type follows the pool (file, block, network), and a file or
    partition volume without a format gets the type's default format. qcow2
    features without a compat level get compat 1.1, and an owner or group of
    -1 ("unset") is not shown by libvirt.
    """
    spec = copy.deepcopy(spec)
    spec.setdefault("type", VOLUME_TYPE_OF_DISK_TYPE[row.disk_type])
    if row.volume_default_format and spec["type"] != "dir":
        spec.setdefault("format", row.volume_default_format)
    if spec.get("lazy_refcounts") or spec.get("extended_l2"):
        spec.setdefault("compat", QCOW2_FEATURES_COMPAT)
    for holder in (spec, spec.get("backing_store") or {}):
        if "permissions" in holder:
            permissions = dict((key, value) for key, value in holder["permissions"].items()
                               if not (key in ("owner", "group") and value == -1))
            if permissions:
                holder["permissions"] = permissions
            else:
                del holder["permissions"]
    return spec


# ---------------------------------------------------------------- build

def build_volume_xml(spec):
    """Return the volume XML (str) for a volume spec, elements in libvirt's order."""
    return etree.tostring(build_volume_element(spec), pretty_print=True, encoding="unicode")


def build_volume_element(spec):
    """Return a ``<volume>`` lxml element for a volume spec (libvirt ignores a key on creation)."""
    root = etree.Element("volume")
    if spec.get("type"):
        root.set("type", spec["type"])
    etree.SubElement(root, "name").text = spec["name"]
    if spec.get("key"):
        etree.SubElement(root, "key").text = spec["key"]
    if spec.get("devices"):
        # informational (libvirt reads no <source> on creation), written so that a parsed spec round-trips
        source = etree.SubElement(root, "source")
        for device in spec["devices"]:
            node = etree.SubElement(source, "device", path=device["path"])
            for extent in device.get("extents", []):
                etree.SubElement(node, "extent", start=str(extent["start"]), end=str(extent["end"]))
    for field in _SIZE_FIELDS:
        if spec.get(field) is not None:
            etree.SubElement(root, field, unit="bytes").text = str(spec[field])
    target = etree.SubElement(root, "target")
    if spec.get("path"):
        etree.SubElement(target, "path").text = spec["path"]
    if spec.get("format"):
        etree.SubElement(target, "format", type=spec["format"])
    _build_permissions(target, spec.get("permissions"))
    if spec.get("encryption"):
        build_encryption(target, spec["encryption"])
    if spec.get("compat"):
        etree.SubElement(target, "compat").text = spec["compat"]
    if spec.get("nocow"):
        etree.SubElement(target, "nocow")
    if spec.get("cluster_size"):
        etree.SubElement(target, "clusterSize", unit="bytes").text = str(spec["cluster_size"])
    if spec.get("lazy_refcounts") or spec.get("extended_l2"):
        features = etree.SubElement(target, "features")
        if spec.get("lazy_refcounts"):
            etree.SubElement(features, "lazy_refcounts")
        if spec.get("extended_l2"):
            etree.SubElement(features, "extended_l2")
    # <target> stays even when empty: storagevol.rng requires it
    backing = spec.get("backing_store")
    if backing:
        element = etree.SubElement(root, "backingStore")
        etree.SubElement(element, "path").text = backing["path"]
        if backing.get("format"):
            etree.SubElement(element, "format", type=backing["format"])
        _build_permissions(element, backing.get("permissions"))
    return root


def _build_permissions(parent, permissions):
    if not permissions:
        return
    element = etree.SubElement(parent, "permissions")
    if permissions.get("mode") is not None:
        etree.SubElement(element, "mode").text = normalize_mode(permissions["mode"])
    for key in ("owner", "group"):
        if permissions.get(key) is not None:
            etree.SubElement(element, key).text = str(permissions[key])
    if permissions.get("label"):
        etree.SubElement(element, "label").text = permissions["label"]


def build_encryption(parent, encryption):
    """Add an ``<encryption>`` element for an encryption dict under ``parent``."""
    element = etree.SubElement(parent, "encryption", format=encryption["format"])
    secret = encryption.get("secret") or {}
    if secret:
        node = etree.SubElement(element, "secret", type="passphrase")
        for key in ("uuid", "usage"):
            if secret.get(key):
                node.set(key, secret[key])
    cipher = encryption.get("cipher")
    if cipher:
        node = etree.SubElement(element, "cipher")
        for key in ("name", "size", "mode", "hash"):
            if cipher.get(key) is not None:
                node.set(key, str(cipher[key]))
    ivgen = encryption.get("ivgen")
    if ivgen:
        node = etree.SubElement(element, "ivgen")
        for key in ("name", "hash"):
            if ivgen.get(key) is not None:
                node.set(key, ivgen[key])
