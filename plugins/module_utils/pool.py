# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Storage pools: the converger behind storage_pool and the reader behind storage_pool_info."""

from __future__ import annotations

from ansible_collections.virtops.storage.plugins.module_utils.connection import call, libvirt
from ansible_collections.virtops.storage.plugins.module_utils.converge import (
    Action, Converger, differences, overlay, project)
from ansible_collections.virtops.storage.plugins.module_utils.errors import (
    ParameterError, UnsafeActionError, VirtopsError)
from ansible_collections.virtops.storage.plugins.module_utils.host_probe import HostProbe
from ansible_collections.virtops.storage.plugins.module_utils.pool_spec import (
    spec_from_params, validate_spec)
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import DISK_SECRET_TYPES, POOL_TYPES, supports
from ansible_collections.virtops.storage.plugins.module_utils.pool_xml import (
    build_pool_xml, parse_pool_xml)
from ansible_collections.virtops.storage.plugins.module_utils.image_import import ImportRecords
from ansible_collections.virtops.storage.plugins.module_utils.secret import check_secret_reference
from ansible_collections.virtops.storage.plugins.module_utils.volume import delete_volume, pool_handle, refresh_pool

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


def _changed_fields(before, after):
    """Return the dotted names of the fields that differ between two pool specs (both ways)."""
    return sorted(set(differences(before, after)) | set(differences(after, before)))


def _describe(found):
    if found.get("filesystem"):
        return "a %s filesystem" % found["filesystem"]
    if found.get("label"):
        parts = found.get("partitions") or []
        text = "a %s partition table" % found["label"]
        return text + (" with %d partition(s) (%s)" % (len(parts), ", ".join(parts)) if parts else "")
    return "data (%s)" % found.get("other", "unknown")


# ---------------------------------------------------------------- converger

