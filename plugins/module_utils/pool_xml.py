# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure XML build and parse for libvirt storage pools (formatstorage).

``parse_pool_xml`` turns pool XML into a *pool spec*, ``build_pool_xml`` turns
a spec back into XML. No libvirt import here: the functions are tested
directly against libvirt's schema and libvirt's own XML test corpus.

A pool spec is a plain dict holding only what the XML says::

    {'name': 'images', 'type': 'dir', 'uuid': '...',
     'source': {'hosts': [{'name': 'nfs1', 'port': 2049}], 'dir': '/export',
                'devices': [{'path': '/dev/sdb', 'part_separator': False}],
                'adapter': {'type': 'fc_host', 'wwnn': '...', ...},
                'name': 'vg0', 'format': 'ext4', 'protocol_version': '4.1',
                'auth': {'type': 'chap', 'username': 'u', 'secret_uuid': '...'},
                'initiator_iqn': 'iqn...', 'vendor': 'v', 'product': 'p'},
     'target': {'path': '/var/lib/libvirt/images',
                'permissions': {'mode': '0711', 'owner': 0, 'group': 0, 'label': '...'}},
     'mount_options': ['nfsvers=4'], 'config_options': {'rados_osd_op_timeout': '20'},
     'cow': True, 'refresh_volume_allocation': 'capacity'}
