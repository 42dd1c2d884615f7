"""A small fake of libvirt at the boundary of the convergers: virConnect, virStoragePool, virStorageVol, virSecret,
virDomain.

Every failure is a real ``libvirt.libvirtError`` carrying libvirt's real error
code (VIR_ERR_NO_STORAGE_POOL, VIR_ERR_NO_STORAGE_VOL, VIR_ERR_NO_SECRET, ...),
so the collection's own code (``Connection``, ``call``, the lookups) runs
unchanged over it. Every change is logged in ``FakeLibvirt.log``.
"""

import os
import uuid as uuidlib

import libvirt
from lxml import etree

from ansible_collections.virtops.storage.plugins.module_utils.connection import Connection
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import POOL_TYPES
from ansible_collections.virtops.storage.plugins.module_utils.pool_xml import parse_pool_xml
from ansible_collections.virtops.storage.plugins.module_utils.secret_xml import (
    USAGE_TYPE_IDS, build_secret_xml, parse_secret_xml)
from ansible_collections.virtops.storage.plugins.module_utils.volume_xml import (
    VOLUME_TYPE_OF_DISK_TYPE, build_volume_xml, parse_volume_xml)

URI = "qemu:///system"
UUID = "0a81f5b2-8403-7b23-c8d6-21ccc2f80fb0"
# the pool types a Debian 12 libvirtd supports (virsh pool-capabilities)
SUPPORTED_POOL_TYPES = ("dir", "fs", "netfs", "logical", "disk", "iscsi", "iscsi-direct", "scsi", "mpath",
                        "rbd", "gluster")


def libvirt_error(code, message, domain=libvirt.VIR_FROM_STORAGE):
    """A real libvirtError with libvirt's error ``code`` (what libvirt-python raises for a failed call).

    ``domain``: where libvirt says it came from; VIR_FROM_RPC is the connection to a daemon that went away.
    """
    error = libvirt.libvirtError(message)
    error.err = (code, domain, message, libvirt.VIR_ERR_ERROR, None, None, None, 0, 0)
    return error


class Failures:
    """Calls made to fail: ``fail('create', VIR_ERR_INTERNAL_ERROR, 'mount failed')`` fails the next create calls
    (all of them, or the next ``times``; ``domain`` as libvirt_error's)."""

    def __init__(self):
        self.failures = {}

    def fail(self, method, code=libvirt.VIR_ERR_INTERNAL_ERROR, message="failed", times=None,
             domain=libvirt.VIR_FROM_STORAGE):
        self.failures[method] = (libvirt_error(code, message, domain), times)

    def _check(self, method):
        if method in self.failures:
            error, times = self.failures[method]
            if times is not None:
                if times > 1:
                    self.failures[method] = (error, times - 1)
                else:
                    del self.failures[method]
            raise error


# ---------------------------------------------------------------- secrets

class FakeSecret:
    """A virSecret: its spec (as XML) and its value."""

    def __init__(self, libvirt_conn, spec, value=None):
        self.libvirt_conn = libvirt_conn
        self.spec = spec
        self._value = value

    def UUIDString(self):
        return self.spec["uuid"]

    def XMLDesc(self, flags):
        return build_secret_xml(self.spec)

    def usageType(self):
        return USAGE_TYPE_IDS[self.spec.get("usage_type", "none")]

    def value(self, flags):
        if self._value is None:
            raise libvirt_error(libvirt.VIR_ERR_NO_SECRET, "secret has no value")
        return self._value

    def setValue(self, value, flags):
        self.libvirt_conn.log.append(("setValue", self.UUIDString()))
        if self.libvirt_conn.fail_set_value:
            raise libvirt.libvirtError("cannot save the value")
        self._value = value

    def undefine(self):
        self.libvirt_conn.log.append(("undefine", self.UUIDString()))
        del self.libvirt_conn.secrets[self.UUIDString()]


# ---------------------------------------------------------------- volumes

