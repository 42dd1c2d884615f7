#!/bin/sh
# Start virtlogd and libvirtd when no daemon answers on qemu:///system (no systemd here).
set -eu
if virsh -q -c qemu:///system version >/dev/null 2>&1; then
    exit 0
fi
pgrep -x virtlogd >/dev/null 2>&1 || virtlogd -d
pgrep -x libvirtd >/dev/null 2>&1 || libvirtd -d
i=0
until virsh -q -c qemu:///system version >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -le 50 ] || { echo "start-libvirt: libvirtd does not answer on qemu:///system" >&2; exit 1; }
    sleep 0.2
done
echo "start-libvirt: libvirtd started" >&2
