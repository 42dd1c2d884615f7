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


class LibvirtCallError(VirtopsError):
    """A libvirt call failed; the message names the action that failed."""

    def __init__(self, action, error, done=None):
        text = error.get_error_message() if hasattr(error, "get_error_message") else str(error)
        msg = "%s failed: %s" % (action, text)
        if done:
            msg += " (already done in this task: %s)" % ", ".join(done)
        super().__init__(msg, action=action, libvirt_code=_code(error))
        self.error = error
        self.libvirt_code = _code(error)


def _code(error):
    get_code = getattr(error, "get_error_code", None)
    return get_code() if get_code else None