class FakeVolume(Failures):
    """A virStorageVol: its XML; resize, wipe, upload and delete are logged in its pool's connection.

    ``flags``: those of the createXML / createXMLFrom call that made it; ``uploaded``: the bytes
    an upload stream sent into it.
    """

    def __init__(self, name, xml, pool=None, flags=None):
        super().__init__()
        self._name, self.xml, self.pool = name, xml, pool
        self.flags = flags
        self.uploaded = None

    def name(self):
        return self._name

    def XMLDesc(self, flags):
        self._check("XMLDesc")
        return self.xml

    def info(self):
        spec = parse_volume_xml(self.xml)
        return [0, spec.get("capacity") or 0, spec.get("allocation") or 0]

    def path(self):
        return parse_volume_xml(self.xml).get("path")

    def _log(self, *entry):
        if self.pool is not None:
            self.pool.libvirt_conn.log.append(entry + (self._name,))

    def resize(self, capacity, flags):
        self._log("resize", capacity, flags)
        self._check("resize")
        root = etree.fromstring(self.xml.encode("utf-8"))
        root.find("capacity").text = str(capacity)
        self.xml = etree.tostring(root, encoding="unicode")

    def wipePattern(self, algorithm, flags):
        self._log("wipe", algorithm)
        self._check("wipePattern")

    def delete(self, flags):
        self._log("deleteVolume")
        self._check("delete")
        if self.pool is not None:
            self.pool.volumes.remove(self)

    def upload(self, stream, offset, length, flags):
        self._log("upload", offset, length, flags)
        self._check("upload")
        stream.volume = self
        self.uploaded = 0


class FakeStream:
    """A virStream of an upload: counts the bytes sent into its volume (``FakeVolume.uploaded``)."""

    def __init__(self):
        self.volume = None
        self.finished = self.aborted = False

    def send(self, data):
        self.volume.uploaded += len(data)
        return len(data)

    def sparseSendAll(self, handler, holeHandler, skipHandler, opaque):
        """libvirt-python's loop: data is read and sent (64 KiB at a time), holes are skipped and sent as holes."""
        while True:
            in_data, length = holeHandler(self, opaque)
            if not in_data and length > 0:
                skipHandler(self, length, opaque)
                self.volume.uploaded += length
                continue
            data = handler(self, min(length, 64 * 1024), opaque)
            if not data:
                return
            self.send(data)

    def finish(self):
        self.finished = True

    def abort(self):
        self.aborted = True


def volume_xml(name, capacity, path=None, fmt="raw", backing=None):
    """The XML libvirt reports for a file volume (an overlay of the raw file at path ``backing``)."""
    path = path or "/var/lib/libvirt/images/" + name
    backing_store = ("<backingStore><path>%s</path><format type='raw'/></backingStore>" % backing) if backing else ""
    return ("<volume type='file'><name>%s</name><key>%s</key><capacity unit='bytes'>%d</capacity>"
            "<allocation unit='bytes'>0</allocation><target><path>%s</path><format type='%s'/></target>%s</volume>"
            % (name, path, capacity, path, fmt, backing_store))


# ---------------------------------------------------------------- guests

