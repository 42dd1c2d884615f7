# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""This collection's module_utils, compiled once per host instead of once per task.

Ansible sends a module to the host with its module_utils in a zip file, and
Python never keeps the bytecode of code it imports from a zip: every task
compiled these files again, which was most of what a no-change task cost over
a module that only imports libvirt and lxml (bench/ figure 1). A module file
calls ``install()`` before its other imports; from then on each module_utils
file of this collection that comes from such a zip is compiled once and its
code kept in a private cache of the user the module runs as:
``$XDG_CACHE_HOME/virtops.storage/bytecode`` (``~/.cache/...`` by default),
one file per module_utils file, named by the sha256 of its source and the
interpreter's bytecode magic, so a changed file or another Python never reads
a stale entry.

The cache is only used when that directory is the user's own and nobody else
can write to it (checked on the open directory, files opened without following
links), the same trust Python gives ``__pycache__``. Nothing here can fail a
task: any problem with the cache is an ordinary compile. To turn it off, set
``VIRTOPS_STORAGE_BYTECODE_CACHE=off`` in the module's environment.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import stat
import sys
import zipimport
from importlib.machinery import ModuleSpec
from importlib.util import MAGIC_NUMBER

PACKAGE = __name__.rpartition(".")[0] + "."
SWITCH = "VIRTOPS_STORAGE_BYTECODE_CACHE"
SUFFIX = ".code"
_OPEN_NOFOLLOW = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_OPENED = {}  # cache path: its directory's descriptor, kept for the life of the module process


def install():
    """From now on, load this collection's module_utils from the task's zip through the cache (once per process).

    The finder goes where Python looks for the modules of this package: the path entry of its directory in
    the zip (``sys.path_importer_cache``), not ``sys.meta_path``, so only this package's imports pass by it.
    """
    if os.environ.get(SWITCH, "on").lower() in ("off", "0", "false", "no"):
        return
    package = sys.modules.get(PACKAGE[:-1])
    for entry in getattr(package, "__path__", None) or []:
        if isinstance(sys.path_importer_cache.get(entry), CachingFinder):
            continue
        try:
            sys.path_importer_cache[entry] = CachingFinder(zipimport.zipimporter(entry))
        except zipimport.ZipImportError:
            pass  # not in a zip (unit tests, a collection installed on the host): Python keeps its bytecode


class CachingFinder:
    """The path entry finder of this package's directory in the task's zip: its modules load through the cache."""

    def __init__(self, importer):
        self.importer = importer  # the zip's own finder for the directory

    def find_spec(self, name, target=None):
        try:
            if not name.startswith(PACKAGE) or self.importer.is_package(name):  # none so far: Python's own way
                find_spec = getattr(self.importer, "find_spec", None)  # Python 3.10 and later
                return find_spec(name, target) if find_spec is not None else None
        except zipimport.ZipImportError:
            return None  # no such module in the zip
        # the spec is made here: the zip's own find_spec compiles the file just to learn its name
        filename = os.path.join(self.importer.archive, self.importer.prefix, name.rpartition(".")[2] + ".py")
        spec = ModuleSpec(name, CachingLoader(self.importer, filename), origin=filename)
        spec.has_location = True
        return spec

    def invalidate_caches(self):
        """Nothing to forget: entries are named by their source."""


class CachingLoader:
    """Loads one module_utils file of the zip, its code from the cache."""

    def __init__(self, importer, filename):
        self.importer = importer
        self.filename = filename

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        exec(self.get_code(module.__name__), module.__dict__)  # pylint: disable=exec-used

    def get_filename(self, name):
        return self.filename

    def get_source(self, name):
        return self.importer.get_source(name)

    def is_package(self, name):
        return False

    def get_code(self, name):
        source = self.get_source(name)
        entry = "%s.%s%s" % (name.rpartition(".")[2], source_digest(source), SUFFIX)
        directory = cache_directory()
        code = read_entry(directory, entry) if directory is not None else None
        if code is None:
            code = compile(source, self.filename, "exec", dont_inherit=True)
            if directory is not None:
                write_entry(directory, entry, code)
        else:
            fix_filename(code, self.filename)
        return code


def source_digest(source):
    """The name of a source's entry: its sha256 with the interpreter's bytecode magic."""
    return hashlib.sha256(MAGIC_NUMBER + source.encode("utf-8")).hexdigest()


def cache_path():
    """Where the cache lives for the user the module runs as."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "virtops.storage", "bytecode")


def cache_directory():
    """A descriptor of the cache directory (opened once per process, made if missing); None if it is not private."""
    path = cache_path()
    if path not in _OPENED:
        _OPENED[path] = open_cache_directory(path)
    return _OPENED[path]


def open_cache_directory(path):
    """A descriptor of the directory ``path``, made if missing; None unless only this user can write to it."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        directory = os.open(path, os.O_RDONLY | os.O_DIRECTORY | _OPEN_NOFOLLOW)
    except (OSError, ValueError):
        return None
    status = os.fstat(directory)
    if status.st_uid != os.geteuid() or status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        os.close(directory)
        return None
    return directory


def read_entry(directory, entry):
    """The code kept under ``entry``, or None when there is none or it cannot be trusted or read."""
    try:
        handle = os.open(entry, os.O_RDONLY | _OPEN_NOFOLLOW, dir_fd=directory)
    except OSError:
        return None
    try:
        status = os.fstat(handle)
        if not stat.S_ISREG(status.st_mode) or status.st_uid != os.geteuid():
            return None
        with os.fdopen(handle, "rb", closefd=False) as stream:
            code = marshal.loads(stream.read())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    finally:
        os.close(handle)
    return code if isinstance(code, type(read_entry.__code__)) else None


def write_entry(directory, entry, code):
    """Keep ``code`` under ``entry`` (written aside, then renamed into place), dropping older entries of its file."""
    prefix = entry.split(".", 1)[0] + "."
    temporary = "%s.%d.tmp" % (entry, os.getpid())
    try:
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN_NOFOLLOW, 0o600, dir_fd=directory)
        with os.fdopen(handle, "wb") as stream:
            stream.write(marshal.dumps(code))
        os.replace(temporary, entry, src_dir_fd=directory, dst_dir_fd=directory)
        for name in os.listdir(directory):
            if name.startswith(prefix) and name.endswith(SUFFIX) and name != entry:
                os.unlink(name, dir_fd=directory)
    except OSError:
        try:
            os.unlink(temporary, dir_fd=directory)
        except OSError:
            pass


def fix_filename(code, filename):
    """Point the code's file name (tracebacks) at this task's zip, as Python does for its own bytecode."""
    fix = getattr(sys.modules.get("_imp"), "_fix_co_filename", None)
    if fix is not None:
        fix(code, filename)
