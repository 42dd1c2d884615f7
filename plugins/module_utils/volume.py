# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Storage volumes: the converger behind storage_volume and the reader behind storage_volume_info."""

from __future__ import annotations

import os
import time
from collections import namedtuple

from ansible_collections.virtops.storage.plugins.module_utils.connection import call, libvirt, uri_is_local
from ansible_collections.virtops.storage.plugins.module_utils.converge import Action, Converger
from ansible_collections.virtops.storage.plugins.module_utils.disk_xml import (
    RAW_FORMATS, build_disk_xml, check_disk_options, disk_uses, guest_disk, volume_references)
from ansible_collections.virtops.storage.plugins.module_utils.errors import (
    LibvirtCallError, ParameterError, UnsafeActionError, VirtopsError)
from ansible_collections.virtops.storage.plugins.module_utils.host_lock import host_locks
from ansible_collections.virtops.storage.plugins.module_utils.host_probe import HostProbe
from ansible_collections.virtops.storage.plugins.module_utils.params import canonical_uuid
from ansible_collections.virtops.storage.plugins.module_utils.image_import import (
    ImportRecords, ImportSource, copy_sparse, describe_import, hide_credentials, import_key, upload_sparse,
    upload_zeros)
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import POOL_TYPES, supports
from ansible_collections.virtops.storage.plugins.module_utils.pool_xml import parse_pool_xml
from ansible_collections.virtops.storage.plugins.module_utils.units import human, human_and_bytes, human_change
from ansible_collections.virtops.storage.plugins.module_utils.volume_spec import (
    check_against_pool, creation_spec, desired_from_params)
from ansible_collections.virtops.storage.plugins.module_utils.volume_xml import build_volume_xml, parse_volume_xml

# a qcow2 file on gluster ends on a whole number of these (see VolumeConverger._fit_for_gluster)
GLUSTER_QCOW2_ALIGNMENT = 64 * 1024
# threads reading the volumes of a big pool (read_volumes); the daemon's default max_client_requests is 5
READ_THREADS = 4
# the volume fields a returned volume shows (besides xml and the guest disk)
FACT_FIELDS = ("name", "key", "path", "type", "format", "capacity", "allocation", "physical", "backing_store",
               "encryption")
# libvirt 9.0's parted error when it deletes a partition named with a 'p' separator (loop0p2, nvme0n1p2)
_PARTED_NAME_BUG = "Partition doesn't exist"
# qemu-img's LUKS creation when its CPU-time measurement reads zero (see VolumeConverger._create)
_LUKS_TIMING_ERROR = "Unable to get accurate CPU usage"
LUKS_TIMING_ATTEMPTS = 8
# qemu keeps a qcow2 image's L1 table within 32 MiB: 4 Mi entries, each an L2 table of cluster_size / 8 clusters
_QCOW2_MAX_L1_ENTRIES = 32 * 1024 * 1024 // 8
QCOW2_DEFAULT_CLUSTER = 64 * 1024
# libvirt refuses to refresh a pool while a volume is being created in it (by any client)
_POOL_BUSY = "has asynchronous jobs running"
POOL_BUSY_WAIT = 30  # seconds


PoolHandle = namedtuple("PoolHandle", ["pool", "name", "spec", "row"])


# ---------------------------------------------------------------- lookups

def pool_handle(pool):
    """Return the PoolHandle of a ``virStoragePool``."""
    name = pool.name()
    spec = parse_pool_xml(call("reading pool %s XML" % name, pool.XMLDesc, 0))
    return PoolHandle(pool, name, spec, POOL_TYPES[spec["type"]])


def lookup_active_pool(connection, name, param="pool"):
    """Return the PoolHandle of active pool ``name``; ParameterError naming ``param`` otherwise.

    A batched run that has converged its pools keeps their handles (``connection.pool_handles``): its
    thousand volumes then do not look their pool up a thousand times.
    """
    cache = connection.pool_handles
    if cache is not None and name in cache:
        return cache[name]
    pool = connection.lookup_pool(name)
    if pool is None:
        raise ParameterError(param, "storage pool %s does not exist" % name)
    if not call("reading pool %s state" % name, pool.isActive):
        raise ParameterError(param, "storage pool %s is inactive: libvirt manages the volumes of active pools only "
                             "(start it, e.g. virtops.storage.storage_pool with state: active)" % name)
    handle = pool_handle(pool)
    if cache is not None:
        cache[name] = handle
    return handle


def volume_lock_name(connection, pool, name, param="pool"):
    """The host lock name of volume ``name`` of ``pool``: a disk pool's partitions share one (the next
    partition's name is the pool's to give)."""
    row = lookup_active_pool(connection, pool, param=param).row
    return "volume/%s/%s" % (pool, "" if row.volume_naming == "partition" else name)