"""

from __future__ import annotations

import traceback

try:
    from lxml import etree
except ImportError:  # reported by the connection helper with missing_required_lib
    etree = None
    LXML_IMPORT_ERROR = traceback.format_exc()
else:
    LXML_IMPORT_ERROR = None

import copy
import re

from ansible_collections.virtops.storage.plugins.module_utils.pool_types import POOL_TYPES

FS_NS = "http://libvirt.org/schemas/storagepool/fs/1.0"
RBD_NS = "http://libvirt.org/schemas/storagepool/rbd/1.0"

# adapter attribute name in XML -> spec key
_ADAPTER_ATTRS = (
    ("type", "type"), ("name", "name"), ("parent", "parent"), ("managed", "managed"),
    ("parent_wwnn", "parent_wwnn"), ("parent_wwpn", "parent_wwpn"),
    ("parent_fabric_wwn", "parent_fabric_wwn"), ("wwnn", "wwnn"), ("wwpn", "wwpn"),
)
_PCI_ADDRESS_ATTRS = ("domain", "bus", "slot", "function")
# source fields held in one attribute of one element: spec key, element path, attribute
_SOURCE_ATTRIBUTES = (
    ("dir", "dir", "path"), ("initiator_iqn", "initiator/iqn", "name"), ("format", "format", "type"),
    ("protocol_version", "protocol", "ver"), ("vendor", "vendor", "name"), ("product", "product", "name"),
)
# the order libvirt writes <source> children in (virStoragePoolSourceFormat)
_SOURCE_ORDER = ("hosts", "devices", "dir", "adapter", "name", "initiator_iqn", "format",
                 "protocol_version", "auth", "vendor", "product")
_PCI_ADDRESS_FORMATS = {"domain": "0x%04x", "bus": "0x%02x", "slot": "0x%02x", "function": "0x%x"}


class PoolXMLError(ValueError):
    """The XML is not a storage pool libvirt would accept."""


# ---------------------------------------------------------------- helpers

def _yes_no(value):
    return "yes" if value else "no"


def _bool_attr(value, what):
    if value in ("yes", "on"):
        return True
    if value in ("no", "off"):
        return False
    raise PoolXMLError("%s must be yes or no, not %r" % (what, value))


def normalize_mode(mode):
    """Return a permission mode as libvirt prints it ('0755'); accepts '755', '0o755', 493.

    An integer is taken as its value (YAML reads an unquoted 0755 as 493). libvirt
    refuses a mode with bits beyond 0777 ("malformed octal mode"), so a larger one
    raises ValueError; for an integer the message explains the decimal reading
    (an unquoted 777 is 0o1411).
    """
    if isinstance(mode, bool):
        raise ValueError("expected an octal mode such as '0755', got a boolean")
    if isinstance(mode, int):
        if mode < 0:
            raise ValueError("%d is not a mode (negative)" % mode)
        if mode > 0o777:
            raise ValueError("%d was read as a decimal YAML integer (= 0o%o): quote it (%s); libvirt refuses "
                             "modes beyond 0777" % (mode, mode, _quoted_mode_hint(mode)))
        return "%04o" % mode
    text = str(mode).strip().lower()
    if text.startswith("0o"):
        text = text[2:]
    if not text or any(c not in "01234567" for c in text):
        raise ValueError("%r is not an octal mode" % (mode,))
    value = int(text, 8)
    if value > 0o777:
        raise ValueError("%r has bits beyond 0777 (setuid, setgid or sticky), which libvirt refuses" % (mode,))
    return "%04o" % value


def _quoted_mode_hint(number):
    """"'0777'" for 777: the quoted mode the user probably meant by an unquoted decimal integer."""
    digits = str(number)
    if all(c in "01234567" for c in digits) and int(digits, 8) <= 0o777:
        return "'0%s'" % digits.lstrip("0")
    return "an octal string such as '0755'"


def _text(element, path):
    found = element.find(path)
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return value or None


def _int_or_none(value, what):
    if value is None:
        return None
    try:
        return int(value, 0) if isinstance(value, str) and value.lower().startswith("0x") else int(value)
    except ValueError:
        raise PoolXMLError("%s must be an integer, not %r" % (what, value))


def _drop_none(mapping):
    return dict((k, v) for k, v in mapping.items() if v is not None and v != {} and v != [])


# ---------------------------------------------------------------- parse

def parse_root(xml, error=None):
    """Return the root element of XML (str or bytes); ``error`` (default PoolXMLError) when it is not XML."""
    error = error or PoolXMLError
    if etree is None:
        raise error("lxml is not installed")
    try:
        return etree.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml)
    except etree.XMLSyntaxError as exc:
        raise error("not well-formed XML: %s" % exc)


def parse_pool_xml(xml):
    """Parse pool XML (str or bytes) into a pool spec dict."""
    return parse_pool_element(parse_root(xml))


def parse_pool_element(root):
    """Parse a ``<pool>`` lxml element into a pool spec dict."""
    if root.tag != "pool":
        raise PoolXMLError("the root element is <%s>, expected <pool>" % root.tag)
    spec = {"type": root.get("type"), "name": _text(root, "name"), "uuid": _text(root, "uuid")}
    if not spec["type"]:
        raise PoolXMLError("<pool> has no type attribute")

    cow = root.find("features/cow")
    if cow is not None:
        spec["cow"] = _bool_attr(cow.get("state"), "features/cow/@state")

    source = root.find("source")
    if source is not None:
        spec["source"] = _parse_source(source)

    target = root.find("target")
    if target is not None:
        spec["target"] = _parse_target(target)

    refresh = root.find("refresh/volume")
    if refresh is not None and refresh.get("allocation") not in (None, "default"):
        spec["refresh_volume_allocation"] = refresh.get("allocation")

    options = [o.get("name") for o in root.findall("{%s}mount_opts/{%s}option" % (FS_NS, FS_NS))]
    if options:
        spec["mount_options"] = options
    config = root.findall("{%s}config_opts/{%s}option" % (RBD_NS, RBD_NS))
    if config:
        spec["config_options"] = dict((o.get("name"), o.get("value")) for o in config)
    return _drop_none(spec)


def _parse_source(source):
    spec = {}
    hosts = []
    for host in source.findall("host"):
        hosts.append(_drop_none({"name": host.get("name"),
                                 "port": _int_or_none(host.get("port"), "source/host/@port")}))
    spec["hosts"] = hosts
    devices = []
    for device in source.findall("device"):
        entry = {"path": device.get("path")}
        if device.get("part_separator") is not None:
            entry["part_separator"] = _bool_attr(device.get("part_separator"),
                                                 "source/device/@part_separator")
        devices.append(entry)
    spec["devices"] = devices
    for key, path, attr in _SOURCE_ATTRIBUTES:
        node = source.find(path)
        if node is not None:
            spec[key] = node.get(attr)
    adapter = source.find("adapter")
    if adapter is not None:
        spec["adapter"] = _parse_adapter(adapter)
    spec["name"] = _text(source, "name")
    auth = source.find("auth")
    if auth is not None:
        secret = auth.find("secret")
        spec["auth"] = _drop_none({
            "type": auth.get("type"), "username": auth.get("username"),
            "secret_uuid": secret.get("uuid") if secret is not None else None,
            "secret_usage": secret.get("usage") if secret is not None else None,
        })
    return _drop_none(spec)


def _parse_adapter(adapter):
    spec = {}
    for attr, key in _ADAPTER_ATTRS:
        spec[key] = adapter.get(attr)
    if spec["managed"] is not None:
        spec["managed"] = _bool_attr(spec["managed"], "source/adapter/@managed")
    parentaddr = adapter.find("parentaddr")
    if parentaddr is not None:
        address = parentaddr.find("address")
        parent = {"unique_id": _int_or_none(parentaddr.get("unique_id"),
                                            "source/adapter/parentaddr/@unique_id")}
        if address is not None:
            for attr in _PCI_ADDRESS_ATTRS:
                parent[attr] = _int_or_none(address.get(attr), "source/adapter/parentaddr/address/@" + attr)
        spec["parent_address"] = _drop_none(parent)
    return _drop_none(spec)


def _parse_target(target):
    spec = {"path": _text(target, "path")}
    perms = target.find("permissions")
    if perms is not None:
        mode = _text(perms, "mode")
        spec["permissions"] = _drop_none({
            "mode": normalize_mode(mode) if mode is not None else None,
            "owner": _int_or_none(_text(perms, "owner"), "target/permissions/owner"),
            "group": _int_or_none(_text(perms, "group"), "target/permissions/group"),
            "label": _text(perms, "label"),
        })
    return _drop_none(spec)


# ---------------------------------------------------------------- normalise

def sanitize_path(path):
    """Clean a path the way libvirt's virFileSanitizePath does ('//a///b/' -> '/a/b')."""
    if not path:
        return path
    # POSIX gives a leading '//' (exactly two) a meaning of its own; libvirt keeps it.
    prefix = "//" if path.startswith("//") and not path.startswith("///") else ""
    cleaned = re.sub(r"/{2,}", "/", path[len(prefix):])
    if len(cleaned) > 1 and cleaned.endswith("/"):
        cleaned = cleaned.rstrip("/") or "/"
    return prefix + cleaned


