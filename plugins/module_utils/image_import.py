# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Importing an image into a volume, on the hypervisor itself.

The source (a local file or a URL, fetched by the module on the host) is
checked against the declared checksum, inspected with ``qemu-img info``,
converted with ``qemu-img convert`` when its format is not the volume's, and
written into the volume with its holes kept as holes, so a sparse image stays
sparse in the pool: copied straight into the volume's file when the daemon
runs on this host and the volume is a file this module can write (``copy_sparse``,
at the speed of ``cp``), else streamed with libvirt's sparse upload.

A small record per imported volume (source and checksum) lets a later run
tell "same image, nothing to do" from "the declared checksum changed".
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import tempfile

from urllib.parse import urlsplit, urlunsplit

from ansible_collections.virtops.storage.plugins.module_utils.connection import libvirt
from ansible_collections.virtops.storage.plugins.module_utils.errors import ParameterError, VirtopsError
from ansible_collections.virtops.storage.plugins.module_utils.records import RecordStore, record_dirs

CHECKSUM_ALGORITHMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
URL_SCHEMES = ("http://", "https://", "ftp://")
CHUNK = 1024 * 1024
_BLOCK = 64 * 1024  # granularity of the holes a download keeps
RECORD_DIRS = record_dirs("imports")


def parse_checksum(value):
    """Return (algorithm, hex digest) of a declared 'sha256:<hex>' checksum; ParameterError when invalid."""
    param = "import_from.checksum"
    if ":" not in value:
        raise ParameterError(param, "'%s' is not <algorithm>:<hex digest> (for example sha256:9f86d0...)" % value)
    algorithm, digest = value.split(":", 1)
    algorithm, digest = algorithm.strip().lower(), digest.strip().lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise ParameterError(param, "unknown algorithm '%s' (use one of %s)" % (algorithm, ", ".join(CHECKSUM_ALGORITHMS)))
    size = hashlib.new(algorithm).digest_size * 2
    if len(digest) != size or any(c not in "0123456789abcdef" for c in digest):
        raise ParameterError(param, "'%s' is not a %s digest (%d hex digits)" % (digest, algorithm, size))
    return algorithm, digest


def _digest(path, algorithm):
    """Return the hex digest of the file at ``path``."""
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def _write_sparse(handle, data):
    """Write ``data`` at the file's position, leaving holes where whole blocks are zeros (as the image had them)."""
    for start in range(0, len(data), _BLOCK):
        block = data[start:start + _BLOCK]
        if block.count(0) == len(block):
            handle.seek(len(block), os.SEEK_CUR)
        else:
            handle.write(block)


def is_url(src):
    """True when the import source is a URL rather than a path on the host."""
    return src.lower().startswith(URL_SCHEMES)


def hide_credentials(module, src):
    """Return ``src`` as messages and records show it: a URL's password (user:password@host) as ********.

    The password also joins the module's no_log values, so Ansible masks it
    wherever it appears (the task's invocation included).
    """
    if not is_url(src):
        return src
    parts = urlsplit(src)
    if not parts.password:
        return src
    module.no_log_values.add(parts.password)
    netloc = "%s:********@%s" % (parts.username or "", parts.netloc.rsplit("@", 1)[1])
    return urlunsplit(parts._replace(netloc=netloc))


def describe_import(shown_src, checksum, unfinished=False):
    """How diffs show an import: 'SRC (sha256:...)', with ', did not finish' for an import cut off."""
    details = ([checksum] if checksum else []) + (["did not finish"] if unfinished else [])
    return "%s (%s)" % (shown_src, ", ".join(details)) if details else shown_src