class FakeDomain(Failures):
    """A virDomain: a persistent definition and a running guest (``persistent``, ``active``), each a list of
    ``<disk>`` elements; ``paths``: files that are its virtio disks vda, vdb, ... in both, ``disks``: more
    ``<disk>`` XML in both.

    The device calls edit the definitions their flags name (VIR_DOMAIN_AFFECT_CONFIG / _LIVE), with
    libvirt's refusals (a transient guest's config, a stopped guest's live state, a target taken twice),
    and are logged in the connection's log as (call, guest, scope, target dev). A running guest's disks
    carry an alias, and a live detach fires DEVICE_REMOVED unless ``keeps_detached_disks`` (a guest that
    ignores the request).
    """

    def __init__(self, name, paths=(), persistent=True, active=False, disks=(), libvirt_conn=None):
        super().__init__()
        self._name, self.libvirt_conn = name, libvirt_conn
        self.persistent, self.active = persistent, active
        self.keeps_detached_disks = False
        xmls = ["<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/>"
                "<target dev='vd%s' bus='virtio'/></disk>" % (path, chr(ord("a") + number))
                for number, path in enumerate(paths)] + list(disks)
        self.disks = {"persistent": [etree.fromstring(xml) for xml in xmls], "live": []}
        for xml in xmls:
            self._plug("live", etree.fromstring(xml))
        self.machine = "pc-q35-7.2"
        self.extra_devices = ""  # more devices for the XML (controllers)
        self.refuse_attach_bus = None  # a bus whose disks an attach refuses (QEMU failing the device_add)

    def name(self):
        return self._name

    def isPersistent(self):
        return int(self.persistent)

    def isActive(self):
        return int(self.active)

    def UUIDString(self):
        return str(uuidlib.uuid5(uuidlib.NAMESPACE_OID, self._name))

    def XMLDesc(self, flags):
        self._check("XMLDesc")
        # a transient guest's "inactive" XML is its live one
        scope = "live" if self.active and not (flags & libvirt.VIR_DOMAIN_XML_INACTIVE and self.persistent) \
            else "persistent"
        disks = "".join(etree.tostring(disk, encoding="unicode") for disk in self.disks[scope])
        return ("<domain type='kvm'><name>%s</name><uuid>%s</uuid><os><type arch='x86_64' machine='%s'>hvm</type>"
                "</os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator>%s%s</devices></domain>" % (
                    self._name, self.UUIDString(), self.machine, disks, self.extra_devices))

    def targets(self, scope):
        """The target devs of a definition, in order."""
        return [disk.find("target").get("dev") for disk in self.disks[scope]]

    def _scopes(self, call, flags):
        scopes = [scope for scope, flag in (("persistent", libvirt.VIR_DOMAIN_AFFECT_CONFIG),
                                            ("live", libvirt.VIR_DOMAIN_AFFECT_LIVE)) if flags & flag]
        if "persistent" in scopes and not self.persistent:
            raise libvirt_error(libvirt.VIR_ERR_OPERATION_INVALID, "Requested operation is not valid: cannot "
                                "change persistent config of a transient domain", libvirt.VIR_FROM_DOMAIN)
        if "live" in scopes and not self.active:
            raise libvirt_error(libvirt.VIR_ERR_OPERATION_INVALID, "Requested operation is not valid: domain is "
                                "not running", libvirt.VIR_FROM_DOMAIN)
        self._check(call)
        return scopes

    def _index(self, scope, dev):
        for index, disk in enumerate(self.disks[scope]):
            if disk.find("target").get("dev") == dev:
                return index
        raise libvirt_error(libvirt.VIR_ERR_DEVICE_MISSING, "device not found: disk %s not found" % dev,
                            libvirt.VIR_FROM_DOMAIN)

    def _plug(self, scope, disk):
        if scope == "live":
            etree.SubElement(disk, "alias", name="ua-" + disk.find("target").get("dev"))
        self.disks[scope].append(disk)

    def _log(self, call, scope, dev):
        self.libvirt_conn.log.append((call, self._name, scope, dev))

    def attachDeviceFlags(self, xml, flags):
        for scope in self._scopes("attachDeviceFlags", flags):
            disk = etree.fromstring(xml)
            dev = disk.find("target").get("dev")
            self._log("attachDevice", scope, dev)
            if disk.find("target").get("bus") == self.refuse_attach_bus:
                raise libvirt_error(libvirt.VIR_ERR_INTERNAL_ERROR, "internal error: unable to execute QEMU "
                                    "command 'device_add'", libvirt.VIR_FROM_DOMAIN)
            if dev in self.targets(scope):
                raise libvirt_error(libvirt.VIR_ERR_OPERATION_FAILED, "operation failed: target %s already exists"
                                    % dev, libvirt.VIR_FROM_DOMAIN)
            self._plug(scope, disk)

    def detachDeviceFlags(self, xml, flags):
        for scope in self._scopes("detachDeviceFlags", flags):
            dev = etree.fromstring(xml).find("target").get("dev")
            self._log("detachDevice", scope, dev)
            index = self._index(scope, dev)
            if scope == "live" and self.keeps_detached_disks:
                continue
            disk = self.disks[scope].pop(index)
            if scope == "live":
                self.libvirt_conn.domain_event(self, libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                               disk.find("alias").get("name"))

    def updateDeviceFlags(self, xml, flags):
        for scope in self._scopes("updateDeviceFlags", flags):
            disk = etree.fromstring(xml)
            dev = disk.find("target").get("dev")
            self._log("updateDevice", scope, dev)
            index = self._index(scope, dev)
            if scope == "live":
                disk.append(self.disks[scope][index].find("alias"))
            self.disks[scope][index] = disk

    def setBlockIoTune(self, dev, params, flags):
        for kind in ("bytes", "iops"):  # qemuDomainSetBlockIoTune's check
            if params.get("total_%s_sec" % kind) and (params.get("read_%s_sec" % kind) or
                                                      params.get("write_%s_sec" % kind)):
                raise libvirt_error(libvirt.VIR_ERR_INVALID_ARG, "invalid argument: total and read/write of %s_sec "
                                    "cannot be set at the same time" % kind, libvirt.VIR_FROM_QEMU)
        for scope in self._scopes("setBlockIoTune", flags):
            self._log("setBlockIoTune", scope, dev)
            disk = self.disks[scope][self._index(scope, dev)]
            for old in disk.findall("iotune"):
                disk.remove(old)
            iotune = etree.SubElement(disk, "iotune")
            for key, value in sorted(params.items()):
                etree.SubElement(iotune, key).text = str(value)


