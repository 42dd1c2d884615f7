"""Host-side helpers of the disk_attach tests: what a guest's definitions hold, and what its disks hold.

The guest's persistent and live ``<disk>`` elements are read with virsh; the bytes a guest wrote are read
from the image with qemu-img (any format), so the data, not a return code, proves a disk worked.
"""

import os
import subprocess
import tempfile

from lxml import etree

from .conftest import run_module, virsh

SECTOR = 512


def disks(domain, scope):
    """The ``<disk>`` elements of the guest's ``persistent`` or ``live`` definition (lxml elements)."""
    args = ("dumpxml", "--inactive", domain) if scope == "persistent" else ("dumpxml", domain)
    return etree.fromstring(virsh(*args).encode("utf-8")).findall("devices/disk")


def serials(domain, scope):
    """{serial: target dev} of the guest's disks in one definition."""
    return dict((disk.findtext("serial"), disk.find("target").get("dev")) for disk in disks(domain, scope))


def disk_by_serial(domain, scope, serial):
    """The one ``<disk>`` element with ``serial`` in that definition (AssertionError when not exactly one)."""
    found = [disk for disk in disks(domain, scope) if disk.findtext("serial") == serial]
    assert len(found) == 1, (domain, scope, serial, [etree.tostring(d) for d in disks(domain, scope)])
    return found[0]


def first_bytes(path, fmt="raw", count=32):
    """The first ``count`` bytes of the guest-visible content of the image at ``path`` (qcow2 read through qemu-img)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "sector")
        subprocess.run(["qemu-img", "dd", "-f", fmt, "-O", "raw", "bs=%d" % SECTOR, "count=1", "if=" + path,
                        "of=" + out], check=True, capture_output=True)
        with open(out, "rb") as handle:
            return handle.read(count)


def marker(serial):
    """What the Linux guest writes at the start of a disk whose serial starts with W."""
    return ("GUEST-WROTE %s\n" % serial).encode("ascii").ljust(32, b"\0")


def attach(args, check=False):
    """Run disk_attach; return its result (failed or not)."""
    return run_module("disk_attach", args, check=check)