class ImportSource:
    """One image to import: fetched, verified and converted into a temporary directory."""

    def __init__(self, module, options):
        self.module = module
        self.src = options["src"]   # what is fetched
        self.shown = hide_credentials(module, self.src)   # what messages and the import record show
        self.checksum = options.get("checksum")
        self.declared_format = options.get("format")
        self.validate_certs = options.get("validate_certs", True)
        self.timeout = options.get("timeout") or 60
        self.tmpdir = None
        self.path = None        # the verified image on the host
        self.format = None      # its format (declared or found by qemu-img)
        self.virtual_size = None

    def local_virtual_size(self):
        """The virtual size of a local image, read without importing it (None for a URL or an unreadable file)."""
        if is_url(self.src) or not os.path.isfile(self.src):
            return None
        try:
            return int(self._qemu_img_info(self.src, self.declared_format)["virtual-size"])
        except (VirtopsError, ValueError, KeyError):  # qemu-img cannot read it: the import will say why
            return None

    @property
    def described(self):
        """The source and checksum as diffs show them."""
        return describe_import(self.shown, self.checksum)

    def check(self):
        """Validate what can be checked without reading the image (check mode does only this)."""
        if self.checksum:
            parse_checksum(self.checksum)
        if not is_url(self.src):
            if not os.path.isabs(self.src):
                raise ParameterError("import_from.src", "'%s' is neither an absolute path on the host nor an http, "
                                     "https or ftp URL" % self.src)
            if not os.path.exists(self.src):
                raise ParameterError("import_from.src", "file %s does not exist on the host" % self.src)
            if not os.path.isfile(self.src):
                raise ParameterError("import_from.src", "%s is not a regular file" % self.src)

    def prepare(self):
        """Fetch (URLs), verify the checksum and inspect the image."""
        self.check()
        self.tmpdir = tempfile.mkdtemp(prefix="virtops-import-", dir=self.module.tmpdir)
        algorithm, wanted = parse_checksum(self.checksum) if self.checksum else (None, None)
        if is_url(self.src):
            self.path = os.path.join(self.tmpdir, "download")
            digest = self._download(self.path, algorithm)
        else:
            self.path = self.src
            digest = _digest(self.path, algorithm) if algorithm else None
        if algorithm and digest != wanted:
            raise VirtopsError("import_from.checksum: the %s of %s is %s, not the declared %s: nothing was "
                               "imported" % (algorithm, self.shown, digest, wanted), param="import_from.checksum")
        info = self._qemu_img_info(self.path, self.declared_format)
        self.format = self.declared_format or info["format"]
        self.virtual_size = int(info["virtual-size"])

    def _download(self, dest, algorithm):
        """Download the source to ``dest``; return its digest with ``algorithm`` (None without one)."""
        # Imported here, not at the top: the URL client (urllib.request, http.client, ssl) costs every
        # storage_volume task tens of milliseconds, and only an import from a URL uses it.
        from ansible.module_utils.urls import open_url

        hasher = hashlib.new(algorithm) if algorithm else None
        try:
            response = open_url(self.src, validate_certs=self.validate_certs, timeout=self.timeout,
                                http_agent="virtops.storage")
        except Exception as exc:  # pylint: disable=broad-except  # HTTPError, URLError, socket and SSL errors alike
            raise VirtopsError("import_from.src: cannot download %s: %s" % (self.shown, exc), param="import_from.src")
        with open(dest, "wb") as handle:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                if hasher:
                    hasher.update(chunk)
                _write_sparse(handle, chunk)
            handle.truncate()  # a trailing hole still counts in the size
        return hasher.hexdigest() if hasher else None

    def _qemu_img_info(self, path, fmt):
        command = [self.module.get_bin_path("qemu-img", required=True), "info", "--output=json"]
        if fmt:
            command += ["-f", fmt]
        rc, out, err = self.module.run_command(command + [path])
        if rc != 0:
            raise VirtopsError("import_from: qemu-img cannot read %s: %s" % (self.shown, err.strip()),
                               param="import_from.src")
        return json.loads(out)

    def converted_to(self, volume_format):
        """Return the path of the image in ``volume_format``, converting it (sparse) when needed."""
        if volume_format == self.format:
            return self.path
        converted = os.path.join(self.tmpdir, "converted")
        command = [self.module.get_bin_path("qemu-img", required=True), "convert", "-f", self.format,
                   "-O", volume_format, self.path, converted]
        rc, dummy, err = self.module.run_command(command)
        if rc != 0:
            raise VirtopsError("import_from: converting %s from %s to %s failed: %s" % (
                self.shown, self.format, volume_format, err.strip()), param="import_from")
        return converted

    def cleanup(self):
        """Remove the downloaded and converted files."""
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None


# ---------------------------------------------------------------- sparse copy and upload

# copy_file_range cannot copy between these two files (another filesystem on an older kernel, a filesystem
# without it): the bytes are copied by reading and writing them instead
_NO_COPY_RANGE = (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF)