# ---------------------------------------------------------------- pools

class FakePool(Failures):
    """A virStoragePool: its definition (and the one it runs with), state, autostart and volumes."""

    def __init__(self, xml, active=False, persistent=True, autostart=False, volumes=(), name=None,
                 libvirt_conn=None):
        super().__init__()
        self.libvirt_conn = libvirt_conn
        self._name = name  # None: the name in the XML
        self.definition = xml
        self.running = xml if active else None
        self.persistent, self._autostart = persistent, autostart
        self.volumes = list(volumes)
        for volume in self.volumes:
            volume.pool = self
        self.volumes_read = False
        self._uuid = str(uuidlib.uuid4())
        self.free = 10 ** 9  # bytes, what info() reports available
        # what changed on the storage behind libvirt's back: libvirt lists it after the next refresh
        self._appeared, self._vanished = [], set()

    def name(self):
        return self._name or parse_pool_xml(self.definition)["name"]

    def UUIDString(self):
        return self._uuid

    def _log(self, *entry):
        self.libvirt_conn.log.append(entry + (self.name(),))

    def XMLDesc(self, flags):
        self._check("XMLDesc")
        if flags & libvirt.VIR_STORAGE_XML_INACTIVE or self.running is None:
            return self.definition
        return self.running

    def info(self):
        self._check("info")
        return [2 if self.running else 0, 10 ** 9, 10 ** 9 - self.free, self.free]

    def isActive(self):
        return int(self.running is not None)

    def isPersistent(self):
        return int(self.persistent)

    def autostart(self):
        return int(self._autostart)

    def setAutostart(self, value):
        self._log("setAutostart", value)
        self._check("setAutostart")
        self._autostart = bool(value)

    def build(self, flags):
        self._log("build", flags)
        self._check("build")

    def create(self, flags):
        self._log("create")
        self._check("create")
        self.running = self.definition

    def destroy(self):
        self._log("destroy")
        self._check("destroy")
        self.running = None

    def delete(self, flags):
        self._log("delete")
        self._check("delete")

    def refresh(self, flags):
        self._log("refresh")
        self._check("refresh")
        self.volumes = [v for v in self.volumes if v.name() not in self._vanished] + self._appeared
        self._appeared, self._vanished = [], set()

    def appear_on_storage(self, volume):
        """A volume another program made in the pool's storage (a file copied in): listed after a refresh."""
        volume.pool = self
        self._appeared.append(volume)

    def vanish_from_storage(self, name):
        """A volume another program removed from the storage (parted rm): still listed until a refresh."""
        self._vanished.add(name)

    def undefine(self):
        self._log("undefine")
        self._check("undefine")
        if self.running is None:
            del self.libvirt_conn.pools[self.name()]
        self.persistent = False

    def _need_active(self):
        if self.running is None:
            raise libvirt_error(libvirt.VIR_ERR_OPERATION_INVALID, "storage pool '%s' is not active" % self.name())

    def listAllVolumes(self, flags):
        self._need_active()
        self._check("listAllVolumes")
        self.volumes_read = True
        return list(self.volumes)

    def storageVolLookupByName(self, name):
        self._need_active()
        for volume in self.volumes:
            if volume.name() == name:
                return volume
        raise libvirt_error(libvirt.VIR_ERR_NO_STORAGE_VOL, "Storage volume not found: no storage vol with "
                                                            "matching name '%s'" % name)

    def createXML(self, xml, flags):
        self._need_active()
        self._check("createXML")
        spec = parse_volume_xml(xml)
        self._log("createVolume", spec["name"])
        return self._add_volume(spec, flags)

    def createXMLFrom(self, xml, clonevol, flags):
        self._need_active()
        self._check("createXMLFrom")
        spec = parse_volume_xml(xml)
        self._log("cloneVolume", clonevol.name(), spec["name"])
        source = parse_volume_xml(clonevol.XMLDesc(0))
        # libvirt gives the clone at least the source's capacity (storageVolCreateXMLFrom)
        spec["capacity"] = max(spec.get("capacity") or 0, source.get("capacity") or 0)
        return self._add_volume(spec, flags)

    def _add_volume(self, spec, flags):
        """The volume as libvirt reports it once made: its path in the target, the pool's default format."""
        if any(volume.name() == spec["name"] for volume in self.volumes):
            raise libvirt_error(libvirt.VIR_ERR_STORAGE_VOL_EXIST, "storage volume '%s' exists already" % spec["name"])
        pool = parse_pool_xml(self.running)
        row = POOL_TYPES[pool["type"]]
        target = (pool.get("target") or {}).get("path")
        # a network pool's volume is named inside its source (rbd: 'cephpool/name')
        path = os.path.join(target or pool["source"]["name"], spec["name"])
        reported = dict(spec, type=VOLUME_TYPE_OF_DISK_TYPE[row.disk_type], key=path, path=path,
                        allocation=spec.get("allocation") or 0)
        if row.volume_default_format:
            # libvirt reads a partition back as 'none', whatever type it was made with
            reported["format"] = spec.get("format") if row.volume_format_read_back else None
            reported["format"] = reported["format"] or row.volume_default_format
        volume = FakeVolume(spec["name"], build_volume_xml(reported), self, flags)
        self.volumes.append(volume)
        return volume


