"""A real Linux guest as the witness of disk attach and detach.

``linux_guest`` (a fixture) boots Debian's kernel with a busybox initramfs
(``linux_guest/``: built by ``linux_guest/build.sh`` into ``build/linux-guest``,
once by scripts/install-deps.sh and again here only when missing or when a file of
``linux_guest/`` changed) in a q35 domain with 1 vCPU, 128 MiB, pcie-root-ports
for hot-plugged virtio-blk disks and a virtio-scsi controller 'scsi0', and waits
until the guest says READY (about 3 s under TCG). The guest reports every disk it
sees on its serial console, which libvirt writes to ``guest.serial_log``:

    GUEST READY kernel=V uptime=S disks=vda:SER,sda:SER   drivers loaded, boot-time disks reported
    GUEST ADD name=vda bus=virtio|scsi serial=SER sectors=N ro=0|1 addr=.. uptime=S
    GUEST READ name=.. serial=R.. hex=<first 32 bytes> text=..   serial starts with R
    GUEST WROTE name=.. serial=W.. hex=.. text=..   serial starts with W: sector 0 :=
                                                    "GUEST-WROTE <serial>\\n" + zeros, fsync'ed
    GUEST ERROR name=.. serial=W.. op=write          the write failed (a read-only disk)
    GUEST CHANGE name=.. serial=.. sectors=N         capacity changed
    GUEST REMOVE name=.. serial=.. uptime=S          the guest released the disk
    K <level>[time] text                             kernel log, after READY

Things a disk attach/detach test must know (libvirt 9.0, QEMU 7.2):

* Identify disks by ``<serial>`` (at most 20 characters), never by name: the
  guest names disks in probe order, whatever ``<target dev>`` says, and the lines
  of two disks attached back to back may come in either order.
* Hotplug is ACPI (QEMU's q35 default): a live detach of virtio-blk or SCSI
  completes within ~0.2 s, and after it the host sees the guest's write.
* TCG unless the host has hardware KVM (kvm_intel/kvm_amd): this machine's
  /dev/kvm is PVM (kvm_pvm), on which the kernel does not boot in 40 s.
* The serial log is opened by libvirt (root-owned, 0600, opened for append):
  it is deleted before every start so that it holds one boot.
* The guest has no acpid: ``virsh shutdown`` does nothing; it is destroyed.
"""

import collections
import os
import shutil
import tempfile
import time

import pytest

from .backends import parse_facts, run
from .conftest import REPO, virsh

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_SCRIPT = os.path.join(HERE, "linux_guest", "build.sh")
BUILD_DIR = os.path.join(REPO, "build", "linux-guest")
ROOT_PORTS = 8  # virtio-scsi takes one; each hot-plugged virtio-blk disk takes one more
DAEMON_GONE = ("Failed to connect socket", "failed to connect to the hypervisor")

DOMAIN_XML = """<domain type='{virt_type}'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>{cmdline}</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>
  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot><on_crash>destroy</on_crash>
  <devices>
    <controller type='pci' index='0' model='pcie-root'/>
{root_ports}
    <controller type='scsi' index='0' model='virtio-scsi'/>
    <controller type='usb' model='none'/>
    <serial type='file'><source path='{serial_log}'/><target port='0'/></serial>
    <console type='file'><source path='{serial_log}'/><target type='serial' port='0'/></console>
    <memballoon model='none'/>
  </devices>
</domain>
"""

# one "GUEST <kind> key=value ..." line of the serial log
Report = collections.namedtuple("Report", "kind fields line")


def build():
    """Build the guest's kernel and initramfs if needed; return the build facts (GUEST_KERNEL, ...)."""
    return parse_facts(run([BUILD_SCRIPT, BUILD_DIR]).stdout)


def virt_type():
    """'kvm' with hardware KVM only; PVM's /dev/kvm (kvm_pvm) boots a Linux kernel far slower than TCG."""
    hardware = any(os.path.isdir("/sys/module/" + module) for module in ("kvm_intel", "kvm_amd"))
    return "kvm" if hardware and os.path.exists("/dev/kvm") else "qemu"


