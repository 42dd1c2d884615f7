"""A throwaway running guest for hot-plug tests, and helpers to plug disks into it.

``running_guest`` starts a transient q35 domain with no OS (64 MiB, several
pcie-root-ports for hot-plugged virtio-blk disks, a virtio-scsi controller),
KVM when /dev/kvm is usable and TCG otherwise, and destroys it afterwards
(a transient domain is gone once destroyed).

Things the tests must know (measured with libvirt 9.0 / QEMU 7.2):

* A virtio-blk disk is never released by an OS-less guest: ``detach-device``
  reports success but the disk stays. Only ``bus='scsi'`` disks detach.
* QEMU runs in a private mount namespace: a file-system pool must be mounted
  (started) BEFORE the guest starts. Tests that need that request the fixture
  late, with ``request.getfixturevalue("running_guest")``.
* Starting a domain can take a minute or more on this host: /dev/kvm is
  root-only (crw------- root root, no udev), libvirt probes QEMU as root (KVM
  works) and then finds KVM not usable by libvirt-qemu, so it throws the
  capabilities cache away and probes QEMU again (seconds) on every domain
  define/create, serialized with every other client of the shared daemon.
  ``shared_guest`` starts one guest per test module for that reason.
"""

import contextlib
import fcntl
import grp
import os
import pwd
import re
import stat
import tempfile
import time
import uuid

import pytest
from lxml import etree

from .conftest import virsh

KVM_GET_API_VERSION = 0xAE00
# root ports: every hot-plugged PCIe device (a virtio-blk disk) takes one
ROOT_PORTS = 6

DOMAIN_XML = """<domain type='{virt_type}'>
  <name>{name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type><boot dev='hd'/></os>
  <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <controller type='pci' index='0' model='pcie-root'/>
{root_ports}
    <controller type='scsi' index='0' model='virtio-scsi'/>
    <memballoon model='none'/>
  </devices>
</domain>
"""


def _qemu_user():
    """(uid, gids) of the user QEMU runs as (qemu.conf ``user``; Debian's default libvirt-qemu)."""
    name = "libvirt-qemu"
    try:
        with open("/etc/libvirt/qemu.conf") as handle:
            for line in handle:
                match = re.match(r'\s*user\s*=\s*"([^"]+)"', line)
                if match:
                    name = match.group(1)
    except OSError:
        pass
    try:
        if name.startswith("+"):
            uid = int(name[1:])
            entry = pwd.getpwuid(uid)
        else:
            entry = pwd.getpwnam(name)
    except (KeyError, ValueError):
        return None
    gids = set([entry.pw_gid] + [g.gr_gid for g in grp.getgrall() if entry.pw_name in g.gr_mem])
    return entry.pw_uid, gids


def kvm_usable():
    """True when QEMU (as libvirt runs it) can open /dev/kvm read-write and KVM answers.

    /dev/kvm may be root-only (no udev here: crw------- root root), and QEMU does
    not run as root: then the guest must use TCG.
    """
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if fcntl.ioctl(fd, KVM_GET_API_VERSION) != 12:
            return False
    except OSError:
        return False
    finally:
        os.close(fd)
    user = _qemu_user()
    if user is None:
        return False
    uid, gids = user
    info = os.stat("/dev/kvm")
    rw = stat.S_IRUSR | stat.S_IWUSR
    if uid == 0 or (info.st_uid == uid and info.st_mode & rw == rw):
        return True
    if info.st_gid in gids and info.st_mode & (rw >> 3) == rw >> 3:
        return True
    return info.st_mode & (rw >> 6) == rw >> 6


def domain_xml(name, virt_type=None):
    """The XML of the throwaway guest ``name`` (type kvm or qemu)."""
    ports = "\n".join("    <controller type='pci' index='%d' model='pcie-root-port'/>" % index
                      for index in range(1, ROOT_PORTS + 1))
    return DOMAIN_XML.format(virt_type=virt_type or ("kvm" if kvm_usable() else "qemu"), name=name,
                             root_ports=ports)


def _virsh_with_file(command, domain, xml, *extra):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "device.xml")
        with open(path, "w") as handle:
            handle.write(xml)
        args = [command] + ([domain] if domain else []) + [path] + list(extra)
        return virsh(*args)


@contextlib.contextmanager
def guest_running(name):
    """Start the transient guest ``name`` for the ``with`` block; destroy it afterwards whatever happened."""
    try:
        start_guest(name)
        assert domain_state(name) == "running"
        yield name
    finally:
        virsh("destroy", name, check=False)


@pytest.fixture
def running_guest(prefix):
    """Name of a running transient OS-less q35 guest of this test; destroyed afterwards."""
    with guest_running(prefix + "guest") as name:
        yield name


@pytest.fixture(scope="module")
def shared_guest():
    """A running guest shared by the tests of a module (starting one can take long on a busy daemon).

    Tests that share it must give their hot-plugged disks distinct target
    names and detach what they can, so that one test's disk never meets another's.
    """
    with guest_running("vt-%s-guest" % uuid.uuid4().hex[:8]) as name:
        yield name


