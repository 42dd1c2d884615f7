# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The disk option of the volume modules. Keep in sync with DISK_OPTIONS_SPEC in plugins/module_utils/disk_xml.py."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  disk:
    description:
      - How the guest C(<disk>) element of a volume is written (the C(disk_xml) the volume modules return).
      - The source follows the pool type. Volumes of dir, fs, netfs and vstorage pools become
        C(type='file') disks with the volume's real format as driver type. Volumes of logical, disk,
        scsi, mpath, zfs and iscsi pools become C(type='block') raw disks with C(cache='none') and
        C(io='native') unless O(disk.cache) or O(disk.io) say otherwise. Volumes of rbd, gluster and
        iscsi-direct pools become C(type='network') disks with the pool's hosts, the image name
        (rbd C(pool/image), gluster C(volume/dir/image), iscsi C(iqn/lun)) and an C(<auth>) with a
        C(ceph) or C(iscsi) secret taken from the pool's auth.
    type: dict
    suboptions:
      bus:
        description: Guest bus of the disk.
        type: str
        choices: [virtio, scsi, sata, ide, usb]
        default: virtio
      dev:
        description:
          - Target device name in the guest, as libvirt's domain schema allows it, that is C(fd), C(hd), C(sd),
            C(vd), C(xvd) or C(ubd) followed by letters, digits or C(_) (V(vdb), V(sdc)).
          - Defaults to the second device of the bus (V(vdb), V(sdb) or V(hdb)).
        type: str
      device:
        description:
          - What the guest sees. V(lun) passes SCSI commands through and needs O(disk.bus=scsi) and a
            block or iSCSI volume.
        type: str
        choices: [disk, cdrom, lun]
        default: disk
      source:
        description:
          - V(concrete) writes the volume's file, device or network source. V(volume) writes a
            C(type='volume') disk (C(<source pool= volume=>)) that libvirt resolves when the guest starts;
            libvirt refuses it for rbd, gluster and mpath pools, so it is refused there.
        type: str
        choices: [concrete, volume]
        default: concrete
      mode:
        description:
          - iscsi pools only. V(host) uses the LUN's block device on the host, V(direct) lets QEMU's own
            iSCSI initiator reach the target (a C(type='network') disk with the pool's host and auth).
        type: str
        choices: [host, direct]
      cache:
        description: Driver cache mode. Block disks default to V(none).
        type: str
        choices: [default, none, writethrough, writeback, directsync, unsafe]
      io:
        description:
          - Driver I/O mode. Block disks default to V(native) when the cache mode is V(none) or
            V(directsync) (QEMU needs one of them for native AIO).
        type: str
        choices: [native, threads, io_uring]
      discard:
        description: Whether discard requests reach the volume.
        type: str
        choices: [ignore, unmap]
      detect_zeroes:
        description: Whether QEMU turns writes of zeros into zero-writes or discards.
        type: str
        choices: ['off', 'on', unmap]
      readonly:
        description: Read-only disk. A cdrom is always read-only (libvirt stores it so).
        type: bool
        default: false
      shareable:
        description: Disk shared between guests (no locking by QEMU's image locks).
        type: bool
        default: false
      serial:
        description:
          - Serial number the guest sees; letters, digits, spaces and C(_ . + -) (libvirt's domain schema).
          - Linux shows it under C(/dev/disk/by-id/); it is the way to find a disk in the guest whatever name
            the guest gives it.
        type: str
      wwn:
        description:
          - World Wide Name the guest sees, 16 hexadecimal digits (V(0x5000c50015ea71ac)). scsi, sata and ide
            disks only.
        type: str
      boot_order:
        description:
          - Boot order of the disk (C(<boot order=N/>)), 1 first. libvirt refuses it in a guest whose
            definition has C(<os><boot dev=.../></os>) elements.
        type: int
      iotune:
        description:
          - I/O limits of the disk (C(<iotune>)); 0 is no limit. A running guest's limits change in place.
          - A total limit (O(disk.iotune.total_bytes_sec), O(disk.iotune.total_iops_sec)) excludes the read and
            write limits of its kind, as in libvirt.
          - With M(virtops.storage.disk_attach), limits left out keep the value the disk has, and a declared total
            limit replaces the read and write limits of its kind (a declared read or write limit the total one).
        type: dict
        suboptions:
          total_bytes_sec:
            description: Bytes per second, reads and writes together.
            type: int
          read_bytes_sec:
            description: Bytes read per second.
            type: int
          write_bytes_sec:
            description: Bytes written per second.
            type: int
          total_iops_sec:
            description: I/O operations per second, reads and writes together.
            type: int
          read_iops_sec:
            description: Read operations per second.
            type: int
          write_iops_sec:
            description: Write operations per second.
            type: int
"""
