#!/bin/sh
# Install everything the demo and the tests need on a fresh Debian 12 machine (as root):
# Debian packages (libvirt, QEMU, tgt, parted, ...), a virtualenv in .venv with
# ansible-core and the Python libraries, the collection into build/collections, and
# the tests' tiny Linux guest (kernel + initramfs) into build/linux-guest.
# Idempotent: a second run only checks.
set -eu
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

log() { echo "install-deps: $*" >&2; }

APT_PACKAGES="libvirt-daemon-system libvirt-clients libvirt-dev pkg-config gcc python3-dev
 qemu-system-x86 qemu-utils qemu-block-extra parted tgt e2fsprogs xfsprogs util-linux
 libxml2-utils iproute2 libvirt-daemon-driver-storage-iscsi-direct
 libvirt-daemon-driver-storage-rbd libvirt-daemon-driver-storage-gluster xz-utils
 ceph-mon ceph-osd ceph-mgr ceph-common glusterfs-server glusterfs-client python3-libvirt python3-lxml sudo chromium"
# chromium: tests/docs opens the built docs site in headless Chromium
# python3-libvirt, python3-lxml, sudo: the second hypervisor of the shared-pool test runs the modules as a non-root
# user (sudo) with the system python3 and the distribution's libvirt binding, as a hypervisor has them
# ceph-*, glusterfs-*: the single-node Ceph and Gluster servers the rbd and gluster tests start on 127.0.0.1
# (tests/integration/backends/ceph-up, gluster-up)
# xz-utils: tests/integration/linux_guest/build.sh unpacks the guest kernel (its
# cpio is busybox's; the kernel and busybox-static are downloaded, not installed)
missing=""
for pkg in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    log "apt-get install$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing >&2
fi

if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtualenv $VENV"
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import ansible, lxml, libvirt, pytest, testinfra, molecule" 2>/dev/null ||
   ! cmp -s requirements-dev.txt "$VENV/.requirements-dev.txt"; then
    log "installing Python packages into $VENV"
    "$VENV/bin/pip" install -q --upgrade pip >&2
    "$VENV/bin/pip" install -q -r requirements-dev.txt >&2
    cp requirements-dev.txt "$VENV/.requirements-dev.txt"
fi

# ansible-test fetches a pip bootstrap script from a host that is not reachable
# here; give it a stand-in that uses ensurepip and the configured index, under the
# name of each pip version an ansible-core of the matrix pins (2.19: 24.2; 2.20, 2.21: 25.2).
for GET_PIP in "$HOME/.ansible/test/cache/get_pip_24_2.py" "$HOME/.ansible/test/cache/get_pip_25_2.py"; do
    [ -f "$GET_PIP" ] && continue
    mkdir -p "$(dirname "$GET_PIP")"
    cat >"$GET_PIP" <<'PY'
import subprocess, sys
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
if args:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade"] + args)
PY
done
scripts/install-collection.sh

# The tiny Linux guest the disk attach/detach tests boot, built here so that the
# downloads (Debian's kernel and busybox-static, ~71 MB) happen at install time.
# The tests' fixture runs the same script again: a no-op unless
# tests/integration/linux_guest/ changed or build/linux-guest was removed.
tests/integration/linux_guest/build.sh "$(pwd)/build/linux-guest" >/dev/null
