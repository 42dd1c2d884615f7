#!/bin/sh
# Start virtlogd and libvirtd when no daemon answers on qemu:///system (no systemd here).
set -eu
# Without udev /dev/kvm stays 0600 root:root. libvirt probes QEMU as root (KVM works), then finds KVM
# unusable for the libvirt-qemu user (group kvm) and re-probes QEMU on every domain define/start (~70 s
# each). Give it the mode udev's Debian rule gives it.
if [ -c /dev/kvm ] && getent group kvm >/dev/null 2>&1 && [ "$(stat -c %G:%a /dev/kvm)" != "kvm:660" ]; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
fi
if virsh -q -c qemu:///system version >/dev/null 2>&1; then
    exit 0
fi
# -u root: a user's session daemons (qemu:///session) may be running; they are not the system ones
pgrep -u root -x virtlogd >/dev/null 2>&1 || virtlogd -d
# a daemon that was just told to stop may still be exiting: wait for it to go, then start one
i=0
until virsh -q -c qemu:///system version >/dev/null 2>&1; do
    pgrep -u root -x libvirtd >/dev/null 2>&1 || libvirtd -d
    i=$((i + 1))
    [ $i -le 100 ] || { echo "start-libvirt: libvirtd does not answer on qemu:///system" >&2; exit 1; }
    sleep 0.2
done
echo "start-libvirt: libvirtd started" >&2
