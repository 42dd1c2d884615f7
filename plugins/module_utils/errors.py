# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception hierarchy of virtops.storage.

Code in module_utils raises these; only ``run_module`` (in ``converge.py``)
turns them into ``fail_json``, so every module fails the same way.
"""

from __future__ import annotations


class VirtopsError(Exception):
    """Base class: a failure the user can act on, with a clear message."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


class ParameterError(VirtopsError):
    """A module parameter is invalid; the message names the parameter."""

    def __init__(self, param, msg, **details):
        super().__init__("%s: %s" % (param, msg), param=param, **details)
        self.param = param


class UnsafeActionError(VirtopsError):
    """The task would lose data; the message says what and which flag allows it."""


# libvirt's virErrorDomain VIR_FROM_RPC: the error came from the connection to the daemon, not from the daemon
VIR_FROM_RPC = 7
DAEMON_LOST = ("the connection to the libvirt daemon was lost (it stopped or crashed): start it again and "
               "run the task again, which converges from what was done")


class LibvirtCallError(VirtopsError):
    """A libvirt call failed; the message names the action that failed (and says so when the daemon went away)."""

    def __init__(self, action, error, done=None):
        text = error.get_error_message() if hasattr(error, "get_error_message") else str(error)
        msg = "%s failed: %s" % (action, text)
        lost = daemon_lost(error)
        if lost:
            msg += "; " + DAEMON_LOST
        if done:
            msg += " (already done in this task: %s)" % ", ".join(done)
        super().__init__(msg, action=action, libvirt_code=_code(error), daemon_lost=lost or None)
        self.error = error
        self.libvirt_code = _code(error)


def daemon_lost(error):
    """True when a libvirt error says the connection to the daemon broke (not that the daemon refused)."""
    get_domain = getattr(error, "get_error_domain", None)
    return bool(get_domain) and get_domain() == VIR_FROM_RPC


def _code(error):
    get_code = getattr(error, "get_error_code", None)
    return get_code() if get_code else None
