# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The converge engine shared by every state module, and the one error path.

A converger reads the current state, builds the desired state, plans an
ordered list of actions from their difference, applies them (check mode skips
only the side effects: the same plan is reported) and re-reads the object for
the result. ``run_module`` is the only place where errors become fail_json.
"""

from __future__ import annotations

import copy
import traceback

from ansible_collections.virtops.storage.plugins.module_utils.connection import (
    Connection, check_dependencies, libvirt)
from ansible_collections.virtops.storage.plugins.module_utils.errors import (
    LibvirtCallError, VirtopsError)
from ansible_collections.virtops.storage.plugins.module_utils.host_lock import host_locks
from ansible_collections.virtops.storage.plugins.module_utils.params import check_raw_arguments


class Action:
    """One step of a plan: a description for the user and the side effect to run."""

    def __init__(self, description, apply):
        self.description = description
        self.apply = apply

    def __repr__(self):
        return "Action(%r)" % self.description


def overlay(base, top):
    """Return ``base`` with ``top`` merged in: dicts recursively, everything else replaced."""
    result = copy.deepcopy(base) if base else {}
    for key, value in (top or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = overlay(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def project(current, declared):
    """Return the part of ``current`` that covers the keys present in ``declared``."""
    result = {}
    for key, value in (declared or {}).items():
        have = (current or {}).get(key)
        if isinstance(value, dict) and isinstance(have, dict):
            result[key] = project(have, value)
        else:
            result[key] = copy.deepcopy(have)
    return result


def differences(current, declared, prefix=""):
    """Return the dotted names of the declared fields whose current value differs."""
    changed = []
    for key, value in sorted((declared or {}).items()):
        have = (current or {}).get(key)
        name = prefix + key
        if isinstance(value, dict) and isinstance(have, dict):
            changed.extend(differences(have, value, name + "."))
        elif value != have:
            changed.append(name)
    return changed


class Converger:
    """Base class of the per-resource convergers (pool, volume, secret, attachment).

    Subclasses implement ``read_current``, ``read_desired``, ``plan`` and
    ``facts``; ``diff_view`` gives the before/after dicts for diff mode.
    """

    #: key of the object's facts in the module result ('pool', 'volume', ...)
    result_key = None

    def __init__(self, module, connection):
        self.module = module
        self.params = module.params
        self.connection = connection
        self.warnings = []
        self.applied = False  # whether this run changed the object (facts may reuse what read_current read)
        self.found = None  # whether the object was there when this run read it

    def read_current(self):
        """Return the current state as a comparable dict, or None when absent (after read_desired)."""
        raise NotImplementedError

    def read_desired(self):
        """Return the desired state built from the module parameters."""
        raise NotImplementedError

    def plan(self, current, desired):
        """Return the ordered list of Actions that take ``current`` to ``desired``."""
        raise NotImplementedError

    def facts(self):
        """Return the object's facts as they are now (None when it does not exist)."""
        raise NotImplementedError

    def lock_names(self, desired):
        """Return the names of the objects this task converges ('kind/name'): tasks on one of them take turns."""
        raise NotImplementedError

    def shared_lock_names(self, desired):
        """Return the names of the objects this task works inside of (a volume's pool): while it runs, no task
        changes them, but tasks inside them run side by side."""
        return []

    def diff_view(self, current, desired):
        """Return (before, after) dicts for diff mode."""
        return current or {}, desired or {}

    def run(self):
        """Converge and return the module result."""
        # desired first: bad input fails before libvirt is asked anything
        return self.converge(self.read_desired())

    def converge(self, desired):
        """Converge to ``desired`` (from ``read_desired``) under the host locks; return the module result."""
        with host_locks(self.connection.uri, self.lock_names(desired), self.shared_lock_names(desired)):
            return self._converge(desired)

    def _converge(self, desired):
        current = self.read_current()
        self.found = current is not None
        actions = self.plan(current, desired)
        done = []
        if not self.module.check_mode:
            for action in actions:
                try:
                    action.apply()
                except VirtopsError as exc:
                    exc.msg += self._progress(done, actions[len(done) + 1:])
                    raise
                done.append(action.description)
            self.applied = bool(actions)
        result = {
            "changed": bool(actions),
            "actions": [a.description for a in actions],
            self.result_key: self.facts(),
        }
        if self.module._diff:
            before, after = self.diff_view(current, desired)
            result["diff"] = {"before": before, "after": after}
        if self.warnings:
            result["warnings"] = self.warnings
        return result

    @staticmethod
    def _progress(done, left):
        text = ""
        if done:
            text += "; done before the failure: " + ", ".join(done)
        if left:
            text += "; not done: " + ", ".join(a.description for a in left)
        return text


def one_or_every(name, lookup, list_all):
    """The objects an info module reads: the one called ``name`` ([] when there is none), else every one by name."""
    if name:
        found = lookup(name)
        return [found] if found is not None else []
    return sorted(list_all(), key=lambda item: item.name())


def run_module(module, build):
    """Run ``build(module, connection).run()`` and exit; the one place errors become fail_json."""
    check_dependencies(module)
    connection = Connection(module.params["uri"])
    try:
        try:
            check_raw_arguments(module)  # what AnsibleModule converted silently, before anything else
            result = build(module, connection).run()
        except libvirt.libvirtError as exc:  # a libvirt call not wrapped by connection.call: still a clear error
            raise LibvirtCallError("a libvirt call", exc)
    except VirtopsError as exc:
        connection.close()
        details = dict((k, v) for k, v in exc.details.items() if v is not None)
        module.fail_json(msg=exc.msg, **details)
    except Exception as exc:  # pylint: disable=broad-except  # a bug of ours: say so, never a bare traceback
        connection.close()
        module.fail_json(msg="virtops.storage internal error (%s: %s); the task stopped there" % (
            type(exc).__name__, exc), exception=traceback.format_exc())
    connection.close()
    warnings = result.pop("warnings", [])
    for warning in warnings:
        module.warn(warning)
    module.exit_json(**result)
