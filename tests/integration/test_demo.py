"""The demo (`make demo`, the README's first command) runs twice on the real daemon: the first run converges,
the second changes nothing, and the guest's disks resolve to the demo's volumes."""

import os
import re
import subprocess

from .conftest import REPO, virsh

GUEST = "virtops-demo-guest"


def test_demo_converges_then_changes_nothing():
    proc = subprocess.run([os.path.join(REPO, "demo", "run.sh")], capture_output=True, text=True, check=False,
                          cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "second run reported no change" in proc.stdout
    second = proc.stdout.split("=== demo: second run")[1]
    for volume in ("demo-disk.qcow2", "demo-secure.qcow2"):
        assert re.search(r"-> pool virtops-demo, volume %s" % re.escape(volume), second), second[-3000:]
    persistent = virsh("dumpxml", "--inactive", GUEST)
    assert "<serial>demo-disk</serial>" in persistent and "demo-secure.qcow2" in persistent
