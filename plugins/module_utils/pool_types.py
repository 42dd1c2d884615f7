# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""THE table of libvirt storage pool types.

Every difference between pool types lives here: which source fields a type
takes and requires, its target rules, what its libvirt backend can do, which
volume formats it accepts, how it is probed before a build, and what one of
its volumes becomes as a guest ``<disk>``. Nothing outside this file branches
on a pool type name; callers ask the table (``pool_type(name)``).

Sources: libvirt 9.0 ``src/conf/storage_conf.c`` (poolTypeInfo) and the
``virStorageBackend`` structs of the 9.0 storage backends (read from Debian's
``libvirt-daemon-driver-storage-*`` plugins); ``virsh pool-capabilities`` for
the formats. ``required`` is stricter than libvirt's parser where a pool could
be defined but never started (an iscsi pool without a target IQN).
"""

from __future__ import annotations

from collections import namedtuple

# Volume formats of file-backed pools (virStorageFileFormat, as pool-capabilities lists them).
FILE_VOLUME_FORMATS = (
    "none", "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd",
    "ploop", "cow", "qcow", "qcow2", "qed", "vmdk",
)
# Partition types of a disk pool's volumes (virStorageVolFormatDisk).
PARTITION_VOLUME_FORMATS = (
    "none", "linux", "fat16", "fat32", "linux-swap", "linux-lvm", "linux-raid", "extended",
)
FS_SOURCE_FORMATS = (
    "auto", "ext2", "ext3", "ext4", "ufs", "iso9660", "udf", "gfs", "gfs2", "vfat", "hfs+",
    "xfs", "ocfs2", "vmfs",
)
NETFS_SOURCE_FORMATS = ("auto", "nfs", "glusterfs", "cifs")
DISK_SOURCE_FORMATS = ("unknown", "dos", "dvh", "gpt", "mac", "bsd", "pc98", "sun", "lvm2")
LOGICAL_SOURCE_FORMATS = ("lvm2", "unknown")
# netfs source formats that take a <protocol ver=> (libvirt refuses it for cifs and glusterfs).
PROTOCOL_VERSION_FORMATS = ("auto", "nfs")

# Source fields of the structured ``source`` option (and of the parsed spec).
SOURCE_FIELDS = (
    "hosts", "dir", "devices", "adapter", "name", "format", "auth",
    "initiator_iqn", "protocol_version", "vendor", "product",
)

# Backend operations (the virStorageBackend callbacks a type sets; volume_delete_snapshots: its volume deletion
# takes VIR_STORAGE_VOL_DELETE_WITH_SNAPSHOTS).
OPERATIONS = (
    "build", "delete", "volume_create", "volume_clone", "volume_delete", "volume_resize",
    "volume_wipe", "volume_upload", "volume_download", "volume_delete_snapshots",
)
# Volume options beyond name/capacity/format a pool type's volumes take (see VOLUME_OPTIONS_*).
VOLUME_OPTIONS = ("allocation", "preallocation", "permissions", "qcow2", "nocow", "backing_store",
                  "encryption")
# Files created by qemu-img (the dir/fs/netfs/vstorage backends): every option.
_FILE_VOLUME_OPTIONS = VOLUME_OPTIONS
# The secret type a guest <disk> <auth> uses for a pool's source auth type.
DISK_SECRET_TYPES = {"chap": "iscsi", "ceph": "ceph"}

PoolType = namedtuple("PoolType", [
    "name",
    "required",          # source fields libvirt refuses to define the pool without
    "optional",          # further source fields the type takes
    "max_hosts",         # how many <host> it takes (0 when none)
    "max_devices",       # how many <device> it takes (0 when none)
    "source_formats",    # allowed source <format type=>; the first is libvirt's default, always shown
    "target",            # 'required', 'optional' (libvirt derives it) or 'none' (network pools)
    "extras",            # pool-level options beyond source/target it takes
    "auth_types",        # allowed source <auth type=>
    "operations",        # frozenset of OPERATIONS the backend supports
    "build_probe",       # how to tell that the pool needs building: None, 'directory', 'filesystem', 'label'
    "volume_formats",    # formats a volume may have; () when the backend takes none
    "disk_type",         # guest <disk type=> for a volume: 'file', 'block' or 'network'
    "disk_protocol",     # network protocol for 'network' disks
    "volume_disk",       # libvirt accepts <disk type='volume'> for this pool type
    "named_by_source",   # source <name> defaults to the pool name (and the pool name to it)
    "default_source_dir",   # source <dir> libvirt fills in when missing
    "default_target_path",  # target path libvirt derives ('%s' is the source name)
    "part_separator",    # its <device> takes part_separator (partition names of the device)
    "volume_options",    # VOLUME_OPTIONS its backend honours when creating a volume
    "volume_default_format",  # the format libvirt gives a volume created without one (None: no format)
    "volume_naming",     # None (free names), 'partition' (the next partition name) or 'lun' (read only)
    "capacity_rounding",  # bytes a backend may round a requested capacity up by (alignment, extents)
    "thick_volumes",     # a volume takes its whole capacity from the pool's free space at creation
    "inactive_volumes",  # where the host shows an inactive pool's volumes: 'directory' (every entry of the
                         # target directory), 'partitions' (of the source device) or None (not without starting it)
    "volume_format_read_back",  # libvirt reports the format a volume was created with (an existing volume's
                                # format can be compared with the declared one)
    "source_conflict",   # what libvirt refuses to share with another pool (SOURCE_CONFLICTS), None: nothing
    "misleading_errors",  # the backend whose errors libvirt words misleadingly (backend_errors.py), None: none;
                          # 'gluster' in netfs: for its format glusterfs
    "clone_kind",        # what libvirt's clone of a volume is: 'copy' (a full copy of its data) or 'cow' (a Ceph
                         # copy-on-write clone of a protected snapshot of the source, in the same pool)
])

# What libvirt 9.0 refuses two pools to share when it defines one (virStoragePoolObjSourceFindDuplicate,
# "Storage source conflict with pool"), by the parameter that names it (scsi adapters, which libvirt
# resolves to host numbers, are left to libvirt):
#   target.path     another pool of the same type with the same target path (dir)
#   source.devices  a device of another pool of the 'source.devices' kind (fs, logical, disk, zfs: across types)
#   source.devices+initiator  a device of another pool of the same type with the same initiator IQN (iscsi)
#   source.dir      another pool of the same type with the same source name, dir and host (netfs, gluster)
#   type            any other pool of the same type (mpath: one per host)
SOURCE_CONFLICTS = ("target.path", "source.devices", "source.devices+initiator", "source.dir", "type")

_FILE_OPS = frozenset(["build", "delete", "volume_create", "volume_clone", "volume_delete",
                       "volume_resize", "volume_wipe", "volume_upload", "volume_download"])
_LUN_OPS = frozenset(["volume_wipe", "volume_upload", "volume_download"])


def _type(name, required=(), optional=(), max_hosts=0, max_devices=0, source_formats=(),
          target="required", extras=(), auth_types=(), operations=frozenset(), build_probe=None,
          volume_formats=(), disk_type="block", disk_protocol=None, volume_disk=True, named_by_source=False, default_source_dir=None,
          default_target_path=None, part_separator=False, volume_options=(), volume_default_format=None,
          volume_naming=None, capacity_rounding=0, thick_volumes=False, inactive_volumes=None,
          volume_format_read_back=True,
          source_conflict=None, misleading_errors=None, clone_kind="copy"):
    return PoolType(name, tuple(required), tuple(optional), max_hosts, max_devices,
                    tuple(source_formats), target, tuple(extras), tuple(auth_types),
                    frozenset(operations), build_probe, tuple(volume_formats), disk_type,
                    disk_protocol, volume_disk, named_by_source,
                    default_source_dir, default_target_path, part_separator,
                    tuple(volume_options), volume_default_format, volume_naming, capacity_rounding,
                    thick_volumes, inactive_volumes, volume_format_read_back, source_conflict, misleading_errors,
                    clone_kind)


_MIB = 1024 * 1024
# LUNs: libvirt 9.0 reports an iscsi-direct LUN one 512-byte sector short of its size
_SECTOR = 512
# what a file-backed pool's volumes share: qemu-img creates them, libvirt defaults them to raw,
# and qemu-img rounds a capacity up to whole 512-byte sectors
_FILE_VOLUMES = dict(volume_formats=FILE_VOLUME_FORMATS, disk_type="file", volume_options=_FILE_VOLUME_OPTIONS,
                     volume_default_format="raw", capacity_rounding=512)

POOL_TYPES = dict((t.name, t) for t in (
    _type("dir", extras=("cow",), operations=_FILE_OPS, build_probe="directory", source_conflict="target.path",
          inactive_volumes="directory", **_FILE_VOLUMES),
    _type("fs", required=("devices",), optional=("format",), max_devices=1,
          source_formats=FS_SOURCE_FORMATS, extras=("mount_options", "cow"), operations=_FILE_OPS,
          build_probe="filesystem", source_conflict="source.devices", **_FILE_VOLUMES),
    _type("netfs", required=("hosts", "dir"), optional=("format", "protocol_version"), max_hosts=1,
          source_formats=NETFS_SOURCE_FORMATS, extras=("mount_options", "cow"), operations=_FILE_OPS,
          build_probe="directory", source_conflict="source.dir", misleading_errors="gluster", **_FILE_VOLUMES),
    # LVs: thin allocation, snapshots as backing store, sizes rounded up to whole 4 MiB extents
    _type("logical", optional=("name", "devices", "format"), max_devices=64,
          source_formats=LOGICAL_SOURCE_FORMATS, target="optional", named_by_source=True,
          default_target_path="/dev/%s",
          operations=["build", "delete", "volume_create", "volume_clone", "volume_delete", "volume_wipe",
                      "volume_upload", "volume_download"],
          volume_options=("allocation", "backing_store"), capacity_rounding=4 * _MIB,
          source_conflict="source.devices"),
    # partitions: libvirt names them after the device and aligns them (dos: to 8 MiB cylinders); it
    # creates them with the declared partition type but reads every one back as format 'none'
    _type("disk", required=("devices",), optional=("format",), max_devices=1,
          source_formats=DISK_SOURCE_FORMATS, operations=[
              "build", "delete", "volume_create", "volume_clone", "volume_delete", "volume_wipe",
              "volume_upload", "volume_download"],
          build_probe="label", volume_formats=PARTITION_VOLUME_FORMATS, part_separator=True,
          volume_default_format="none", volume_naming="partition", capacity_rounding=8 * _MIB,
          thick_volumes=True, inactive_volumes="partitions", volume_format_read_back=False,
          source_conflict="source.devices"),
    _type("iscsi", required=("hosts", "devices"), optional=("auth", "initiator_iqn", "vendor", "product"),
          max_hosts=1, max_devices=1, auth_types=("chap",), operations=_LUN_OPS, disk_protocol="iscsi",
          volume_naming="lun", capacity_rounding=_SECTOR, source_conflict="source.devices+initiator"),
    _type("iscsi-direct", required=("hosts", "devices", "initiator_iqn"), optional=("auth",),
          max_hosts=1, max_devices=1, target="none", auth_types=("chap",),
          operations=["volume_wipe"], disk_type="network", disk_protocol="iscsi", volume_naming="lun",
          capacity_rounding=_SECTOR),
    _type("scsi", required=("adapter",), operations=_LUN_OPS, volume_naming="lun", capacity_rounding=_SECTOR),
    _type("mpath", operations=_LUN_OPS, volume_disk=False, volume_naming="lun", capacity_rounding=_SECTOR,
          source_conflict="type"),
    _type("rbd", required=("hosts", "name"), optional=("auth",), max_hosts=64, target="none",
          extras=("config_options", "refresh_volume_allocation"), auth_types=("ceph",),
          operations=["volume_create", "volume_clone", "volume_delete", "volume_resize", "volume_wipe",
                      "volume_delete_snapshots"],
          volume_formats=("raw",), disk_type="network", disk_protocol="rbd", volume_disk=False,
          misleading_errors="ceph", clone_kind="cow"),
    _type("gluster", required=("hosts",), optional=("name", "dir"), max_hosts=1, target="none",
          named_by_source=True,
          operations=["volume_delete"], volume_formats=FILE_VOLUME_FORMATS, default_source_dir="/",
          disk_type="network", disk_protocol="gluster", volume_disk=False, volume_default_format="raw",
          source_conflict="source.dir", misleading_errors="gluster"),
    # zvols: sizes rounded up to the volblocksize (16 KiB by default)
    _type("zfs", optional=("name", "devices"), max_devices=64, target="optional",
          named_by_source=True, default_target_path="/dev/zvol/%s",
          operations=["build", "delete", "volume_create", "volume_delete", "volume_upload",
                      "volume_download"], capacity_rounding=16 * 1024, source_conflict="source.devices"),
    _type("vstorage", optional=("name",), named_by_source=True, operations=_FILE_OPS, **_FILE_VOLUMES),
))

POOL_TYPE_NAMES = tuple(POOL_TYPES)


def pool_type(name):
    """Return the table row for pool type ``name`` (KeyError when unknown)."""
    return POOL_TYPES[name]


def takes(row, field):
    """True when pool type ``row`` takes source field or extra ``field``."""
    return field in row.required or field in row.optional or field in row.extras


def supports(row, operation):
    """True when the libvirt backend of pool type ``row`` implements ``operation``."""
    if operation not in OPERATIONS:
        raise ValueError("unknown operation %r" % operation)
    return operation in row.operations