def refresh_pool(handle, wait=POOL_BUSY_WAIT, param="pool"):
    """Refresh the pool (libvirt re-reads its volumes from the storage); True when it was refreshed.

    A failure names the cause (as a pool's start does) and ``param``, the task's option that names the pool
    (None: the pool's own options, for a task on the pool itself).

    While another client creates a volume in the pool libvirt refuses: wait for that, at most
    ``wait`` seconds, then go on with what libvirt lists (False).
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            call("refreshing pool %s" % handle.name, handle.pool.refresh, 0)
            return True
        except LibvirtCallError as exc:
            if _POOL_BUSY not in exc.msg:
                raise _refresh_error(handle, exc, param)
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)


def explained_start_error(row, spec, exc, local):
    """``exc`` of a pool's start or refresh, or its cause where libvirt words it misleadingly (the pool type's
    misleading_errors column; backend_errors is loaded only then)."""
    if not row.misleading_errors:
        return exc
    from ansible_collections.virtops.storage.plugins.module_utils.backend_errors import start_error  # lazy: those pools only
    return start_error(row, spec, exc, local)


def _refresh_error(handle, exc, param):
    """The error of a failed refresh: its cause, where libvirt words it misleadingly, and that libvirt stopped
    the pool (it does when a refresh fails)."""
    if handle.row.misleading_errors:
        try:
            local = uri_is_local(handle.pool.connect().getURI())
        except libvirt.libvirtError:
            local = False
        exc = explained_start_error(handle.row, handle.spec, exc, local)
    try:
        stopped = not handle.pool.isActive()
    except libvirt.libvirtError:
        stopped = False
    details = exc.details
    if details.get("param") and param:  # an option of the pool (source.hosts): for a task on its volumes, the pool
        details = dict(details, param=param)
    if not stopped and details is exc.details:
        return exc
    return VirtopsError(exc.msg + ("; libvirt stopped pool %s when its refresh failed: once the cause is repaired, "
                                   "start it again (storage_pool with state: active)" % handle.name if stopped else ""),
                        **details)


def lookup_volume(handle, name):
    """Return the ``virStorageVol`` called ``name`` in the pool, or None."""
    try:
        return handle.pool.storageVolLookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
            return None
        raise LibvirtCallError("looking up volume %s in pool %s" % (name, handle.name), exc)


def read_volume(handle, volume):
    """Return (volume spec, XML) of a ``virStorageVol``."""
    xml = _volume_xml(volume)
    return parse_volume_xml(xml), xml


def read_volumes(handle, volumes):
    """Return [(volume spec, XML)] of many listed ``virStorageVol`` of one pool, in their order.

    A volume gone since the pool was listed (deleted by another task, or its file removed behind
    libvirt's back) is left out, as a listing a moment later would. One call per volume is most of
    the time a big pool takes to read, and the calls wait on the daemon: libvirt's client sends the
    calls of several threads over the one connection and the daemon answers them on its workers, so
    a few threads read the XML in about half the time.
    """
    if len(volumes) < 2 * READ_THREADS:
        xmls = [_listed_volume_xml(volume) for volume in volumes]
    else:
        from concurrent.futures import ThreadPoolExecutor  # lazy: only big pools
        with ThreadPoolExecutor(READ_THREADS) as readers:
            xmls = list(readers.map(_listed_volume_xml, volumes))
    return [(parse_volume_xml(xml), xml) for xml in xmls if xml is not None]


def _volume_xml(volume):
    return call("reading volume %s XML" % volume.name(), volume.XMLDesc, 0)


def _listed_volume_xml(volume):
    """The XML of a volume the pool listed; None when it is gone since."""
    try:
        return _volume_xml(volume)
    except LibvirtCallError as exc:
        if exc.libvirt_code == libvirt.VIR_ERR_NO_STORAGE_VOL:
            return None
        raise


def volume_facts(handle, spec, xml, disk_options=None):
    """Return the facts of one volume: FACT_FIELDS, pool, xml and its guest disk (dict and XML)."""
    facts = dict((field, spec.get(field)) for field in FACT_FIELDS)
    disk = guest_disk(handle.row, handle.spec, spec, disk_options)
    facts.update(pool=handle.name, pool_type=handle.row.name, xml=xml, disk=disk,
                 disk_xml=build_disk_xml(disk) if disk else None)
    return facts


def guests_using(disks_by_guest, handle, spec, local=False):
    """Return the sorted names of the guests whose disks reference the volume ``spec``.

    ``local``: the daemon runs on this host, where paths are compared as the files they name (a guest
    may reach a volume through a symlink or a path with '..').
    """
    return guests_using_resolved(comparable_guest_disks(disks_by_guest, local), handle, spec, local)


def comparable_guest_disks(disks_by_guest, local):
    """The guests' disks as ``guests_using_resolved`` compares them: on this host with their paths resolved."""
    if not local:
        return disks_by_guest
    return [(name, [with_real_paths(disk) for disk in disks]) for name, disks in disks_by_guest]


def guests_using_resolved(comparable_disks, handle, spec, local):
    """``guests_using`` over disks already made comparable: the guests' disks resolved once for many volumes."""
    references = volume_references(handle.row, handle.spec, spec)
    if local:
        references = references_on_host(references)
    return sorted(name for name, disks in comparable_disks if any(disk_uses(d, references) for d in disks))


def references_on_host(references):
    """``volume_references`` with its paths resolved (symlinks, '..'), to match ``with_real_paths`` disks."""
    return dict(references, paths=set(os.path.realpath(path) for path in references["paths"]))


def with_real_paths(disk):
    """The disk dict with its source file or device path resolved (symlinks, '..')."""
    source = dict(disk.get("source") or {})
    for key in ("file", "dev"):
        if (source.get(key) or "").startswith("/"):
            source[key] = os.path.realpath(source[key])
    return dict(disk, source=source)


def backing_users(connection):
    """Return {backing path: ['pool/volume', ...]}: the volumes (of every active pool) over each backing store.

    On this host a path is keyed as the file it names: libvirt reports an overlay's backing file as it
    was written (through a symlink, with '..'), not resolved.
    """
    users = {}
    for where, spec in connection.volume_specs():
        path = (spec.get("backing_store") or {}).get("path")
        if path:
            users.setdefault(_as_file(connection, path), []).append(where)
    return users


def volumes_backed_by(connection, path, users=None):
    """Return 'pool/volume' of every volume (in any active pool) whose backing store is ``path``."""
    if not path:
        return []
    return sorted((users if users is not None else backing_users(connection)).get(_as_file(connection, path), []))


def _as_file(connection, path):
    return os.path.realpath(path) if connection.is_local() and path.startswith("/") else path


def qcow2_max_capacity(cluster_size):
    """The largest virtual size qemu gives a qcow2 image with clusters of ``cluster_size`` bytes."""
    return _QCOW2_MAX_L1_ENTRIES * (cluster_size // 8) * cluster_size


def _as_image_format(fmt):
    """The format qemu reads a volume in: libvirt's raw-like formats ('none' partitions, 'iso') are raw."""
    return "raw" if fmt in RAW_FORMATS else fmt


# ---------------------------------------------------------------- partitions (disk pools)

def partition_prefix(handle):
    """Return the name every partition of the pool's device starts with ('sdb', 'loop3p', 'nvme0n1p')."""
    device = handle.spec["source"]["devices"][0]
    base = os.path.basename(device["path"])
    separator = device.get("part_separator")
    if separator is None:
        separator = base[-1:].isdigit()
    return base + ("p" if separator else "")


def partition_number(handle, name):
    """Return the partition number of volume ``name`` (None when it is not a partition of the device)."""
    prefix = partition_prefix(handle)
    rest = name[len(prefix):] if name.startswith(prefix) else ""
    return int(rest) if rest.isdigit() else None


def next_partition_name(handle):
    """Return the name libvirt requires for the next partition: the lowest partition number not in use."""
    volumes = call("listing volumes of pool %s" % handle.name, handle.pool.listAllVolumes, 0)
    used = set(partition_number(handle, v.name()) for v in volumes)
    number = 1
    while number in used:
        number += 1
    return "%s%d" % (partition_prefix(handle), number)


# ---------------------------------------------------------------- deletion

def delete_volume(module, connection, handle, volume, records):
    """Delete ``volume`` of the pool and forget its import record.

    The one way a volume is deleted: storage_volume's state absent and storage_pool's
    delete_volumes both come here.
    """
    name = volume.name()
    with_snapshots = bool(module.params.get("delete_snapshots"))
    try:
        call("deleting volume %s of pool %s" % (name, handle.name), volume.delete,
             libvirt.VIR_STORAGE_VOL_DELETE_WITH_SNAPSHOTS if with_snapshots else 0)
    except LibvirtCallError as exc:
        if handle.row.misleading_errors:
            from ansible_collections.virtops.storage.plugins.module_utils.backend_errors import (  # lazy: see the table
                delete_error)
            raise delete_error(handle.row, name, call("reading volume %s path" % name, volume.path), exc)
        if handle.row.volume_naming != "partition" or _PARTED_NAME_BUG not in exc.msg:
            raise
        _remove_partition(module, connection, handle, name, exc)
    records.remove(import_key(handle.pool.UUIDString(), name))


def _remove_partition(module, connection, handle, name, error):
    """libvirt 9.0 hands parted 'p2' for loop0p2 / nvme0n1p2: remove the partition by number, then refresh."""
    number = partition_number(handle, name)
    if number is None or not connection.is_local():
        raise error
    device = handle.spec["source"]["devices"][0]["path"]
    parted = module.get_bin_path("parted", required=True)
    rc, out, err = module.run_command([parted, "-s", device, "rm", str(number)])
    if rc != 0:
        raise VirtopsError("%s; removing partition %d of %s with parted failed too: %s" % (
            error.msg, number, device, (err or out).strip()))
    refresh_pool(handle)


# ---------------------------------------------------------------- converger

class VolumeConverger(Converger):
    """Converges one volume: created (empty, cloned, over a backing store or imported), resized, wiped, deleted."""

    result_key = "volume"

    def __init__(self, module, connection, probe=None, records=None):
        super().__init__(module, connection)
        self.probe = probe or HostProbe(module)
        self.records = records or ImportRecords()
        self.handle = None
        self.volume = None
        self.name = None
        self._users = None  # (guests, volumes over it as their backing store), read once
        # what the planned actions make of the volume: the diff's "after" over its "before"
        self._after = {}
        self._imported = None  # what the import record says the volume holds (for the diff)
        self._planned = None  # the spec of a volume to be created (check mode returns its facts)
        self._read = None  # (spec, XML) of the existing volume, as read_current read it

    # -- read
    def read_desired(self):
        desired = desired_from_params(self.params)
        if desired.get("import_from"):
            hide_credentials(self.module, desired["import_from"]["src"])
        return desired

    def lock_names(self, desired):
        """The volume and the volumes it is made from (a clone's source, a backing volume): no other task of
        this collection changes them meanwhile. A disk pool's partitions share one lock: the next
        partition's name is the pool's to give."""
        names = [self._lock_name(desired["pool"], desired["name"], "pool")]
        for option in ("clone_from", "backing_store"):
            source = desired[option]
            if source and source.get("name"):
                names.append(self._lock_name(source.get("pool") or desired["pool"], source["name"], option + ".pool"))
        return names

    def shared_lock_names(self, desired):
        # a pool task (stop, redefine, delete) waits until no task works on its volumes
        pools = [desired["pool"]] + [(desired[option] or {}).get("pool") for option in ("clone_from", "backing_store")]
        return ["pool/" + pool for pool in pools if pool]

    def _lock_name(self, pool, name, param):
        return volume_lock_name(self.connection, pool, name, param)

    def read_current(self):
        self.handle = lookup_active_pool(self.connection, self.params["pool"])
        check_disk_options(self.handle.row, self.params.get("disk"))
        self.name = self.params.get("name")
        if self.name is None:
            if self.handle.row.volume_naming != "partition":
                raise ParameterError("name", "required (only disk pools pick a name: the next partition's)")
            if self.params["state"] == "absent":
                raise ParameterError("name", "required with state: absent")
            self.name = next_partition_name(self.handle)
            return None
        self.volume = lookup_volume(self.handle, self.name)
        if self.volume is None:
            # libvirt knows only what its last refresh saw: look again before creating or reporting absent
            refresh_pool(self.handle)
            self.volume = lookup_volume(self.handle, self.name)
        if self.volume is None:
            return None
        spec, xml = read_volume(self.handle, self.volume)
        self._read = (spec, xml)
        return {"spec": spec}

    def facts(self):
        if self.handle is None:
            return None
        if self._read and not self.applied:  # nothing was done: the volume is as read_current read it
            return volume_facts(self.handle, self._read[0], self._read[1], self.params.get("disk"))
        volume = lookup_volume(self.handle, self.name)
        if volume is None:
            if self.module.check_mode and self._planned:
                return self._planned_facts()
            return None
        spec, xml = read_volume(self.handle, volume)
        return volume_facts(self.handle, spec, xml, self.params.get("disk"))

    def _planned_facts(self):
        """Check mode: the facts the volume to be created will have, as far as they are known before it exists.

        The path of a file or block volume is its pool's target path and its name; key, allocation,
        physical and xml exist only once libvirt made it (None), and so does an imported image's size.
        """
        row, target = self.handle.row, (self.handle.spec.get("target") or {}).get("path")
        path = os.path.join(target, self.name) if target and row.disk_type in ("file", "block") else None
        spec = dict(self._planned, name=self.name, path=path, type=row.disk_type if path else None)
        facts = volume_facts(self.handle, spec, None, self.params.get("disk"))
        facts["key"] = None
        return facts

    # -- plan
    def plan(self, current, desired):
        if desired["state"] == "absent":
            return self._plan_absent(current, desired)
        check_against_pool(desired, self.handle.row, self.handle.name, new=current is None)
        if current is None:
            return self._plan_create(desired)
        return self._plan_existing(current["spec"], desired)

    def _plan_absent(self, current, desired):
        if current is None:
            return []
        row = self.handle.row
        if not supports(row, "volume_delete"):
            raise ParameterError("state", "pool %s is a %s pool, which cannot delete volumes (libvirt's %s backend has "
                                 "no volume deletion)" % (self.handle.name, row.name, row.name))
        if self.params.get("delete_snapshots") and not supports(row, "volume_delete_snapshots"):
            raise ParameterError("delete_snapshots", "%s pools have no volume snapshots to delete (rbd pools do)" % (
                row.name))
        spec = current["spec"]
        self._refuse_in_use(spec, "deleting it")
        actions = []
        if desired["wipe"]:
            actions.append(self._wipe_action(spec, desired["wipe_algorithm"] or "zero"))
        actions.append(Action("delete volume %s of pool %s" % (self.name, self.handle.name), self._delete))
        self._after = dict((key, value) for key, value in self._after.items() if key == "wiped")
        self._after["state"] = "absent"
        return actions

    def _plan_create(self, desired):
        row, pool = self.handle.row, self.handle.name
        if row.volume_naming == "partition" and self.params.get("name"):
            wanted = next_partition_name(self.handle)
            if self.name != wanted:
                raise ParameterError("name", "a new volume of disk pool %s must be named %s: libvirt names partitions "
                                     "after the device, and the next one is %s (or leave name unset)" % (
                                         pool, wanted, wanted))
        if desired["encryption"]:
            self._check_secret(desired["encryption"]["secret"])
        action, spec, origin = self._creation(desired)
        action = Action(action.description, self._explaining_a_lost_race(action.apply))
        self._check_capacity_fits(spec)
        self._planned = spec
        shown = ("name", "capacity", "format", "backing_store", "encryption", "permissions")
        self._after = dict(((key, spec[key]) for key in shown if spec.get(key) is not None), state="present", **origin)
        if desired["preallocation"] not in (None, "off"):
            self._after["preallocation"] = desired["preallocation"]
        return [action]

    def _explaining_a_lost_race(self, create):
        """``create``, whose failure because the volume appeared meanwhile is said in those words.

        The host lock keeps this host's jobs apart, not the hosts that share a pool (rbd, gluster, netfs, iscsi):
        when two of them create one volume at once, the storage refuses the second ("File exists" and the like).
        """
        def apply():
            try:
                create()
            except VirtopsError as exc:
                if self.volume is None and self._appeared_meanwhile():
                    raise VirtopsError("volume %s appeared in pool %s while this task was creating it: another host "
                                       "sharing the pool or another client made it first, and this task changed "
                                       "nothing of it (%s). Run the task again to converge it; create a shared "
                                       "volume from one host (run_once)" % (self.name, self.handle.name, exc.msg),
                                       libvirt_code=exc.details.get("libvirt_code"))
                raise
        return apply

    def _appeared_meanwhile(self):
        """True when the pool, read again from its storage, has the volume this task failed to create."""
        try:
            return refresh_pool(self.handle) and lookup_volume(self.handle, self.name) is not None
        except VirtopsError:
            return False

    def _creation(self, desired):
        """Return (the Action that creates the volume, its planned spec, {how: where from} for the diff)."""
        row = self.handle.row
        what = "volume %s in pool %s" % (self.name, self.handle.name)
        if desired["source"] == "clone_from":
            source_handle, source_volume, source_spec = self._source_volume(desired["clone_from"], "clone_from")
            # a clone is the source's image: its format unless another is declared (libvirt would give
            # the pool's default), and at least its size (libvirt never makes a clone smaller)
            spec = dict(creation_spec(desired, row, self.name),
                        capacity=max(desired["capacity"] or 0, source_spec.get("capacity") or 0) or None)
            if row.volume_formats and not spec.get("format") and source_spec.get("format") in row.volume_formats:
                spec["format"] = source_spec["format"]
            origin = "%s/%s" % (source_handle.name, source_volume.name())
            kind = "clone" if row.clone_kind == "copy" else "make a Ceph copy-on-write clone of"
            return (Action("%s volume %s of pool %s into %s" % (kind, source_volume.name(), source_handle.name, what),
                           lambda: self._clone(spec, source_volume)), spec, {"clone_from": origin})
        if desired["source"] == "backing_store":
            path, backing_capacity = self._backing_store(desired["backing_store"])
            spec = creation_spec(desired, row, self.name, backing_path=path)
            # libvirt gives an overlay declared without a capacity its backing store's
            planned = dict(spec, capacity=spec.get("capacity") or backing_capacity)
            return (Action("create %s over backing store %s" % (what, path), lambda: self._create(spec, desired)),
                    planned, {})
        if desired["source"] == "import_from":
            source = ImportSource(self.module, desired["import_from"])
            source.check()
            spec = creation_spec(desired, row, self.name)
            planned = dict(spec, format=spec.get("format") or row.volume_default_format)
            return (Action("create %s from %s" % (what, source.shown), lambda: self._import_new(spec, desired, source)),
                    planned, {"import_from": source.described})
        spec = creation_spec(desired, row, self.name)
        details = [human(spec["capacity"])] + ([spec["format"]] if spec.get("format") else [])
        if desired["preallocation"] not in (None, "off"):
            details.append("%s preallocation" % desired["preallocation"])
        return (Action("create %s (%s; %d bytes)" % (what, ", ".join(details), spec["capacity"]),
                       lambda: self._create(spec, desired)),
                dict(spec, format=spec.get("format") or row.volume_default_format), {})

    def _plan_existing(self, spec, desired):
        actions = []
        if desired["format"] and self.handle.row.volume_format_read_back and spec.get("format") != desired["format"]:
            raise ParameterError("format", "volume %s exists with format %s; a volume is not converted in place: "
                                 "clone it into a new volume (clone_from) with format %s" % (
                                     self.name, spec.get("format"), desired["format"]))
        resize = self._plan_resize(spec, desired)
        if resize:
            actions.append(resize)
        actions.extend(self._plan_permissions(spec, desired))
        if desired["import_from"]:
            actions.extend(self._plan_reimport(spec, desired))
        if desired["wipe"]:
            wipe = self._plan_wipe(spec, desired["wipe_algorithm"] or "zero")
            if wipe:
                actions.append(wipe)
        self._warn_creation_only(spec, desired)
        return actions

    def _plan_resize(self, spec, desired):
        want = desired["capacity"]
        if want is None:
            return None
        row = self.handle.row
        have = spec["capacity"]
        # backends round a requested size up (sectors, extents, partition alignment) or report a LUN a block
        # short: within that it is the same size
        if abs(have - want) <= row.capacity_rounding:
            return None
        if (desired["import_from"] or desired["clone_from"]) and have > want:
            return None  # from an image or a clone, capacity is the least size: the source may bring more
        shrink = have > want
        if not supports(row, "volume_resize"):
            raise ParameterError("capacity", "volume %s is %s, not the declared %s, and %s pools cannot resize "
                                 "volumes (libvirt's %s backend has no resize)" % (
                                     self.name, human_and_bytes(have), human_and_bytes(want), row.name, row.name))
        if shrink:
            if not desired["allow_shrink"]:
                raise UnsafeActionError(
                    "shrinking volume %s %s destroys the data beyond %s. Set allow_shrink: true to shrink it" % (
                        self.name, human_change(have, want), human_and_bytes(want)), param="allow_shrink")
            self._refuse_in_use(spec, "shrinking it")
        flags = libvirt.VIR_STORAGE_VOL_RESIZE_SHRINK if shrink else 0
        if not shrink and desired["preallocation"] in ("falloc", "full"):
            flags |= libvirt.VIR_STORAGE_VOL_RESIZE_ALLOCATE
        self._after["capacity"] = want
        return Action("%s volume %s %s" % ("shrink" if shrink else "grow", self.name, human_change(have, want)),
                      lambda: self._resize(want, flags))

    def _plan_permissions(self, spec, desired):
        wanted = desired["permissions"] or {}
        have = spec.get("permissions") or {}
        if wanted.get("label") and wanted["label"] != have.get("label"):
            self.warnings.append("volume %s has %s: libvirt applies permissions.label only when it creates a "
                                 "volume" % (self.name, "label %s" % have["label"] if have.get("label") else "no label"))
        changes = dict((key, wanted[key]) for key in ("mode", "owner", "group")
                       if wanted.get(key) is not None and wanted[key] != have.get(key))
        if not changes:
            return []
        self._after["permissions"] = dict(have, **changes)
        path = spec.get("path")
        if not (path and path.startswith("/")) or not self.connection.is_local():
            raise ParameterError("permissions", "volume %s is not a file or device on this host: its permissions can "
                                 "only be set when it is created" % self.name)
        return [Action("set %s of volume %s to %s" % ("/".join(sorted(changes)), self.name, ", ".join(
            "%s %s" % (k, changes[k]) for k in sorted(changes))), lambda: self._set_permissions(path, changes))]

    def _plan_reimport(self, spec, desired):
        """Re-import an existing volume declared with import_from when its own import never finished, or when
        the declared checksum is not the one last imported and reimport allows it."""
        source = ImportSource(self.module, desired["import_from"])
        record = self.records.of_volume(self._record_key(), self._identity(spec))
        unfinished = bool(record) and record.get("state") == "importing"
        if record:
            self._imported = describe_import(record["src"], record.get("checksum"), unfinished=unfinished)
        if unfinished and not record.get("identity") and not desired["reimport"]:
            # cut off before the module could tell which volume it made (or on a host where volumes have no
            # identity: a remote uri, an LV, a LUN): this may as well be a volume made since under that name
            raise ParameterError("reimport", "an import of %s into volume %s was cut off before the module could "
                                 "identify the volume, which may hold part of that image or another volume made "
                                 "since under that name. Set reimport: true to import it again (its content is "
                                 "replaced)" % (record["src"], self.name))
        if unfinished:
            # a run cut off while it imported (daemon or module killed): the volume holds part of an
            # image the module was writing, not data of the user's
            reason = "the import into it did not finish"
        elif record and (not source.checksum or record.get("checksum") == source.checksum):
            return []  # imported once; without a new checksum nothing says the source changed
        elif not desired["reimport"]:
            last = ("last import: %s" % (record.get("checksum") or "without a checksum")) if record else \
                "no import into it is recorded"
            self.warnings.append("volume %s exists and was not imported from %s%s (%s): its content is kept. Set "
                                 "reimport: true to replace it" % (
                                     self.name, source.shown,
                                     " with checksum %s" % source.checksum if source.checksum else "", last))
            return []
        else:
            reason = "checksum %s" % source.checksum if source.checksum else "reimport: true"
        self._refuse_in_use(spec, "replacing its content")
        source.check()
        self._plan_reimport_size(spec, source)
        self._after["import_from"] = source.described
        return [Action("re-import volume %s from %s (%s)" % (self.name, source.shown, reason),
                       lambda: self._reimport(spec, desired, source))]

    def _plan_wipe(self, spec, algorithm):
        row = self.handle.row
        if row.disk_type == "file" and spec.get("format") not in RAW_FORMATS:
            raise ParameterError("wipe", "volume %s is %s: wiping overwrites its header and leaves a raw volume of "
                                 "zeros. Delete it with wipe (state: absent) and create it again instead" % (
                                     self.name, spec.get("format")))
        if algorithm == "zero" and self.connection.is_local() and self.probe.holds_only_zeros(spec.get("path")):
            return None  # already all zeros: nothing to wipe
        self._refuse_in_use(spec, "wiping it")
        return self._wipe_action(spec, algorithm)

    def _wipe_action(self, spec, algorithm):
        row = self.handle.row
        if not supports(row, "volume_wipe"):
            raise ParameterError("wipe", "%s pools cannot wipe volumes (libvirt's %s backend has no wipe)" % (
                row.name, row.name))
        flag = getattr(libvirt, "VIR_STORAGE_VOL_WIPE_ALG_" + algorithm.upper())
        self._after["wiped"] = algorithm
        return Action("wipe volume %s (%s)" % (self.name, algorithm), lambda: self._wipe(flag))

    def _warn_creation_only(self, spec, desired):
        drift = []
        for field in ("compat", "cluster_size"):
            if desired.get(field) and spec.get(field) != desired[field]:
                drift.append(field)
        if desired.get("encryption") and not self._same_encryption(spec.get("encryption"), desired["encryption"]):
            drift.append("encryption")
        if desired["lazy_refcounts"] is not None and bool(spec.get("lazy_refcounts")) != desired["lazy_refcounts"]:
            drift.append("lazy_refcounts")
        if desired["backing_store"] and not spec.get("backing_store"):
            drift.append("backing_store")
        if drift:
            self.warnings.append("volume %s exists and differs in %s, which apply only when a volume is created: "
                                 "left as they are" % (self.name, ", ".join(drift)))

    def _same_encryption(self, have, want):
        """Whether the volume is encrypted as declared: the same format and the same secret, however each names
        it (libvirt writes the uuid of a secret declared by usage once it has re-read the pool)."""
        if not have or have.get("format") != want.get("format"):
            return False
        return self._secret_uuid(have.get("secret") or {}) == self._secret_uuid(want.get("secret") or {})

    def _secret_uuid(self, secret):
        if secret.get("uuid"):
            return canonical_uuid(secret["uuid"], "encryption.secret.uuid")
        found = self.connection.lookup_secret(usage=("volume", secret["usage"])) if secret.get("usage") else None
        return found.UUIDString() if found is not None else None

    # -- checks that ask libvirt or the host
    def _check_capacity_fits(self, spec):
        """Refuse a capacity the new volume cannot have, before anything is made (check mode as the real run).

        A qcow2 image is bounded by its cluster size, a raw file by its filesystem (ext4: 16 TiB
        with 4 KiB blocks), a partition by the free space of the disk.
        """
        capacity, row = spec.get("capacity"), self.handle.row
        if not capacity:
            return
        if spec.get("format") == "qcow2":
            cluster = spec.get("cluster_size") or QCOW2_DEFAULT_CLUSTER
            most = qcow2_max_capacity(cluster)
            where = "a qcow2 image with %s clusters (set a larger cluster_size)" % human(cluster)
        elif row.disk_type == "file" and self.connection.is_local():
            directory = (self.handle.spec.get("target") or {}).get("path")
            most = self.probe.max_file_size(directory)
            where = "a file on the filesystem of %s" % directory
        else:
            most, where = None, None
        if most is not None and capacity > most:
            raise ParameterError("capacity", "%s is more than %s can hold: at most %s" % (
                human_and_bytes(capacity), where, human_and_bytes(most)))
        if row.thick_volumes:
            free = call("reading pool %s" % self.handle.name, self.handle.pool.info)[3]
            if capacity > free + row.capacity_rounding:
                raise ParameterError("capacity", "%s does not fit: %s pool %s has %s free" % (
                    human_and_bytes(capacity), row.name, self.handle.name, human_and_bytes(free)))

    def _refuse_in_use(self, spec, what):
        """Refuse ``what`` (deleting, wiping, shrinking, replacing the volume) while guests or other volumes use it.

        Linked clones read their backing volume under their own writes: changing it under them
        corrupts them as surely as it does a guest's disk.
        """
        if self.params.get("allow_in_use"):
            return
        if self._users is None:
            self._users = (guests_using(self.connection.guest_disks(), self.handle, spec, self.connection.is_local()),
                           volumes_backed_by(self.connection, spec.get("path")))
        guests, clones = self._users
        if guests:
            raise UnsafeActionError(
                "volume %s of pool %s is used by guest(s) %s: %s would break them. Detach it first, or set "
                "allow_in_use: true" % (self.name, self.handle.name, ", ".join(guests), what), param="allow_in_use")
        if clones:
            raise UnsafeActionError(
                "volume %s of pool %s is the backing store of %s: %s would break them (they read it under their "
                "own writes). Delete them first, or set allow_in_use: true" % (
                    self.name, self.handle.name, ", ".join(clones), what), param="allow_in_use")

    def _check_secret(self, secret):
        """The passphrase secret must exist, be a volume secret and hold a value (libvirt checks only at creation)."""
        # Imported here: only an encrypted volume needs the secret module, which every other
        # storage_volume task would compile for nothing (Ansible ships module_utils as source).
        from ansible_collections.virtops.storage.plugins.module_utils.secret import check_secret_reference

        found = check_secret_reference(self.connection, secret, "volume", "encryption.secret",
                                       must_exist=not self.module.check_mode)
        if isinstance(found, str):  # check mode: an earlier task of the play may define it
            self.warnings.append(found)
            return
        try:
            found.value(0)
        except libvirt.libvirtError as exc:
            # a private secret's value cannot be read back (INVALID_SECRET): it is there or libvirt says so later
            if exc.get_error_code() == libvirt.VIR_ERR_NO_SECRET:
                raise ParameterError("encryption.secret", "secret %s has no value: set the passphrase first" % (
                    secret.get("uuid") or secret.get("usage")))

    def _source_volume(self, source, option):
        """Return (PoolHandle, virStorageVol, spec) of the volume ``option`` (clone_from, backing_store) names.

        A volume whose import did not finish holds part of an image: a copy or an overlay of it would
        keep that for good, so it is refused until its import task ran again.
        """
        handle = self.handle
        if source.get("pool") and source["pool"] != self.handle.name:
            handle = lookup_active_pool(self.connection, source["pool"], param=option + ".pool")
        volume = lookup_volume(handle, source["name"])
        if volume is None:
            raise ParameterError(option + ".name", "pool %s has no volume %s%s" % (
                handle.name, source["name"], " to clone" if option == "clone_from" else ""))
        spec = read_volume(handle, volume)[0]
        record = self.records.of_volume(import_key(handle.pool.UUIDString(), source["name"]), self._identity(spec))
        if record and record.get("state") == "importing":
            raise ParameterError(option + ".name", "volume %s of pool %s holds an import of %s that did not finish: "
                                 "run its import task again first" % (source["name"], handle.name, record["src"]))
        return handle, volume, spec

    def _backing_store(self, backing):
        """Return (path, capacity) of the declared backing store, checked to exist and to have the declared format.

        The capacity is the backing volume's when it is named by pool and name (None for a path).

        A wrong backing format is silent corruption: over a qcow2 base declared raw, a guest
        reads the base's qcow2 metadata as its disk's data.
        """
        if backing.get("path"):
            path, reported, capacity = backing["path"], None, None
            if self.connection.is_local() and not os.path.exists(path):
                raise ParameterError("backing_store.path", "%s does not exist on the host" % path)
        else:
            spec = self._source_volume(backing, "backing_store")[2]
            path, reported, capacity = spec["path"], spec.get("format"), spec.get("capacity")
        # the content tells its format; libvirt's report is all there is of a remote host's
        actual = self.probe.image_format(path) if self.connection.is_local() else reported
        if actual and _as_image_format(actual) != _as_image_format(backing["format"]):
            raise ParameterError("backing_store.format", "the backing store %s is a %s image, not %s: declare "
                                 "format: %s (a guest would read the %s metadata as data)" % (
                                     path, actual, backing["format"], _as_image_format(actual), actual))
        return path, capacity

    # -- apply (side effects only)
    def _create(self, spec, desired):
        flags = 0
        if desired["preallocation"] == "metadata" or (desired["preallocation"] == "falloc" and spec.get("format") == "qcow2"):
            flags |= libvirt.VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA
        try:
            self.volume = self._create_volume(build_volume_xml(spec), flags, bool(desired["encryption"]))
        except LibvirtCallError as exc:
            if desired["encryption"] and exc.libvirt_code == libvirt.VIR_ERR_NO_SECRET:
                raise ParameterError("encryption.secret", "libvirt cannot use the passphrase secret: %s (a private "
                                     "secret's value is checked only at creation); no volume was created" % exc.msg)
            raise
        self.records.remove(self._record_key())  # a record of an earlier volume of that name is not this one's
        self._fit_for_gluster(spec)
        if desired["preallocation"] == "full":
            self._undo_on_failure("writing zeros into volume %s" % self.name, lambda: upload_zeros(
                self.connection.conn, self.volume, spec["capacity"]))

    def _create_volume(self, xml, flags, encrypted):
        """createXML; for a LUKS volume again when qemu-img's timing of the key derivation failed.

        qemu-img (QEMU 7.2, as in Debian 12) times the LUKS key derivation with the thread's CPU clock
        and gives up when a coarse clock reads no time spent. libvirt removes the volume that failed,
        so a new attempt, which measures again, is safe.
        """
        attempt = 1
        while True:
            try:
                return call("creating volume %s in pool %s" % (self.name, self.handle.name),
                            self.handle.pool.createXML, xml, flags)
            except LibvirtCallError as exc:
                if not encrypted or _LUKS_TIMING_ERROR not in exc.msg or attempt == LUKS_TIMING_ATTEMPTS:
                    raise
                time.sleep(0.2 * attempt)  # a busy host starves the timed thread: give it a quieter moment
                attempt += 1

    def _clone(self, spec, source_volume):
        self.volume = call("cloning volume %s into %s" % (source_volume.name(), self.name),
                           self.handle.pool.createXMLFrom, build_volume_xml(spec), source_volume, 0)
        self.records.remove(self._record_key())  # a record of an earlier volume of that name is not this one's
        self._fit_for_gluster(spec)

    def _fit_for_gluster(self, spec=None):
        """Pad a new qcow2 file of a netfs pool of format glusterfs to a whole number of 64 KiB.

        qemu-img ends a qcow2 image with its L1 table, at any length; over gluster (a network disk of the
        gluster pool on the same volume) QEMU reads whole 512-byte blocks, takes the short read at the end of
        the file for an I/O error and cannot open the image ("Could not read L1 table"). qcow2 ignores bytes
        past its last cluster, so the padding changes nothing else.
        """
        source = self.handle.spec.get("source") or {}
        if self.handle.row.name != "netfs" or source.get("format") != "glusterfs" or not self.connection.is_local():
            return
        if (spec or read_volume(self.handle, self.volume)[0]).get("format") != "qcow2":
            return
        path = call("reading volume %s path" % self.name, self.volume.path)
        try:
            size = os.stat(path).st_size
            if size % GLUSTER_QCOW2_ALIGNMENT:
                os.truncate(path, size + GLUSTER_QCOW2_ALIGNMENT - size % GLUSTER_QCOW2_ALIGNMENT)
        except OSError as exc:
            self.warnings.append("volume %s: padding the qcow2 file for QEMU's gluster driver failed (%s): attached "
                                 "over gluster it may not open" % (self.name, exc.strerror))

    def _content_format(self, spec):
        """The format of the bytes an import writes: the volume's own for files, raw for devices."""
        fmt = spec.get("format") or self.handle.row.volume_default_format
        return fmt if self.handle.row.disk_type == "file" and fmt not in RAW_FORMATS else "raw"

    def _import_new(self, spec, desired, source):
        key = self._record_key()
        try:
            source.prepare()
            image = source.converted_to(self._content_format(spec))
            spec = dict(spec, capacity=max(desired["capacity"] or 0, source.virtual_size))
            # recorded before the volume exists: a run cut off from here on leaves a volume the next run
            # knows to be an unfinished import
            self.records.begin(key, source)
            try:
                self.volume = call("creating volume %s in pool %s" % (self.name, self.handle.name),
                                   self.handle.pool.createXML, build_volume_xml(spec), 0)
            except LibvirtCallError as exc:
                if not exc.details.get("daemon_lost"):  # libvirt refused: no volume was made
                    self.records.remove(key)
                raise
            self.records.begin(key, source, self._identity(read_volume(self.handle, self.volume)[0]))
            self._undo_on_failure("importing %s into volume %s" % (source.shown, self.name),
                                  lambda: self._upload(image))
        finally:
            source.cleanup()
        self._after_import(desired, source)

    def _reimport(self, spec, desired, source):
        try:
            source.prepare()
            image = source.converted_to(self._content_format(spec))
            # grow (never shrink: an earlier action of this run may have grown it) before anything is replaced
            if source.virtual_size > call("reading volume %s" % self.name, self.volume.info)[1]:
                if not supports(self.handle.row, "volume_resize"):
                    raise self._too_small_for(source.virtual_size, spec)
                self._resize(source.virtual_size, 0)
            # from here on the volume holds neither the old content nor the new one until the upload ends
            self.records.begin(self._record_key(), source, self._identity(spec))
            if supports(self.handle.row, "volume_wipe"):
                # a sparse upload skips the source's holes: zero the old content first, or it shows through them
                self._wipe(libvirt.VIR_STORAGE_VOL_WIPE_ALG_ZERO)
            self._upload(image)
        finally:
            source.cleanup()
        self._after_import(desired, source)

    def _after_import(self, desired, source):
        # an uploaded qcow2 brings its own virtual size: grow it to the declared capacity
        info = call("reading volume %s" % self.name, self.volume.info)
        if desired["capacity"] and info[1] < desired["capacity"]:
            self._resize(desired["capacity"], 0)
        spec, dummy = read_volume(self.handle, self.volume)
        self._fit_for_gluster(spec)
        self.records.finish(self._record_key(), source, self._identity(spec))

    def _plan_reimport_size(self, spec, source):
        """A re-import grows the volume to a larger image; a pool that cannot resize cannot take one, refused
        in check mode too. A local image's size is read without importing it, a URL's only once downloaded."""
        size = source.local_virtual_size()
        if size is None or size <= self._after.get("capacity", spec["capacity"]):
            return
        if not supports(self.handle.row, "volume_resize"):
            raise self._too_small_for(size, spec)
        self._after["capacity"] = size

    def _too_small_for(self, size, spec):
        return ParameterError("import_from", "the image is %s and volume %s %s, and %s pools cannot resize volumes: "
                              "nothing was replaced" % (human_and_bytes(size), self.name,
                                                        human_and_bytes(spec["capacity"]), self.handle.row.name))

    def _record_key(self):
        return import_key(self.handle.pool.UUIDString(), self.name)

    def _identity(self, spec):
        """The identity of the volume on this host (see HostProbe.volume_identity); None over a remote uri."""
        return self.probe.volume_identity(spec.get("path")) if self.connection.is_local() else None

    def _upload(self, image):
        if not self._copy_into_file(image):
            call("uploading into volume %s" % self.name, upload_sparse, self.connection.conn, self.volume, image)
        refresh_pool(self.handle)
        self.volume = lookup_volume(self.handle, self.name)

    def _copy_into_file(self, image):
        """Copy the image straight into the volume's file when the daemon runs here: libvirt's upload streams
        every byte through the daemon and a helper process, several times the time of a copy. False when the
        volume is not a file this module can write (then libvirt uploads it)."""
        if not self.connection.is_local():
            return False
        path = call("reading volume %s path" % self.name, self.volume.path)
        try:
            return copy_sparse(image, path)
        except OSError as exc:
            raise VirtopsError("writing the image into volume %s (%s) failed: %s" % (
                self.name, path, exc.strerror or exc))

    def _undo_on_failure(self, what, step):
        """Run ``step``; when it fails, delete the volume just created so nothing is left half-made."""
        try:
            step()
        except Exception as exc:  # pylint: disable=broad-except  # whatever failed, the half-made volume goes
            message = exc.msg if isinstance(exc, VirtopsError) else str(exc)
            try:
                delete_volume(self.module, self.connection, self.handle, self.volume, self.records)
                outcome = "the new volume was removed"
            except VirtopsError as cleanup:
                outcome = "removing the new volume failed too: %s" % cleanup.msg
            raise VirtopsError("%s failed: %s; %s" % (what, message, outcome))

    def _resize(self, capacity, flags):
        call("resizing volume %s" % self.name, self.volume.resize, capacity, flags)
        self._fit_for_gluster()  # a bigger L1 table may end the file

    def _set_permissions(self, path, changes):
        try:
            if "mode" in changes:
                os.chmod(path, int(changes["mode"], 8))
            if "owner" in changes or "group" in changes:
                os.chown(path, changes.get("owner", -1), changes.get("group", -1))
        except OSError as exc:
            raise VirtopsError("setting permissions of %s failed: %s" % (path, exc))

    def _wipe(self, flag):
        call("wiping volume %s" % self.name, self.volume.wipePattern, flag, 0)

    def _delete(self):
        delete_volume(self.module, self.connection, self.handle, self.volume, self.records)

    def diff_view(self, current, desired):
        """Before: the volume's declared-about fields; after: the same with what the planned actions change.

        Built from the plan itself (``_after``), so the diff is empty exactly when nothing changes.
        """
        if current is None:
            before = {"state": "absent"}
        else:
            spec = current["spec"]
            before = dict((key, spec[key]) for key in ("name", "path", "capacity", "format", "permissions",
                                                       "backing_store", "encryption") if spec.get(key) is not None)
            before["state"] = "present"
            if self._imported:
                before["import_from"] = self._imported
        if current is None:
            return before, dict(self._after or before)
        if self._after.get("state") == "absent":
            return before, dict(self._after)
        return before, dict(before, **self._after)


# ---------------------------------------------------------------- info

class VolumeInfoReader:
    """Reads the volumes of one pool for storage_volume_info: all of them or one by name. Never changes anything."""

    def __init__(self, module, connection):
        self.params = module.params
        self.connection = connection

    def run(self):
        """Return the module result: ``volumes`` (facts, used_by, disk) and, for one name, ``exists``."""
        handle = lookup_active_pool(self.connection, self.params["pool"])
        check_disk_options(handle.row, self.params.get("disk"))
        if self.params.get("refresh"):
            with host_locks(self.connection.uri, [], ["pool/" + handle.name]):
                refresh_pool(handle)
        name = self.params.get("name")
        if name:
            volume = lookup_volume(handle, name)
            volumes = [volume] if volume is not None else []
        else:
            volumes = sorted(call("listing volumes of pool %s" % handle.name, handle.pool.listAllVolumes, 0),
                             key=lambda v: v.name())
        local = self.connection.is_local()
        guest_disks = comparable_guest_disks(self.connection.guest_disks(), local) if volumes else []
        result = {"changed": False, "volumes": []}
        for spec, xml in read_volumes(handle, volumes):
            facts = volume_facts(handle, spec, xml, self.params.get("disk"))
            facts["used_by"] = guests_using_resolved(guest_disks, handle, spec, local)
            result["volumes"].append(facts)
        if name:
            result["exists"] = bool(volumes)
        return result
