#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: disk_attach
short_description: Attach a disk to a libvirt guest, or detach it, live and in its persistent definition
version_added: 1.0.0
description:
  - Attaches a storage volume, a host file or block device, or a whole C(<disk>) element to a guest, and detaches
    it again. Every pool type's volume becomes the disk it needs (file, block or network with hosts, auth and
    LUKS encryption), as in the RV(virtops.storage.storage_volume#module:volume.disk_xml) of M(virtops.storage.storage_volume).
  - A guest has two definitions, converged separately. O(persistent) is the definition the guest gets when it
    starts, O(live) the running guest. A shut-off guest gets the persistent change only, a transient guest the
    live one only.
  - Idempotent by what the disk names, not by its target. A disk with the same source (the same file or device,
    the same pool and volume, the same network image on the same hosts) is the same disk whatever its target,
    and is left alone when its options match. A cdrom drive is found by its target O(disk.dev) instead, since
    its media change.
  - A running guest's disk changes in place where libvirt can do it, that is cdrom media (insert, change, eject)
    and I/O limits (O(disk.iotune)). Any other change fails naming the options, unless O(allow_reattach) lets the
    module detach and re-attach the disk. The persistent definition is always changed in place.
  - O(state=absent) detaches the disk (found by its source, or by O(disk.dev)), from the persistent definition
    first (checked by reading it again), then from the running guest, waiting until the guest has released it
    (libvirt's device-removed event, confirmed by reading the live definition). A guest that does not release it
    within O(detach_timeout) fails the task and says so.
  - Refuses a source that another running guest uses read-write (unless both disks are shareable, or both are
    read-only), a target that another disk of the guest holds, and a bus the guest's machine type cannot take.
  - Tasks on one guest take turns (a host lock per guest), and a volume being attached is locked against
    M(virtops.storage.storage_volume) tasks deleting or replacing it.
author:
  - virtops.storage developers (@virtops)
extends_documentation_fragment:
  - virtops.storage.connection
  - virtops.storage.connection.ATTRIBUTES
  - virtops.storage.guest_disk
options:
  domain:
    description: Name or uuid of the guest.
    type: str
    required: true
  state:
    description:
      - V(present) attaches the disk and converges its options; V(absent) detaches it.
    type: str
    choices: [present, absent]
    default: present
  volume:
    description:
      - A volume of an active storage pool as the source. Its disk follows the pool type and O(disk).
    type: dict
    suboptions:
      pool:
        description: Name of the storage pool.
        type: str
        required: true
      name:
        description: Name of the volume.
        type: str
        required: true
  path:
    description:
      - A file or block device of the host as the source (a file disk or a block disk). The libvirt daemon must
        run on this host.
    type: path
  format:
    description:
      - Image format of O(path) (V(raw), V(qcow2), ...). When not set, the format of a disk already attached
        from that path is kept, and a new one is probed with C(qemu-img info). Set it for images a guest writes
        raw; a guest can write any image header into a raw disk.
    type: str
  disk_xml:
    description:
      - A whole C(<disk>) element as the source, attached as written (for example the
        RV(virtops.storage.storage_volume#module:volume.disk_xml) of M(virtops.storage.storage_volume)). Its
        C(<target>) needs a bus; the target dev is kept as written.
    type: str
  persistent:
    description:
      - Whether the task acts on the persistent definition. Defaults to V(true) for a persistent guest and
        V(false) for a transient one (which has none).
      - With V(false) the persistent definition is left as it is (a live-only attach or detach).
    type: bool
  live:
    description:
      - Whether the task acts on the running guest. Defaults to V(true) when the guest runs.
      - With V(false) the running guest is left as it is; it gets the persistent change at its next start.
    type: bool
  allow_reattach:
    description:
      - Lets the module detach a running guest's disk and attach it again to change what libvirt cannot change
        in place (bus, target, cache, serial, read-only, ...). The guest loses the disk meanwhile.
    type: bool
    default: false
  detach_timeout:
    description:
      - Seconds to wait for the running guest to release a detached disk.
    type: int
    default: 30
  detach_retries:
    description:
      - How many more times the detach request is made within O(detach_timeout), evenly spaced (a guest busy
        booting may miss the first one).
    type: int
    default: 2
notes:
  - O(disk) is the option of M(virtops.storage.storage_volume); without O(disk.dev) the disk keeps the target it
    has, and a new one gets the first free name of its bus in both definitions (V(vdb), V(sdc), ...).
  - An attached disk keeps the O(disk.serial), O(disk.wwn), O(disk.boot_order) and O(disk.iotune) limits it has
    when the task leaves them out, also when another of its options changes.
  - With O(disk_xml), O(disk) is not taken; the element says it all.
  - Detaching from a running guest needs the guest's cooperation (ACPI hotplug and a driver). The module never
    reports a detach it has not seen complete.
seealso:
  - module: virtops.storage.disk_info
  - module: virtops.storage.storage_volume
  - name: libvirt domain XML, hard drives
    description: The C(<disk>) element.
    link: https://libvirt.org/formatdomain.html#hard-drives-floppy-disks-cdroms
"""

EXAMPLES = r"""
- name: A volume for vm1
  virtops.storage.storage_volume:
    pool: images
    name: vm1-data.qcow2
    capacity: 10G
    format: qcow2

- name: Attach it, live and persistent, as a virtio disk with a serial the guest can find it by
  virtops.storage.disk_attach:
    domain: vm1
    volume:
      pool: images
      name: vm1-data.qcow2
    disk:
      serial: vm1-data
  register: attached

- name: Which volumes does vm1 use now?
  virtops.storage.disk_info:
    domain: vm1
  register: vm1_disks

- name: Attach a host block device on the SCSI bus, persistent only (seen at the next start)
  virtops.storage.disk_attach:
    domain: vm1
    path: /dev/vg0/vm1-scratch
    live: false
    disk:
      bus: scsi

- name: Insert an ISO into vm1's cdrom drive sdc (the drive is found by its target)
  virtops.storage.disk_attach:
    domain: vm1
    path: /var/lib/libvirt/images/debian.iso
    format: raw
    disk:
      device: cdrom
      bus: scsi
      dev: sdc
      readonly: true

- name: Eject it (the empty drive stays)
  virtops.storage.disk_attach:
    domain: vm1
    disk:
      device: cdrom
      bus: scsi
      dev: sdc
      readonly: true

- name: Limit the data disk's writes in the running guest (in place)
  virtops.storage.disk_attach:
    domain: vm1
    volume:
      pool: images
      name: vm1-data.qcow2
    disk:
      serial: vm1-data
      iotune:
        write_bytes_sec: 52428800

- name: Detach it, waiting up to a minute for the guest to let go
  virtops.storage.disk_attach:
    domain: vm1
    volume:
      pool: images
      name: vm1-data.qcow2
    state: absent
    detach_timeout: 60
"""

RETURN = r"""
changed:
  description: Whether anything was (or, in check mode, would be) changed.
  returned: always
  type: bool
disk:
  description:
    - The disk as libvirt stored it (the persistent definition's, else the running guest's), with the target
      chosen; in check mode as it would be. Null when the guest has no such disk.
  returned: success
  type: dict
  contains:
    type:
      description: Disk type (file, block, network, volume).
      type: str
      returned: success
    device:
      description: disk, cdrom or lun.
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
      sample: {"dev": "vdb", "bus": "virtio"}
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
    wwn:
      description: WWN of the disk.
      type: str
      returned: when set
    boot_order:
      description: Boot order of the disk.
      type: int
      returned: when set
    iotune:
      description: I/O limits of the disk (the non-zero ones).
      type: dict
      returned: when set
    persistent:
      description: Whether the persistent definition has the disk.
      type: bool
      returned: success
    live:
      description: Whether the running guest has the disk.
      type: bool
      returned: success
disk_xml:
  description: The C(<disk>) element as libvirt stored it (with its address and alias); null when detached.
  returned: success
  type: str
actions:
  description: What the task did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["attach vdb (/var/lib/libvirt/images/vm1-data.qcow2) to the running guest",
           "attach vdb (/var/lib/libvirt/images/vm1-data.qcow2) to the persistent definition"]
diff:
  description:
    - The guest's C(<disk>) elements before and after the task, per definition (persistent, live), from the same
      plan as RV(changed). It is empty exactly when nothing changes.
  returned: when diff mode is on
  type: dict
"""


from ansible_collections.virtops.storage.plugins.module_utils import bytecode_cache

# before the other imports: they are compiled once per host, not once per task
bytecode_cache.install()

from ansible_collections.virtops.storage.plugins.module_utils.attachment import (
    ATTACH_ARGUMENT_SPEC, ATTACH_CONSTRAINTS, AttachmentConverger)
from ansible_collections.virtops.storage.plugins.module_utils.connection import CONNECTION_ARGUMENT_SPEC
from ansible_collections.virtops.storage.plugins.module_utils.converge import run_module
from ansible_collections.virtops.storage.plugins.module_utils.params import OptionNamingModule


ARGUMENT_SPEC = dict(ATTACH_ARGUMENT_SPEC, **CONNECTION_ARGUMENT_SPEC)


def main():
    module = OptionNamingModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **ATTACH_CONSTRAINTS)
    run_module(module, AttachmentConverger)


if __name__ == "__main__":
    main()