def retried_virsh(*args, check=True):
    """virsh, retried for 10 s while another user restarts the shared libvirtd; stdout ('' on failure)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return virsh(*args)
        except AssertionError as exc:
            if any(text in str(exc) for text in DAEMON_GONE) and time.monotonic() < deadline:
                time.sleep(0.5)
            elif check:
                raise
            else:
                return ""


def parse_report(line):
    """The Report of a 'GUEST ...' line, None for any other line (kernel 'K' lines)."""
    words = line.split(" ")
    if len(words) < 2 or words[0] != "GUEST":
        return None
    return Report(words[1], dict(word.split("=", 1) for word in words[2:] if "=" in word), line)


class LinuxGuest:
    """One tiny Linux guest: its domain (transient or persistent) and its serial log."""

    def __init__(self, name, persistent):
        self.name = name
        self.persistent = persistent
        self.state_dir = tempfile.mkdtemp(prefix="virtops-guest-")
        os.chmod(self.state_dir, 0o755)  # libvirt-qemu must traverse it
        self.serial_log = os.path.join(self.state_dir, "serial.log")
        self.xml_path = os.path.join(self.state_dir, "domain.xml")
        self.ready = None  # the READY Report of the last boot
        facts = build()
        ports = "\n".join("    <controller type='pci' index='%d' model='pcie-root-port'/>" % index
                          for index in range(1, ROOT_PORTS + 1))
        with open(self.xml_path, "w") as handle:
            handle.write(DOMAIN_XML.format(
                virt_type=virt_type(), name=name, kernel=facts["GUEST_KERNEL"], initrd=facts["GUEST_INITRD"],
                cmdline=facts["GUEST_CMDLINE"], root_ports=ports, serial_log=self.serial_log))

    def define(self):
        assert self.persistent, "a transient guest exists only while it runs"
        retried_virsh("define", self.xml_path)

    def start(self, timeout=60.0):
        """Boot the guest (a persistent one must be defined) and wait for READY; return the seconds it took."""
        if os.path.exists(self.serial_log):
            os.unlink(self.serial_log)  # libvirt appends: one boot per log
        started = time.monotonic()
        if self.persistent:
            retried_virsh("start", self.name)
        else:
            retried_virsh("create", self.xml_path)
        self.ready = self.wait_for("READY", timeout=timeout)
        return time.monotonic() - started

    def lines(self):
        """The complete lines of the serial log so far (QEMU writes as the UART sends: the last may be half)."""
        try:
            with open(self.serial_log, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return []
        return [line.rstrip(b"\r").decode("utf-8", "replace") for line in data.split(b"\n")[:-1]]

    def mark(self):
        """The position after the last complete line: pass it as ``since`` to wait only for later lines."""
        return len(self.lines())

    def wait_for(self, kind, serial=None, since=0, timeout=20.0):
        """The first 'GUEST <kind>' Report (of the disk with ``serial``) after line ``since``.

        AssertionError, with the end of the serial log, after ``timeout`` seconds,
        when the guest reports an ERROR for that serial, or when the domain stopped.
        """
        deadline = time.monotonic() + timeout
        next_state_check = 0.0
        while True:
            for report in filter(None, map(parse_report, self.lines()[since:])):
                if serial is not None and report.fields.get("serial") != serial:
                    continue
                if report.kind == kind:
                    return report
                if report.kind == "ERROR":
                    self._fail("guest error while waiting for %s: %s" % (kind, report.line))
            now = time.monotonic()
            if now > deadline:
                self._fail("no GUEST %s%s within %.0f s" % (kind, " serial=" + serial if serial else "", timeout))
            if now > next_state_check:
                next_state_check = now + 1.0
                if retried_virsh("domstate", self.name, check=False).strip() != "running":
                    self._fail("domain %s is not running while waiting for GUEST %s" % (self.name, kind))
            time.sleep(0.05)

    def _fail(self, message):
        lines = self.lines()
        reports = [line for line in lines if line.startswith("GUEST ")]
        raise AssertionError("%s\n--- GUEST lines of %s:\n%s\n--- its last lines:\n%s" % (
            message, self.serial_log, "\n".join(reports), "\n".join(lines[-10:])))

    def remove(self):
        """Destroy the domain, undefine it (persistent) and remove the state dir, whatever state it is in."""
        retried_virsh("destroy", self.name, check=False)
        if self.persistent:
            retried_virsh("undefine", self.name, check=False)
        shutil.rmtree(self.state_dir, ignore_errors=True)


@pytest.fixture
def linux_guest(prefix):
    """A factory of Linux guests: ``linux_guest(persistent=False, start=True)`` -> LinuxGuest.

    Names are ``<prefix>linux<N>`` (the daemon is shared). A persistent guest is
    defined, and started unless ``start=False`` (then ``guest.start()`` boots it
    later); a transient one is started. Every guest is destroyed, undefined and
    its files removed afterwards, whatever the test did.
    """
    guests = []

    def make(persistent=False, start=True):
        guest = LinuxGuest("%slinux%d" % (prefix, len(guests)), persistent)
        guests.append(guest)
        if persistent:
            guest.define()
        if start or not persistent:
            guest.start()
        return guest

    yield make
    for guest in guests:
        guest.remove()
