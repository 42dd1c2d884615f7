"""copy_sparse: an image copied straight into a volume's file on this host, holes kept, content byte for byte."""

import errno
import hashlib
import os

import pytest

from ansible_collections.virtops.storage.plugins.module_utils import image_import
from ansible_collections.virtops.storage.plugins.module_utils.image_import import copy_sparse, data_extents

MIB = 1024 * 1024


def sparse_file(path, size, extents):
    """A file of ``size`` bytes holding random data at each (offset, length) of ``extents``, holes elsewhere."""
    with open(path, "wb") as handle:
        handle.truncate(size)
        for offset, length in extents:
            handle.seek(offset)
            handle.write(os.urandom(length))
    return str(path)


def digest(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def allocated(path):
    return os.stat(path).st_blocks * 512


@pytest.fixture
def image(tmp_path):
    return sparse_file(tmp_path / "image.raw", 64 * MIB, [(0, MIB), (20 * MIB, 3 * MIB), (63 * MIB, MIB)])


def new_volume(tmp_path, size=0):
    """An empty volume file as libvirt creates one in a dir pool (sparse, maybe of its capacity already)."""
    path = tmp_path / "volume.raw"
    with open(path, "wb") as handle:
        handle.truncate(size)
    return str(path)


@pytest.mark.parametrize("volume_size", [0, 64 * MIB, 64 * MIB + 4096, 128 * MIB])
def test_content_equal_and_holes_kept(tmp_path, image, volume_size):
    volume = new_volume(tmp_path, volume_size)
    assert copy_sparse(image, volume) is True
    assert os.path.getsize(volume) == 64 * MIB  # as long as the image, as after libvirt's upload
    assert digest(volume) == digest(image)
    assert allocated(volume) <= allocated(image) + MIB  # the holes stay holes


def test_extents_of_the_source(image):
    fd = os.open(image, os.O_RDONLY)
    try:
        extents = list(data_extents(fd, os.fstat(fd).st_size))
    finally:
        os.close(fd)
    assert sum(length for dummy, length in extents) >= 5 * MIB
    assert sum(length for dummy, length in extents) < 16 * MIB  # not the whole 64 MiB


def test_an_all_hole_image_writes_nothing_but_the_size(tmp_path):
    image = sparse_file(tmp_path / "empty.raw", 8 * MIB, [])
    volume = new_volume(tmp_path)
    assert copy_sparse(image, volume) is True
    assert os.path.getsize(volume) == 8 * MIB and digest(volume) == digest(image)


@pytest.mark.parametrize("error", [errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP])
def test_without_copy_file_range_the_bytes_are_read_and_written(tmp_path, image, monkeypatch, error):
    def refuse(*args):
        raise OSError(error, os.strerror(error))
    monkeypatch.setattr(image_import.os, "copy_file_range", refuse)
    volume = new_volume(tmp_path)
    assert copy_sparse(image, volume) is True
    assert digest(volume) == digest(image)


def test_a_write_error_is_raised(tmp_path, image, monkeypatch):
    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(image_import.os, "copy_file_range", full)
    with pytest.raises(OSError) as raised:
        copy_sparse(image, new_volume(tmp_path))
    assert raised.value.errno == errno.ENOSPC


def test_not_a_writable_regular_file_is_left_to_libvirt(tmp_path, image):
    assert copy_sparse(image, str(tmp_path / "missing.raw")) is False
    link = tmp_path / "link.raw"
    link.symlink_to(new_volume(tmp_path))
    assert copy_sparse(image, str(link)) is False  # never through a link
    assert os.path.getsize(tmp_path / "volume.raw") == 0
    assert copy_sparse(image, "/dev/null") is False  # a device: libvirt's upload
