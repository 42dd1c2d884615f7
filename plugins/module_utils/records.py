# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small records the modules keep on the host between runs.

libvirt does not remember everything a later run needs to stay idempotent:
which image was imported into a volume, or whether the value of a private
secret (which libvirt never returns) is the one the playbook declares. Each
record is one small JSON file named after a hash of its key, in a directory
only its owner can read: root's ``/var/lib/virtops-storage/<kind>``, else the
user's state directory.
"""

from __future__ import annotations

import hashlib
import json
import os

_STATE_HOME = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")


def record_dirs(kind):
    """The directories records of ``kind`` may live in, the preferred one first."""
    return ("/var/lib/virtops-storage/" + kind, os.path.join(_STATE_HOME, "virtops-storage", kind))


class RecordStore:
    """One JSON record per key, in the first writable directory of ``directories``."""

    def __init__(self, directories):
        self.directories = directories

    @staticmethod
    def _name(key):
        return hashlib.sha256(key.encode("utf-8")).hexdigest() + ".json"

    def read(self, key):
        """Return the record of ``key`` (a dict) or None."""
        for directory in self.directories:
            try:
                with open(os.path.join(directory, self._name(key))) as handle:
                    return json.load(handle)
            except (OSError, ValueError):
                continue
        return None

    def write(self, key, record):
        """Store the record of ``key`` (readable by its owner only); False when no directory could take it."""
        for directory in self.directories:
            try:
                os.makedirs(directory, mode=0o700, exist_ok=True)
                path = os.path.join(directory, self._name(key))
                descriptor = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(descriptor, "w") as handle:
                    json.dump(dict(record, key=key), handle)
                os.rename(path + ".tmp", path)
                return True
            except OSError:
                continue
        return False

    def remove(self, key):
        """Forget ``key``."""
        for directory in self.directories:
            try:
                os.unlink(os.path.join(directory, self._name(key)))
            except OSError:
                pass