# ---------------------------------------------------------------- the connection

class FakeLibvirt(Failures):
    """virConnect: secrets with libvirt's define rules (virSecretObjListAdd), pools, pool capabilities, guests, their
    domain capabilities (``disk_buses``) and events (delivered at once to the registered callbacks)."""

    def __init__(self):
        super().__init__()
        self.secrets = {}
        self.pools = {}
        self.domains = []
        self.callbacks = []  # domainEventRegisterAny's (domain, event, callback, opaque); None when deregistered
        self.disk_buses = ("sata", "scsi", "virtio", "usb")  # q35: no ide
        self.log = []
        self.fail_set_value = False
        self.supported = SUPPORTED_POOL_TYPES

    # -- secrets
    def add(self, value=None, **spec):
        """Add a secret (UUID unless given, persistent and private unless said)."""
        spec = dict({"uuid": UUID, "ephemeral": False, "private": True}, **spec)
        self.secrets[spec["uuid"]] = FakeSecret(self, spec, value.encode() if isinstance(value, str) else value)
        return self.secrets[spec["uuid"]]

    def secretDefineXML(self, xml, flags):
        spec = parse_secret_xml(xml)
        self.log.append(("define", spec.get("uuid")))
        existing = self.secrets.get(spec.get("uuid"))
        if existing is not None:
            if existing.spec.get("usage_id") != spec.get("usage_id"):
                raise libvirt.libvirtError("a secret with UUID %s is already defined for use with %s" % (
                    spec["uuid"], existing.spec.get("usage_id")))
            if existing.spec["private"] and not spec["private"]:
                raise libvirt.libvirtError("cannot change private flag on existing secret")
            existing.spec = spec
            return existing
        if self.by_usage(spec.get("usage_type"), spec.get("usage_id")) is not None:
            raise libvirt.libvirtError("a secret is already defined for that usage")
        spec.setdefault("uuid", str(uuidlib.uuid4()))
        self.secrets[spec["uuid"]] = FakeSecret(self, spec)
        return self.secrets[spec["uuid"]]

    def by_usage(self, usage_type, usage_id):
        for found in self.secrets.values():
            if (found.spec.get("usage_type"), found.spec.get("usage_id")) == (usage_type, usage_id):
                return found
        return None

    def listAllSecrets(self, flags):
        return list(self.secrets.values())

    def secretLookupByUUIDString(self, uuid):
        found = self.secrets.get(str(uuidlib.UUID(uuid)))
        if found is None:
            raise libvirt_error(libvirt.VIR_ERR_NO_SECRET, "secret not found: no secret with matching uuid")
        return found

    def secretLookupByUsage(self, usage_type_id, usage_id):
        names = dict((number, name) for name, number in USAGE_TYPE_IDS.items())
        found = self.by_usage(names.get(usage_type_id), usage_id)
        if found is None:
            raise libvirt_error(libvirt.VIR_ERR_NO_SECRET, "secret not found: no secret with matching usage")
        return found

    # -- pools
    def add_pool(self, xml, **state):
        """Add a pool from its XML (``active``, ``persistent``, ``autostart``, ``volumes``)."""
        pool = FakePool(xml, libvirt_conn=self, **state)
        self.pools[pool.name()] = pool
        return pool

    def storagePoolLookupByName(self, name):
        if name not in self.pools:
            raise libvirt_error(libvirt.VIR_ERR_NO_STORAGE_POOL, "Storage pool not found: no storage pool with "
                                                                 "matching name '%s'" % name)
        return self.pools[name]

    def storagePoolDefineXML(self, xml, flags):
        name = parse_pool_xml(xml)["name"]
        self.log.append(("definePool", name))
        self._check("storagePoolDefineXML")
        pool = self.pools.get(name)
        if pool is None:
            return self.add_pool(xml)
        pool.definition, pool.persistent = xml, True  # a running pool keeps running its old definition
        return pool

    def listAllStoragePools(self, flags):
        return list(self.pools.values())

    def getStoragePoolCapabilities(self, flags):
        return "<storagepoolCapabilities>%s</storagepoolCapabilities>" % "".join(
            "<pool type='%s' supported='yes'/>" % name for name in self.supported)

    # -- guests
    def add_domain(self, name, paths=(), **state):
        """Add a guest whose disks are the files ``paths`` (``persistent``, ``active``, ``disks``)."""
        domain = FakeDomain(name, paths, libvirt_conn=self, **state)
        self.domains.append(domain)
        return domain

    def listAllDomains(self, flags):
        active_only = flags & libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE
        return [domain for domain in self.domains if domain.active or not active_only]

    def getDomainCapabilities(self, emulator, arch, machine, virttype, flags):
        """The disk buses of a q35 machine (``disk_buses``, as virsh domcapabilities lists them)."""
        self.log.append(("getDomainCapabilities", machine))
        return "<domainCapabilities><devices><disk supported='yes'><enum name='bus'>%s</enum></disk></devices>" \
               "</domainCapabilities>" % "".join("<value>%s</value>" % bus for bus in self.disk_buses)

    def domainEventRegisterAny(self, domain, event, callback, opaque):
        self.callbacks.append((domain, event, callback, opaque))
        return len(self.callbacks) - 1

    def domainEventDeregisterAny(self, callback_id):
        self.callbacks[callback_id] = None

    def domain_event(self, domain, event, *details):
        """Deliver an event of ``domain`` to the callbacks registered for it (as libvirt's event loop does)."""
        for registered in list(self.callbacks):
            if registered and registered[0] is domain and registered[1] == event:
                registered[2](self, domain, *details, registered[3])

    def lookupByName(self, name):
        return self._domain("name", name)

    def lookupByUUIDString(self, uuid):
        return self._domain("uuid", uuid)

    def _domain(self, key, value):
        for domain in self.domains:
            if (domain.name() if key == "name" else domain.UUIDString()) == value:
                return domain
        raise libvirt_error(libvirt.VIR_ERR_NO_DOMAIN, "Domain not found: no domain with matching %s '%s'" % (
            key, value), libvirt.VIR_FROM_QEMU)

    def newStream(self, flags):
        self._check("newStream")
        return FakeStream()


