#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: storage_pool
short_description: Define, build, start, stop and remove libvirt storage pools of every type
version_added: 1.0.0
description:
  - Converges one libvirt storage pool to the declared definition, state and autostart flag.
  - Tasks of parallel jobs that converge the same pool on one host take turns. Each holds a host lock
    on the pool (a C(flock) under C(/run/lock/virtops-storage)) while it reads, plans and changes it.
  - Works for every libvirt pool type (dir, fs, netfs, logical, disk, iscsi, iscsi-direct, scsi,
    mpath, rbd, gluster, zfs, vstorage); options a type does not take are refused with an error that
    names them.
  - An existing pool whose definition differs from the declared fields is redefined. Only the fields
    you declare are compared; what libvirt fills in (uuid, permissions, defaults) is kept.
  - A pool that needs building (missing directory, blank device, device without a partition table)
    is built with libvirt's no-overwrite probe. A device that holds other data is never formatted
    unless O(overwrite=true).
  - A pool the task defines (it did not exist before) that cannot be built or started is undefined
    again, and the empty directories its build made (target, mount point, missing parents) are
    removed when the daemon runs on the managed host; the error says what was undone. A pool that
    existed before is left defined and the error says what was done and what not.
  - What libvirt would refuse is refused before anything changes, in check mode too. That is a target
    path that exists and is not a directory, and a storage source another pool already has (the
    target path of a dir pool, a device of an fs, disk, logical or zfs pool, an iSCSI target with the
    same initiator, an NFS or Gluster export, a second mpath pool); the error names the other pool.
author:
  - virtops.storage developers (@virtops)
extends_documentation_fragment:
  - virtops.storage.connection
  - virtops.storage.connection.ATTRIBUTES