def normalize_pool_spec(spec):
    """Return a copy of ``spec`` with its target path spelled as libvirt stores it.

    Applied to the user's desired spec so that '/images/' does not differ
    from the '/images' libvirt reports. (Modes are normalised where they are
    read: by the parser and by the parameter validation.)
    """
    spec = copy.deepcopy(spec)
    target = spec.get("target") or {}
    if target.get("path"):
        target["path"] = sanitize_path(target["path"])
    return spec


def with_libvirt_defaults(spec):
    """Return a copy of ``spec`` with the values libvirt's parser fills in when missing.

    The table says which: the default source format (always shown), the
    source dir of gluster, the name/source-name pairing and derived target
    path of logical and zfs pools.
    """
    spec = normalize_pool_spec(spec)
    row = POOL_TYPES.get(spec.get("type"))
    if row is None:
        return spec
    source = spec.setdefault("source", {})
    if row.named_by_source:
        if not spec.get("name") and source.get("name"):
            spec["name"] = source["name"]
        source.setdefault("name", spec.get("name"))
    if row.source_formats:
        source.setdefault("format", row.source_formats[0])
    if row.default_source_dir:
        source.setdefault("dir", row.default_source_dir)
    if row.default_target_path and source.get("name"):
        target = spec.setdefault("target", {})
        target.setdefault("path", row.default_target_path % source["name"])
    return _drop_none(spec)


# ---------------------------------------------------------------- build

def build_pool_xml(spec):
    """Return the pool XML (str) for a pool spec, elements in libvirt's order."""
    return etree.tostring(build_pool_element(spec), pretty_print=True, encoding="unicode")


