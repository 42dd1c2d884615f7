# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Storage pools: the converger behind storage_pool and the reader behind storage_pool_info.

The volume, image-import and secret modules are imported inside the methods that need them (listing
or deleting a pool's volumes, checking a source auth secret): a task that converges a pool without
those never compiles them, and Ansible ships module_utils as source, compiled again on every task.
"""

from __future__ import annotations

import os

from ansible_collections.virtops.storage.plugins.module_utils.connection import call, libvirt
from ansible_collections.virtops.storage.plugins.module_utils.converge import (
    Action, Converger, differences, one_or_every, overlay, project)
from ansible_collections.virtops.storage.plugins.module_utils.errors import (
    LibvirtCallError, ParameterError, UnsafeActionError, VirtopsError)
from ansible_collections.virtops.storage.plugins.module_utils.host_probe import HostProbe
from ansible_collections.virtops.storage.plugins.module_utils.pool_spec import (
    spec_from_params, validate_spec)
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import DISK_SECRET_TYPES, POOL_TYPES, supports
from ansible_collections.virtops.storage.plugins.module_utils.pool_xml import (
    build_pool_xml, parse_pool_xml, with_libvirt_defaults)

# virStoragePoolState, by index
POOL_STATES = ("inactive", "building", "running", "degraded", "inaccessible")

# Build modes -> virStoragePoolBuildFlags (looked up lazily: libvirt may be missing)
BUILD_FLAGS = {"new": "VIR_STORAGE_POOL_BUILD_NEW", "no_overwrite": "VIR_STORAGE_POOL_BUILD_NO_OVERWRITE",
               "overwrite": "VIR_STORAGE_POOL_BUILD_OVERWRITE"}


# ---------------------------------------------------------------- facts

def pool_facts(pool):
    """Return the facts of a ``virStoragePool``: identity, state, sizes, source, target and XML."""
    name = pool.name()
    state, capacity, allocation, available = call("reading pool %s" % name, pool.info)
    xml = call("reading pool %s XML" % name, pool.XMLDesc, 0)
    spec = parse_pool_xml(xml)
    return {
        "name": name,
        "uuid": pool.UUIDString(),
        "type": spec["type"],
        "state": POOL_STATES[state] if state < len(POOL_STATES) else str(state),
        "active": bool(call("reading pool %s state" % name, pool.isActive)),
        "persistent": bool(call("reading pool %s persistence" % name, pool.isPersistent)),
        "autostart": bool(call("reading pool %s autostart" % name, pool.autostart)),
        "capacity": capacity,
        "allocation": allocation,
        "available": available,
        "target_path": spec.get("target", {}).get("path"),
        "source": spec.get("source", {}),
        "xml": xml,
    }


def volume_summary(pool, facts):
    """Return (volume count, overcommit ratio) of a pool from its ``pool_facts``; (None, None) when inactive.

    The ratio is the sum of the volumes' capacities over the pool's capacity:
    above 1.0 the pool is thinly provisioned beyond what it can hold.
    """
    if not facts["active"]:
        return None, None
    volumes = call("listing volumes of pool %s" % facts["name"], pool.listAllVolumes, 0)
    total = sum(call("reading volume %s" % v.name(), v.info)[1] for v in volumes)
    capacity = facts["capacity"]
    return len(volumes), (round(float(total) / capacity, 4) if capacity else None)


# ---------------------------------------------------------------- build decision

def plan_build(row, spec, probe, overwrite, declared=None):
    """Decide whether a pool needs building before it can start.

    ``spec`` is the pool's full definition, ``declared`` the part the user
    declared (the whole ``spec`` when None). Returns None, or (mode,
    description) with mode one of BUILD_FLAGS. Raises UnsafeActionError when
    the device holds other data and ``overwrite`` is not set: the message says
    what is there and that overwrite destroys it.
    """
    kind = row.build_probe
    if kind is None:
        return None
    target = spec.get("target", {}).get("path")
    if kind == "directory":
        if not probe.is_dir(target):
            return "new", "create directory %s" % target
        # libvirt applies the target permissions only when it builds the pool (an existing
        # directory is chmod/chown-ed then), and reports the directory's own permissions once the
        # pool runs: declared permissions the directory lacks need a build.
        wanted = ((declared if declared is not None else spec).get("target") or {}).get("permissions") or {}
        have = probe.permissions(target)
        wrong = [key for key in ("mode", "owner", "group")
                 if wanted.get(key) is not None and wanted[key] != have[key]]
        if wrong:
            return "new", "set %s of directory %s to %s" % (
                "/".join(wrong), target, ", ".join(str(wanted[key]) for key in wrong))
        return None
    device = spec["source"]["devices"][0]["path"]
    if not probe.exists(device):
        raise ParameterError("source.devices", "device %s does not exist on the host" % device)
    found = probe.signature(device)
    if "error" in found:
        raise VirtopsError("cannot probe device %s for existing data: %s" % (device, found["error"]))
    want = spec["source"].get("format") or row.source_formats[0]
    have = found.get("filesystem") if kind == "filesystem" else found.get("label")
    anything = row.source_formats[0]  # 'auto' / 'unknown': whatever is there is accepted
    if not found:
        if kind == "filesystem":
            if want == anything:
                raise ParameterError("source.format", "device %s is blank: name the filesystem to create "
                                     "on it (for example ext4 or xfs)" % device)
            return "no_overwrite", "format %s as %s" % (device, want)
        label = "dos" if want == anything else want
        return "no_overwrite", "write a %s partition table on %s" % (label, device)
    if have and want in (anything, have):
        if kind == "filesystem" and not probe.is_dir(target):
            return "new", "create mount point %s" % target
        return None
    what = _describe(found)
    wanted = ("a %s filesystem" % want) if kind == "filesystem" else ("a %s partition table" % want)
    if not overwrite:
        raise UnsafeActionError(
            "device %s holds %s; building pool %s as %s would destroy it. Set overwrite: true "
            "to let the module build the pool over it (all data on %s is lost)" % (
                device, what, spec["name"], wanted, device), param="overwrite")
    return "overwrite", "build %s on %s, destroying %s" % (wanted, device, what)


# ---------------------------------------------------------------- source conflicts

def source_conflict(row, spec, other_row, other):
    """Return the parameter libvirt's define refuses ``spec`` on because pool ``other`` has it too, or None.

    The rules of libvirt 9.0's virStoragePoolObjSourceFindDuplicate (see SOURCE_CONFLICTS in
    pool_types); ``spec`` and ``other`` are full pool specs (libvirt's defaults filled in), ``row``
    and ``other_row`` their table rows. A pool never conflicts with itself (the same name).
    """
    kind = other_row.source_conflict
    if kind is None or other["name"] == spec["name"]:
        return None
    ours, theirs = spec.get("source") or {}, other.get("source") or {}
    if kind in ("source.devices", "source.devices+initiator"):
        comparable = row.source_conflict == kind if kind == "source.devices" else (
            row is other_row and ours.get("initiator_iqn") == theirs.get("initiator_iqn"))
        shared = set(d["path"] for d in ours.get("devices") or []) & set(d["path"] for d in theirs.get("devices") or [])
        return "source.devices" if comparable and shared else None
    if row is not other_row:
        return None
    if kind == "target.path":
        return kind if (spec.get("target") or {}).get("path") == (other.get("target") or {}).get("path") else None
    if kind == "source.dir":
        same = ours.get("name") == theirs.get("name") and ours.get("dir") == theirs.get("dir")
        return kind if same and _same_single_host(ours, theirs) else None
    return kind  # 'type': one pool of the type per host


def _same_single_host(ours, theirs):
    """libvirt's virStoragePoolSourceMatchSingleHost: the first hosts match by name, and by port when ours has one."""
    mine, other = (ours.get("hosts") or [{}])[0], (theirs.get("hosts") or [{}])[0]
    if mine.get("port") and mine.get("port") != other.get("port"):
        return False
    return mine.get("name") == other.get("name")


def _conflict_value(param, other):
    """What pool ``other`` holds that the conflict on ``param`` is about, for the message."""
    source = other.get("source") or {}
    if param == "target.path":
        return "target path %s" % other["target"]["path"]
    if param == "source.devices":
        return "device(s) %s" % ", ".join(d["path"] for d in source.get("devices") or [])
    if param == "source.dir":
        return "source %s:%s" % ((source.get("hosts") or [{}])[0].get("name"), source.get("dir"))
    return "the one %s pool a host may have" % other["type"]


def _changed_fields(before, after):
    """Return the dotted names of the fields that differ between two pool specs (both ways)."""
    return sorted(set(differences(before, after)) | set(differences(after, before)))


def _listed(names, most=20):
    """Volume names for a message or a diff: all of them up to ``most``, then how many more."""
    shown = ", ".join(names[:most])
    return shown + (" and %d more" % (len(names) - most) if len(names) > most else "")


def _describe(found):
    if found.get("filesystem"):
        return "a %s filesystem" % found["filesystem"]
    if found.get("label"):
        parts = found.get("partitions") or []
        text = "a %s partition table" % found["label"]
        return text + (" with %d partition(s) (%s)" % (len(parts), ", ".join(parts)) if parts else "")
    return "data (%s)" % found.get("other", "unknown")


# ---------------------------------------------------------------- converger

class Creation:
    """What this task made of a pool that did not exist before it: undone when its build or start fails."""

    def __init__(self):
        self.defined = False      # this task defined the pool (it did not exist before)
        self.failed = False       # building or starting that pool failed
        self.directories = []     # directories its build made, deepest first (None: not seen, remote daemon)
        self.device = None        # the device its build wrote a filesystem or partition table on


class PoolConverger(Converger):
    """Converges one storage pool to the declared definition, state and autostart."""

    result_key = "pool"

    def __init__(self, module, connection, probe=None):
        super().__init__(module, connection)
        self.probe = probe or HostProbe(module)
        self.name = self.params.get("name")
        self.pool = None
        self._started_to_inspect = False
        # what the diff shows beyond the declared fields: before (volumes listed), after (what the plan does)
        self._diff_before = {}
        self._diff_extra = {}
        self._creation = Creation()

    def _converge(self, desired):
        """Converge; a pool this task defined and could not build or start is undefined again (DESIGN: no half-made pool).

        The undo runs under the task's host lock, before another task on the pool may look at it.
        """
        try:
            return super()._converge(desired)
        except VirtopsError as exc:
            if self._creation.failed:
                exc.msg += self._undo_creation()
            raise

    # -- read
    def read_desired(self):
        if self.params.get("delete_volumes") and not self.params.get("delete_storage"):
            raise ParameterError("delete_volumes", "only applies with delete_storage: true")
        if self.params.get("delete_storage") and self.params["state"] != "absent":
            raise ParameterError("delete_storage", "only applies with state: absent")
        spec = spec_from_params(self.params)
        self.name = spec["name"]
        return {"spec": spec, "state": self.params["state"], "autostart": self.params.get("autostart")}

    def lock_names(self, desired):
        return ["pool/" + self.name]

    def read_current(self):
        self.pool = self.connection.lookup_pool(self.name)
        if self.pool is None:
            return None
        xml = call("reading pool %s definition" % self.name, self.pool.XMLDesc,
                   libvirt.VIR_STORAGE_XML_INACTIVE)
        active = bool(call("reading pool %s state" % self.name, self.pool.isActive))
        spec = parse_pool_xml(xml)
        # A running pool keeps the definition it was started with until it stops: libvirt returns
        # the pending (redefined) one only for VIR_STORAGE_XML_INACTIVE, and the very same XML for
        # both when nothing is pending.
        live = parse_pool_xml(call("reading pool %s running definition" % self.name, self.pool.XMLDesc, 0)) \
            if active else spec
        return {
            "spec": spec,
            "pending": _changed_fields(live, spec),
            "active": active,
            "persistent": bool(call("reading pool %s persistence" % self.name, self.pool.isPersistent)),
            "autostart": bool(call("reading pool %s autostart" % self.name, self.pool.autostart)),
        }

    def facts(self):
        pool = self.connection.lookup_pool(self.name)
        return pool_facts(pool) if pool is not None else None

    # -- plan
    def plan(self, current, desired):
        if desired["state"] == "absent":
            return self._plan_absent(current)
        full, changed_fields = self._full_definition(current, desired["spec"])
        row = POOL_TYPES[full["type"]]
        self._check_auth_secret(full)
        actions = self._plan_definition(current, full, changed_fields)
        if actions and current is not None and not current["persistent"]:
            self._diff_extra["persistent"] = True
        restart = self._plan_restart(current, desired, changed_fields)
        if restart:
            actions.append(Action("stop pool %s" % self.name, self._stop))
            self._diff_extra["restarted"] = "to use its new definition"
        elif desired["state"] == "active" and self._directory_gone(current, full):
            # libvirt keeps listing the volumes of a running dir pool whose directory was removed behind its back,
            # and fails on each: stopped, built and started again, the pool is what its definition says
            restart = True
            actions.append(Action("stop pool %s (its directory %s is gone)" % (self.name, full["target"]["path"]),
                                  self._stop))
            self._diff_extra["restarted"] = "its directory was gone"
        active = bool(current and current["active"]) and not restart
        actions.extend(self._plan_build_and_start(row, full, desired, active, restart))
        actions.extend(self._plan_autostart(current, desired))
        return actions

    def _full_definition(self, current, spec):
        """Validate the declared ``spec``; return (the whole definition to store, the fields that change)."""
        from_xml = bool(self.params.get("xml"))
        if current is None:
            if not spec.get("type"):
                raise ParameterError("type", "required to define pool %s, which does not exist" % self.name)
            validate_spec(spec, new=True, from_xml=from_xml)
            self._check_daemon_supports(spec["type"])
            return spec, []
        have_type = current["spec"]["type"]
        spec.setdefault("type", have_type)
        if spec["type"] != have_type:
            raise ParameterError("type", "pool %s exists with type %s; changing the type of a pool is "
                                 "not a redefinition: remove it (state: absent) first" % (self.name, have_type))
        validate_spec(spec, new=False, from_xml=from_xml)
        declared = dict((k, v) for k, v in spec.items() if k != "uuid" or from_xml)
        return overlay(current["spec"], spec), differences(current["spec"], declared)

    def _plan_definition(self, current, full, changed_fields):
        """Define a new pool, redefine a changed or transient one; libvirt's source conflicts are refused first."""
        new = current is None
        if not (new or changed_fields or not current["persistent"]):
            return []
        self._refuse_source_conflict(full)
        what = "define" if new else "redefine (%s)" % ", ".join(changed_fields or ["make persistent"])
        return [Action("%s pool %s" % (what, self.name), lambda: self._define(full, new))]

    def _plan_restart(self, current, desired, changed_fields):
        """True when the running pool restarts to use its new definition (restart: true); a warning otherwise."""
        if not (current and current["active"]) or desired["state"] == "inactive":
            return False
        # fields whose new value the running pool does not use yet: changed now, or by an
        # earlier redefinition that was not followed by a restart
        stale = sorted(set(changed_fields) | set(current["pending"]))
        if stale and not self.params.get("restart"):
            self.warnings.append(
                "pool %s is active and still uses its old definition (%s changed); the new one takes effect "
                "when the pool restarts: set restart: true to restart it now (a fs/netfs pool is unmounted "
                "under running guests)" % (self.name, ", ".join(stale)))
        return bool(stale) and bool(self.params.get("restart"))

    def _directory_gone(self, current, full):
        """Whether the running dir pool's directory no longer exists on this host."""
        return (bool(current and current["active"]) and full["type"] == "dir" and self.connection.is_local()
                and not self.probe.is_dir(full["target"]["path"]))

    def _plan_build_and_start(self, row, full, desired, active, restart):
        """Build (when the pool needs it), start or stop: the steps that use the pool's target and source."""
        state = desired["state"]
        builds = state in ("present", "active") and self.params.get("build", True) and not active
        starts = (state == "active" or restart) and not active
        if builds or starts:
            self._check_target(row, full)
        actions = []
        build = plan_build(row, full, self.probe, self.params.get("overwrite"), declared=desired["spec"]) \
            if builds else None
        if build:
            mode, description = build
            actions.append(Action("build pool %s: %s" % (self.name, description),
                                  lambda: self._build(mode, full)))
            self._diff_extra["build"] = description
        if starts:
            actions.append(Action("start pool %s" % self.name, self._start))
        if state == "inactive" and active:
            actions.append(Action("stop pool %s" % self.name, self._stop))
        return actions

    def _plan_autostart(self, current, desired):
        autostart = desired["autostart"]
        if autostart is None or autostart == bool(current and current["autostart"]):
            return []
        return [Action("%s autostart of pool %s" % ("enable" if autostart else "disable", self.name),
                       lambda: self._set_autostart(autostart))]

    def _plan_absent(self, current):
        if current is None:
            return []
        row = POOL_TYPES[current["spec"]["type"]]
        actions = []
        active = current["active"]
        # libvirt lists the volumes of an active pool only; an inactive one's, where the host shows them
        volumes = self._volume_names() if active else self._inactive_volume_names(row, current["spec"])
        self._diff_extra = {"state": "absent"}
        if volumes:
            self._diff_before["volumes"] = _listed(volumes)
        if self.params.get("delete_storage"):
            if not supports(row, "delete"):
                raise ParameterError("delete_storage", "pool type %s cannot delete its underlying storage "
                                     "(libvirt has no delete for it)" % row.name)
            if volumes and not self.params.get("delete_volumes"):
                raise self._holds_volumes(volumes)
            if volumes and not self.params.get("allow_in_use"):
                self._refuse_volumes_in_use(row, current["spec"], volumes)
            self._diff_extra["storage"] = "deleted"
            if volumes:
                self._diff_extra["volumes"] = "deleted"
            elif volumes is None:
                self._diff_extra["volumes"] = "deleted, if it holds any (listed when it starts)" \
                    if self.params.get("delete_volumes") else "none, checked when it starts"
        elif volumes:
            self._diff_extra["volumes"] = "left on disk"
            self.warnings.append("pool %s is removed from libvirt; its storage and its %d volume(s) (%s) stay on "
                                 "disk (set delete_storage: true and delete_volumes: true to delete them)" % (
                                     self.name, len(volumes), _listed(volumes)))
        if self.params.get("delete_storage"):
            if not active:
                actions.append(Action("start pool %s to list its volumes" % self.name, self._start_to_inspect))
            actions.append(Action("check that pool %s holds no volumes" % self.name
                                  if not self.params.get("delete_volumes")
                                  else "delete every volume of pool %s" % self.name, self._empty_pool))
            active = True
        if active:
            actions.append(Action("stop pool %s" % self.name, self._stop))
        if self.params.get("delete_storage"):
            actions.append(Action("delete the underlying storage of pool %s" % self.name, self._delete))
        actions.append(Action("undefine pool %s" % self.name, self._undefine))
        return actions

    def _check_auth_secret(self, spec):
        """The secret the source auth names exists with the usage type of the auth (chap: iscsi, ceph: ceph).

        As for a volume's passphrase secret, a missing one fails a real run whatever the state (libvirt
        would fail to log in when the pool starts, now or at boot); in check mode it is a warning: an
        earlier task of the play may define it. A secret of another usage type always fails.
        """
        auth = spec.get("source", {}).get("auth")
        if not auth:
            return
        from ansible_collections.virtops.storage.plugins.module_utils.secret import check_secret_reference  # lazy: see top

        reference = {"uuid": auth.get("secret_uuid")} if auth.get("secret_uuid") else {"usage": auth.get("secret_usage")}
        found = check_secret_reference(self.connection, reference, DISK_SECRET_TYPES[auth["type"]],
                                       "source.auth.secret", must_exist=not self.module.check_mode)
        if isinstance(found, str):
            self.warnings.append(found)

    def _check_target(self, row, spec):
        """A pool built or started on a local directory needs a directory (or nothing yet) at its target path."""
        path = spec.get("target", {}).get("path")
        if row.build_probe not in ("directory", "filesystem") or not path or not self.connection.is_local():
            return
        kind = self.probe.file_type(path)
        if kind not in (None, "directory"):
            raise ParameterError("target.path", "%s is a %s, not a directory: pool %s needs a directory there "
                                 "(remove it or choose another path)" % (path, kind, self.name))

    def _refuse_source_conflict(self, spec):
        """Refuse what libvirt's define refuses: a target, device or export another pool already has."""
        spec = with_libvirt_defaults(spec)
        row = POOL_TYPES[spec["type"]]
        for other in self.connection.read_each_pool(
                lambda pool: parse_pool_xml(call("reading pool %s XML" % pool.name(), pool.XMLDesc, 0))):
            param = source_conflict(row, spec, POOL_TYPES[other["type"]], other)
            if param:
                raise ParameterError(param, "pool %s already uses %s: libvirt refuses a second pool on it "
                                     "(storage source conflict)" % (other["name"], _conflict_value(param, other)))

    def _check_daemon_supports(self, pool_type):
        supported = self.connection.supported_pool_types()
        if pool_type not in supported:
            raise ParameterError("type", "pool type %s is not supported by the libvirt daemon at %s (its "
                                 "storage driver lacks that backend; supported: %s)" % (
                                     pool_type, self.connection.uri, ", ".join(supported)))

    def diff_view(self, current, desired):
        """Before: the declared fields, state and autostart; after: the same with what the planned actions change."""
        before_spec = project(current["spec"], desired["spec"]) if current else {}
        before = {"state": "absent"} if current is None else dict(
            before_spec, state="active" if current["active"] else "inactive", autostart=current["autostart"])
        if current is not None and not current["persistent"]:
            before["persistent"] = False
        before.update(self._diff_before)
        if desired["state"] == "absent":
            return before, dict(self._diff_extra) if current is not None else dict(before)
        after = overlay(before, desired["spec"])
        after.update(self._diff_extra)
        if desired["state"] != "present":
            after["state"] = desired["state"]
        elif current is None:
            after["state"] = "inactive"
        if desired["autostart"] is not None:
            after["autostart"] = desired["autostart"]
        return before, after

    # -- apply (side effects only)
    def _define(self, spec, new):
        conn = self.connection.conn
        self.pool = call("defining pool %s" % self.name, conn.storagePoolDefineXML, build_pool_xml(spec), 0)
        self._creation.defined = new

    def _build(self, mode, spec):
        path = spec.get("target", {}).get("path")
        local = self.connection.is_local()
        missing = self.probe.missing_directories(path) if path and local else []
        try:
            self._creating("building pool %s" % self.name, self.pool.build, getattr(libvirt, BUILD_FLAGS[mode]))
        finally:
            # None: the build ran on another host, whose directories the module cannot see
            self._creation.directories = [d for d in missing if self.probe.file_type(d) == "directory"] \
                if local else None
            if mode != "new":
                self._creation.device = spec["source"]["devices"][0]["path"]

    def _start(self):
        try:
            self._creating("starting pool %s" % self.name, self.pool.create, 0)
        except LibvirtCallError as exc:
            from ansible_collections.virtops.storage.plugins.module_utils.volume import (  # lazy: see top
                explained_start_error)
            spec = parse_pool_xml(call("reading pool %s XML" % self.name, self.pool.XMLDesc, 0))
            raise explained_start_error(POOL_TYPES[spec["type"]], spec, exc, self.connection.is_local())

    def _creating(self, action, function, flags):
        """Build or start; when that fails on a pool this task defined, ``run`` undoes the pool."""
        try:
            call(action, function, flags)
        except LibvirtCallError:
            self._creation.failed = self._creation.defined
            raise

    def _start_to_inspect(self):
        self._start()
        self._started_to_inspect = True

    def _stop(self):
        call("stopping pool %s" % self.name, self.pool.destroy)

    def _set_autostart(self, value):
        call("setting autostart of pool %s" % self.name, self.pool.setAutostart, 1 if value else 0)

    def _delete(self):
        call("deleting the storage of pool %s" % self.name, self.pool.delete, 0)

    def _undefine(self):
        if call("reading pool %s persistence" % self.name, self.pool.isPersistent):
            call("undefining pool %s" % self.name, self.pool.undefine)

    def _undo_creation(self):
        """Undefine the pool this task defined and remove the empty directories its build made; say what was done."""
        try:
            self._undefine()
        except LibvirtCallError as exc:
            return "; undefining the new pool again failed too: %s" % exc.msg
        removed, left = [], []
        for directory in self._creation.directories or []:  # deepest first
            try:
                os.rmdir(directory)
                removed.append(directory)
            except OSError as exc:
                left.append("%s (%s)" % (directory, exc.strerror))
        text = "; the pool was undefined again"
        if removed:
            text += " and %s %s removed" % ("directory" if len(removed) == 1 else "directories", ", ".join(removed))
        if left:
            return text + "; directory %s, made by its build, is left" % ", ".join(left)
        if self._creation.device:
            return text + "; device %s may keep what the build wrote on it" % self._creation.device
        if self._creation.directories is None:
            return text + "; directories its build made on the daemon's host are left (the connection is not local)"
        return text + ": the host is as before"

    def _volume_names(self):
        """The names of the volumes of the active pool, as its storage holds them now."""
        from ansible_collections.virtops.storage.plugins.module_utils.volume import pool_handle, refresh_pool  # lazy: see top

        refresh_pool(pool_handle(self.pool), param=None)
        return sorted(v.name() for v in call("listing volumes of pool %s" % self.name, self.pool.listAllVolumes, 0))

    def _inactive_volume_names(self, row, spec):
        """The volumes of an inactive pool as the host shows them (None when it cannot without starting the pool)."""
        if not self.connection.is_local():
            return None
        if row.inactive_volumes == "directory":
            target = spec["target"]["path"]
            return self.probe.entries(target) if self.probe.is_dir(target) else []
        if row.inactive_volumes == "partitions":
            device = spec["source"]["devices"][0]["path"]
            return sorted(self.probe.partitions(device)) if self.probe.exists(device) else []
        return None

    def _refuse_volumes_in_use(self, row, spec, names):
        """delete_volumes deletes every volume of the pool: not one a guest uses or that backs another pool's."""
        from ansible_collections.virtops.storage.plugins.module_utils.volume import (  # lazy: see top
            PoolHandle, backing_users, comparable_guest_disks, guests_using_resolved, volumes_backed_by)

        target = (spec.get("target") or {}).get("path")
        handle = PoolHandle(self.pool, self.name, spec, row)
        local = self.connection.is_local()
        disks, clones = comparable_guest_disks(self.connection.guest_disks(), local), backing_users(self.connection)
        used = []
        for name in names:
            volume = {"name": name, "path": os.path.join(target, name) if target else None}
            users = guests_using_resolved(disks, handle, volume, local) + [
                where for where in volumes_backed_by(self.connection, volume["path"], clones)
                if not where.startswith(self.name + "/")]
            if users:
                used.append("%s (used by %s)" % (name, ", ".join(users)))
        if used:
            raise UnsafeActionError(
                "pool %s: deleting its volumes would break what uses them: %s. Detach or delete those first, or "
                "set allow_in_use: true" % (self.name, "; ".join(used)), param="allow_in_use")

    def _holds_volumes(self, names):
        return UnsafeActionError(
            "pool %s holds %d volume(s) (%s): deleting its storage would destroy them. Set "
            "delete_volumes: true to delete them too" % (self.name, len(names), _listed(names)),
            param="delete_volumes")

    def _empty_pool(self):
        from ansible_collections.virtops.storage.plugins.module_utils.image_import import ImportRecords  # lazy: see top
        from ansible_collections.virtops.storage.plugins.module_utils.volume import (  # lazy: see top
            delete_volume, pool_handle, refresh_pool)

        handle, records = pool_handle(self.pool), ImportRecords()
        if not refresh_pool(handle, param=None):
            # a volume is being made in it right now: what libvirt lists may miss it
            raise VirtopsError("pool %s is busy (another client is creating a volume in it): its volumes cannot be "
                               "listed for sure, so its storage is not deleted; run the task again" % self.name)
        volumes = call("listing volumes of pool %s" % self.name, self.pool.listAllVolumes, 0)
        if volumes and not self.params.get("delete_volumes"):
            if self._started_to_inspect:  # leave the pool as it was found
                self._stop()
            raise self._holds_volumes(sorted(v.name() for v in volumes))
        for volume in volumes:
            delete_volume(self.module, self.connection, handle, volume, records)


# ---------------------------------------------------------------- info

class PoolInfoReader:
    """Reads pools for storage_pool_info: all of them or one by name. Never changes anything."""

    def __init__(self, module, connection):
        self.params = module.params
        self.connection = connection

    def run(self):
        """Return the module result: ``pools`` (list of facts) and, for one name, ``exists``."""
        name = self.params.get("name")
        if name:
            pools = [self._facts(pool) for pool in one_or_every(name, self.connection.lookup_pool, None)]
        else:
            pools = sorted(self.connection.read_each_pool(self._facts), key=lambda facts: facts["name"])
        result = {"changed": False, "pools": pools}
        if name:
            result["exists"] = bool(pools)
        return result

    @staticmethod
    def _facts(pool):
        facts = pool_facts(pool)
        facts["volume_count"], facts["overcommit_ratio"] = volume_summary(pool, facts)
        return facts