def copy_sparse(source_path, volume_path):
    """Copy the file at ``source_path`` into the volume's existing file ``volume_path`` on this host.

    Only the data extents are written (a hole of the source leaves the volume's bytes there as they are,
    as libvirt's sparse upload does), the file is cut or extended to the image's size, and the volume is
    flushed to disk before this returns: the import
    is recorded as done after it. Returns False, having written nothing, when the volume's file cannot
    be opened for writing (a root-squashed NFS export): the caller streams through libvirt instead.
    """
    try:
        target = os.open(volume_path, os.O_WRONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        if not _is_regular(target):
            return False
        source = os.open(source_path, os.O_RDONLY)
        try:
            size = os.fstat(source).st_size
            for offset, length in data_extents(source, size):
                _copy_range(source, target, offset, length)
        finally:
            os.close(source)
        # the file ends where the image ends, as after libvirt's upload: a capacity declared larger is a resize
        # after the import, and what was there before may reach past the image (libvirt's zero wipe writes up to
        # the file's allocation, a block past its end)
        os.ftruncate(target, size)
        os.fdatasync(target)
    finally:
        os.close(target)
    return True


def _is_regular(fd):
    return stat.S_ISREG(os.fstat(fd).st_mode)


def data_extents(fd, size):
    """Yield (offset, length) of each run of data in the open file ``fd`` of ``size`` bytes (SEEK_DATA/HOLE)."""
    offset = 0
    while offset < size:
        try:
            data = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole after offset
                return
            raise
        hole = os.lseek(fd, data, os.SEEK_HOLE)
        yield data, hole - data
        offset = hole


def _copy_range(source, target, offset, length):
    """Copy ``length`` bytes at ``offset`` of ``source`` to the same offset of ``target``."""
    done = 0
    while done < length:
        try:
            copied = os.copy_file_range(source, target, length - done, offset + done, offset + done)
        except (AttributeError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno not in _NO_COPY_RANGE:
                raise
            _read_write_range(source, target, offset + done, length - done)
            return
        if copied == 0:  # the source ended early (it shrank under us): nothing more to copy
            return
        done += copied


def _read_write_range(source, target, offset, length):
    end = offset + length
    while offset < end:
        chunk = os.pread(source, min(CHUNK, end - offset), offset)
        if not chunk:
            return
        written = 0
        while written < len(chunk):
            written += os.pwrite(target, chunk[written:], offset + written)
        offset += len(chunk)


def upload_sparse(conn, volume, path):
    """Stream the file at ``path`` into ``volume``, sending its holes as holes (VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)."""
    stream = conn.newStream(0)
    volume.upload(stream, 0, 0, libvirt.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)
    fd = os.open(path, os.O_RDONLY)
    try:
        stream.sparseSendAll(_read, _in_data, _skip, fd)
        stream.finish()
    except Exception:
        stream.abort()
        raise
    finally:
        os.close(fd)


def upload_zeros(conn, volume, length):
    """Write ``length`` zero bytes into ``volume`` (a fully written, not just reserved, volume)."""
    stream = conn.newStream(0)
    volume.upload(stream, 0, length, 0)
    zeros = b"\0" * CHUNK
    try:
        left = length
        while left > 0:
            left -= stream.send(zeros[:min(left, CHUNK)])
        stream.finish()
    except Exception:
        stream.abort()
        raise


def _read(stream, nbytes, fd):
    return os.read(fd, nbytes)


def _in_data(stream, fd):
    """libvirt's holeHandler: (in data?, bytes until that changes) at the file's current offset."""
    current = os.lseek(fd, 0, os.SEEK_CUR)
    try:
        data = os.lseek(fd, current, os.SEEK_DATA)
    except OSError:
        # ENXIO: no data after the offset; the rest of the file is one hole
        end = os.lseek(fd, 0, os.SEEK_END)
        os.lseek(fd, current, os.SEEK_SET)
        return False, end - current
    if data > current:
        os.lseek(fd, current, os.SEEK_SET)
        return False, data - current
    hole = os.lseek(fd, current, os.SEEK_HOLE)
    os.lseek(fd, current, os.SEEK_SET)
    return True, hole - current


def _skip(stream, length, fd):
    os.lseek(fd, length, os.SEEK_CUR)
    return 0


# ---------------------------------------------------------------- records

class ImportRecords(RecordStore):
    """What was imported into which volume: one record per volume, keyed by ``import_key``.

    A record is written before the volume is created (state ``importing``) and completed when
    the content is in (state ``done``), so a run cut off in between (a daemon or the module
    killed) leaves a record the next run recognises: the volume is the module's unfinished
    work, not the user's data. A record also holds the identity of the volume it was written
    for (``HostProbe.volume_identity``): a volume deleted and made again under the same name
    does not inherit the record of the old one.
    """

    def __init__(self, directories=RECORD_DIRS):
        super().__init__(directories)

    def begin(self, key, source, identity=None):
        """Record that an import of ``source`` (an ImportSource) starts now, into the volume with ``identity``.

        None: a volume about to be created, or one the host cannot identify. Such a record, left by a run
        cut off, matches whatever volume has that name later: it never allows a re-import by itself
        (VolumeConverger._plan_reimport asks for reimport: true).
        Without a record nothing would tell a cut-off import later: no record, no import.
        """
        if not self.write(key, {"src": source.shown, "checksum": source.checksum, "state": "importing",
                                "identity": identity}):
            raise VirtopsError("cannot keep the import record in %s (a later run could not tell a cut-off import "
                               "from the user's data): nothing was imported" % " or ".join(self.directories))

    def finish(self, key, source, identity):
        """Record that ``source`` is now the content of the volume with ``identity``."""
        self.write(key, {"src": source.shown, "checksum": source.checksum, "state": "done", "identity": identity})

    def of_volume(self, key, identity):
        """Return the record of the volume with ``identity`` under ``key``; None when there is none or it
        was written for another volume of that name (one deleted since, by any means).

        When either identity is unknown (None) the record is returned: the caller must not take it for
        proof that the volume is the one the record was written for.
        """
        record = self.read(key)
        if record and identity and record.get("identity") and record["identity"] != identity:
            return None
        return record


def import_key(pool_uuid, volume_name):
    """The import record key of a volume: its pool's uuid (a re-created pool has a new one) and its name."""
    return "%s/%s" % (pool_uuid, volume_name)
