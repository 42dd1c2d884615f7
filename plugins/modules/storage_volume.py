#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: storage_volume
short_description: Create, resize, clone, import, wipe and delete libvirt storage volumes
version_added: 1.0.0
description:
  - Converges one volume of an active libvirt storage pool and returns its facts with the guest
    C(<disk>) element that uses it, right for the pool type (file, block or network disk). The element
    is only returned, never attached to a guest by this module.
  - A new volume is created empty, as a clone of another volume (O(clone_from), a full copy or in rbd
    pools a Ceph copy-on-write clone), as a linked clone over a backing volume (O(backing_store)), or
    from an image (O(import_from)).
  - An existing volume is grown to the declared O(capacity); it is shrunk only with
    O(allow_shrink=true). The rounding a backend applies to sizes (partition alignment, LVM extents,
    sectors) is not a difference.
  - What the pool type cannot do (create volumes in an iscsi-direct pool, resize a partition, formats
    a type does not have) is refused before libvirt is asked, with a message naming the option.
  - Deleting, wiping, shrinking or replacing the content of a volume that a defined or running guest
    uses, or that is the backing store of other volumes (linked clones), is refused unless
    O(allow_in_use=true); the message names the guests or the volumes.
  - Tasks of parallel jobs (two playbooks, AWX jobs) that converge the same volume on one host take
    turns. Each holds a host lock on the volume (a C(flock) under C(/run/lock/virtops-storage)) while it
    reads, plans and changes it, so the second converges from what the first made.
  - In check mode a volume that would be created is returned with the facts known in advance (its
    name, pool, format, capacity (declared, or the source's for a clone or a backing volume named by
    pool and name; unknown for an import or a backing file given by path), its
    path for file and block pools (the pool's target path and the name) and its O(disk) and
    RV(volume.disk_xml)); RV(volume.key), RV(volume.allocation), RV(volume.physical) and RV(volume.xml)
    are null until libvirt made it.
author:
  - virtops.storage developers (@virtops)
extends_documentation_fragment:
  - virtops.storage.connection
  - virtops.storage.connection.ATTRIBUTES
  - virtops.storage.guest_disk
options:
  pool:
    description: Name of the pool that holds the volume. The pool must be active.
    type: str
    required: true
  name:
    description:
      - Name of the volume.
      - In disk pools a volume is a partition that libvirt names after the device (V(sdb3),
        V(nvme0n1p3), V(loop2p3)); a new one must get the next partition name. Leave O(name) unset to
        let the module pick it (a new partition is then created on every run), or give that name; a
        wrong one is refused before parted runs.
      - No control characters. A volume of a dir, fs, netfs, vstorage or disk pool is a file or partition
        named after it, so there its name holds at most 255 bytes (UTF-8).
    type: str
  state:
    description: V(present) creates or converges the volume, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  capacity:
    description:
      - Size of the volume, in bytes or with a libvirt unit (V(10G), V(512MiB), V(1 TB)).
      - Required to create an empty volume; a clone, an import or a volume over a backing store takes
        the size of its source unless a larger one is declared.
      - With O(import_from) or O(clone_from) it is the least size of the volume, on every run. A source
        larger than it keeps its own size (no shrink is ever planned), a smaller one is grown to it.
    type: raw
  allocation:
    description:
      - Space to allocate at creation, same units as O(capacity). Volumes of file pools are sparse by
        default (allocation 0).
    type: raw
  format:
    description:
      - Volume format (V(raw), V(qcow2), V(vmdk), ... for file pools; the partition type such as
        V(linux) or V(linux-swap) for disk pools). Only pool types that have formats take one; when
        unset libvirt's default applies (raw for files), never qcow2 by surprise.
      - An existing volume with another format is an error (a volume is not converted in place).
      - Over a backing store, file volumes default to V(qcow2).
    type: str
  preallocation:
    description:
      - How a new volume of a file pool is allocated. V(metadata) preallocates qcow2 metadata,
        V(falloc) reserves the whole capacity (fallocate), V(full) writes zeros over it (raw only).
    type: str
    choices: ['off', metadata, falloc, full]
  permissions:
    description:
      - Permissions of the volume's file or device. Mode, owner and group of an existing local volume
        are converged (chmod/chown on the host); the SELinux label is applied at creation only.
    type: dict
    suboptions:
      mode:
        description:
          - Octal mode as a quoted string (V('0600')), as for
            O(virtops.storage.storage_pool#module:target.permissions.mode). Beyond V('0777') it is refused, and so
            is an unquoted V(600) (a decimal integer, 0o1130).
        type: raw
      owner:
        description: Numeric user id.
        type: int
      group:
        description: Numeric group id.
        type: int
      label:
        description: Security label (SELinux context) to set at creation.
        type: str
  compat:
    description: qcow2 compatibility level of a new qcow2 volume.
    type: str
    choices: ['0.10', '1.1']
  lazy_refcounts:
    description: Enable qcow2 lazy refcounts on a new qcow2 volume (needs compat 1.1).
    type: bool
  cluster_size:
    description: qcow2 cluster size of a new qcow2 volume (a power of two, 512 bytes to 2 MiB).
    type: raw
  nocow:
    description: Turn off copy-on-write for a new volume's file (btrfs).
    type: bool
  backing_store:
    description:
      - Create the volume as a linked clone over a backing volume. libvirt requires the backing
        format.
    type: dict
    suboptions:
      path:
        description: Path of the backing file or device.
        type: path
      pool:
        description: Pool of the backing volume named by O(backing_store.name) (default the volume's pool).
        type: str
      name:
        description: Name of the backing volume.
        type: str
      format:
        description: Format of the backing volume.
        type: str
        required: true
  clone_from:
    description:
      - Create the volume as a clone of another volume, through libvirt. Applies only when the volume does not
        exist.
      - In every pool type but rbd the clone is a full copy of the source's data (formats are converted when they
        differ), independent of it; a copy-on-write volume over another is O(backing_store).
      - In an rbd pool libvirt makes a Ceph copy-on-write clone instead (the source's data is shared, not copied;
        libvirt makes and protects a snapshot of the source, which stays the clone's parent), of an image of the
        same pool only. The source cannot be deleted while clones depend on it (see O(delete_snapshots)). libvirt
        cannot copy an rbd image; make an independent copy outside libvirt (C(rbd cp)), or C(rbd flatten) a clone.
      - The clone has the source's format unless O(format) says otherwise, and at least its size.
    type: dict
    suboptions:
      pool:
        description: Pool of the source volume (default the volume's pool).
        type: str
      name:
        description: Name of the source volume.
        type: str
        required: true
      mode:
        description:
          - The kind of clone the task must make, V(copy) (a full copy) or V(cow) (a Ceph copy-on-write clone).
            Default, the kind libvirt makes in the pool (V(cow) in rbd pools, V(copy) in the others); another is
            refused before anything is changed, with the reason.
        type: str
        choices: [copy, cow]
  import_from:
    description:
      - Create the volume from an image, on the hypervisor host. A URL is downloaded there; the image
        is checked against O(import_from.checksum), converted with qemu-img when its format is not the
        volume's, and streamed into the volume with libvirt's sparse upload (holes stay holes).
      - The import happens once. A later run with the same source reports no change. When the declared
        checksum differs from the one last imported, the content is replaced only with
        O(reimport=true) (else a warning says so).
      - Nothing is left behind when the import fails (the new volume is removed).
      - An import cut off (the libvirt daemon or the task killed) is recognised on the next run and done
        again. A record kept on the host (root only, under C(/var/lib/virtops-storage/imports)) says when
        an import started and when it finished. A record belongs to one volume (its pool's uuid, its
        name and its identity on the host, a file's inode and birth time or a partition's table entry), so
        a volume deleted and made again, by any means, is not taken for the one imported before.
      - An existing volume with no record of the declared import keeps its content, with a warning;
        O(reimport=true) replaces it.
    type: dict
    suboptions:
      src:
        description:
          - Absolute path of an image on the host, or an http, https or ftp URL.
          - A password in the URL (V(https://user:password@host/image.qcow2)) is masked in the task's output
            and not kept in the import record.
        type: str
        required: true
      checksum:
        description: Expected checksum of the source, V(<algorithm>:<hex digest>) (md5, sha1, sha224, sha256, sha384, sha512).
        type: str
      format:
        description: Format of the source image (default as qemu-img detects it).
        type: str
      validate_certs:
        description: Verify the server's TLS certificate of an https URL.
        type: bool
        default: true
      timeout:
        description: Timeout of the download, in seconds (at least 1).
        type: int
        default: 60
  reimport:
    description:
      - Replace the content of an existing volume when the O(import_from.checksum) changed, or when no
        import into it is recorded.
    type: bool
    default: false
  encryption:
    description:
      - Create the volume LUKS-encrypted (dir, fs, netfs and vstorage pools). The passphrase comes from a
        libvirt secret of usage type volume, named by uuid or by usage.
    type: dict
    suboptions:
      format:
        description: Encryption format.
        type: str
        choices: [luks]
        default: luks
      secret:
        description: The libvirt secret holding the passphrase, by uuid or by usage.
        type: dict
        required: true
        suboptions:
          uuid:
            description: UUID of the secret.
            type: str
          usage:
            description: Usage id of the secret (for volume secrets, usually the volume path).
            type: str
  allow_shrink:
    description: Allow shrinking the volume to O(capacity) (the data beyond it is lost).
    type: bool
    default: false
  allow_in_use:
    description:
      - Allow deleting, wiping, shrinking or re-importing a volume that a guest references or that is the
        backing store of other volumes (linked clones). Those guests and clones break.
    type: bool
    default: false
  delete_snapshots:
    description:
      - rbd pools, with O(state=absent) only. Delete the image's snapshots with it (libvirt's
        C(VIR_STORAGE_VOL_DELETE_WITH_SNAPSHOTS)); without it Ceph refuses to delete an image that has any.
      - libvirt leaves a protected snapshot on an image for every clone made from it with O(clone_from), so the
        base of rbd clones needs this once its clones are gone. Ceph still refuses while a clone depends on a
        snapshot (the task says so and deletes nothing).
    type: bool
    default: false
  wipe:
    description:
      - Wipe the volume's data with O(wipe_algorithm). With O(state=present) the volume is kept; a zero
        wipe is skipped when the volume already reads as zeros only, so it is idempotent. Other
        algorithms wipe on every run. With O(state=absent) the volume is wiped before it is deleted.
      - File volumes other than raw are refused with O(state=present) (their header would be lost).
    type: bool
    default: false
  wipe_algorithm:
    description: Wipe algorithm (libvirt C(virStorageVolWipeAlgorithm)); default V(zero).
    type: str
    choices: [zero, nnsa, dod, bsi, gutmann, schneier, pfitzner7, pfitzner33, random, trim]
notes:
  - Volumes of iscsi, iscsi-direct, scsi and mpath pools are the LUNs of their target or adapter; they
    can be read, wiped and turned into guest disks, not created, resized or deleted.
  - libvirt 9.0 cannot delete partitions whose name carries a V(p) separator (loop and NVMe devices,
    where it runs C(parted rm p2)); the module then removes the partition with parted and refreshes the pool.
seealso:
  - module: virtops.storage.storage_volume_info
  - module: virtops.storage.storage_pool
"""

EXAMPLES = r"""
- name: A 20 GiB qcow2 volume in a dir pool
  virtops.storage.storage_volume:
    pool: images
    name: vm1.qcow2
    capacity: 20G
    format: qcow2
    preallocation: metadata
  register: vm1
# vm1.volume.disk_xml (file family: dir, fs, netfs, vstorage):
#   <disk type="file" device="disk">
#     <driver name="qemu" type="qcow2"/>
#     <source file="/var/lib/libvirt/images/vm1.qcow2"/>
#     <target dev="vdb" bus="virtio"/>
#   </disk>

- name: A partition of a disk pool, named by the module, as a SCSI disk
  virtops.storage.storage_volume:
    pool: sdb-disk
    capacity: 10G
    format: linux
    disk:
      bus: scsi
# block family (logical, disk, scsi, mpath, zfs, iscsi host mode):
#   <disk type="block" device="disk">
#     <driver name="qemu" type="raw" cache="none" io="native"/>
#     <source dev="/dev/sdb3"/>
#     <target dev="sdb" bus="scsi"/>
#   </disk>

- name: A Ceph RBD image
  virtops.storage.storage_volume:
    pool: ceph-rbd
    name: vm2-root
    capacity: 40G
# network family, rbd (hosts and auth from the pool):
#   <disk type="network" device="disk">
#     <driver name="qemu" type="raw"/>
#     <source protocol="rbd" name="libvirt-pool/vm2-root">
#       <host name="mon1" port="6789"/>
#       <auth username="libvirt">
#         <secret type="ceph" usage="client.libvirt secret"/>
#       </auth>
#     </source>
#     <target dev="vdb" bus="virtio"/>
#   </disk>

- name: The disk XML of an iSCSI LUN, reached by QEMU directly
  virtops.storage.storage_volume:
    pool: iscsi-direct-pool
    name: unit:0:0:1
    disk:
      bus: scsi
# network family, iscsi (iscsi-direct, or iscsi with disk.mode direct):
#   <disk type="network" device="disk">
#     <driver name="qemu" type="raw"/>
#     <source protocol="iscsi" name="iqn.2024-01.com.example:store/1">
#       <host name="192.0.2.10" port="3260"/>
#       <auth username="initiator1">
#         <secret type="iscsi" usage="store-chap"/>
#       </auth>
#       <initiator>
#         <iqn name="iqn.2024-01.com.example:host1"/>
#       </initiator>
#     </source>
#     <target dev="sdb" bus="scsi"/>
#   </disk>
# gluster: <source protocol="gluster" name="gv0/images/vm3.img"> with the pool's host.

- name: A linked clone of a base image
  virtops.storage.storage_volume:
    pool: images
    name: vm3.qcow2
    backing_store:
      name: base.qcow2
      format: qcow2

- name: A full copy of a template from another pool, as raw
  virtops.storage.storage_volume:
    pool: fast
    name: vm4.img
    format: raw
    clone_from:
      pool: templates
      name: debian12.qcow2

- name: Import a cloud image once, converted to raw, sparse
  virtops.storage.storage_volume:
    pool: images
    name: debian12.img
    format: raw
    capacity: 20G
    import_from:
      src: https://cloud.example.org/debian-12-genericcloud-amd64.qcow2
      checksum: sha512:2f9a...  # the image's published checksum

- name: Grow a volume (shrinking needs allow_shrink)
  virtops.storage.storage_volume:
    pool: images
    name: vm1.qcow2
    capacity: 40G

- name: A LUKS-encrypted volume whose passphrase is in a libvirt secret
  virtops.storage.storage_volume:
    pool: images
    name: secret-data.img
    capacity: 5G
    encryption:
      secret:
        usage: /var/lib/libvirt/images/secret-data.img

- name: Zero a volume and delete it
  virtops.storage.storage_volume:
    pool: images
    name: old.img
    state: absent
    wipe: true
"""

RETURN = r"""
changed:
  description: Whether anything was (or, in check mode, would be) changed.
  returned: always
  type: bool
actions:
  description: What the module did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["create volume vm1.qcow2 in pool images (20 GiB, qcow2; 21474836480 bytes)"]
volume:
  description:
    - The volume as it is after the task; null when it does not exist.
    - In check mode, a volume to be created has the facts known in advance (see the description); the rest are null.
  returned: always
  type: dict
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
      description: The full volume XML as libvirt reports it (with its timestamps); null in check mode before creation.
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
diff:
  description:
    - The volume before and after the task, from the same plan as RV(changed). It is empty exactly when nothing changes.
    - Shows the fields an action changes (state, capacity, format, permissions, backing_store, encryption, the
      source of a clone or an import, V(wiped) with its algorithm); a deletion shows what is deleted.
  returned: when diff mode is on
  type: dict
"""


from ansible_collections.virtops.storage.plugins.module_utils import bytecode_cache

# before the other imports: they are compiled once per host, not once per task
bytecode_cache.install()

from ansible_collections.virtops.storage.plugins.module_utils.connection import CONNECTION_ARGUMENT_SPEC
from ansible_collections.virtops.storage.plugins.module_utils.converge import run_module
from ansible_collections.virtops.storage.plugins.module_utils.params import OptionNamingModule
from ansible_collections.virtops.storage.plugins.module_utils.volume import VolumeConverger
from ansible_collections.virtops.storage.plugins.module_utils.volume_spec import VOLUME_ARGUMENT_SPEC


ARGUMENT_SPEC = dict(VOLUME_ARGUMENT_SPEC, **CONNECTION_ARGUMENT_SPEC)


def main():
    module = OptionNamingModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run_module(module, VolumeConverger)


if __name__ == "__main__":
    main()
