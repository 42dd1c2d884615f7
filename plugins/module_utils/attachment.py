# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Attaching a disk to a guest and detaching it: the converger behind disk_attach.

A guest has two definitions that this module converges separately: the
persistent one (what the guest gets when it starts) and the live one (what the
running guest has). A disk is found in each by what it names, its source (the
same file, device, pool/volume or network image), never by its target name;
a cdrom drive, whose media change, by its target. What libvirt can change in a
running guest is changed in place (cdrom media, I/O limits); anything else
needs a detach and re-attach, done only with ``allow_reattach``. Detaching goes
persistent first, then live with the wait in ``live_detach``.
"""

from __future__ import annotations

import copy
import os
import stat

from ansible_collections.virtops.storage.plugins.module_utils.connection import call, domain_definitions, libvirt
from ansible_collections.virtops.storage.plugins.module_utils.converge import Action, Converger, differences
from ansible_collections.virtops.storage.plugins.module_utils.disk_xml import (
    BUS_PREFIX, DISK_OPTIONS_SPEC, DRIVER_OPTIONS, IOTUNE_LIMITS, NETWORK_DEFAULT_PORTS, WWN_BUSES, build_disk_xml,
    check_common_options, check_disk_options, default_options, disk_from_source, disk_references, disk_uses,
    guest_disk, next_target, parse_disk_element, volume_references)
from ansible_collections.virtops.storage.plugins.module_utils.errors import (
    LibvirtCallError, ParameterError, UnsafeActionError, VirtopsError)
from ansible_collections.virtops.storage.plugins.module_utils.host_probe import HostProbe
from ansible_collections.virtops.storage.plugins.module_utils.live_detach import (
    DetachTimeout, detach_live, start_event_loop)
from ansible_collections.virtops.storage.plugins.module_utils.pool_xml import etree, parse_root
from ansible_collections.virtops.storage.plugins.module_utils.volume import (
    lookup_active_pool, lookup_volume, read_volume, references_on_host, refresh_pool, volume_lock_name,
    with_real_paths)

PERSISTENT, LIVE = "persistent", "live"
# libvirt's flag of each scope, by name: libvirt may be missing when this is imported (run_module says so)
SCOPE_FLAGS = {PERSISTENT: "VIR_DOMAIN_AFFECT_CONFIG", LIVE: "VIR_DOMAIN_AFFECT_LIVE"}
SCOPE_NAMES = {PERSISTENT: "the persistent definition", LIVE: "the running guest"}
# devices whose media change in place (QEMU's change-media): their drive is found by its target
REMOVABLE = ("cdrom", "floppy")
# the fields a running guest's disk can change in place; anything else needs a detach and re-attach
LIVE_CHANGEABLE = ("iotune",)
LIVE_CHANGEABLE_REMOVABLE = ("type", "source", "driver.type", "iotune")
# the fields a disk keeps when a task leaves them out (they are compared only when declared)
KEPT_WHEN_LEFT_OUT = ("serial", "wwn", "boot_order")
# the disk dict fields set by a disk option of another name (disk.cache sets driver.cache)
FIELD_OPTIONS = dict([("driver." + option, "disk." + option) for option in DRIVER_OPTIONS] +
                     [("target.dev", "disk.dev"), ("target.bus", "disk.bus")])
# changes that make a disk reach other data, or share it differently: checked against other guests as an attach is
SHARING_FIELDS = ("type", "source", "readonly", "shareable")


# QEMU's gluster driver reads whole 512-byte blocks and takes a short read at the end of a file for an I/O
# error: a qcow2 image whose length is not a multiple of 512 (qemu-img create ends it with the L1 table) cannot
# be opened over libgfapi, though it can over a FUSE mount (a netfs pool of format glusterfs)
GLUSTER_SHORT_READ = "Could not read L1 table: Input/output error"
GLUSTER_SHORT_READ_HELP = (
    " (over gluster, QEMU reads whole 512-byte blocks and fails at the end of a qcow2 image whose length is not a "
    "multiple of 512, as qemu-img creates them: storage_volume pads the qcow2 volumes it makes in a netfs pool of "
    "format glusterfs; pad this one with 'truncate -s %64K' on the file, which qcow2 ignores, or attach it from "
    "that netfs pool)")


class Definition:
    """One definition of a guest (persistent or live): its ``<disk>`` elements and their disk dicts."""

    def __init__(self, scope, xml):
        self.scope = scope
        root = parse_root(xml)
        self.elements = root.findall("devices/disk")
        self.disks = [parse_disk_element(element) for element in self.elements]

    def targets(self):
        return [(disk.get("target") or {}).get("dev") for disk in self.disks]


def comparable(disk, local):
    """The fields of a disk dict that a declaration is compared on, flags as booleans, paths resolved on this host."""
    disk = with_real_paths(disk) if local else dict(disk)
    disk["readonly"] = bool(disk.get("readonly"))
    disk["shareable"] = bool(disk.get("shareable"))
    source = dict(disk.get("source") or {})
    source.pop("encryption", None)  # libvirt adds its engine: compared by the volume, not here
    default_port = NETWORK_DEFAULT_PORTS.get(source.get("protocol"))
    if default_port and source.get("hosts"):  # libvirt stores the port a host left out: the same host
        source["hosts"] = [dict(host, port=host.get("port") or default_port) for host in source["hosts"]]
    disk["source"] = source
    if not source and disk.get("driver"):
        # an empty drive holds no image, so no format: a running guest's empty drive has no driver type
        disk["driver"] = dict((key, value) for key, value in disk["driver"].items() if key != "type")
    return disk


def source_text(disk):
    """What a disk names, in a message: a path, pool/volume, protocol:name, or no media."""
    source = disk.get("source") or {}
    return (source.get("file") or source.get("dev") or
            ("%s/%s" % (source["pool"], source["volume"]) if source.get("pool") else None) or
            ("%s:%s" % (source.get("protocol"), source.get("name")) if source.get("protocol") else None) or
            "no media")


def option_of(field):
    """The option that sets a changed field of a disk dict, in a message: disk.cache for driver.cache, disk.bus
    for target.bus; what the source decides (source.*, type, driver.type) is named as the field."""
    if field in FIELD_OPTIONS:
        return FIELD_OPTIONS[field]
    return field if field.split(".")[0] in ("source", "type", "driver") else "disk." + field


def kept_over(disk, have):
    """``disk`` as written over the disk ``have``: the serial, wwn and boot order a task leaves out stay (a guest
    finds its disk by serial), and so do the I/O limits left out (``limits_kept``)."""
    written = dict((key, value) for key, value in disk.items() if key != "iotune")
    for key in KEPT_WHEN_LEFT_OUT:
        if key not in disk and have.get(key) is not None:
            written[key] = have[key]
    if "wwn" not in disk and disk["target"]["bus"] not in WWN_BUSES:
        written.pop("wwn", None)  # libvirt gives a wwn to scsi, sata and ide disks only
    limits = limits_kept(have.get("iotune") or {}, disk.get("iotune") or {})
    return dict(written, iotune=limits) if limits else written


def limits_kept(have, declared):
    """The I/O limits over ``have``: the declared ones, the others kept unless a declared limit excludes them
    (libvirt takes a total limit or the read and write limits of one kind); 0 is no limit."""
    limits = dict(have, **declared)
    for kind in ("bytes", "iops"):
        total, parts = "total_%s_sec" % kind, ("read_%s_sec" % kind, "write_%s_sec" % kind)
        if declared.get(total):
            limits.update(dict.fromkeys(parts, 0))
        elif any(declared.get(part) for part in parts):
            limits[total] = 0
    return dict((key, value) for key, value in limits.items() if value)


def describe(disk):
    """A disk in a message: its target and what it names."""
    return "%s (%s)" % ((disk.get("target") or {}).get("dev"), source_text(disk))


class AttachmentConverger(Converger):
    """Converges one disk of one guest: attached (live, persistent, or both) with the declared options, or detached."""

    result_key = "disk"

    def __init__(self, module, connection, probe=None):
        super().__init__(module, connection)
        start_event_loop()  # before the connection opens: the live detach waits for libvirt's events
        self.probe = probe or HostProbe(module)
        self.domain = None
        self.name = None
        self.definitions = {}  # scope -> Definition, for the scopes this task acts on
        self.all_targets = []  # the target devs of every definition the guest has (auto-picked names avoid them)
        self.source_kind = None  # volume, path, disk_xml, or None (a drive without media, a disk named by target)
        self.declared_dev = None  # the target declared (disk.dev, or a disk_xml's own)
        self._disk_xml_root = None  # a disk_xml source: attached as written
        self.references = None  # what identifies the disk's source
        self.changes = {}  # scope -> the fields the matched disk differs in from the declared one
        self.desired_disk = None  # the disk dict to attach (present)
        self.matched = {}  # scope -> index of the disk this task is about in that definition
        self._after = {}  # scope -> the disk dicts the plan leaves in that definition
        self._detached_persistent = False

    # -- read
    def read_desired(self):
        params = self.params
        sources = [key for key in ("volume", "path", "disk_xml") if params.get(key)]
        disk = params.get("disk") or {}
        removable = disk.get("device") in REMOVABLE
        if not sources and not disk.get("dev"):
            raise ParameterError("volume", "one of volume, path or disk_xml is required (or disk.dev: a disk to "
                                 "detach by its target, an empty cdrom drive)")
        if not sources and params["state"] == "present" and not removable:
            raise ParameterError("volume", "one of volume, path or disk_xml is required to attach a disk (only a "
                                 "cdrom drive may be empty)")
        if removable and not disk.get("dev"):
            raise ParameterError("disk.dev", "required with device: %s: a drive is found by its target, since its "
                                 "media change" % disk.get("device"))
        if params.get("format") and not params.get("path"):
            raise ParameterError("format", "applies to path only (a volume's format is known; a disk_xml has its "
                                 "driver type)")
        if disk:
            opts = default_options(dict(disk, dev=disk.get("dev") or BUS_PREFIX[disk.get("bus") or "virtio"] + "a"))
            check_common_options(opts)
        timeout = params.get("detach_timeout")
        if timeout is not None and timeout <= 0:
            raise ParameterError("detach_timeout", "must be more than 0 seconds")
        if (params.get("detach_retries") or 0) < 0:
            raise ParameterError("detach_retries", "must be 0 or more")
        self.source_kind = sources[0] if sources else None
        self.declared_dev = disk.get("dev")
        return {"state": params["state"], "source": self.source_kind}

    def lock_names(self, desired):
        """The guest (tasks on its disks take turns) and a volume source (no storage_volume task deletes or
        replaces it meanwhile)."""
        domain = self._lookup_domain()
        names = ["domain/" + domain.UUIDString()]
        volume = self.params.get("volume")
        if volume:
            names.append(volume_lock_name(self.connection, volume["pool"], volume["name"], param="volume.pool"))
        return names

    def shared_lock_names(self, desired):
        volume = self.params.get("volume")
        return ["pool/" + volume["pool"]] if volume else []

    def _lookup_domain(self):
        if self.domain is None:
            self.domain = self.connection.lookup_domain(self.params["domain"])
            if self.domain is None:
                raise ParameterError("domain", "guest %s does not exist" % self.params["domain"])
            self.name = self.domain.name()
        return self.domain

    def read_current(self):
        definitions = domain_definitions(self._lookup_domain())
        has = [scope for scope, dummy in definitions]
        scopes = self._scopes(PERSISTENT in has, LIVE in has)
        for scope, xml in definitions:
            definition = Definition(scope, xml)
            self.all_targets += definition.targets()
            if scope in scopes:
                self.definitions[scope] = definition
        self.desired_disk, self.references = self._resolve_source()
        for scope, definition in self.definitions.items():
            index = self._index_in(definition.disks)
            if index is not None:
                self._check_same_device(scope, definition.disks[index])
                self.matched[scope] = index
        # for the record: plan works on the definitions and the matches
        return dict((scope, definition.disks[self.matched[scope]] if scope in self.matched else None)
                    for scope, definition in self.definitions.items())

    def _scopes(self, persistent, active):
        """The definitions this task acts on: ``persistent`` (default: a persistent guest's) and ``live``
        (default: a running guest's)."""
        want_persistent, want_live = self.params.get("persistent"), self.params.get("live")
        if want_persistent and not persistent:
            raise ParameterError("persistent", "guest %s is transient: it has no persistent definition (set "
                                 "persistent: false, or leave it out)" % self.name)
        if want_live and not active:
            raise ParameterError("live", "guest %s is not running: there is no live guest to change (leave live "
                                 "out to change the persistent definition only)" % self.name)
        scopes = []
        if persistent if want_persistent is None else want_persistent:
            scopes.append(PERSISTENT)
        if active if want_live is None else want_live:
            scopes.append(LIVE)
        if not scopes:
            raise ParameterError("persistent", "nothing to act on: guest %s is not running and persistent is false"
                                 % self.name)
        return scopes

    def _xml(self, scope):
        flags = libvirt.VIR_DOMAIN_XML_INACTIVE if scope == PERSISTENT else 0
        return call("reading guest %s %s XML" % (self.name, scope), self.domain.XMLDesc, flags)

    # -- the source
    def _resolve_source(self):
        """Return (the disk dict to attach or None, the references identifying its source or None)."""
        if self.source_kind == "volume":
            return self._volume_disk()
        if self.source_kind == "path":
            return self._path_disk()
        if self.source_kind == "disk_xml":
            return self._xml_disk()
        # no source: an empty cdrom drive, or a disk to detach by its target
        disk = None
        if self.params["state"] == "present":
            disk = disk_from_source("file", {}, "raw", self._options())
        return disk, None

    def _options(self, **overrides):
        """The complete disk options, with the target dev left as declared (None: picked in plan)."""
        declared = dict((k, v) for k, v in (self.params.get("disk") or {}).items() if v is not None)
        declared.update(overrides)
        opts = default_options(dict(declared, dev=declared.get("dev") or "placeholder"))
        opts["dev"] = declared.get("dev")
        return opts

    def _volume_disk(self):
        volume = self.params["volume"]
        handle = lookup_active_pool(self.connection, volume["pool"], param="volume.pool")
        found = lookup_volume(handle, volume["name"])
        if found is None:
            refresh_pool(handle, param="volume.pool")  # libvirt knows only what its last refresh saw
            found = lookup_volume(handle, volume["name"])
        if found is None:
            raise ParameterError("volume.name", "storage pool %s has no volume %s%s" % (
                handle.name, volume["name"], " (to detach a disk whose volume is gone, name it by path or by "
                "disk.dev)" if self.params["state"] == "absent" else ""))
        spec = read_volume(handle, found)[0]
        opts = self._options()
        check_disk_options(handle.row, dict(opts, dev=opts["dev"] or "vda"))
        disk = guest_disk(handle.row, handle.spec, spec, opts)
        if disk is None:
            raise ParameterError("volume.name", "volume %s of pool %s is a directory, not a disk" % (
                spec["name"], handle.name))
        disk["target"]["dev"] = opts["dev"]  # None: picked in plan, not guest_disk's default
        references = volume_references(handle.row, handle.spec, spec)
        return disk, references_on_host(references) if self.connection.is_local() else references

    def _path_disk(self):
        path = self.params["path"]
        if not self.connection.is_local():
            raise ParameterError("path", "needs the libvirt daemon on this host (uri %s is remote): the module "
                                 "checks the file or device; attach a volume or a disk_xml instead" % self.connection.uri)
        references = references_on_host(disk_references({"source": {"file": path}}))
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:
            if self.params["state"] == "absent":
                return None, references  # a disk whose file is gone is detached by its path all the same
            raise ParameterError("path", "%s: %s" % (path, exc.strerror))
        if stat.S_ISBLK(mode):
            disk_type, source = "block", {"dev": path}
        elif stat.S_ISREG(mode):
            disk_type, source = "file", {"file": path}
        else:
            raise ParameterError("path", "%s is neither a regular file nor a block device" % path)
        options = self.params.get("disk") or {}
        if options.get("source") == "volume" or options.get("mode"):
            raise ParameterError("disk.source" if options.get("source") == "volume" else "disk.mode",
                                 "applies to a volume source only, not to a path")
        fmt = self.params.get("format") or self._attached_format(path, list(source)[0]) or \
            self.probe.image_format(path) or "raw"
        if fmt == "luks":
            # QEMU opens it only with its passphrase secret, which a path does not name
            raise ParameterError("path", "%s is a LUKS-encrypted image: attach it as a volume of a pool (whose "
                                 "volume names its secret) or as a disk_xml with an <encryption> element" % path)
        disk = disk_from_source(disk_type, source, fmt, self._options(), host_block=disk_type == "block")
        return disk, references

    def _attached_format(self, path, key):
        """The driver type of a disk already attached from ``path``: an image is probed once, when first attached,
        never again (a guest can write any header into a raw image)."""
        real = os.path.realpath(path)
        for definition in self.definitions.values():
            for disk in definition.disks:
                if (with_real_paths(disk).get("source") or {}).get(key) == real:
                    return (disk.get("driver") or {}).get("type")
        return None

    def _xml_disk(self):
        try:
            root = parse_root(self.params["disk_xml"])
            if root.tag != "disk":
                raise ParameterError("disk_xml", "is a <%s> element, not a <disk>" % root.tag)
            disk = parse_disk_element(root)
        except ValueError as exc:  # the XML parsers' PoolXMLError: not well-formed, or a number that is none
            raise ParameterError("disk_xml", str(exc))
        if not (disk.get("target") or {}).get("bus"):
            raise ParameterError("disk_xml", "needs <target dev=... bus=...>")
        disk.setdefault("source", {})
        source = disk["source"]
        if disk["device"] in REMOVABLE and not disk["target"].get("dev"):
            raise ParameterError("disk_xml", "a %s drive needs its <target dev=...>: it is found by its target, "
                                 "since its media change" % disk["device"])
        if not source and disk["device"] not in REMOVABLE:
            raise ParameterError("disk_xml", "has no <source> (only a cdrom drive may be empty)")
        if disk["type"] == "volume" and not (source.get("pool") and source.get("volume")):
            raise ParameterError("disk_xml", "a type='volume' disk needs <source pool=... volume=...>")
        self.declared_dev = disk["target"].get("dev")
        references = disk_references(disk) if source else None
        if disk["type"] == "volume":
            handle = lookup_active_pool(self.connection, source["pool"], param="disk_xml")
            found = lookup_volume(handle, source["volume"])
            if found is None:
                raise ParameterError("disk_xml", "storage pool %s has no volume %s" % (handle.name, source["volume"]))
            references = volume_references(handle.row, handle.spec, read_volume(handle, found)[0])
        if references is not None and self.connection.is_local():
            references = references_on_host(references)
        self._disk_xml_root = root  # attached as written
        return disk, references

    def _index_in(self, disks):
        """The index in ``disks`` (disk dicts of one definition) of the disk this task is about, or None.

        By source; a drive whose media change (cdrom), or a disk named only by its target, by the target.
        """
        device = (self.desired_disk or {}).get("device") or (self.params.get("disk") or {}).get("device")
        if self.declared_dev and (self.references is None or device in REMOVABLE):
            found = [i for i, disk in enumerate(disks) if (disk.get("target") or {}).get("dev") == self.declared_dev]
            return found[0] if found else None
        if self.references is None:
            return None
        local = self.connection.is_local()
        found = [i for i, disk in enumerate(disks) if disk_uses(with_real_paths(disk) if local else disk,
                                                                self.references)]
        # a source attached twice: the one at the declared target, else the first
        declared = [i for i in found if (disks[i].get("target") or {}).get("dev") == self.declared_dev]
        return (declared or found or [None])[0]

    def _check_same_device(self, scope, have):
        """A drive found by its target must be a drive of that kind: new media never replace a data disk."""
        device = (self.desired_disk or {}).get("device")
        if device in REMOVABLE and have.get("device") != device:
            raise ParameterError(self._target_param(), "target %s of guest %s holds a %s in %s, not a %s drive: %s" % (
                self.declared_dev, self.name, have.get("device"), SCOPE_NAMES[scope], device, describe(have)))

    def _target_param(self):
        return "disk_xml" if self.source_kind == "disk_xml" else "disk.dev"

    # -- plan
    def plan(self, current, desired):
        for scope, definition in self.definitions.items():
            self._after[scope] = list(definition.disks)
        if desired["state"] == "absent":
            return self._plan_detach()
        self._choose_target()
        local = self.connection.is_local()
        for scope, index in self.matched.items():
            have = self.definitions[scope].disks[index]
            self.changes[scope] = self._changed_fields(comparable(have, local), self._declared(comparable(
                self.desired_disk, local)))
        attaching = [scope for scope in self.definitions if scope not in self.matched]
        changed = [field for fields in self.changes.values() for field in fields]
        if attaching or "target.bus" in changed:
            self._check_bus()
        if attaching or any(field.split(".")[0] in SHARING_FIELDS for field in changed):
            self._check_not_in_use_elsewhere()
        actions = []
        # live first: a running guest is where an attach fails (no free slot, a refused bus), and then
        # nothing has changed
        for scope in (LIVE, PERSISTENT):
            if scope in self.definitions:
                actions.extend(self._plan_scope(scope))
        return actions

    def _choose_target(self):
        """The target dev: declared, else the one the disk already has, else the next free one of its bus."""
        disk = self.desired_disk
        bus = disk["target"]["bus"]
        dev = disk["target"].get("dev")
        kept = None
        if not dev:
            for scope in (PERSISTENT, LIVE):
                if scope in self.matched:
                    kept = self.definitions[scope].disks[self.matched[scope]].get("target") or {}
                    break
            # a disk moved to another bus gets a name of that bus (vdb on scsi would be sdX to the guest anyway)
            dev = kept["dev"] if kept and kept.get("bus") == bus else None
        if not dev:
            taken = [t for t in self.all_targets if not kept or t != kept.get("dev")]
            dev = next_target(bus, taken)
        disk["target"]["dev"] = dev
        for scope, definition in self.definitions.items():
            for index, other in enumerate(definition.disks):
                if index != self.matched.get(scope) and (other.get("target") or {}).get("dev") == dev:
                    raise ParameterError(self._target_param(), "target %s is held by another disk of guest %s in %s: %s" % (
                        dev, self.name, SCOPE_NAMES[scope], describe(other)))

    def _check_bus(self):
        """Refuse a bus the guest's machine type cannot take (ide on q35), from libvirt's domain capabilities."""
        bus = self.desired_disk["target"]["bus"]
        root = parse_root(self._xml(PERSISTENT if PERSISTENT in self.definitions else LIVE))
        os_type = root.find("os/type")
        caps = call("reading the domain capabilities of guest %s" % self.name, self.connection.conn.getDomainCapabilities,
                    root.findtext("devices/emulator"), os_type.get("arch"), os_type.get("machine"), root.get("type"), 0)
        buses = [value.text for value in etree.fromstring(caps.encode("utf-8")).findall(
            "devices/disk/enum[@name='bus']/value")]
        if buses and bus not in buses:
            raise ParameterError("disk.bus", "guest %s (machine %s) cannot take a %s disk; its buses are %s" % (
                self.name, os_type.get("machine"), bus, ", ".join(buses)))
        if bus == "usb" and root.find("devices/controller[@type='usb'][@model='none']") is not None:
            raise ParameterError("disk.bus", "guest %s has no USB controller (model none): it cannot take a usb "
                                 "disk" % self.name)

    def _check_not_in_use_elsewhere(self):
        """Refuse a source another running guest writes to, unless both disks are shareable (or both read-only):
        two guests writing one disk corrupt it."""
        if self.references is None:
            return
        mine = self.desired_disk
        local = self.connection.is_local()
        for domain in call("listing guests", self.connection.conn.listAllDomains, libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
            if domain.UUIDString() == self.domain.UUIDString():
                continue
            try:
                live = Definition(LIVE, call("reading guest %s live XML" % domain.name(), domain.XMLDesc, 0))
            except VirtopsError:
                continue  # stopped since it was listed
            for disk in live.disks:
                if not disk_uses(with_real_paths(disk) if local else disk, self.references):
                    continue
                if (disk.get("readonly") and mine.get("readonly")) or (disk.get("shareable") and mine.get("shareable")):
                    continue
                raise UnsafeActionError(
                    "running guest %s uses %s as its disk %s (%s): a disk one guest writes while another uses it "
                    "is corrupted, or read corrupt. Detach it there first, or attach it to both with "
                    "disk.shareable: true (a cluster filesystem must coordinate the writes), or read-only to both" % (
                        domain.name(), source_text(disk), disk["target"].get("dev"),
                        "read-only" if disk.get("readonly") else "read-write"),
                    param="disk.shareable")

    def _plan_scope(self, scope):
        if scope not in self.matched:
            return self._plan_attach(scope)
        changed = self.changes[scope]
        if not changed:
            return []
        index = self.matched[scope]
        have = self.definitions[scope].disks[index]
        # what is written: a disk_xml as written; otherwise what the task leaves out stays
        disk = self.desired_disk if self.source_kind == "disk_xml" else kept_over(self.desired_disk, have)
        self._after[scope] = self._after[scope][:index] + [disk] + self._after[scope][index + 1:]
        label = "%s in %s (%s)" % (describe(have), SCOPE_NAMES[scope], ", ".join(changed))
        if scope == PERSISTENT:
            if "target.dev" in changed or "target.bus" in changed:
                return [Action("re-attach " + label, lambda: self._reattach(PERSISTENT, have, index, disk))]
            return [Action("update " + label, lambda: self._update(scope, disk))]
        return self._plan_live_change(have, index, disk, changed, label)

    def _plan_attach(self, scope):
        disk = self.desired_disk
        if scope == LIVE and not disk.get("source"):
            # libvirt 9.0 hands QEMU a null filename for it (blockdev-add fails): say so before anything changes
            raise ParameterError("live", "libvirt cannot hot-plug an empty %s drive into running guest %s: give "
                                 "it media (path or volume) to attach it live, or set live: false to add the "
                                 "empty drive to the persistent definition (the guest has it at its next "
                                 "start)" % (disk.get("device"), self.name))
        self._after[scope] = self._after[scope] + [disk]
        return [Action("attach %s to %s" % (describe(disk), SCOPE_NAMES[scope]), lambda: self._attach(scope, disk))]

    def _plan_live_change(self, have, index, disk, changed, label):
        """In place what a running guest can change (media, I/O limits); the rest by a re-attach, if allowed."""
        removable = disk.get("device") in REMOVABLE and have.get("device") == disk.get("device")
        in_place = LIVE_CHANGEABLE_REMOVABLE if removable else LIVE_CHANGEABLE
        fixed = [field for field in changed if field.split(".")[0] not in in_place and field not in in_place]
        if fixed:
            if not self.params.get("allow_reattach"):
                raise ParameterError(
                    "allow_reattach", "guest %s is running and libvirt cannot change %s of its disk %s in place. Set "
                    "allow_reattach: true to detach and re-attach it (the guest loses the disk meanwhile), or "
                    "live: false to change the persistent definition only (the guest gets it at its next start)" % (
                        self.name, ", ".join(option_of(field) for field in fixed), describe(have)))
            return [Action("detach and re-attach " + label, lambda: self._reattach(LIVE, have, index, disk))]
        actions = []
        if any(not field.startswith("iotune") for field in changed):
            verb = "eject the media of" if not disk.get("source") else "change the media of"
            actions.append(Action("%s %s" % (verb, label), lambda: self._update(LIVE, disk)))
        if any(field.startswith("iotune") for field in changed):
            actions.append(Action("set the I/O limits of " + label, lambda: self._set_iotune(have, disk)))
        return actions

    def _declared(self, want):
        """``want`` without the driver settings the task did not declare: a block disk's cache none and io native
        are what a new disk gets, not a reason to change a disk attached otherwise."""
        if self.source_kind == "disk_xml":
            return want  # the element says it all
        declared = self.params.get("disk") or {}
        driver = dict((key, value) for key, value in (want.get("driver") or {}).items()
                      if key not in DRIVER_OPTIONS or declared.get(key) is not None)
        return dict(want, driver=driver)

    @staticmethod
    def _changed_fields(have, want):
        """The declared fields of ``want`` that ``have`` differs in; an iotune limit left out is no limit."""
        changed = differences(dict(have, iotune=None), dict(want, iotune=None))
        limits_have, limits_want = have.get("iotune") or {}, want.get("iotune") or {}
        changed += ["iotune." + key for key in IOTUNE_LIMITS
                    if key in limits_want and (limits_have.get(key) or 0) != (limits_want[key] or 0)]
        if "source" in want and not want["source"] and have.get("source"):
            changed.append("source")  # eject: an empty source is declared too
        return [field for field in changed if field != "iotune"]

    def _plan_detach(self):
        actions = []
        for scope in (PERSISTENT, LIVE):  # persistent first: a guest that never lets go must not get it back
            if scope not in self.matched:
                continue
            index = self.matched[scope]
            have = self.definitions[scope].disks[index]
            element = self.definitions[scope].elements[index]
            self._after[scope] = self._after[scope][:index] + self._after[scope][index + 1:]
            if scope == PERSISTENT:
                actions.append(Action("detach %s from the persistent definition" % describe(have),
                                      lambda have=have, element=element: self._detach_persistent(have, element)))
            else:
                actions.append(Action("detach %s from the running guest" % describe(have),
                                      lambda have=have, element=element: self._detach_live(have, element)))
        return actions

    # -- apply
    def _flags(self, scope):
        return getattr(libvirt, SCOPE_FLAGS[scope])

    def _attach_xml(self, disk):
        root = self._disk_xml_root
        if root is not None:  # a disk_xml is attached as written, with the target chosen
            target = root.find("target")
            target.set("dev", disk["target"]["dev"])
            return etree.tostring(root, encoding="unicode")
        return build_disk_xml(disk)

    def _attach(self, scope, disk):
        try:
            call("attaching disk %s to %s of guest %s" % (describe(disk), SCOPE_NAMES[scope], self.name),
                 self.domain.attachDeviceFlags, self._attach_xml(disk), self._flags(scope))
        except LibvirtCallError as exc:
            if (disk.get("source") or {}).get("protocol") == "gluster" and GLUSTER_SHORT_READ in exc.msg:
                exc.msg += GLUSTER_SHORT_READ_HELP
            raise

    def _update(self, scope, disk):
        call("updating disk %s in %s of guest %s" % (describe(disk), SCOPE_NAMES[scope], self.name),
             self.domain.updateDeviceFlags, self._attach_xml(disk), self._flags(scope))

    def _set_iotune(self, have, disk):
        limits = dict((key, (disk.get("iotune") or {}).get(key, 0)) for key in IOTUNE_LIMITS)  # every limit it has
        call("setting the I/O limits of disk %s of guest %s" % (have["target"]["dev"], self.name),
             self.domain.setBlockIoTune, have["target"]["dev"], limits, libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def _reattach(self, scope, have, index, disk):
        """Detach the disk from ``scope`` and attach it as declared; if that attach fails, the old disk goes back."""
        element = self.definitions[scope].elements[index]
        if scope == PERSISTENT:
            self._detach_persistent(have, element)
        else:
            self._detach_live(have, element)
        try:
            self._attach(scope, disk)
        except VirtopsError as exc:
            try:
                call("attaching disk %s back" % describe(have), self.domain.attachDeviceFlags, device_xml(element),
                     self._flags(scope))
                exc.msg += "; the disk was attached back as it was"
            except VirtopsError as again:
                exc.msg += "; attaching the disk back as it was failed too (%s): %s no longer has it" % (
                    again.msg, SCOPE_NAMES[scope])
            raise

    def _detach_persistent(self, have, element):
        call("detaching disk %s from the persistent definition of guest %s" % (describe(have), self.name),
             self.domain.detachDeviceFlags, etree.tostring(element, encoding="unicode"),
             libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        # synchronous, but proved: the definition is read again
        if any(disk == have for disk in Definition(PERSISTENT, self._xml(PERSISTENT)).disks):
            raise VirtopsError("libvirt reported disk %s detached from the persistent definition of guest %s, but "
                               "the definition still has it" % (describe(have), self.name))
        self._detached_persistent = True

    def _detach_live(self, have, element):
        alias = element.find("alias")
        if alias is None:
            raise VirtopsError("disk %s of running guest %s has no alias: libvirt cannot detach it live" % (
                describe(have), self.name))
        alias = alias.get("name")

        def present():
            return any(e.find("alias") is not None and e.find("alias").get("name") == alias
                       for e in Definition(LIVE, self._xml(LIVE)).elements)

        try:
            detach_live(self.connection.conn, self.domain, etree.tostring(element, encoding="unicode"), alias, present,
                        self.params["detach_timeout"], self.params["detach_retries"])
        except DetachTimeout as exc:
            if self._detached_persistent:
                exc.msg += ("; the persistent definition no longer has the disk (it was detached there first), "
                            "so the guest will not get it back at its next start")
            exc.details["param"] = "detach_timeout"
            raise

    # -- result
    def _converge(self, desired):
        result = super()._converge(desired)
        disk = result.get("disk")
        result["disk_xml"] = disk.pop("xml") if disk else None
        return result

    def facts(self):
        """The disk as libvirt stored it (the persistent definition's, else the live one's), where it is attached."""
        if self.domain is None:
            return None
        found = {}
        for scope in (PERSISTENT, LIVE):
            if scope not in self.definitions:
                continue
            if self.module.check_mode:
                disks = self._after[scope] if self._after else self.definitions[scope].disks
                definition = None
            else:
                definition = Definition(scope, self._xml(scope))
                disks = definition.disks
            index = self._index_in(disks)
            if index is not None:
                element = definition.elements[index] if definition else None
                found[scope] = (disks[index], element)
        if not found:
            return None
        disk, element = found.get(PERSISTENT) or found.get(LIVE)
        xml = stored_xml(element) if element is not None else build_disk_xml(disk)
        # an empty cdrom drive's source is {} (documented as returned), not left out as the parsed dict leaves it
        return dict(disk, source=disk.get("source") or {}, persistent=PERSISTENT in found, live=LIVE in found,
                    xml=xml)

    def diff_view(self, current, desired):
        """The guest's ``<disk>`` elements before and after, per definition, as text (a readable unified diff)."""
        return self._render(dict((s, d.disks) for s, d in self.definitions.items())), self._render(self._after)

    def _render(self, disks_by_scope):
        parts = []
        for scope in (PERSISTENT, LIVE):
            if scope in disks_by_scope:
                parts.append("<!-- guest %s: %s -->\n" % (self.name, SCOPE_NAMES[scope]))
                parts.extend(build_disk_xml(_renderable(disk)) for disk in disks_by_scope[scope])
        return "".join(parts)


def device_xml(element):
    """The ``<disk>`` element to attach again: without what libvirt gave it when it was attached (alias, address)."""
    element = copy.deepcopy(element)
    for runtime in element.findall("alias") + element.findall("address"):
        element.remove(runtime)
    element.tail = None
    return etree.tostring(element, encoding="unicode")


def stored_xml(element):
    """The ``<disk>`` element as libvirt stored it, as text indented on its own (not as inside the domain)."""
    element = copy.deepcopy(element)
    element.tail = None
    etree.indent(element)
    return etree.tostring(element, encoding="unicode", pretty_print=True)


def _renderable(disk):
    """A parsed disk dict with what build_disk_xml needs (a disk without a target is shown as such)."""
    target = dict({"dev": "?", "bus": "?"}, **(disk.get("target") or {}))
    return dict(disk, type=disk.get("type") or "file", target=target)


# The options of disk_attach (besides uri) and their constraints, composed by disk_attach and storage_host.
ATTACH_ARGUMENT_SPEC = dict(
    domain=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    volume=dict(type="dict", options=dict(pool=dict(type="str", required=True), name=dict(type="str", required=True))),
    path=dict(type="path"),
    format=dict(type="str"),
    disk_xml=dict(type="str"),
    disk=dict(type="dict", options=DISK_OPTIONS_SPEC),
    persistent=dict(type="bool"),
    live=dict(type="bool"),
    allow_reattach=dict(type="bool", default=False),
    detach_timeout=dict(type="int", default=30),
    detach_retries=dict(type="int", default=2),
)
ATTACH_CONSTRAINTS = dict(mutually_exclusive=[("volume", "path", "disk_xml"), ("disk", "disk_xml")])
