"""live_detach against a running OS-less guest: a SCSI disk is released at once (the event and a re-read of the
live XML prove it); a virtio-blk disk never is, although libvirt's detach call reports success, and the wait ends
with a clear timeout."""

import os
import threading
import time

import libvirt
import pytest

from ansible_collections.virtops.storage.plugins.module_utils.live_detach import (
    DetachTimeout, detach_live, start_event_loop)

from .conftest import URI
from .guest import alias_of, hotplug, live_disk, running_guest  # noqa: F401  pylint: disable=unused-import


def disk_xml(path, dev, bus):
    return ("<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/>"
            "<target dev='%s' bus='%s'/></disk>" % (path, dev, bus))


@pytest.fixture(scope="module")
def events_conn():
    """A connection opened after libvirt's event loop was registered (events need it)."""
    start_event_loop()
    conn = libvirt.open(URI)
    yield conn
    conn.close()


def _disk_file(workdir, name):
    path = os.path.join(workdir, name)
    with open(path, "wb") as handle:
        handle.truncate(8 * 1024 * 1024)
    os.chmod(path, 0o666)
    return path


def test_scsi_disk_is_released_and_proved_gone(events_conn, running_guest, workdir):  # noqa: F811
    xml = disk_xml(_disk_file(workdir, "scsi.img"), "sdb", "scsi")
    alias = alias_of(hotplug(running_guest, xml))
    domain = events_conn.lookupByName(running_guest)
    seconds = detach_live(events_conn, domain, xml, alias, lambda: live_disk(running_guest, "sdb") is not None, 10)
    assert seconds < 10 and live_disk(running_guest, "sdb") is None


def test_virtio_disk_an_os_less_guest_keeps_times_out(events_conn, running_guest, workdir):  # noqa: F811
    xml = disk_xml(_disk_file(workdir, "virtio.img"), "vdb", "virtio")
    alias = alias_of(hotplug(running_guest, xml))
    domain = events_conn.lookupByName(running_guest)
    started = time.monotonic()
    with pytest.raises(DetachTimeout) as info:
        detach_live(events_conn, domain, xml, alias, lambda: live_disk(running_guest, "vdb") is not None, 8)
    assert 8 <= time.monotonic() - started < 20
    assert "did not release disk %s within 8 seconds" % alias in info.value.msg
    assert live_disk(running_guest, "vdb") is not None  # libvirt said success; the disk is still there
    assert threading.active_count() >= 2  # the event loop thread runs