class PoolConverger(Converger):
    """Converges one storage pool to the declared definition, state and autostart."""

    result_key = "pool"

    def __init__(self, module, connection, probe=None):
        super().__init__(module, connection)
        self.probe = probe or HostProbe(module)
        self.name = self.params.get("name")
        self.pool = None
        self._started_to_inspect = False

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
        spec = desired["spec"]
        new = current is None
        if new:
            if not spec.get("type"):
                raise ParameterError("type", "required to define pool %s, which does not exist" % self.name)
            validate_spec(spec, new=True, from_xml=bool(self.params.get("xml")))
            self._check_daemon_supports(spec["type"])
            full = spec
            changed_fields = []
        else:
            have_type = current["spec"]["type"]
            spec.setdefault("type", have_type)
            if spec["type"] != have_type:
                raise ParameterError("type", "pool %s exists with type %s; changing the type of a pool is "
                                     "not a redefinition: remove it (state: absent) first" % (self.name, have_type))
            validate_spec(spec, new=False, from_xml=bool(self.params.get("xml")))
            declared = dict((k, v) for k, v in spec.items() if k != "uuid" or self.params.get("xml"))
            changed_fields = differences(current["spec"], declared)
            full = overlay(current["spec"], spec)
        row = POOL_TYPES[spec["type"]]
        active = bool(current and current["active"])
        actions = []

        if new or changed_fields or not current["persistent"]:
            what = "define" if new else "redefine (%s)" % ", ".join(changed_fields or ["make persistent"])
            actions.append(Action("%s pool %s" % (what, self.name), lambda: self._define(full)))

        # fields whose new value the running pool does not use yet: changed now, or by an
        # earlier redefinition that was not followed by a restart
        stale = sorted(set(changed_fields) | set(current["pending"] if active else []))
        restart = active and bool(stale) and desired["state"] != "inactive"
        if restart and not self.params.get("restart"):
            restart = False
            self.warnings.append(
                "pool %s is active and still uses its old definition (%s changed); the new one takes effect "
                "when the pool restarts: set restart: true to restart it now (a fs/netfs pool is unmounted "
                "under running guests)" % (self.name, ", ".join(stale)))
        # the secret is needed now when the pool starts (or restarts) in this task
        self._check_auth_secret(full, must_exist=(restart or desired["state"] == "active" and not active)
                                and not self.module.check_mode)
        if restart:
            actions.append(Action("stop pool %s" % self.name, self._stop))
            active = False

        if desired["state"] in ("present", "active") and self.params.get("build", True) and not active:
            build = plan_build(row, full, self.probe, self.params.get("overwrite"), declared=spec)
            if build:
                mode, description = build
                actions.append(Action("build pool %s: %s" % (self.name, description),
                                      lambda: self._build(mode)))

        if (desired["state"] == "active" or restart) and not active:
            actions.append(Action("start pool %s" % self.name, self._start))
        if desired["state"] == "inactive" and active:
            actions.append(Action("stop pool %s" % self.name, self._stop))

        autostart = desired["autostart"]
        if autostart is not None and autostart != bool(current and current["autostart"]):
            actions.append(Action("%s autostart of pool %s" % ("enable" if autostart else "disable", self.name),
                                  lambda: self._set_autostart(autostart)))
        return actions

    def _plan_absent(self, current):
        if current is None:
            return []
        row = POOL_TYPES[current["spec"]["type"]]
        actions = []
        active = current["active"]
        if self.params.get("delete_storage"):
            if not supports(row, "delete"):
                raise ParameterError("delete_storage", "pool type %s cannot delete its underlying storage "
                                     "(libvirt has no delete for it)" % row.name)
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

    def _check_auth_secret(self, spec, must_exist):
        """The secret the source auth names exists with the usage type of the auth (chap: iscsi, ceph: ceph).

        A missing one fails only when the pool is to start now (libvirt would fail to log in);
        otherwise it is a warning: an earlier task of the play may define it.
        """
        auth = spec.get("source", {}).get("auth")
        if not auth:
            return
        reference = {"uuid": auth.get("secret_uuid")} if auth.get("secret_uuid") else {"usage": auth.get("secret_usage")}
        found = check_secret_reference(self.connection, reference, DISK_SECRET_TYPES[auth["type"]],
                                       "source.auth.secret", must_exist)
        if isinstance(found, str):
            self.warnings.append(found)

    def _check_daemon_supports(self, pool_type):
        supported = self.connection.supported_pool_types()
        if pool_type not in supported:
            raise ParameterError("type", "pool type %s is not supported by the libvirt daemon at %s (its "
                                 "storage driver lacks that backend; supported: %s)" % (
                                     pool_type, self.connection.uri, ", ".join(supported)))

    def diff_view(self, current, desired):
        before_spec = project(current["spec"], desired["spec"]) if current else {}
        before = {"state": "absent"} if current is None else dict(
            before_spec, state="active" if current["active"] else "inactive", autostart=current["autostart"])
        if desired["state"] == "absent":
            return before, {"state": "absent"}
        after = overlay(before, desired["spec"])
        if desired["state"] != "present":
            after["state"] = desired["state"]
        elif current is None:
            after["state"] = "inactive"
        if desired["autostart"] is not None:
            after["autostart"] = desired["autostart"]
        return before, after

    # -- apply (side effects only)
    def _define(self, spec):
        conn = self.connection.conn
        self.pool = call("defining pool %s" % self.name, conn.storagePoolDefineXML, build_pool_xml(spec), 0)

    def _build(self, mode):
        call("building pool %s" % self.name, self.pool.build, getattr(libvirt, BUILD_FLAGS[mode]))

    def _start(self):
        call("starting pool %s" % self.name, self.pool.create, 0)

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
        if self.pool.isPersistent():
            call("undefining pool %s" % self.name, self.pool.undefine)

    def _empty_pool(self):
        handle, records = pool_handle(self.pool), ImportRecords()
        refresh_pool(handle)
        volumes = call("listing volumes of pool %s" % self.name, self.pool.listAllVolumes, 0)
        if volumes and not self.params.get("delete_volumes"):
            names = sorted(v.name() for v in volumes)
            if self._started_to_inspect:  # leave the pool as it was found
                self._stop()
            raise UnsafeActionError(
                "pool %s holds %d volume(s) (%s): deleting its storage would destroy them. Set "
                "delete_volumes: true to delete them too" % (self.name, len(names), ", ".join(names)),
                param="delete_volumes")
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
            pool = self.connection.lookup_pool(name)
            pools = [pool] if pool is not None else []
        else:
            pools = sorted(self.connection.list_pools(), key=lambda p: p.name())
        result = {"changed": False, "pools": [self._facts(p) for p in pools]}
        if name:
            result["exists"] = bool(pools)
        return result

    @staticmethod
    def _facts(pool):
        facts = pool_facts(pool)
        facts["volume_count"], facts["overcommit_ratio"] = volume_summary(pool, facts)
        return facts
