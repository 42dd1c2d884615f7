# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guests and their disks: which volumes a domain uses, and from which pool (the reader behind disk_info).

A guest has two definitions, persistent (inactive XML) and live. Every disk of
either is read with the same parser storage_volume's guest disks come from, and
resolved back to the pool and volume that hold its source through the same
references the in-use checks use (a path, a pool/volume name, a network name on
the pool's hosts).
"""

from __future__ import annotations

from ansible_collections.virtops.storage.plugins.module_utils.connection import call, domain_definitions
from ansible_collections.virtops.storage.plugins.module_utils.converge import one_or_every
from ansible_collections.virtops.storage.plugins.module_utils.disk_xml import disk_uses, domain_disks, volume_references
from ansible_collections.virtops.storage.plugins.module_utils.volume import (
    pool_handle, read_volumes, references_on_host, with_real_paths)


def volume_index(connection):
    """Return [(pool name, volume name, references)] of every volume of every active pool (libvirt lists no others).

    On this host the references' paths are resolved, as ``with_real_paths`` resolves a disk's.
    """
    local = connection.is_local()

    def pool_index(pool):
        if not call("reading pool %s state" % pool.name(), pool.isActive):
            return []
        handle = pool_handle(pool)
        entries = []
        for spec, dummy in read_volumes(handle, call("listing volumes of pool %s" % handle.name, pool.listAllVolumes, 0)):
            references = volume_references(handle.row, handle.spec, spec)
            entries.append((handle.name, spec["name"], references_on_host(references) if local else references))
        return entries
    return [entry for entries in connection.read_each_pool(pool_index) for entry in entries]


def disk_origin(disk, index, local):
    """Return (pool, volume) holding the source of ``disk`` (a ``parse_disk_element`` dict), (None, None) when none."""
    comparable = with_real_paths(disk) if local else disk
    for pool, volume, references in index:
        if disk_uses(comparable, references):
            return pool, volume
    return None, None


class DiskInfoReader:
    """Reads the disks of one guest or of every guest for disk_info. Never changes anything."""

    def __init__(self, module, connection):
        self.params = module.params
        self.connection = connection

    def run(self):
        """Return the module result: ``domains`` (each with its disks) and, for one domain, ``exists``."""
        wanted = self.params.get("domain")
        domains = one_or_every(wanted, self.connection.lookup_domain,
                               lambda: call("listing guests", self.connection.conn.listAllDomains, 0))
        index = volume_index(self.connection) if domains else []
        result = {"changed": False, "domains": [self._facts(domain, index) for domain in domains]}
        if wanted:
            result["exists"] = bool(domains)
        return result

    def _facts(self, domain, index):
        definitions = domain_definitions(domain)
        scopes = [scope for scope, dummy in definitions]
        return {"name": domain.name(), "uuid": domain.UUIDString(), "active": "live" in scopes,
                "persistent": "persistent" in scopes, "disks": self._disks(definitions, index)}

    def _disks(self, definitions, index):
        """The disks of both definitions, each once: a disk with the same target and source in both is one."""
        disks = []
        for definition, xml in definitions:
            for disk in domain_disks(xml):
                same = [known for known in disks if _same_disk(known, disk)]
                if same:
                    same[0][definition] = True
                    continue
                pool, volume = disk_origin(disk, index, self.connection.is_local())
                disks.append(dict(disk, source=disk.get("source") or {}, persistent=definition == "persistent",
                                  live=definition == "live", pool=pool, volume=volume))
        return disks


def _same_disk(known, disk):
    return known.get("target") == disk.get("target") and known.get("source") == disk.get("source")
