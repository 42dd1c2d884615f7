# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest ``<disk>`` element of a volume, and the disks of a domain (formatdomain, "Hard drives").

``guest_disk`` decides, from the pool-type table, the pool spec and the
volume spec, what a guest needs to use a volume: a file, block or network
source (with hosts, name and auth), or a ``type='volume'`` reference where
libvirt allows one. ``build_disk_xml`` writes that *disk dict* as XML and
``parse_disk_element`` reads one back, so ``used_by`` can find the guests
that reference a volume. Pure functions: no libvirt import.

A disk dict::

    {'type': 'network', 'device': 'disk',
     'driver': {'name': 'qemu', 'type': 'raw', 'cache': 'none', 'io': 'native',
                'discard': 'unmap', 'detect_zeroes': 'unmap'},
     'source': {'protocol': 'iscsi', 'name': 'iqn.2024-01.test:t1/1',
                'hosts': [{'name': '127.0.0.1', 'port': 3260}],
                'initiator_iqn': 'iqn.2024-01.test:init',
                'auth': {'username': 'u', 'secret': {'type': 'iscsi', 'usage': 'chap-t1'}}},
     'target': {'dev': 'sdb', 'bus': 'scsi'},
     'readonly': False, 'shareable': False, 'serial': 'vol1'}

The source is ``{'file': path}``, ``{'dev': path}``, ``{'pool': p, 'volume':
v[, 'mode': 'host'|'direct']}`` or the network form above; an encrypted
volume's source also carries ``'encryption': {'format': 'luks', 'secret': {...}}``.
"""

from __future__ import annotations

import re

from ansible_collections.virtops.storage.plugins.module_utils.errors import ParameterError
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import DISK_SECRET_TYPES
from ansible_collections.virtops.storage.plugins.module_utils.pool_xml import (
    _drop_none, _int_or_none, etree, parse_root, sanitize_path)
from ansible_collections.virtops.storage.plugins.module_utils.volume_xml import build_encryption, parse_encryption

# the target device name prefix of each bus (the guest sees vdX on virtio, sdX on scsi/sata/usb)
BUS_PREFIX = {"virtio": "vd", "scsi": "sd", "sata": "sd", "usb": "sd", "ide": "hd"}
DEVICES = ("disk", "cdrom", "lun")
DRIVER_OPTIONS = ("cache", "io", "discard", "detect_zeroes")
# the <iotune> limits (formatdomain "iotune"), also the keys of virDomainSetBlockIoTune; 0 or absent: no limit
IOTUNE_LIMITS = ("total_bytes_sec", "read_bytes_sec", "write_bytes_sec",
                 "total_iops_sec", "read_iops_sec", "write_iops_sec")
# buses whose disks carry a <wwn> (libvirt: "Only ide and scsi disk support wwn"; sata is ide's successor)
WWN_BUSES = ("scsi", "sata", "ide")
# caches that open the image with O_DIRECT: QEMU's native AIO needs one of them
DIRECT_CACHES = ("none", "directsync")
# volume formats QEMU opens as raw bytes
RAW_FORMATS = (None, "none", "raw", "iso")
# volume types that hold no guest disk (directories in file pools)
NOT_A_DISK = ("dir", "netdir")
# network names that are only unique per server: an IQN is chosen by each target (tgtd's default is the
# same everywhere), while rbd and gluster names are cluster-wide whichever monitor or server is listed
HOST_SCOPED_PROTOCOLS = ("iscsi",)
# the port libvirt writes into a network disk's <host> that names none (virStorageSourceNetworkDefaultPort);
# rbd gets none: librados picks the monitor's ports
NETWORK_DEFAULT_PORTS = {"gluster": 24007, "iscsi": 3260, "nbd": 10809, "http": 80, "https": 443, "ftp": 21,
                         "ftps": 990, "tftp": 69, "ssh": 22, "sheepdog": 7000}
_LUN = re.compile(r"^(?:unit:\d+:\d+:)?(\d+)$")
# libvirt's domain schema (domaincommon.rng): diskTargetDev and diskSerial, matched whole (fullmatch) as
# RelaxNG patterns are ('$' would let a trailing line break through)
_TARGET_DEV = re.compile(r"(ioemu:)?(fd|hd|sd|vd|xvd|ubd)[a-zA-Z0-9_]+")
_SERIAL = re.compile(r"[A-Za-z0-9_.+\- ]+")
_WWN = re.compile(r"(0x)?[0-9A-Fa-f]{16}")


# Keep in sync with plugins/doc_fragments/guest_disk.py.
DISK_OPTIONS_SPEC = dict(
    bus=dict(type="str", default="virtio", choices=["virtio", "scsi", "sata", "ide", "usb"]),
    dev=dict(type="str"),
    device=dict(type="str", default="disk", choices=["disk", "cdrom", "lun"]),
    source=dict(type="str", default="concrete", choices=["concrete", "volume"]),
    mode=dict(type="str", choices=["host", "direct"]),
    cache=dict(type="str", choices=["default", "none", "writethrough", "writeback", "directsync", "unsafe"]),
    io=dict(type="str", choices=["native", "threads", "io_uring"]),
    discard=dict(type="str", choices=["ignore", "unmap"]),
    detect_zeroes=dict(type="str", choices=["off", "on", "unmap"]),
    readonly=dict(type="bool", default=False),
    shareable=dict(type="bool", default=False),
    serial=dict(type="str"),
    wwn=dict(type="str"),
    boot_order=dict(type="int"),
    iotune=dict(type="dict", options=dict((limit, dict(type="int")) for limit in IOTUNE_LIMITS)),
)


def default_options(options=None):
    """Return the caller's disk options with the defaults filled in (all keys present)."""
    merged = {"bus": "virtio", "dev": None, "device": "disk", "source": "concrete", "mode": None,
              "cache": None, "io": None, "discard": None, "detect_zeroes": None,
              "readonly": False, "shareable": False, "serial": None, "wwn": None, "boot_order": None,
              "iotune": None}
    merged.update(dict((k, v) for k, v in (options or {}).items() if v is not None))
    if merged["device"] == "cdrom":
        merged["readonly"] = True  # libvirt stores every cdrom read-only, whatever it was given
    if not merged["dev"]:
        merged["dev"] = BUS_PREFIX[merged["bus"]] + "b"
    return merged


