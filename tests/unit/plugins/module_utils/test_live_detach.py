"""detach_live: the event and the live XML decide, never the detach call's return."""

import libvirt
import pytest

from ansible_collections.virtops.storage.plugins.module_utils import live_detach
from ansible_collections.virtops.storage.plugins.module_utils.errors import LibvirtCallError, VirtopsError

from .fake_libvirt import libvirt_error


class Guest:
    """A virDomain and its virConnect in one: the detach call plays a guest that releases, refuses or ignores."""

    def __init__(self, behaviour, error=None):
        self.behaviour, self.error = behaviour, error
        self.callbacks = {}
        self.attached = True
        self.deregistered = []

    def name(self):
        return "vm1"

    def domainEventRegisterAny(self, domain, event, callback, opaque):
        self.callbacks[event] = callback
        return event

    def domainEventDeregisterAny(self, callback_id):
        self.deregistered.append(callback_id)

    def detachDeviceFlags(self, xml, flags):
        assert flags == libvirt.VIR_DOMAIN_AFFECT_LIVE
        if self.behaviour == "releases":  # the event may come before the call returns
            self.attached = False
            self.callbacks[libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED](self, self, "virtio-disk1", None)
        elif self.behaviour == "refuses":
            self.callbacks[libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED](self, self, "virtio-disk1", None)
        if self.error:
            raise self.error


def _detach(guest, timeout=0.5):
    return live_detach.detach_live(guest, guest, "<disk/>", "virtio-disk1", lambda: guest.attached, timeout)


def test_a_released_disk_is_done_and_the_listeners_go():
    guest = Guest("releases")
    assert _detach(guest) < 0.5
    assert sorted(guest.deregistered) == sorted(guest.callbacks)


def test_an_unplug_already_under_way_is_waited_for():
    guest = Guest("releases", libvirt_error(libvirt.VIR_ERR_OPERATION_FAILED,
                                            "operation failed: device already in the process of unplug"))
    assert _detach(guest) < 0.5


def test_a_refused_removal_fails():
    with pytest.raises(VirtopsError) as info:
        _detach(Guest("refuses"))
    assert "refused to release disk virtio-disk1" in info.value.msg


def test_an_ignored_request_times_out_although_the_call_succeeded():
    guest = Guest("ignores")
    with pytest.raises(live_detach.DetachTimeout) as info:
        _detach(guest, timeout=0.3)
    assert "did not release disk virtio-disk1 within 0.3 seconds" in info.value.msg and guest.attached
    assert sorted(guest.deregistered) == sorted(guest.callbacks)


def test_another_libvirt_error_is_raised():
    guest = Guest("ignores", libvirt_error(libvirt.VIR_ERR_OPERATION_INVALID, "domain is not running"))
    with pytest.raises(LibvirtCallError):
        _detach(guest)