class FakeConnection(Connection):
    """The collection's own Connection, over a FakeLibvirt; ``guests``: disks guest_disks returns besides those of
    the fake's domains (which the collection's own scan reads)."""

    def __init__(self, pools=(), guests=(), uri=URI):
        super().__init__(uri)
        self._conn = FakeLibvirt()
        for pool in pools:
            pool.libvirt_conn = self._conn
            self._conn.pools[pool.name()] = pool
        self.guests = list(guests)

    @property
    def pools(self):
        return list(self._conn.pools.values())

    def guest_disks(self):
        return self.guests + super().guest_disks()


class FakeModule:
    """An AnsibleModule as the convergers use it: params (over ``defaults``), check and diff mode, commands.

    ``run_command`` records each command in ``commands`` and returns what ``command`` (a function of
    the argument list) returns, success with no output without one.
    """

    def __init__(self, defaults, check_mode=False, diff=True, **params):
        self.params = dict(defaults, **params)
        self.check_mode = check_mode
        self._diff = diff
        self.no_log_values = set()
        self.commands = []
        self.command = None
        self.tmpdir = None

    def get_bin_path(self, name, required=False):
        return "/usr/sbin/" + name

    def run_command(self, args):
        self.commands.append(list(args))
        return self.command(args) if self.command else (0, "", "")


