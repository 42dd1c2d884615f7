#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: storage_volume_info
short_description: Read the volumes of a libvirt storage pool, the guests using them and their guest disk XML
version_added: 1.0.0
description:
  - Returns the facts of every volume of an active pool, or of one volume by name, with the guests whose
    definition (persistent or live) references it and the guest C(<disk>) element that uses it.
  - A guest references a volume by its path (file or block source), by pool and volume name
    (C(type='volume') disks) or by its network name (rbd, gluster, iscsi). Never changes anything.
author:
  - virtops.storage developers (@virtops)
extends_documentation_fragment:
  - virtops.storage.connection
  - virtops.storage.connection.INFO_ATTRIBUTES
  - virtops.storage.guest_disk
options:
  pool:
    description: Name of the pool. It must be active (libvirt lists the volumes of active pools only).
    type: str
    required: true
  name:
    description:
      - Name of one volume. When not set, every volume of the pool is returned.
      - A missing volume is not an error; RV(exists) is V(false) and RV(volumes) empty.
    type: str
  refresh:
    description:
      - Refresh the pool first (what C(virsh pool-refresh) does), so that volumes made or deleted outside this
        libvirt show as they are now - on another hypervisor sharing an rbd, gluster or netfs pool, or by hand
        (C(rbd create), C(qemu-img create)). Otherwise libvirt lists what it read when the pool started or was
        last refreshed.
      - Reading, not a change (the task reports no change), but it takes the pool's host lock like a volume task,
        and it waits while another client creates a volume in the pool (libvirt refuses to refresh then).
    type: bool
    default: false
seealso:
  - module: virtops.storage.storage_volume
  - module: virtops.storage.storage_pool_info
"""

EXAMPLES = r"""
- name: Read every volume of a pool
  virtops.storage.storage_volume_info:
    pool: images
  register: images

- name: Volumes no guest uses
  ansible.builtin.debug:
    msg: "{{ images.volumes | selectattr('used_by', 'equalto', []) | map(attribute='name') }}"

- name: The SCSI disk XML of one LUN
  virtops.storage.storage_volume_info:
    pool: iscsi-direct-pool
    name: unit:0:0:1
    disk:
      bus: scsi
  register: lun
"""

RETURN = r"""
exists:
  description: Whether the volume named by O(name) exists.
  returned: when O(name) is set
  type: bool
volumes:
  description: The volumes, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Volume name.
      type: str
      returned: success
    key:
      description: libvirt's unique key of the volume (usually its path).
      type: str
      returned: success
    path:
      description: Path of the volume (file, device, or the pool's network name).
      type: str
      returned: success
    type:
      description: libvirt volume type.
      type: str
      returned: success
      sample: file
    format:
      description: Volume format, when the pool type has formats.
      type: str
      returned: success
    capacity:
      description: Size the guest sees, in bytes.
      type: int
      returned: success
    allocation:
      description: Bytes allocated in the pool.
      type: int
      returned: success
    physical:
      description: Bytes the volume occupies on its storage (file size), when libvirt reports it.
      type: int
      returned: success
    backing_store:
      description: The backing volume (path, format), when there is one.
      type: dict
      returned: success
    encryption:
      description: Encryption format and the secret reference (never a value).
      type: dict
      returned: success
    pool:
      description: Name of the pool.
      type: str
      returned: success
    pool_type:
      description: Type of the pool.
      type: str
      returned: success
    xml:
      description: The full volume XML as libvirt reports it, with its timestamps (for reference; the fields above are what to use).
      type: str
      returned: success
    disk:
      description: The guest disk element as a dict (type, device, driver, source, target, readonly, shareable, serial).
      type: dict
      returned: success
    disk_xml:
      description: The guest C(<disk>) element that uses the volume; null for directories.
      type: str
      returned: success
    used_by:
      description: Names of the guests whose definition or live XML references the volume.
      type: list
      elements: str
      returned: success
"""


from ansible_collections.virtops.storage.plugins.module_utils import bytecode_cache

# before the other imports: they are compiled once per host, not once per task
bytecode_cache.install()

from ansible_collections.virtops.storage.plugins.module_utils.connection import CONNECTION_ARGUMENT_SPEC
from ansible_collections.virtops.storage.plugins.module_utils.converge import run_module
from ansible_collections.virtops.storage.plugins.module_utils.disk_xml import DISK_OPTIONS_SPEC
from ansible_collections.virtops.storage.plugins.module_utils.params import OptionNamingModule
from ansible_collections.virtops.storage.plugins.module_utils.volume import VolumeInfoReader


ARGUMENT_SPEC = dict(
    pool=dict(type="str", required=True),
    name=dict(type="str"),
    disk=dict(type="dict", options=DISK_OPTIONS_SPEC),
    refresh=dict(type="bool", default=False),
)
ARGUMENT_SPEC.update(CONNECTION_ARGUMENT_SPEC)


def main():
    module = OptionNamingModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run_module(module, VolumeInfoReader)


if __name__ == "__main__":
    main()