def target_index(dev):
    """The index libvirt gives a target name (virDiskNameToIndex): vda 0, vdz 25, vdaa 26; None for another form.

    The letters after the bus prefix count like spreadsheet columns (a bijective base 26).
    """
    match = re.fullmatch(r"(?:fd|hd|sd|vd|xvd|ubd)([a-z]+)", dev or "")
    if not match:
        return None
    index = 0
    for letter in match.group(1):
        index = index * 26 + ord(letter) - ord("a") + 1
    return index - 1


def target_name(bus, index):
    """The target name of ``index`` on ``bus`` (the inverse of target_index): ('virtio', 26) -> 'vdaa'."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return BUS_PREFIX[bus] + letters


def next_target(bus, taken):
    """The first target name of ``bus`` that no name in ``taken`` holds (sd* is shared by scsi, sata and usb)."""
    prefix = BUS_PREFIX[bus]
    used = set(target_index(dev) for dev in taken if dev and dev.startswith(prefix))
    index = 0
    while index in used:
        index += 1
    return target_name(bus, index)


def lun_of(volume_name):
    """Return the LUN number of an iSCSI pool's volume ('unit:0:0:3' -> 3)."""
    match = _LUN.match(volume_name or "")
    if not match:
        raise ParameterError("name", "volume %s is not an iSCSI LUN (expected a name like unit:0:0:1)" % volume_name)
    return int(match.group(1))