def start_guest(name):
    """Start the transient guest ``name``; return its virt type (kvm, or qemu when KVM is not usable)."""
    virt_type = "kvm" if kvm_usable() else "qemu"
    try:
        _virsh_with_file("create", None, domain_xml(name, virt_type))
    except AssertionError as exc:
        if virt_type != "kvm" or "kvm" not in str(exc).lower():
            raise
        virt_type = "qemu"  # QEMU could not use KVM after all (permissions): TCG
        _virsh_with_file("create", None, domain_xml(name, virt_type))
    return virt_type


def domain_state(name):
    return virsh("domstate", name).strip()


def live_xml(domain):
    """The live XML of ``domain`` as an lxml element."""
    return etree.fromstring(virsh("dumpxml", domain).encode("utf-8"))


def live_disks(domain):
    """The ``<disk>`` elements of the live XML of ``domain`` (lxml elements)."""
    return live_xml(domain).findall("devices/disk")


def live_disk(domain, dev):
    """The live ``<disk>`` element whose target is ``dev``, or None."""
    for disk in live_disks(domain):
        target = disk.find("target")
        if target is not None and target.get("dev") == dev:
            return disk
    return None


def hotplug(domain, disk_xml):
    """``virsh attach-device --live`` of ``disk_xml`` (a string) into ``domain``; return the live <disk>."""
    _virsh_with_file("attach-device", domain, disk_xml, "--live")
    dev = etree.fromstring(disk_xml.encode("utf-8")).find("target").get("dev")
    disk = live_disk(domain, dev)
    assert disk is not None, "disk %s not in the live XML after attach-device" % dev
    return disk


def detach(domain, disk_xml, timeout=10.0):
    """``virsh detach-device --live`` of ``disk_xml``; True once its target is gone from the live XML.

    Returns False when it is still there after ``timeout`` seconds (an OS-less
    guest never releases a virtio-blk disk).
    """
    _virsh_with_file("detach-device", domain, disk_xml, "--live")
    dev = etree.fromstring(disk_xml.encode("utf-8")).find("target").get("dev")
    deadline = time.monotonic() + timeout
    while live_disk(domain, dev) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def qemu_io(domain, qdev_id, command):
    """Run a qemu-io ``command`` on the guest device ``qdev_id`` through the HMP monitor; return its output.

    The device id is the alias libvirt gives the disk (``scsi0-0-0-1``,
    ``virtio-disk1``), as in the live XML.
    """
    return virsh("qemu-monitor-command", domain, "--hmp", 'qemu-io -d %s "%s"' % (qdev_id, command))


def alias_of(disk):
    """The device alias (QEMU qdev id) of a live ``<disk>`` element."""
    alias = disk.find("alias")
    assert alias is not None, etree.tostring(disk)
    return alias.get("name")


# ---------------------------------------------------------------- comparing a live disk with the module's

SOURCE_ATTRIBUTES = ("file", "dev", "pool", "volume", "mode", "protocol", "name")


def _auth(source, disk):
    auth = source.find("auth") if source is not None else None
    if auth is None:
        auth = disk.find("auth")  # libvirt's legacy place, outside <source>
    if auth is None:
        return None
    secret = auth.find("secret")
    return (auth.get("username"),
            None if secret is None else (secret.get("type"), secret.get("uuid"), secret.get("usage")))


def disk_summary(disk):
    """The fields of a ``<disk>`` (lxml element) a guest depends on, as a comparable dict.

    Driver attributes libvirt adds on its own are not part of it: compare with
    ``assert_disk_matches``, which looks at the attributes the module wrote.
    """
    source = disk.find("source")
    target = disk.find("target")
    iqn = source.find("initiator/iqn") if source is not None else None
    return {
        "type": disk.get("type"),
        "device": disk.get("device") or "disk",
        "source": dict((key, source.get(key)) for key in SOURCE_ATTRIBUTES if source is not None and source.get(key)),
        "hosts": [(host.get("name"), host.get("port")) for host in (source.findall("host") if source is not None else [])],
        "auth": _auth(source, disk),
        "initiator_iqn": iqn.get("name") if iqn is not None else None,
        "target": (target.get("dev"), target.get("bus")),
    }


def assert_disk_matches(disk_xml, live):
    """Assert that the live ``<disk>`` element is the disk the module described in ``disk_xml`` (str).

    Same disk type and device, source (file, dev, pool+volume, protocol+name,
    hosts with ports, auth with its secret, initiator IQN) and target; every
    driver attribute the module wrote (name, type, cache, io, ...) has the same
    value in the live XML.
    """
    expected = etree.fromstring(disk_xml.encode("utf-8"))
    shown = etree.tostring(live, encoding="unicode")
    assert disk_summary(live) == disk_summary(expected), (shown, disk_xml)
    wanted = expected.find("driver")
    have = live.find("driver")
    assert wanted is not None and have is not None, (shown, disk_xml)
    for key, value in wanted.attrib.items():
        assert have.get(key) == value, ("driver/@%s" % key, have.get(key), value, shown)
