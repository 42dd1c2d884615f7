# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Detaching a disk from a running guest, and knowing that it is gone.

The detach call returning proves nothing: a guest may ignore the request (no
OS, no driver loaded) and libvirt still reports success after its own wait, or
a guest may release the disk seconds after the call returned (native PCIe
hotplug). So, as nova does: listen for libvirt's DEVICE_REMOVED event before
asking, ask, then wait for the event (or DEVICE_REMOVAL_FAILED) and confirm
with a re-read of the live XML. Events need libvirt's event loop, registered
before the connection opens (``start_event_loop``) and run by a daemon thread.
"""

from __future__ import annotations

import threading
import time

from ansible_collections.virtops.storage.plugins.module_utils.connection import call, libvirt
from ansible_collections.virtops.storage.plugins.module_utils.errors import LibvirtCallError, VirtopsError

# libvirt's answer while an earlier detach of the same device is still under way: keep waiting for it
_UNPLUG_UNDER_WAY = "already in the process of unplug"
_POLL = 0.2  # seconds between re-reads of the live XML while no event came

_loop = {"started": False}
_loop_lock = threading.Lock()


def start_event_loop():
    """Register libvirt's default event loop and run it in a daemon thread (once per process)."""
    with _loop_lock:
        if _loop["started"]:
            return
        libvirt.virEventRegisterDefaultImpl()
        thread = threading.Thread(target=_run_event_loop, name="libvirt-events", daemon=True)
        thread.start()
        _loop["started"] = True


def _run_event_loop():
    while True:
        libvirt.virEventRunDefaultImpl()


def _request_detach(domain, disk_xml, alias):
    try:
        call("detaching disk %s from running guest %s" % (alias, domain.name()), domain.detachDeviceFlags, disk_xml,
             libvirt.VIR_DOMAIN_AFFECT_LIVE)
    except LibvirtCallError as exc:
        if _UNPLUG_UNDER_WAY not in exc.msg:
            raise


class DetachTimeout(VirtopsError):
    """The guest did not release the device within the timeout."""


def detach_live(conn, domain, disk_xml, alias, present, timeout, retries=0):
    """Detach the disk ``disk_xml`` (its alias ``alias``) from the running ``domain`` and wait until it is gone.

    ``present()`` re-reads the live XML and says whether the disk is still there. The request is made
    again ``retries`` times, evenly within ``timeout`` (a guest busy booting may miss the first ACPI
    request, as nova found). Returns the seconds it took; raises DetachTimeout when the guest has not
    released it after ``timeout`` seconds, and VirtopsError when libvirt reports that the removal failed.
    """
    name = domain.name()
    done = threading.Event()
    outcome = {}

    def removed(dummy_conn, dummy_domain, device, dummy_opaque):
        if device == alias:
            outcome["removed"] = True
            done.set()

    def removal_failed(dummy_conn, dummy_domain, device, dummy_opaque):
        if device == alias:
            outcome["failed"] = True
            done.set()

    # listen first: the event may come before detachDeviceFlags returns
    callbacks = [
        call("listening for device removals of guest %s" % name, conn.domainEventRegisterAny, domain,
             libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, removed, None),
        call("listening for failed device removals of guest %s" % name, conn.domainEventRegisterAny, domain,
             libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED, removal_failed, None),
    ]
    started = time.monotonic()
    next_request, requests = started, 0
    try:
        while True:
            if requests <= retries and time.monotonic() >= next_request:
                try:
                    _request_detach(domain, disk_xml, alias)
                except LibvirtCallError:
                    if requests and not present():  # a repeated request lost the race with the guest's release
                        return time.monotonic() - started
                    raise
                requests += 1
                next_request = started + requests * timeout / (retries + 1)
            done.wait(_POLL)
            if outcome.get("failed"):
                raise VirtopsError("guest %s refused to release disk %s (libvirt reports the removal failed)" % (
                    name, alias))
            if not present():  # the event came, or was missed: the live XML is the proof
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise DetachTimeout("guest %s did not release disk %s within %s seconds (the guest may have no OS "
                                    "or no driver for it, or ignore the request): the disk is still attached to "
                                    "the running guest" % (name, alias, timeout))
            done.clear()
    finally:
        for callback in callbacks:
            try:
                conn.domainEventDeregisterAny(callback)
            except libvirt.libvirtError:
                pass  # the connection went away: nothing is registered any more
