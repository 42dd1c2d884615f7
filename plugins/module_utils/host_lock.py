# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host locks: tasks of parallel jobs that converge the same object take turns.

Two jobs on one host (parallel AWX runs, two playbooks) converging the same
pool, volume or secret would otherwise race: both find it absent, both create
it, and one fails ("exists already"), or one reads a volume the other is still
building. Each converger names the objects it works on; the module holds an
exclusive lock on each name for the whole read, plan and apply, so the second
task waits for the first and then converges from what the first left (usually:
nothing to do). The locks are flock(2) locks on files in a directory of the
host: the kernel drops them when the process ends, so a killed task leaves no
lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
import tempfile

from ansible_collections.virtops.storage.plugins.module_utils.errors import VirtopsError

LOCK_DIRS = ("/run/lock/virtops-storage",
             os.path.join(tempfile.gettempdir(), "virtops-storage-locks-%d" % os.getuid()))


def _private_directory(directory):
    """Make ``directory`` (0700), or take an existing one only when it is this user's own real directory.

    /run/lock is writable by everyone: a directory (or a symlink) another user put there first could
    hold a lock forever, or lead root's open() to a file of that user's choosing.
    """
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    status = os.lstat(directory)
    if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.geteuid() or status.st_mode & 0o077:
        raise OSError("%s is not a private directory of uid %d" % (directory, os.geteuid()))
    return directory


def _lock_file(uri, name):
    """Open (creating it) the lock file of object ``name`` on the libvirt at ``uri``."""
    digest = hashlib.sha256(("%s\0%s" % (uri, name)).encode("utf-8")).hexdigest()[:40]
    problems = []
    for directory in LOCK_DIRS:
        try:
            path = os.path.join(_private_directory(directory), digest + ".lock")
            return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600), "w")
        except OSError as exc:
            problems.append(str(exc))
    raise VirtopsError("cannot take the host lock of %s (%s): nothing was done" % (name, "; ".join(problems)))


@contextlib.contextmanager
def host_locks(uri, names, shared=()):
    """Hold an exclusive lock on each object name (e.g. 'volume/pool/vm1.qcow2') while the block runs, and a
    shared one on each name of ``shared`` (what the task works inside of and must not change under it,
    e.g. 'pool/images' for a volume: tasks on its volumes run side by side, a task on the pool waits).

    Locks are taken in sorted order, so two tasks that need the same names never
    wait for each other in a circle.
    """
    modes = dict((name, fcntl.LOCK_SH) for name in shared)
    modes.update((name, fcntl.LOCK_EX) for name in names)
    handles = []
    try:
        for name in sorted(modes):
            handle = _lock_file(uri, name)
            handles.append(handle)
            fcntl.flock(handle, modes[name])
        yield
    finally:
        for handle in reversed(handles):
            handle.close()  # closing the file drops its lock
