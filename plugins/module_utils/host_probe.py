# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only probes of the hypervisor host: does a pool need building, does a volume hold data.

The module runs on the hypervisor, so these look at the devices and paths the
local libvirtd will use. They never change anything: ``stat``, ``blkid -p``
and ``lsblk`` only read.
"""

from __future__ import annotations

import json
import os
import stat

_CHUNK = 1024 * 1024


class HostProbe:
    """Probes that run commands through an AnsibleModule (``run_command``)."""

    def __init__(self, module):
        self.module = module

    def is_dir(self, path):
        """True when ``path`` is an existing directory."""
        return os.path.isdir(path)

    def exists(self, path):
        """True when ``path`` exists."""
        return os.path.exists(path)

    def entries(self, directory):
        """The names in ``directory``, sorted."""
        return sorted(os.listdir(directory))

    def file_type(self, path):
        """Return what ``path`` is: 'directory', 'regular file', 'block device', ...; None when it does not exist."""
        try:
            mode = os.stat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):  # NotADirectory: a parent is a file, so nothing is there
            return None
        for test, kind in ((stat.S_ISDIR, "directory"), (stat.S_ISREG, "regular file"), (stat.S_ISBLK, "block device"),
                           (stat.S_ISCHR, "character device"), (stat.S_ISFIFO, "named pipe"), (stat.S_ISSOCK, "socket")):
            if test(mode):
                return kind
        return "special file"

    def missing_directories(self, path):
        """Return ``path`` and those of its parents that do not exist, deepest first: what a build would create."""
        missing = []
        while path and path != os.path.dirname(path) and not os.path.lexists(path):
            missing.append(path)
            path = os.path.dirname(path)
        return missing

    def permissions(self, path):
        """Return the mode ('0755'), owner and group (numeric ids) of ``path``, like a pool's target permissions."""
        st = os.stat(path)
        return {"mode": "%04o" % stat.S_IMODE(st.st_mode), "owner": st.st_uid, "group": st.st_gid}

    def signature(self, device):
        """Return what a device holds: {'filesystem': 'ext4'} or {'label': 'gpt'}, {} when blank.

        ``blkid -p`` probes the device itself (no cache); exit code 2 means
        nothing was found.
        """
        blkid = self.module.get_bin_path("blkid", required=True)
        rc, out, err = self.module.run_command([blkid, "-p", "-o", "export", device])
        if rc == 2:
            return {}
        if rc != 0:
            return {"error": (err or out).strip() or "blkid exit code %d" % rc}
        values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        if values.get("PTTYPE"):
            return {"label": values["PTTYPE"], "partitions": self.partitions(device)}
        if values.get("TYPE"):
            return {"filesystem": values["TYPE"]}
        return {"other": ", ".join("%s=%s" % kv for kv in sorted(values.items()))}

    def partitions(self, device):
        """Return the partition device names on ``device`` (lsblk), [] when none or unknown."""
        lsblk = self.module.get_bin_path("lsblk")
        if not lsblk:
            return []
        rc, out, dummy = self.module.run_command([lsblk, "-nro", "NAME,TYPE", device])
        if rc != 0:
            return []
        return [line.split()[0] for line in out.splitlines() if line.endswith(" part")]

    def holds_only_zeros(self, path):
        """True when the file or block device at ``path`` reads as zeros only (holes are skipped unread).

        Returns None when the host cannot read it (not a local path).
        """
        if not path or not path.startswith("/") or not os.path.exists(path):
            return None
        fd = os.open(path, os.O_RDONLY)
        try:
            end = os.lseek(fd, 0, os.SEEK_END)
            offset = 0
            while offset < end:
                try:
                    offset = os.lseek(fd, offset, os.SEEK_DATA)
                except OSError:
                    return True  # only a hole is left
                chunk = os.pread(fd, _CHUNK, offset)
                if not chunk:
                    return True
                if chunk.count(0) != len(chunk):
                    return False
                offset += len(chunk)
            return True
        finally:
            os.close(fd)

    def volume_identity(self, path):
        """Return a string naming this very file or partition at ``path``; None when it cannot be told.

        The path alone does not tell a volume from one deleted and made again under the same
        name (a filesystem hands out a freed inode number again at once): a file is named by
        its device, inode and birth time, a partition by its partition-table entry (a gpt
        entry has a uuid of its own; a dos one only its place on the disk).
        """
        if not path or not path.startswith("/") or not os.path.exists(path):
            return None
        st = os.stat(path)
        if stat.S_ISREG(st.st_mode):
            # Python 3.11 has no birth time on Linux; GNU stat reads it with statx ('-' when unknown)
            rc, out, dummy = self.module.run_command(["stat", "-c", "%w", path])
            born = out.strip() if rc == 0 else "-"
            return "file:%d:%d:%s" % (st.st_dev, st.st_ino, born)
        if stat.S_ISBLK(st.st_mode):
            blkid = self.module.get_bin_path("blkid", required=True)
            rc, out, dummy = self.module.run_command([blkid, "-p", "-o", "export", path])
            values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
            entry = [values.get(key) for key in ("PART_ENTRY_UUID", "PART_ENTRY_OFFSET", "PART_ENTRY_SIZE")]
            if not any(entry):
                return None  # a whole device or a LUN: nothing of its own to tell it by
            return "partition:%s" % ":".join(value or "" for value in entry)
        return None

    def image_format(self, path):
        """Return the image format qemu-img finds in the file or device at ``path`` (None when it cannot read it).

        ``-U`` reads without taking the image lock: a backing file is open in running guests.
        """
        if not path or not path.startswith("/") or not os.path.exists(path):
            return None
        qemu_img = self.module.get_bin_path("qemu-img")
        if not qemu_img:
            return None
        rc, out, dummy = self.module.run_command([qemu_img, "info", "-U", "--output=json", path])
        if rc != 0:
            return None
        return json.loads(out).get("format")

    def max_file_size(self, directory):
        """Return the largest file the filesystem holding ``directory`` can have (None when unknown).

        ext4 addresses a file's blocks with 32 bits: (2**32 - 1) blocks; every other filesystem
        stops at the largest file offset Linux has (2**63 - 1).
        """
        if not directory or not os.path.isdir(directory):
            return None
        largest = 2 ** 63 - 1
        if _filesystem_type(directory) in ("ext2", "ext3", "ext4"):
            largest = (2 ** 32 - 1) * os.statvfs(directory).f_bsize
        return largest


def _filesystem_type(path):
    """The type of the filesystem mounted at the longest mount point above ``path`` (/proc/mounts)."""
    path = os.path.realpath(path)
    found, depth = None, -1
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                fields = line.split()
                point = fields[1].replace("\\040", " ")
                inside = path == point or path.startswith(point.rstrip("/") + "/")
                if inside and len(point) > depth:
                    found, depth = fields[2], len(point)
    except OSError:
        return None
    return found