options:
  name:
    description:
      - Name of the pool.
      - Required unless O(xml) is given, which then holds the name.
      - At most 247 bytes (UTF-8), without C(/) or control characters (libvirt saves the pool as
        C(/etc/libvirt/storage/<name>.xml), writing C(<name>.xml.new) first).
    type: str
  type:
    description:
      - libvirt pool type.
      - Required to define a new pool; an existing pool keeps its type (changing it fails).
      - The daemon must support the type (C(virsh pool-capabilities)); a type it lacks fails
        before anything is defined.
    type: str
    choices: [dir, fs, netfs, logical, disk, iscsi, iscsi-direct, scsi, mpath, rbd, gluster, zfs, vstorage]
  xml:
    description:
      - A complete pool XML definition, instead of O(type), O(source), O(target) and the pool-level
        options. Its fields are compared like declared options.
    type: str
  state:
    description:
      - V(present) the pool is defined (a running pool is left running, a stopped one stopped).
      - V(active) the pool is defined and running.
      - V(inactive) the pool is defined and stopped.
      - V(absent) the pool is stopped and undefined. Its data stays unless O(delete_storage=true).
    type: str
    choices: [present, active, inactive, absent]
    default: present
  autostart:
    description:
      - Whether libvirt starts the pool when the daemon starts. Applied in the same task whatever
        O(state) is. Left as it is when not set.
    type: bool
  build:
    description:
      - Build the pool's storage when it needs it (with O(state=present) or O(state=active)), that is
        create the target directory of dir and netfs pools, make the filesystem of an fs pool on a
        blank device, write the partition table of a disk pool on a blank device.
      - Set to V(false) to never build.
    type: bool
    default: true
  overwrite:
    description:
      - Allow building over a device that already holds other data (another filesystem, another
        partition table, partitions). B(Everything on the device is lost.)
      - Without it the task fails and says what the device holds.
    type: bool
    default: false
  restart:
    description:
      - Restart an active pool whose definition changed, so that the new definition takes effect.
      - Stopping an fs or netfs pool unmounts it under running guests; without this option the task
        warns that the running pool still uses its old definition.
    type: bool
    default: false
  delete_storage:
    description:
      - With O(state=absent), also delete the pool's underlying storage (libvirt's pool delete, that is the
        target directory, the volume group, the zpool, the disk's partition table). B(Data is lost.)
      - Refused while the pool holds volumes unless O(delete_volumes=true).
      - Refused for pool types whose libvirt backend cannot delete (iscsi, scsi, mpath, rbd, ...).
    type: bool
    default: false
  delete_volumes:
    description:
      - With O(delete_storage=true), delete the pool's volumes first. B(Their data is lost.)
      - Refused while a guest uses one of them or a volume of another pool has one as its backing store,
        unless O(allow_in_use=true); the message names them.
    type: bool
    default: false
  allow_in_use:
    description:
      - With O(delete_volumes=true), delete volumes that guests use or that back volumes of other pools
        too. Those guests and linked clones break.
    type: bool
    default: false
  source:
    description:
      - Where the pool's storage comes from. Which fields a pool type takes and requires follows
        libvirt; a field the type does not take is an error.
    type: dict
    suboptions:
      hosts:
        description:
          - Servers of network pools (netfs, iscsi, iscsi-direct, gluster take one; rbd takes
            several Ceph monitors).
        type: list
        elements: dict
        suboptions:
          name:
            description: Host name or IP address.
            type: str
            required: true
          port:
            description: TCP port; the protocol's default when not set.
            type: int
      dir:
        description:
          - Exported directory of a netfs pool, or the path inside the volume of a gluster pool.
        type: str
      devices:
        description:
          - Block devices (fs and disk take one, logical and zfs several), or the target IQN of
            iscsi and iscsi-direct pools.
          - A device another fs, disk, logical or zfs pool has (or the IQN of another iscsi pool with
            the same initiator) is refused, as libvirt refuses it.
        type: list
        elements: dict
        suboptions:
          path:
            description: Device path, or the iSCSI target IQN.
            type: str
            required: true
          part_separator:
            description:
              - Disk pools only; whether partition names carry a C(p) before their number (V(true)
                for C(/dev/mapper/mpatha) style devices whose partitions are C(mpathap1)).
            type: bool
      adapter:
        description: SCSI host adapter of a scsi pool.
        type: dict
        suboptions:
          type:
            description: Adapter type.
            type: str
            choices: [scsi_host, fc_host]
          name:
            description: SCSI host name (C(host0)) of a scsi_host adapter.
            type: str
          parent:
            description: Parent SCSI host of an fc_host (vHBA) adapter.
            type: str
          managed:
            description: Whether libvirt creates and removes the vHBA with the pool.
            type: bool
          wwnn:
            description: World Wide Node Name of the fc_host adapter.
            type: str
          wwpn:
            description: World Wide Port Name of the fc_host adapter.
            type: str
          parent_wwnn:
            description: WWNN of the parent HBA.
            type: str
          parent_wwpn:
            description: WWPN of the parent HBA.
            type: str
          parent_fabric_wwn:
            description: Fabric WWN of the parent HBA.
            type: str
          parent_address:
            description: PCI address and unique id of a scsi_host adapter's parent, stable across reboots.
            type: dict
            suboptions:
              unique_id:
                description: The SCSI host's unique_id.
                type: int
              domain:
                description: PCI domain.
                type: int
              bus:
                description: PCI bus.
                type: int
              slot:
                description: PCI slot.
                type: int
              function:
                description: PCI function.
                type: int
      name:
        description:
          - Volume group of a logical pool, Ceph pool of an rbd pool, Gluster volume of a gluster
            pool, zpool of a zfs pool, cluster of a vstorage pool.
        type: str
      format:
        description:
          - Filesystem type of an fs pool (V(ext4), V(xfs), ...; V(auto) by default), network
            filesystem of a netfs pool (V(nfs), V(cifs), V(glusterfs)), partition table of a disk
            pool (V(gpt), V(dos), ...), V(lvm2) for logical pools.
        type: str
      auth:
        description: Authentication of iscsi, iscsi-direct (CHAP) and rbd (cephx) pools.
        type: dict
        suboptions:
          type:
            description: V(chap) for iSCSI, V(ceph) for rbd.
            type: str
            choices: [chap, ceph]
            required: true
          username:
            description: User name (CHAP user, Ceph client name without C(client.)).
            type: str
            required: true
          secret:
            description:
              - The libvirt secret holding the password or key, by uuid or by usage.
              - It must exist, with usage type iscsi for chap and ceph for ceph, whatever O(state) is
                (the pool may start at boot). In check mode a missing secret is a warning, as an
                earlier task may define it.
            type: dict
            required: true
            suboptions:
              uuid:
                description: UUID of the libvirt secret.
                type: str
              usage:
                description: Usage id of the libvirt secret (its usage target or name).
                type: str
      initiator_iqn:
        description: iSCSI initiator IQN (required by iscsi-direct).
        type: str
      protocol_version:
        description: NFS protocol version of a netfs pool (V(3), V(4), V(4.1)).
        type: str
      vendor:
        description: Vendor name of the iSCSI target.
        type: str
      product:
        description: Product name of the iSCSI target.
        type: str
  target:
    description:
      - Where the pool's volumes appear on the host. Network pools (rbd, gluster, iscsi-direct)
        have no target.
    type: dict
    suboptions:
      path:
        description:
          - Directory (dir, fs, netfs, vstorage) or device directory (C(/dev), C(/dev/disk/by-path))
            of the pool. Required to define those types; logical and zfs pools derive it.
          - Taken as the directory it names (C(/srv/a/../b/) is C(/srv/b)).
          - dir, fs, netfs and vstorage pools build (chown, chmod) and may delete their target, and
            O(delete_volumes) deletes the files in it, so a system directory is refused as their target,
            that is C(/), C(/tmp), C(/var/tmp), C(/dev), C(/proc), C(/sys), C(/run), C(/etc), C(/usr), C(/var),
            C(/boot), C(/home), C(/root), C(/bin), C(/sbin), C(/lib), C(/lib64), C(/opt), C(/srv),
            C(/var/lib) and C(/var/lib/libvirt) (C(/var/lib/libvirt/images) is fine).
          - For dir, fs and netfs pools that are built or started, a path that exists must be a
            directory; another dir pool cannot have the same path.
        type: path
      permissions:
        description: Owner, group, mode and security label of the target directory.
        type: dict
        suboptions:
          mode:
            description:
              - Octal mode up to V('0777') (libvirt refuses setuid, setgid and sticky bits); quote it (V('0755')).
              - An integer is its value. YAML reads an unquoted V(0755) as 493 (mode 0755) but V(777) as the decimal
                777 (0o1411), which is refused with a hint to quote it.
            type: raw
          owner:
            description: Numeric user id.
            type: int
          group:
            description: Numeric group id.
            type: int
          label:
            description: Security (SELinux) label.
            type: str
  mount_options:
    description: Extra mount options of fs and netfs pools (libvirt's fs namespace).
    type: list
    elements: str
  config_options:
    description: Ceph client configuration options of rbd pools (libvirt's rbd namespace).
    type: dict
  cow:
    description: Copy-on-write of the target directory (btrfs) of dir, fs and netfs pools.
    type: bool
  refresh_volume_allocation:
    description:
      - How an rbd pool reports volume allocation on refresh; V(capacity) skips the slow scan.
    type: str
    choices: [default, capacity]
notes:
  - libvirt never returns a secret's value; pools refer to secrets by uuid or usage only.
seealso:
  - module: virtops.storage.storage_pool_info
  - name: libvirt storage pool XML format
    description: The reference for every pool type's source and target fields.
    link: https://libvirt.org/formatstorage.html
"""

EXAMPLES = r"""
- name: A directory pool, running and started at boot
  virtops.storage.storage_pool:
    name: images
    type: dir
    target:
      path: /var/lib/libvirt/images
      permissions:
        mode: "0711"
    state: active
    autostart: true

- name: An ext4 filesystem pool on a blank disk (the module formats it)
  virtops.storage.storage_pool:
    name: fastdisk
    type: fs
    source:
      devices:
        - path: /dev/sdb
      format: ext4
    target:
      path: /srv/fastdisk
    state: active

- name: A disk pool that writes a GPT label only on a blank disk
  virtops.storage.storage_pool:
    name: sdc
    type: disk
    source:
      devices:
        - path: /dev/sdc
      format: gpt
    target:
      path: /dev
    state: active

- name: An iSCSI LUN pool accessed directly by QEMU, with CHAP
  virtops.storage.storage_pool:
    name: san
    type: iscsi-direct
    source:
      hosts:
        - name: 192.0.2.10
          port: 3260
      devices:
        - path: iqn.2024-01.example:target
      initiator_iqn: iqn.2024-01.example:hypervisor1
      auth:
        type: chap
        username: hv1
        secret:
          usage: san-chap
    state: active

- name: A Ceph RBD pool
  virtops.storage.storage_pool:
    name: ceph
    type: rbd
    source:
      hosts:
        - name: mon1.example.com
        - name: mon2.example.com
          port: 6789
      name: libvirt-pool
      auth:
        type: ceph
        username: libvirt
        secret:
          usage: client.libvirt secret
    config_options:
      rados_osd_op_timeout: "20"
    state: active

- name: Change the NFS server of an active pool and restart it now
  virtops.storage.storage_pool:
    name: nfs
    type: netfs
    source:
      hosts:
        - name: nfs2.example.com
      dir: /export/images
      format: nfs
    target:
      path: /var/lib/libvirt/nfs
    restart: true
    state: active

- name: Remove a pool definition (its data stays)
  virtops.storage.storage_pool:
    name: old
    state: absent

- name: Remove a dir pool and its (empty) directory
  virtops.storage.storage_pool:
    name: scratch
    state: absent
    delete_storage: true
"""

RETURN = r"""
changed:
  description: Whether anything was (or, in check mode, would be) changed.
  returned: always
  type: bool
actions:
  description: The actions taken (or, in check mode, that would be taken), in order.
  returned: always
  type: list
  elements: str
  sample: ["define pool images", "build pool images: create directory /var/lib/libvirt/images", "start pool images"]
pool:
  description: The pool's facts after the task; null when it does not exist.
  returned: always
  type: dict
  contains:
    name:
      description: Pool name.
      type: str
      returned: success
    uuid:
      description: Pool UUID.
      type: str
      returned: success
    type:
      description: Pool type.
      type: str
      returned: success
    state:
      description: libvirt's pool state (inactive, building, running, degraded, inaccessible).
      type: str
      returned: success
    active:
      description: Whether the pool is running.
      type: bool
      returned: success
    persistent:
      description: Whether the pool is defined (not transient).
      type: bool
      returned: success
    autostart:
      description: Whether the pool starts with the daemon.
      type: bool
      returned: success
    capacity:
      description: Capacity in bytes (0 when inactive).
      type: int
      returned: success
    allocation:
      description: Allocation in bytes.
      type: int
      returned: success
    available:
      description: Free space in bytes.
      type: int
      returned: success
    target_path:
      description: Target path; null for network pools.
      type: str
      returned: success
    source:
      description: The pool's source, in the shape of the O(source) option (secret as secret_uuid / secret_usage).
      type: dict
      returned: success
    xml:
      description: The full pool XML as libvirt reports it (for reference; the fields above are what to use).
      type: str
      returned: success
diff:
  description:
    - The declared fields, state and autostart before and after, from the same plan as RV(changed). It is empty
      exactly when nothing changes.
    - It also shows a build, a restart and a transient pool made persistent; a removed pool lists its volumes and
      says whether they are deleted or left on disk.
  returned: when diff mode is on
  type: dict
"""


from ansible_collections.virtops.storage.plugins.module_utils import bytecode_cache

# before the other imports: they are compiled once per host, not once per task
bytecode_cache.install()

from ansible_collections.virtops.storage.plugins.module_utils.connection import CONNECTION_ARGUMENT_SPEC
from ansible_collections.virtops.storage.plugins.module_utils.converge import run_module
from ansible_collections.virtops.storage.plugins.module_utils.params import OptionNamingModule
from ansible_collections.virtops.storage.plugins.module_utils.pool import PoolConverger
from ansible_collections.virtops.storage.plugins.module_utils.pool_spec import POOL_ARGUMENT_SPEC, POOL_CONSTRAINTS

ARGUMENT_SPEC = dict(POOL_ARGUMENT_SPEC, **CONNECTION_ARGUMENT_SPEC)


def main():
    module = OptionNamingModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **POOL_CONSTRAINTS)
    run_module(module, PoolConverger)


if __name__ == "__main__":
    main()