class FakeProbe:
    """HostProbe over a dict of paths: path -> 'directory', 'regular file', ...; devices -> blkid signature."""

    def __init__(self, paths=None, signatures=None, permissions=None, formats=None, identities=None, zeros=(),
                 max_file_sizes=None):
        self.paths = dict(paths or {})
        self.signatures = dict(signatures or {})
        self._permissions = dict(permissions or {})
        self.formats = dict(formats or {})  # path -> the image format qemu-img finds
        self.identities = dict(identities or {})  # path -> volume identity
        self.zeros = set(zeros)  # paths that read as zeros only
        self.max_file_sizes = dict(max_file_sizes or {})  # directory -> largest file its filesystem holds

    def file_type(self, path):
        return self.paths.get(path)

    def is_dir(self, path):
        return self.paths.get(path) == "directory"

    def exists(self, path):
        return path in self.paths

    def permissions(self, path):
        return self._permissions.get(path, {"mode": "0755", "owner": 0, "group": 0})

    def signature(self, device):
        return self.signatures.get(device, {})

    def missing_directories(self, path):
        missing = []
        while path not in ("", "/") and path not in self.paths:
            missing.append(path)
            path = path.rsplit("/", 1)[0] or "/"
        return missing

    def holds_only_zeros(self, path):
        return True if path in self.zeros else None

    def image_format(self, path):
        return self.formats.get(path)

    def volume_identity(self, path):
        return self.identities.get(path)

    def max_file_size(self, directory):
        return self.max_file_sizes.get(directory)

    def entries(self, directory):
        return sorted(path.rsplit("/", 1)[1] for path in self.paths if path.rsplit("/", 1)[0] == directory)

    def partitions(self, device):
        return sorted(path.rsplit("/", 1)[1] for path, kind in self.paths.items()
                      if kind == "partition" and path.startswith(device))
