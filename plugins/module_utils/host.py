# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host's whole storage declaration in one task: the batched converge behind storage_host and the role.

Each object (secret, pool, volume, guest disk) is converged by the converger of
its own module, fed an ``ObjectModule`` (the object's parameters, the task's
check and diff mode, the real module's commands and no_log values), all over
ONE connection. Every item is validated first, with the option spec of its
module (composed, not written again): a bad item fails the task before anything
changes. Then the whole declaration is planned (each converger in check mode):
a refusal (data at stake, an object in use) or any other error of any object
fails the task before the first change. When the plan changes nothing, it is
the result; else the objects are converged in dependency order (secrets, pools,
volumes, disks); the first failure stops the run, and the error says per object
what was done and what not. Objects not declared are never touched.

What check mode cannot see is planned only when the run gets there: the volumes
and disks inside a pool that the run itself makes or starts.
"""

from __future__ import annotations

import copy

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.virtops.storage.plugins.module_utils.attachment import (
    ATTACH_ARGUMENT_SPEC, ATTACH_CONSTRAINTS, AttachmentConverger)
from ansible_collections.virtops.storage.plugins.module_utils.converge import overlay
from ansible_collections.virtops.storage.plugins.module_utils.errors import ParameterError, VirtopsError
from ansible_collections.virtops.storage.plugins.module_utils.params import check_arguments
from ansible_collections.virtops.storage.plugins.module_utils.pool import PoolConverger
from ansible_collections.virtops.storage.plugins.module_utils.pool_spec import POOL_ARGUMENT_SPEC, POOL_CONSTRAINTS
from ansible_collections.virtops.storage.plugins.module_utils.secret import (
    SECRET_ARGUMENT_SPEC, SECRET_CONSTRAINTS, SecretConverger)
from ansible_collections.virtops.storage.plugins.module_utils.volume import VolumeConverger
from ansible_collections.virtops.storage.plugins.module_utils.volume_spec import VOLUME_ARGUMENT_SPEC

# a pool's volumes are declared inside it: their pool is the pool's name
VOLUME_ITEM_SPEC = dict((key, value) for key, value in VOLUME_ARGUMENT_SPEC.items() if key != "pool")


def without_defaults(spec):
    """``spec`` with no ``default`` at any depth: an item's omitted option is None, so that the declaration's
    defaults (pool_defaults, volume_defaults) and then the module's own defaults fill it, in that order."""
    result = {}
    for name, option in spec.items():
        option = dict((key, value) for key, value in option.items() if key != "default")
        if option.get("options"):
            option["options"] = without_defaults(option["options"])
        result[name] = option
    return result


def declared(value):
    """``value`` without the options left out (None), at any depth of dicts."""
    if isinstance(value, dict):
        return dict((key, declared(item)) for key, item in value.items() if item is not None)
    return value


# Keep in sync with the DOCUMENTATION of plugins/modules/storage_host.py. Pools, volumes and disks are lists of
# plain dicts here, each item validated against its module's spec after the declaration's defaults are merged in
# (validating them here would fill the module's defaults first). Secrets are declared with their options, so
# that AnsibleModule knows their values are no_log from the start (it logs the invocation before any code runs).
HOST_ARGUMENT_SPEC = dict(
    # the list names secrets; their values are no_log suboptions (value, value_b64)
    secrets=dict(type="list", elements="dict", default=[], no_log=False, options=without_defaults(SECRET_ARGUMENT_SPEC)),
    pools=dict(type="list", elements="dict", default=[]),
    disks=dict(type="list", elements="dict", default=[]),
    pool_defaults=dict(type="dict", default={}),
    volume_defaults=dict(type="dict", default={}),
    return_facts=dict(type="bool", default=False),
)


class Kind:
    """One kind of object of a declaration: its module's spec and constraints, converger and identity."""

    def __init__(self, name, spec, constraints, converger, identity):
        self.name = name
        self.spec = spec
        self.validator = ArgumentSpecValidator(spec, **constraints)
        self.converger = converger
        self.identity = identity


def _secret_id(params):
    return params.get("uuid") or "%s %s" % (params.get("usage_type"), params.get("usage_id"))


def _disk_id(params):
    source = (params.get("volume") and "%s/%s" % (params["volume"]["pool"], params["volume"]["name"])
              or params.get("path") or (params.get("disk_xml") and "disk_xml")
              or (params.get("disk") or {}).get("dev"))
    return "%s:%s" % (params["domain"], source)


KINDS = dict((kind.name, kind) for kind in (
    Kind("secret", SECRET_ARGUMENT_SPEC, SECRET_CONSTRAINTS, SecretConverger, _secret_id),
    Kind("pool", POOL_ARGUMENT_SPEC, POOL_CONSTRAINTS, PoolConverger, lambda params: params.get("name")),
    Kind("volume", VOLUME_ARGUMENT_SPEC, {}, VolumeConverger, lambda params: "%s/%s" % (params["pool"], params.get("name"))),
    Kind("disk", ATTACH_ARGUMENT_SPEC, ATTACH_CONSTRAINTS, AttachmentConverger, _disk_id),
))


def made(obj):
    """The references (kind, name) by which other objects of the declaration name ``obj``."""
    if obj.kind.name == "secret":
        return [ref for ref in (("secret", obj.params.get("uuid")), ("secret", obj.params.get("usage_id"))) if ref[1]]
    return [(obj.kind.name, obj.id)]


def needs(obj):
    """The references (kind, name) of the objects ``obj`` is made from or inside: its pool, the volumes it is
    cloned from or backed by, the volume a disk attaches, the secret of an encrypted volume or a pool's auth."""
    params = obj.params
    if obj.kind.name == "volume":
        refs = [("pool", params["pool"])]
        for key in ("backing_store", "clone_from"):
            source = params.get(key) or {}
            if source.get("name"):
                refs.append(("volume", "%s/%s" % (source.get("pool") or params["pool"], source["name"])))
        secret = (params.get("encryption") or {}).get("secret") or {}
    elif obj.kind.name == "disk":
        volume = params.get("volume") or {}
        refs = [("pool", volume["pool"]), ("volume", "%s/%s" % (volume["pool"], volume["name"]))] if volume else []
        secret = {}
    elif obj.kind.name == "pool":
        refs = []
        secret = ((params.get("source") or {}).get("auth") or {}).get("secret") or {}
    else:
        return []
    return refs + [("secret", secret[key]) for key in ("uuid", "usage") if secret.get(key)]


class ObjectModule:
    """What a converger uses of an AnsibleModule, for one object of the declaration.

    The parameters are the object's; check and diff mode, commands, the temporary directory and the
    no_log values (a converger adds a URL's password there) are the real module's.
    """

    def __init__(self, module, params, check_mode=None):
        self._module = module
        self.params = params
        self.check_mode = module.check_mode if check_mode is None else check_mode
        self._diff = module._diff
        self.no_log_values = module.no_log_values

    @property
    def tmpdir(self):
        return self._module.tmpdir

    def run_command(self, *args, **kwargs):
        return self._module.run_command(*args, **kwargs)

    def get_bin_path(self, *args, **kwargs):
        return self._module.get_bin_path(*args, **kwargs)


class DeclaredObject:
    """One object of the declaration: where it was declared, its kind, identity, converger and desired state."""

    def __init__(self, kind, where, params):
        self.kind = kind
        self.where = where  # the item's place among the options, for messages: pools[1].volumes[0]
        self.id = kind.identity(params)
        self.params = params
        self.converger = None  # made when the object's turn comes, dropped after it
        self.desired = None
        self.result = None

    def name_inside(self, exc):
        """Make the parameter an error names the option inside this item (pools[1].target.path)."""
        param = exc.details.get("param")
        exc.details["param"] = "%s.%s" % (self.where, param) if param else self.where


class HostConverger:
    """Converges a declaration of secrets, pools with their volumes, and guest disks, in one run."""

    def __init__(self, module, connection):
        self.module = module
        self.params = module.params
        self.connection = connection

    def run(self):
        objects = self._declared_objects()
        self._plan(objects)
        if self.module.check_mode or not any(obj.result["changed"] for obj in objects):
            return self._result(objects)  # check mode, or a run that would change nothing: the plan read all there is
        for obj in objects:
            obj.result = None
        self.connection.pool_handles = None  # the plan's pool handles are from before the pools change
        self._converge_all(objects, check_mode=False)
        return self._result(objects)

    def _plan(self, objects):
        """Every object planned by a converger in check mode; the first error fails before any change."""
        for obj in objects:  # every item validated, and its desired state built, before libvirt is asked anything
            self._prepare(obj, check_mode=True)
        try:
            self._converge_all(objects, check_mode=True)
        except VirtopsError as exc:
            failed = next(obj for obj in objects if obj.result is None)
            raise self._refused(failed, objects, exc)

    def _prepare(self, obj, check_mode):
        """Give ``obj`` its converger (fed the object's parameters) and its desired state."""
        obj.converger = obj.kind.converger(ObjectModule(self.module, obj.params, check_mode=check_mode),
                                           self.connection)
        obj.desired = self._checked(obj, obj.converger.read_desired)

    def _converge_all(self, objects, check_mode):
        """Converge (or, in check mode, plan) ``objects`` in order; the first error stops, saying what was done."""
        made_by_run = set()  # in check mode: what the run makes first, which libvirt cannot be asked about yet
        for obj in objects:
            if obj.kind.name in ("volume", "disk") and self.connection.pool_handles is None:
                self.connection.pool_handles = {}  # the pools are converged: their volumes share their handles
            waits_for = [ref for ref in needs(obj) if ref in made_by_run] if check_mode else []
            if waits_for:
                obj.result = {"changed": True, "actions": [
                    "converge once %s %s is made or started (check mode cannot plan over what the run makes "
                    "first)" % waits_for[0]]}
                made_by_run.update(made(obj))
                obj.converger = None
                continue
            if obj.converger is None:
                self._prepare(obj, check_mode)
            try:
                obj.result = obj.converger.converge(obj.desired)
            except VirtopsError as exc:
                if check_mode:
                    raise
                raise self._stopped(obj, objects, exc)
            if check_mode and obj.result["changed"] and self._not_there_yet(obj):
                made_by_run.update(made(obj))
            obj.converger = None  # what it read is in the result: not kept for a thousand objects

    @staticmethod
    def _not_there_yet(obj):
        """In check mode: whether the run makes (or, a pool, starts) the object, so it is not there to look at."""
        if obj.kind.name == "pool":
            return not (obj.result.get("pool") or {}).get("active")
        return not obj.converger.found and obj.params.get("state") != "absent"

    # -- the declaration
    def _declared_objects(self):
        """The objects, in dependency order, each with its parameters complete (defaults filled, validated)."""
        objects = []
        for index, item in enumerate(self.params["secrets"] or []):
            objects.append(self._object("secret", "secrets[%d]" % index, declared(item)))
        volumes = []
        pool_defaults = declared(self.params.get("pool_defaults") or {})
        volume_defaults = declared(self.params.get("volume_defaults") or {})
        for index, item in enumerate(self.params["pools"] or []):
            item = declared(item)
            pool_volumes = item.pop("volumes", None) or []
            pool = self._object("pool", "pools[%d]" % index, overlay(pool_defaults, item))
            objects.append(pool)
            if not isinstance(pool_volumes, list):
                raise ParameterError("pools[%d].volumes" % index, "must be a list of volumes")
            for number, volume in enumerate(pool_volumes):
                if not isinstance(volume, dict) or "pool" in volume:
                    raise ParameterError("pools[%d].volumes[%d]" % (index, number), "must be a dict of "
                                         "storage_volume options without pool (it is the pool's)")
                params = overlay(volume_defaults, declared(volume))
                params["pool"] = pool.params["name"]
                volumes.append(self._object("volume", "pools[%d].volumes[%d]" % (index, number), params))
        objects.extend(volumes)
        for index, item in enumerate(self.params["disks"] or []):
            objects.append(self._object("disk", "disks[%d]" % index, declared(item)))
        self._refuse_twice(objects)
        return objects

    def _object(self, kind_name, where, params):
        kind = KINDS[kind_name]
        # what AnsibleModule would refuse or convert silently (a list for a string), named inside the item
        check_arguments(kind.spec, params, prefix=where + ".", hidden=self.module.no_log_values)
        result = kind.validator.validate(copy.deepcopy(params))
        if result.error_messages:
            raise ParameterError(where, "; ".join(result.error_messages))
        self.module.no_log_values.update(result._no_log_values)  # pylint: disable=protected-access
        return DeclaredObject(kind, where, dict(result.validated_parameters, uri=self.params["uri"]))

    @staticmethod
    def _refuse_twice(objects):
        seen = {}
        for obj in objects:
            key = (obj.kind.name, obj.id)
            if key in seen:
                raise ParameterError(obj.where, "declares %s %s again (first declared at %s): declare each object "
                                     "once" % (obj.kind.name, obj.id, seen[key]))
            seen[key] = obj.where

    def _checked(self, obj, step):
        """Run ``step`` of one object; a parameter error names the option inside its item (pools[1].target)."""
        try:
            return step()
        except ParameterError as exc:
            obj.name_inside(exc)
            exc.msg = "%s (%s %s): %s" % (obj.where, obj.kind.name, obj.id, exc.msg)
            raise

    # -- the result
    def _stopped(self, failed, objects, exc):
        """The error of the object that failed, with what the run did before it and what it did not do."""
        done = [obj for obj in objects if obj.result is not None]
        changed = [obj for obj in done if obj.result["changed"]]
        left = objects[len(done) + 1:]
        where = "%s (%s %s)" % (failed.where, failed.kind.name, failed.id)
        failed.name_inside(exc)
        exc.msg = "%s failed: %s. Before it: %d object(s) converged, %d of them changed (%s); not done: %d object(s)" % (
            where, exc.msg, len(done), len(changed), ", ".join("%s %s" % (o.kind.name, o.id) for o in changed) or "none",
            len(left) + 1)
        exc.details["changes"] = self._changes(done)
        exc.details["not_done"] = ["%s %s" % (obj.kind.name, obj.id) for obj in [failed] + left]
        exc.details["summary"] = self._summary(objects)
        return exc

    def _refused(self, failed, plan, exc):
        """The error of the object whose plan failed: nothing was changed."""
        planned = [obj for obj in plan if obj.result is not None]
        failed.name_inside(exc)
        exc.msg = ("%s (%s %s): %s. Nothing was changed: the whole declaration is planned before the first change "
                   "(%d object(s) planned before this one)" % (
                       failed.where, failed.kind.name, failed.id, exc.msg, len(planned)))
        exc.details["changes"] = []
        exc.details["not_done"] = ["%s %s" % (obj.kind.name, obj.id) for obj in [failed] + [
            obj for obj in plan if obj is not failed]]
        for obj in plan:
            obj.result = None
        exc.details["summary"] = self._summary(plan)
        return exc

    def _result(self, objects):
        result = {"changed": any(obj.result["changed"] for obj in objects),
                  "summary": self._summary(objects), "changes": self._changes(objects)}
        if self.params.get("return_facts"):
            result["objects"] = [dict(kind=obj.kind.name, id=obj.id, facts=obj.result.get(obj.kind.converger.result_key))
                                 for obj in objects]
        if self.module._diff:
            result["diff"] = [dict(obj.result["diff"], before_header="%s %s" % (obj.kind.name, obj.id),
                                   after_header="%s %s" % (obj.kind.name, obj.id))
                              for obj in objects if obj.result["changed"] and obj.result.get("diff")]
        result["warnings"] = ["%s %s: %s" % (obj.kind.name, obj.id, warning)
                              for obj in objects for warning in obj.result.get("warnings") or []]
        return result

    @staticmethod
    def _summary(objects):
        """Counts per kind: changed, unchanged (and, after a failure, not done)."""
        summary = dict((kind + "s", {"changed": 0, "unchanged": 0, "not_done": 0}) for kind in KINDS)
        for obj in objects:
            counts = summary[obj.kind.name + "s"]
            if obj.result is None:
                counts["not_done"] += 1
            elif obj.result["changed"]:
                counts["changed"] += 1
            else:
                counts["unchanged"] += 1
        return summary

    @staticmethod
    def _changes(objects):
        return [dict(kind=obj.kind.name, id=obj.id, actions=obj.result["actions"])
                for obj in objects if obj.result is not None and obj.result["changed"]]