def network_source(row, pool, volume, protocol=None):
    """Return the network ``<source>`` dict (protocol, name, hosts, initiator, auth) of a volume."""
    protocol = protocol or row.disk_protocol
    source = pool.get("source") or {}
    # the gluster volume (or Ceph pool) name; libvirt names a gluster pool's source after the pool when omitted
    source_name = source.get("name") or (pool.get("name") if row.named_by_source else None)
    if protocol == "iscsi":
        name = "%s/%d" % (source["devices"][0]["path"], lun_of(volume["name"]))
    elif protocol == "gluster":
        name = sanitize_path("/%s/%s/%s" % (source_name, source.get("dir") or "/", volume["name"]))[1:]
    else:  # rbd: image name inside the Ceph pool
        name = "%s/%s" % (source_name, volume["name"])
    result = {"protocol": protocol, "name": name,
              "hosts": [_drop_none({"name": h.get("name"), "port": h.get("port")}) for h in source.get("hosts", [])]}
    if protocol == "iscsi" and source.get("initiator_iqn"):
        result["initiator_iqn"] = source["initiator_iqn"]
    auth = source.get("auth")
    if auth:
        secret = _drop_none({"type": DISK_SECRET_TYPES[auth["type"]], "uuid": auth.get("secret_uuid"),
                             "usage": auth.get("secret_usage")})
        result["auth"] = _drop_none({"username": auth.get("username"), "secret": secret})
    return result


def guest_disk(row, pool, volume, options=None):
    """Return the disk dict a guest needs to use ``volume`` of ``pool`` (pool type ``row``).

    ``pool`` is the pool spec (``parse_pool_xml``) with its name, ``volume`` the
    volume spec (``parse_volume_xml``). Returns None for volumes that are not
    disks (directories). Raises ParameterError naming the ``disk.*`` option
    libvirt would refuse.
    """
    if volume.get("type") in NOT_A_DISK:
        return None
    opts = default_options(options)
    _check_options(row, opts)
    mode = opts["mode"]
    if opts["source"] == "volume":
        disk_type = "volume"
        source = _drop_none({"pool": pool["name"], "volume": volume["name"], "mode": mode})
    elif row.disk_type == "network" or mode == "direct":
        disk_type = "network"
        source = network_source(row, pool, volume)
    elif row.disk_type == "file":
        disk_type, source = "file", {"file": volume["path"]}
    else:
        disk_type, source = "block", {"dev": volume["path"]}
    if volume.get("encryption"):
        encryption = volume["encryption"]
        source["encryption"] = _drop_none({"format": encryption.get("format"), "secret": encryption.get("secret")})
    # what QEMU opens: the volume's real format for files, raw bytes for everything else
    fmt = volume.get("format") if row.disk_type == "file" or row.disk_protocol == "gluster" else "raw"
    return disk_from_source(disk_type, source, fmt, opts, host_block=row.disk_type == "block" and mode != "direct")


def disk_from_source(disk_type, source, fmt, opts, host_block=False):
    """Return the disk dict of ``source`` (of ``disk_type``) holding an image of format ``fmt``.

    ``opts`` are complete disk options (``default_options``); ``host_block``: the source is a block
    device of the host, which QEMU opens with O_DIRECT and native AIO unless the options say otherwise.
    """
    driver = {"name": "qemu", "type": "raw" if fmt in RAW_FORMATS else fmt}
    cache = opts["cache"] or ("none" if host_block else None)
    io = opts["io"] or ("native" if host_block and cache in DIRECT_CACHES else None)
    driver.update(_drop_none({"cache": cache, "io": io, "discard": opts["discard"],
                              "detect_zeroes": opts["detect_zeroes"]}))
    iotune = _drop_none(dict((key, (opts.get("iotune") or {}).get(key)) for key in IOTUNE_LIMITS))
    return _drop_none({
        "type": disk_type, "device": opts["device"], "driver": driver, "source": source,
        "target": {"dev": opts["dev"], "bus": opts["bus"]},
        "readonly": opts["readonly"] or None, "shareable": opts["shareable"] or None,
        "serial": opts["serial"], "wwn": opts.get("wwn"), "boot_order": opts.get("boot_order"),
        "iotune": iotune or None,
    })


