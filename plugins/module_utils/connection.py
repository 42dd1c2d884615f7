# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one libvirt connection helper of virtops.storage.

It owns the shared ``uri`` option (keep in sync with
``plugins/doc_fragments/connection.py``), the check for the Python libraries
the modules need, and the wrapping of ``libvirt.libvirtError`` into
``LibvirtCallError`` naming the action that failed.

Every module imports this file, so it imports no resource's XML module at the
top: the methods that parse volumes, guest disks or secret usages import theirs
when they run. A task then compiles only the module_utils it uses (each costs
its compile time on every task: Ansible ships module_utils as source).
"""

from __future__ import annotations

import os
import re
import traceback

from urllib.parse import urlparse

from ansible.module_utils.basic import env_fallback, missing_required_lib
from ansible.module_utils.common.respawn import has_respawned, probe_interpreters_for_module, respawn_module

from ansible_collections.virtops.storage.plugins.module_utils.errors import (
    LibvirtCallError, ParameterError, VirtopsError, daemon_lost)
from ansible_collections.virtops.storage.plugins.module_utils.pool_xml import LXML_IMPORT_ERROR, etree

try:
    import libvirt
except ImportError:
    libvirt = None
    LIBVIRT_IMPORT_ERROR = traceback.format_exc()
else:
    LIBVIRT_IMPORT_ERROR = None


DEFAULT_URI = "qemu:///system"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")

# Keep in sync with plugins/doc_fragments/connection.py.
CONNECTION_ARGUMENT_SPEC = dict(
    uri=dict(type="str", default=DEFAULT_URI, fallback=(env_fallback, ["LIBVIRT_DEFAULT_URI"])),
)


# where a hypervisor's distribution puts its python3-libvirt and python3-lxml, for the system Python
SYSTEM_PYTHONS = ("/usr/bin/python3", "/usr/libexec/platform-python", "/usr/bin/python")
INSTALL_HELP = ("Install them for this interpreter (pip install libvirt-python lxml), or install the distribution's "
                "packages for the system Python (python3-libvirt and python3-lxml on Debian, Ubuntu, Fedora and "
                "RHEL), which the modules then use by themselves")


def check_dependencies(module):
    """Go on when libvirt-python and lxml import; else run the module again under the system Python when the
    distribution's packages are there (Ansible may have picked another interpreter), else fail with
    missing_required_lib saying both ways to install them."""
    missing = [(name, error) for name, error in (("libvirt-python", LIBVIRT_IMPORT_ERROR), ("lxml", LXML_IMPORT_ERROR))
               if error]
    if not missing:
        return
    if not has_respawned():
        interpreter = _python_with_libvirt()
        if interpreter:
            respawn_module(interpreter)  # runs the module there and exits with its result
    names = " and ".join(name for name, dummy in missing)
    module.fail_json(msg="%s %s." % (missing_required_lib(names), INSTALL_HELP), exception=missing[0][1])


def _python_with_libvirt():
    """The first system Python that imports both libvirt and lxml, or None.

    It may be this one's binary: a virtualenv's python is a link to the system Python without its packages.
    """
    for path in SYSTEM_PYTHONS:
        if os.path.exists(path) and probe_interpreters_for_module([path], "libvirt") and \
                probe_interpreters_for_module([path], "lxml"):
            return path
    return None


def error_code(name):
    """Return libvirt's numeric error code ``VIR_ERR_<name>`` (None without libvirt)."""
    return getattr(libvirt, "VIR_ERR_" + name, None)


def _error_codes(*names):
    return frozenset(code for code in (error_code(name) for name in names) if code is not None)


# what libvirt says of an object another client removed (or stopped) since it was listed
_GONE = _error_codes("NO_STORAGE_POOL", "NO_STORAGE_VOL", "NO_DOMAIN", "OPERATION_INVALID")
_NO_DOMAIN = error_code("NO_DOMAIN")


def call(action, function, *args, **kwargs):
    """Run one libvirt call; a libvirtError becomes LibvirtCallError naming ``action``."""
    try:
        return function(*args, **kwargs)
    except libvirt.libvirtError as exc:
        raise LibvirtCallError(action, exc)


def _ignore_error(context, error):
    """libvirt error handler: errors reach us as exceptions, not as lines on stderr."""


def uri_is_local(uri):
    """True when libvirt ``uri`` names a daemon on this host (no host in it)."""
    return not urlparse(uri or "").hostname


