"""disk_attach on the real libvirtd, with a tiny Linux guest as the witness.

Each attach and detach runs in the six steps (check, real, check, real), and
the guest's serial log shows what reached it: the disk appearing with its
serial and size, the bytes it read, the marker it wrote (read back on the host
from the image), the disk released on detach.
"""

import os

from .attach_helpers import first_bytes, marker, serials
from .conftest import run_ok, six_steps, workdir  # noqa: F401  pylint: disable=unused-import
from .linux_guest import linux_guest  # noqa: F401  pylint: disable=unused-import
from .volume_helpers import make_dir_pool

MIB = 1024 * 1024


def test_dir_qcow2_volume_attached_written_and_detached(linux_guest, workdir, prefix, pools):  # noqa: F811  pylint: disable=redefined-outer-name
    pool = prefix + "dir"
    target = make_dir_pool(pools, pool, os.path.join(workdir, "dir"))
    run_ok("storage_volume", dict(pool=pool, name="w.qcow2", capacity="16M", format="qcow2"))
    guest = linux_guest(persistent=True)
    args = dict(domain=guest.name, volume=dict(pool=pool, name="w.qcow2"), disk=dict(serial="Wdirq"))
    since = guest.mark()

    def nothing_attached():
        assert serials(guest.name, "persistent") == {} and serials(guest.name, "live") == {}

    def attached():
        assert serials(guest.name, "persistent") == {"Wdirq": "vda"}
        assert serials(guest.name, "live") == {"Wdirq": "vda"}

    real = six_steps("disk_attach", args, nothing_attached, attached)
    assert real["disk"]["target"] == {"dev": "vda", "bus": "virtio"}, real
    assert real["disk"]["driver"]["type"] == "qcow2" and real["disk"]["persistent"] and real["disk"]["live"]
    added = guest.wait_for("ADD", "Wdirq", since)
    assert added.fields["sectors"] == str(16 * MIB // 512)
    guest.wait_for("WROTE", "Wdirq", since)

    since = guest.mark()
    six_steps("disk_attach", dict(args, state="absent"), attached, nothing_attached)
    guest.wait_for("REMOVE", "Wdirq", since, timeout=10)
    assert first_bytes(os.path.join(target, "w.qcow2"), "qcow2") == marker("Wdirq")