def _check_options(row, opts):
    if opts["source"] == "volume" and not row.volume_disk:
        raise ParameterError("disk.source", "libvirt refuses <disk type='volume'> for volumes of %s pools; use "
                             "source: concrete (a %s disk)" % (row.name, row.disk_type))
    direct_capable = row.disk_type == "block" and row.disk_protocol == "iscsi"
    if opts["mode"] is not None and not direct_capable:
        raise ParameterError("disk.mode", "applies to iscsi pools only (host: the host's block device, direct: "
                             "QEMU's own iSCSI initiator); pool type %s has no such choice" % row.name)
    if opts["device"] == "lun":
        if opts["bus"] != "scsi":
            raise ParameterError("disk.device", "device lun passes SCSI commands through and needs bus: scsi")
        if row.disk_type == "file" or (row.disk_type == "network" and row.disk_protocol != "iscsi"):
            # libvirt (virDomainDiskDefSourceLUNValidate): a local block device or an iSCSI network disk only
            raise ParameterError("disk.device", "device lun needs a block device or an iSCSI LUN, and volumes of "
                                 "%s pools are %s" % (row.name, "files" if row.disk_type == "file"
                                                      else "%s images" % row.disk_protocol))
    if opts["io"] == "native" and opts["cache"] not in (None,) + DIRECT_CACHES:
        raise ParameterError("disk.io", "io native needs cache none or directsync (QEMU refuses it with cache %s)"
                             % opts["cache"])


# ---------------------------------------------------------------- build

def build_disk_xml(disk):
    """Return the ``<disk>`` XML (str) of a disk dict."""
    return etree.tostring(build_disk_element(disk), pretty_print=True, encoding="unicode")


def build_disk_element(disk):
    """Return a ``<disk>`` lxml element for a disk dict, children in libvirt's order."""
    root = etree.Element("disk", type=disk["type"], device=disk.get("device", "disk"))
    driver = disk.get("driver") or {}
    if driver:
        node = etree.SubElement(root, "driver")
        for key in ("name", "type", "cache", "io", "discard", "detect_zeroes"):
            if driver.get(key):
                node.set(key, driver[key])
    if disk.get("source"):  # an empty cdrom drive has none
        _build_source(root, disk["source"])
    target = disk["target"]
    etree.SubElement(root, "target", dev=target["dev"], bus=target["bus"])
    if disk.get("iotune"):
        iotune = etree.SubElement(root, "iotune")
        for key in IOTUNE_LIMITS:
            if disk["iotune"].get(key) is not None:
                etree.SubElement(iotune, key).text = str(disk["iotune"][key])
    if disk.get("readonly"):
        etree.SubElement(root, "readonly")
    if disk.get("shareable"):
        etree.SubElement(root, "shareable")
    if disk.get("serial"):
        etree.SubElement(root, "serial").text = disk["serial"]
    if disk.get("wwn"):
        etree.SubElement(root, "wwn").text = disk["wwn"]
    if disk.get("boot_order") is not None:
        etree.SubElement(root, "boot", order=str(disk["boot_order"]))
    return root


def _build_source(root, source):
    node = etree.SubElement(root, "source")
    for key in ("file", "dev", "pool", "volume", "mode", "protocol", "name"):
        if source.get(key):
            node.set(key, source[key])
    for host in source.get("hosts", []):
        element = etree.SubElement(node, "host", name=host["name"])
        if host.get("port") is not None:
            element.set("port", str(host["port"]))
    auth = source.get("auth")
    if auth:
        element = etree.SubElement(node, "auth")
        if auth.get("username"):
            element.set("username", auth["username"])
        secret = auth["secret"]
        secret_node = etree.SubElement(element, "secret", type=secret["type"])
        for key in ("uuid", "usage"):
            if secret.get(key):
                secret_node.set(key, secret[key])
    if source.get("encryption"):
        build_encryption(node, source["encryption"])
    if source.get("initiator_iqn"):
        initiator = etree.SubElement(node, "initiator")
        etree.SubElement(initiator, "iqn", name=source["initiator_iqn"])