class Connection:
    """One libvirt connection for one module run, opened lazily, closed by ``close``."""

    def __init__(self, uri):
        self.uri = uri
        self._conn = None
        # {pool name: PoolHandle} of active pools, kept by a batched run once its pools are converged; None: off
        self.pool_handles = None

    @property
    def conn(self):
        """The open ``virConnect``; opens it on first use."""
        if self._conn is None:
            if not self.uri:
                raise ParameterError("uri", "must not be empty")
            # libvirt prints every error to stderr unless a handler takes them; ours are raised instead
            libvirt.registerErrorHandler(_ignore_error, None)
            try:
                self._conn = libvirt.open(self.uri)
            except libvirt.libvirtError as exc:
                if daemon_lost(exc):  # the uri is fine: nothing answers on its socket
                    raise VirtopsError("cannot connect to libvirt at uri %s: %s; is the libvirt daemon running? "
                                       "(start it, e.g. libvirtd -d or systemctl start libvirtd)" % (
                                           self.uri, exc.get_error_message()))
                raise VirtopsError("cannot connect to libvirt at uri %s: %s" % (
                    self.uri, exc.get_error_message()), param="uri")
        return self._conn

    def close(self):
        """Close the connection if it was opened."""
        if self._conn is not None:
            try:
                self._conn.close()
            except libvirt.libvirtError:
                pass  # closing a dead connection has nothing left to clean up
            self._conn = None

    def is_local(self):
        """True when the daemon runs on this host (no host in the uri): the module can act on its paths."""
        return uri_is_local(self.uri)

    def lookup_pool(self, name):
        """Return the ``virStoragePool`` called ``name``, or None when there is none."""
        try:
            return self.conn.storagePoolLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
                return None
            raise LibvirtCallError("looking up storage pool %s" % name, exc)

    def lookup_secret(self, uuid=None, usage=None):
        """Return the ``virSecret`` with ``uuid``, else the one of ``usage`` (usage type, usage id); None when none."""
        from ansible_collections.virtops.storage.plugins.module_utils.secret_xml import USAGE_TYPE_IDS  # lazy: see top

        try:
            if uuid:
                return self.conn.secretLookupByUUIDString(uuid)
            return self.conn.secretLookupByUsage(USAGE_TYPE_IDS[usage[0]], usage[1])
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_SECRET:
                return None
            raise LibvirtCallError("looking up secret %s" % (uuid or "%s %s" % tuple(usage)), exc)

    def lookup_domain(self, domain):
        """Return the ``virDomain`` named ``domain``, or with that uuid, or None when there is none."""
        try:
            if _UUID.match(domain):
                try:
                    return self.conn.lookupByUUIDString(domain.lower())
                except libvirt.libvirtError as exc:
                    if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                        raise
            return self.conn.lookupByName(domain)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise LibvirtCallError("looking up guest %s" % domain, exc)

    def list_pools(self):
        """Return every storage pool (defined or transient) of the connection."""
        return call("listing storage pools", self.conn.listAllStoragePools, 0)

    def read_each_pool(self, read):
        """Yield ``read(pool)`` for every pool, leaving out a pool that another client undefined or stopped
        between the listing and the reading (every scan of all pools reads them through here)."""
        for pool in self.list_pools():
            try:
                yield read(pool)
            except LibvirtCallError as exc:
                if exc.libvirt_code not in _GONE:
                    raise

    def supported_pool_types(self):
        """Return the pool types the daemon's storage driver supports (pool-capabilities)."""
        xml = call("reading storage pool capabilities", self.conn.getStoragePoolCapabilities, 0)
        root = etree.fromstring(xml.encode("utf-8"))
        return [p.get("type") for p in root.findall("pool") if p.get("supported") == "yes"]

    def volume_specs(self):
        """Yield ('pool/volume', volume spec) for every volume of every active pool (libvirt lists no others).

        A pool stopped or a volume deleted by another client while the scan runs is skipped.
        """
        from ansible_collections.virtops.storage.plugins.module_utils.volume_xml import parse_volume_xml  # lazy: see top

        def active_volumes(pool):
            name = pool.name()
            if not call("reading pool %s state" % name, pool.isActive):
                return name, []
            return name, call("listing volumes of pool %s" % name, pool.listAllVolumes, 0)

        for name, volumes in self.read_each_pool(active_volumes):
            for volume in volumes:
                try:
                    xml = call("reading volume %s XML" % volume.name(), volume.XMLDesc, 0)
                except LibvirtCallError as exc:
                    if exc.libvirt_code in _GONE:
                        continue
                    raise
                yield "%s/%s" % (name, volume.name()), parse_volume_xml(xml)

    def guest_disks(self):
        """Return [(guest name, disk dicts)] of every guest: its persistent definition and, when running, its live one.

        A guest undefined by another client while the scan runs is skipped; one that stopped (or started)
        between two reads is read again as it is now: its disks count whatever its state.
        """
        result = []
        for domain in call("listing guests", self.conn.listAllDomains, 0):
            for last_try in (False, True):
                try:
                    result.append((domain.name(), self._disks_of(domain)))
                    break
                except LibvirtCallError as exc:
                    if exc.libvirt_code == _NO_DOMAIN:
                        break
                    if last_try or exc.libvirt_code not in _GONE:
                        raise
        return result

    @staticmethod
    def _disks_of(domain):
        from ansible_collections.virtops.storage.plugins.module_utils.disk_xml import domain_disks  # lazy: see top

        return [disk for dummy, xml in domain_definitions(domain) for disk in domain_disks(xml)]


def domain_definitions(domain):
    """Return [(scope, XML)] of a guest: ('persistent', its definition) when it has one, ('live', the running
    guest's) when it runs. A transient guest has only the live one, a shut-off guest only the persistent one."""
    name = domain.name()
    definitions = []
    if call("reading guest %s persistence" % name, domain.isPersistent):
        definitions.append(("persistent", call("reading guest %s definition" % name, domain.XMLDesc,
                                               libvirt.VIR_DOMAIN_XML_INACTIVE)))
    if call("reading guest %s state" % name, domain.isActive):
        definitions.append(("live", call("reading guest %s live XML" % name, domain.XMLDesc, 0)))
    return definitions
