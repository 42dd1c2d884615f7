#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: disk_info
short_description: Read the disks of libvirt guests and the storage pool and volume each one comes from
version_added: 1.0.0
description:
  - Returns every disk of one guest, or of every guest, from its persistent definition and from the running
    guest (target device and bus, device, driver, source, readonly and shareable flags, serial).
  - Answers which volumes a guest uses and where they come from. Each disk is resolved back to the storage pool
    and volume that hold its source (a file path, a block device, a C(type='volume') disk, an rbd image on the
    pool's monitors, an iSCSI LUN on the pool's portal); RV(domains[].disks[].pool) and
    RV(domains[].disks[].volume) are null when no active pool holds it (libvirt lists the volumes of active pools
    only).
  - Named C(disk_info) after the disks it reads, like C(storage_volume_info) after volumes; C(disk_attach) changes
    the same disks. Never changes anything.
author:
  - virtops.storage developers (@virtops)
extends_documentation_fragment:
  - virtops.storage.connection
  - virtops.storage.connection.INFO_ATTRIBUTES
options:
  domain:
    description:
      - Name or uuid of one guest. When not set, every guest is returned.
      - A missing guest is not an error; RV(exists) is V(false) and RV(domains) empty.
    type: str
seealso:
  - module: virtops.storage.storage_volume_info
"""

EXAMPLES = r"""
- name: Which volumes does vm1 use, and from which pool?
  virtops.storage.disk_info:
    domain: vm1
  register: vm1_disks

- name: Its disks that no storage pool holds
  ansible.builtin.debug:
    msg: "{{ vm1_disks.domains[0].disks | selectattr('pool', 'none') | map(attribute='source') }}"

- name: Every guest's disks
  virtops.storage.disk_info:
  register: all_disks
"""

RETURN = r"""
exists:
  description: Whether the guest named by O(domain) exists.
  returned: when O(domain) is set
  type: bool
domains:
  description: The guests, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Guest name.
      type: str
      returned: success
    uuid:
      description: Guest uuid.
      type: str
      returned: success
    active:
      description: Whether the guest runs.
      type: bool
      returned: success
    persistent:
      description: Whether the guest has a persistent definition (a transient guest has only a live one).
      type: bool
      returned: success
    disks:
      description: Its disks, each once (a disk in both definitions with the same target and source is one).
      type: list
      elements: dict
      returned: success
      contains:
        type:
          description: Disk type (file, block, network, volume).
          type: str
          returned: success
        device:
          description: disk, cdrom, floppy or lun.
          type: str
          returned: success
        driver:
          description: Driver attributes (name, type, cache, io, discard, detect_zeroes).
          type: dict
          returned: when the disk has a driver element
        source:
          description: The source (file, dev, pool and volume, protocol, name, hosts, auth, encryption); empty for an
            empty cdrom drive.
          type: dict
          returned: success
        target:
          description: Target device and bus.
          type: dict
          returned: success
        readonly:
          description: Whether the disk is read-only.
          type: bool
          returned: when set
        shareable:
          description: Whether the disk is shareable.
          type: bool
          returned: when set
        serial:
          description: Serial of the disk.
          type: str
          returned: when set
        persistent:
          description: Whether the persistent definition has the disk.
          type: bool
          returned: success
        live:
          description: Whether the running guest has the disk.
          type: bool
          returned: success
        pool:
          description: The storage pool that holds the disk's source; null when none does.
          type: str
          returned: success
        volume:
          description: The volume of that pool that is the disk's source; null when none is.
          type: str
          returned: success
"""


from ansible_collections.virtops.storage.plugins.module_utils import bytecode_cache

# before the other imports: they are compiled once per host, not once per task
bytecode_cache.install()

from ansible_collections.virtops.storage.plugins.module_utils.connection import CONNECTION_ARGUMENT_SPEC
from ansible_collections.virtops.storage.plugins.module_utils.converge import run_module
from ansible_collections.virtops.storage.plugins.module_utils.guest import DiskInfoReader
from ansible_collections.virtops.storage.plugins.module_utils.params import OptionNamingModule


ARGUMENT_SPEC = dict(domain=dict(type="str"))
ARGUMENT_SPEC.update(CONNECTION_ARGUMENT_SPEC)


def main():
    module = OptionNamingModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run_module(module, DiskInfoReader)


if __name__ == "__main__":
    main()