# ---------------------------------------------------------------- parse

def parse_disk_element(element):
    """Parse a domain's ``<disk>`` element into a disk dict (the fields ``build_disk_element`` writes)."""
    driver = element.find("driver")
    source = element.find("source")
    target = element.find("target")
    parsed_source = {}
    if source is not None:
        for key in ("file", "dev", "pool", "volume", "mode", "protocol", "name"):
            if source.get(key):
                parsed_source[key] = source.get(key)
        hosts = [_drop_none({"name": h.get("name"), "port": _int_or_none(h.get("port"), "source/host/@port")})
                 for h in source.findall("host")]
        if hosts:
            parsed_source["hosts"] = hosts
        auth = source.find("auth")
        if auth is None:
            auth = element.find("auth")  # the legacy place, outside <source>
        if auth is not None:
            secret = auth.find("secret")
            parsed_source["auth"] = _drop_none({
                "username": auth.get("username"),
                "secret": _drop_none({"type": secret.get("type"), "uuid": secret.get("uuid"),
                                      "usage": secret.get("usage")}) if secret is not None else None})
        encryption = source.find("encryption")
        if encryption is None:
            encryption = element.find("encryption")
        if encryption is not None:
            parsed_source["encryption"] = parse_encryption(encryption)
        iqn = source.find("initiator/iqn")
        if iqn is not None:
            parsed_source["initiator_iqn"] = iqn.get("name")
    serial = element.find("serial")
    wwn = element.find("wwn")
    boot = element.find("boot")
    iotune = element.find("iotune")
    limits = {}
    if iotune is not None:
        for key in IOTUNE_LIMITS:
            limit = _int_or_none(iotune.findtext(key), "iotune/" + key)
            if limit:  # 0 is no limit, as absent
                limits[key] = limit
    return _drop_none({
        "type": element.get("type") or "file",  # libvirt's default disk type
        "device": element.get("device") or "disk",
        "driver": _drop_none(dict((key, driver.get(key)) for key in (
            "name", "type", "cache", "io", "discard", "detect_zeroes"))) if driver is not None else None,
        "source": parsed_source,
        "target": _drop_none({"dev": target.get("dev"), "bus": target.get("bus")}) if target is not None else None,
        "readonly": True if element.find("readonly") is not None else None,
        "shareable": True if element.find("shareable") is not None else None,
        "serial": serial.text if serial is not None else None,
        "wwn": wwn.text if wwn is not None else None,
        "boot_order": _int_or_none(boot.get("order"), "boot/@order") if boot is not None else None,
        "iotune": limits or None,
    })


def domain_disks(domain_xml):
    """Return the disk dicts of a domain XML (str)."""
    root = parse_root(domain_xml)
    return [parse_disk_element(disk) for disk in root.findall("devices/disk")]


# ---------------------------------------------------------------- references

def volume_references(row, pool, volume):
    """Return how a guest disk can name ``volume``.

    {'paths': set of paths, 'volume': (pool, name), 'network': set of (protocol, name),
    'hosts': the pool's hosts}: a network disk references the volume when its protocol and
    name match and, for iSCSI, it reaches one of the pool's portals (targets may share an IQN).
    """
    paths = set(p for p in (volume.get("path"), volume.get("key")) if p and p.startswith("/"))
    network = set()
    if row.disk_protocol and (row.disk_type == "network" or row.disk_type == "block"):
        try:
            source = network_source(row, pool, volume)
        except (ParameterError, KeyError, IndexError):
            source = None  # not a LUN: no network name
        if source:
            network.add((source["protocol"], source["name"]))
    hosts = list((pool.get("source") or {}).get("hosts", []))
    return {"paths": paths, "volume": (pool["name"], volume["name"]), "network": network, "hosts": hosts}