def build_pool_element(spec):
    """Return a ``<pool>`` lxml element for a pool spec."""
    nsmap = {}
    if spec.get("mount_options"):
        nsmap["fs"] = FS_NS
    if spec.get("config_options"):
        nsmap["rbd"] = RBD_NS
    root = etree.Element("pool", nsmap=nsmap or None)
    root.set("type", spec["type"])
    etree.SubElement(root, "name").text = spec["name"]
    if spec.get("uuid"):
        etree.SubElement(root, "uuid").text = spec["uuid"]
    if spec.get("cow") is not None:
        features = etree.SubElement(root, "features")
        etree.SubElement(features, "cow", state=_yes_no(spec["cow"]))
    if spec.get("source"):
        _build_source(etree.SubElement(root, "source"), spec["source"])
    if spec.get("target"):
        _build_target(etree.SubElement(root, "target"), spec["target"])
    if spec.get("refresh_volume_allocation"):
        refresh = etree.SubElement(root, "refresh")
        etree.SubElement(refresh, "volume", allocation=spec["refresh_volume_allocation"])
    if spec.get("mount_options"):
        opts = etree.SubElement(root, "{%s}mount_opts" % FS_NS)
        for name in spec["mount_options"]:
            etree.SubElement(opts, "{%s}option" % FS_NS, name=name)
    if spec.get("config_options"):
        opts = etree.SubElement(root, "{%s}config_opts" % RBD_NS)
        for name, value in spec["config_options"].items():
            etree.SubElement(opts, "{%s}option" % RBD_NS, name=name, value=str(value))
    return root


def _build_source(element, source):
    simple = dict((key, (path, attr)) for key, path, attr in _SOURCE_ATTRIBUTES)
    for key in _SOURCE_ORDER:
        value = source.get(key)
        if not value:
            continue
        if key in simple:
            path, attr = simple[key]
            parent = element
            for tag in path.split("/"):
                parent = etree.SubElement(parent, tag)
            parent.set(attr, str(value))
        elif key == "hosts":
            for host in value:
                node = etree.SubElement(element, "host", name=host["name"])
                if host.get("port") is not None:
                    node.set("port", str(host["port"]))
        elif key == "devices":
            for device in value:
                node = etree.SubElement(element, "device", path=device["path"])
                if device.get("part_separator") is not None:
                    node.set("part_separator", _yes_no(device["part_separator"]))
        elif key == "adapter":
            _build_adapter(etree.SubElement(element, "adapter"), value)
        elif key == "name":
            etree.SubElement(element, "name").text = value
        elif key == "auth":
            node = etree.SubElement(element, "auth", type=value["type"], username=value["username"])
            secret = etree.SubElement(node, "secret")
            for field in ("uuid", "usage"):
                if value.get("secret_" + field):
                    secret.set(field, value["secret_" + field])


def _build_adapter(element, adapter):
    for attr, key in _ADAPTER_ATTRS:
        value = adapter.get(key)
        if value is None:
            continue
        element.set(attr, _yes_no(value) if key == "managed" else str(value))
    parent = adapter.get("parent_address")
    if parent:
        node = etree.SubElement(element, "parentaddr")
        if parent.get("unique_id") is not None:
            node.set("unique_id", str(parent["unique_id"]))
        address = dict((a, parent[a]) for a in _PCI_ADDRESS_ATTRS if parent.get(a) is not None)
        if address:
            etree.SubElement(node, "address", **dict(
                (a, _PCI_ADDRESS_FORMATS[a] % v) for a, v in address.items()))


def _build_target(element, target):
    if target.get("path"):
        etree.SubElement(element, "path").text = target["path"]
    perms = target.get("permissions")
    if perms:
        node = etree.SubElement(element, "permissions")
        if perms.get("mode") is not None:
            etree.SubElement(node, "mode").text = normalize_mode(perms["mode"])
        if perms.get("owner") is not None:
            etree.SubElement(node, "owner").text = str(perms["owner"])
        if perms.get("group") is not None:
            etree.SubElement(node, "group").text = str(perms["group"])
        if perms.get("label") is not None:
            etree.SubElement(node, "label").text = perms["label"]