def disk_references(disk):
    """Return the references (as ``volume_references``) that identify the source of the disk dict ``disk``.

    What a guest disk names is its identity: the same file or device, the same pool/volume, the same
    network image (on the same hosts for iSCSI). An empty source (a cdrom drive without media) names nothing.
    """
    source = disk.get("source") or {}
    paths = set(source[key] for key in ("file", "dev") if source.get(key))
    network = set()
    if source.get("protocol") and source.get("name"):
        network.add((source["protocol"], source["name"].lstrip("/")))
    volume = (source["pool"], source["volume"]) if source.get("pool") and source.get("volume") else (None, None)
    return {"paths": paths, "volume": volume, "network": network, "hosts": list(source.get("hosts") or [])}


def _same_host(disk_host, pool_host):
    if disk_host.get("name") != pool_host.get("name"):
        return False
    return None in (disk_host.get("port"), pool_host.get("port")) or disk_host["port"] == pool_host["port"]


def disk_uses(disk, references):
    """True when the disk dict ``disk`` references the volume described by ``references``."""
    source = disk.get("source") or {}
    if source.get("file") in references["paths"] or source.get("dev") in references["paths"]:
        return True
    if references["volume"][0] and (source.get("pool"), source.get("volume")) == references["volume"]:
        return True
    if (source.get("protocol"), (source.get("name") or "").lstrip("/")) not in references["network"]:
        return False
    disk_hosts, pool_hosts = source.get("hosts") or [], references.get("hosts") or []
    if source.get("protocol") not in HOST_SCOPED_PROTOCOLS or not disk_hosts or not pool_hosts:
        return True  # nothing to tell two servers apart by
    return any(_same_host(d, p) for d in disk_hosts for p in pool_hosts)


def check_disk_options(row, options):
    """Raise ParameterError when a volume of pool type ``row`` cannot become a disk with ``options``."""
    opts = default_options(options)
    check_common_options(opts)
    _check_options(row, opts)


def check_common_options(opts):
    """Raise ParameterError naming the ``disk.*`` option libvirt refuses whatever the source (complete ``opts``)."""
    if not _TARGET_DEV.fullmatch(opts["dev"]):
        raise ParameterError("disk.dev", "%r is not a target device name libvirt accepts (such as vdb, sdc or hdd: "
                                         "fd, hd, sd, vd, xvd or ubd and letters, digits or _)" % opts["dev"])
    if opts["serial"] is not None and not _SERIAL.fullmatch(opts["serial"]):
        raise ParameterError("disk.serial", "%r is not a disk serial libvirt accepts (letters, digits, space and "
                                            "_ . + - only)" % opts["serial"])
    if opts.get("wwn") is not None:
        if not _WWN.fullmatch(opts["wwn"]):
            raise ParameterError("disk.wwn", "%r is not a WWN (16 hexadecimal digits, optionally after 0x)"
                                 % opts["wwn"])
        if opts["bus"] not in WWN_BUSES:
            raise ParameterError("disk.wwn", "libvirt gives a WWN to scsi, sata and ide disks only, not to bus %s"
                                 % opts["bus"])
    if opts.get("boot_order") is not None and opts["boot_order"] < 1:
        raise ParameterError("disk.boot_order", "must be 1 or more (1 boots first)")
    for key, limit in sorted((opts.get("iotune") or {}).items()):
        if limit is not None and limit < 0:
            raise ParameterError("disk.iotune." + key, "must be 0 (no limit) or more")
    _check_iotune_totals(opts.get("iotune") or {})


def _check_iotune_totals(iotune):
    """libvirt refuses a total limit beside a read or write limit of the same kind (0 is no limit)."""
    for kind in ("bytes", "iops"):
        total = "total_%s_sec" % kind
        others = [key for key in ("read_%s_sec" % kind, "write_%s_sec" % kind) if iotune.get(key)]
        if iotune.get(total) and others:
            raise ParameterError("disk.iotune." + total, "cannot be set beside %s: libvirt takes either the total "
                                 "limit or the read and write limits" % " and ".join(others))
