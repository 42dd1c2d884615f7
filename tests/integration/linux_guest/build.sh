#!/usr/bin/env bash
# build.sh OUTDIR: kernel + initramfs of the tiny Linux guest that witnesses disk
# hot-plug in the integration tests (../linux_guest.py boots it).
# Debian's stock kernel (the package linux-image-amd64 points to) and
# busybox-static are DOWNLOADED with apt-get download and unpacked into OUTDIR,
# never installed (installing a kernel would pull udev and initramfs hooks onto
# the host). Needs root (mknod), dpkg-deb, xz and the Debian archive; nothing else
# from the network. The initramfs holds busybox, the virtio-pci/-blk/-scsi and
# sd_mod modules with their dependencies, and init, hotplug and guest-lib from
# this directory.
# Cached: rebuilds only when OUTDIR lacks the kernel or initramfs, or when a file
# of this directory changed (OUTDIR/stamp); the .debs stay in OUTDIR/debs.
# Prints KEY=value facts on stdout: GUEST_KERNEL, GUEST_INITRD, GUEST_CMDLINE, GUEST_KVER.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(realpath -m "${1:?usage: build.sh OUTDIR}")  # absolute: step 5 packs from inside the root
MODS="virtio_pci virtio_blk virtio_scsi sd_mod crct10dif_generic crc64_rocksoft_generic"
# loglevel=1: the kernel writes nothing to ttyS0 itself (init relays dmesg as "K"
# lines); scsi_mod.scan=sync: boot-time SCSI disks are there before READY;
# mitigations=off cryptomgr.notests: ~0.6 s less boot under TCG; panic=-1 with
# on_reboot=destroy: a guest that dies stops its domain.
CMDLINE="console=ttyS0 loglevel=1 panic=-1 scsi_mod.scan=sync 8250.nr_uarts=1 mitigations=off cryptomgr.notests"

die() { echo "build.sh: ERROR: $*" >&2; exit 1; }
log() { echo "build.sh: $*" >&2; }
facts() {
    echo "GUEST_KERNEL=$OUT/$(cat "$OUT/kernel")"
    echo "GUEST_INITRD=$OUT/initrd.img"
    echo "GUEST_CMDLINE=\"$CMDLINE\""
    echo "GUEST_KVER=$(cat "$OUT/kver")"
}
[ "$(id -u)" = 0 ] || die "must run as root (mknod /dev/console in the initramfs)"

STAMP=$(cat "$HERE"/* | sha256sum | cut -c1-16)
if [ -f "$OUT/initrd.img" ] && [ -f "$OUT/$(cat "$OUT/kernel" 2>/dev/null)" ] &&
        [ "$(cat "$OUT/stamp" 2>/dev/null)" = "$STAMP" ]; then
    facts; exit 0
fi
mkdir -p "$OUT/debs"
chmod 0755 "$OUT"   # QEMU (libvirt-qemu) opens the kernel and the initramfs itself

# 1. download the kernel package linux-image-amd64 depends on, and busybox-static
kernel_package() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
KPKG=$(kernel_package)
[ -n "$KPKG" ] || { apt-get update -q >&2; KPKG=$(kernel_package); }
[ -n "$KPKG" ] || die "cannot resolve linux-image-amd64 to a kernel package"
fetch() { # fetch PACKAGE: its .deb into OUT/debs, once
    ls "$OUT/debs/$1"_*.deb >/dev/null 2>&1 && return 0
    # APT::Sandbox::User=root: no "_apt couldn't access" warning in a root-owned dir
    dl() { (cd "$OUT/debs" && apt-get download -q -o APT::Sandbox::User=root "$1" >&2); }
    dl "$1" || { apt-get update -q >&2 && dl "$1"; } || die "apt-get download $1 failed"
}
fetch "$KPKG"
fetch busybox-static
log "kernel package $KPKG"

# 2. unpack only what the guest needs
X=$OUT/x; R=$OUT/root
rm -rf "$X" "$R"; mkdir -p "$X"
dpkg-deb --fsys-tarfile "$OUT/debs/$KPKG"_*.deb | tar -x -C "$X" --wildcards \
    './boot/vmlinuz-*' './boot/config-*' './lib/modules/*/modules.order' './lib/modules/*/modules.builtin' \
    './lib/modules/*/kernel/drivers/*' './lib/modules/*/kernel/block/*' \
    './lib/modules/*/kernel/lib/*' './lib/modules/*/kernel/crypto/*'
dpkg-deb -x "$OUT/debs"/busybox-static_*.deb "$X/bb"
BB=$X/bb/bin/busybox
KVER=$(ls "$X/lib/modules")
MD=$X/lib/modules/$KVER

# 3. the modules and their dependencies (the "depends=" entry of each .ko)
mkdir -p "$R"/{bin,sbin,dev,proc,sys,run,tmp,etc} "$R/lib/modules/$KVER"
pattern() { echo "$1" | sed 's/[-_]/[-_]/g'; }   # module names mix - and _
todo=$MODS; done_=" "
while [ -n "${todo// }" ]; do
    # shellcheck disable=SC2086  # split the work list into words
    set -- $todo; m=$1; shift; todo="$*"
    case "$done_" in *" $m "*) continue ;; esac
    done_="$done_$m "
    f=$(find "$MD/kernel" -name "$(pattern "$m").ko" | head -n1)
    if [ -z "$f" ]; then
        grep -q "/$(pattern "$m").ko\$" "$MD/modules.builtin" || die "module $m not found"
        continue   # built into the kernel
    fi
    rel=${f#"$MD"/}
    mkdir -p "$R/lib/modules/$KVER/$(dirname "$rel")"
    cp "$f" "$R/lib/modules/$KVER/$rel"
    todo="$todo $(tr '\0' '\n' <"$f" | sed -n 's/^depends=//p' | head -n1 | tr ',' ' ')"
done
cp "$MD/modules.order" "$MD/modules.builtin" "$R/lib/modules/$KVER/"
"$BB" depmod -b "$R" "$KVER" || die "busybox depmod failed"
echo "$MODS" >"$R/etc/modules"

# 4. busybox, the guest's scripts, a console node for the kernel to open
cp "$BB" "$R/bin/busybox"
for applet in $("$BB" --list); do [ "$applet" = busybox ] || ln -sf busybox "$R/bin/$applet"; done
ln -sf ../bin/busybox "$R/sbin/modprobe"   # the kernel's request_module() runs /sbin/modprobe
install -m 0755 "$HERE/init" "$R/init"
install -m 0755 "$HERE/hotplug" "$R/bin/hotplug"
install -m 0644 "$HERE/guest-lib" "$R/bin/guest-lib"
mknod -m 600 "$R/dev/console" c 5 1

# 5. pack: uncompressed newc cpio (~3 MB; nothing to decompress at boot)
(cd "$R" && find . | "$BB" cpio -o -H newc 2>/dev/null) >"$OUT/initrd.img.new"
mv "$OUT/initrd.img.new" "$OUT/initrd.img"
cp "$X/boot/vmlinuz-$KVER" "$OUT/vmlinuz"
# vmlinux: the ELF in vmlinuz's XZ stream (what the kernel's extract-vmlinux
# does), booted through its PVH entry: no real-mode setup and no decompression,
# 2.5 s faster under TCG. xz exits 1 on the bytes after the stream, so check the
# ELF magic instead. Without PVH or an XZ stream, boot the bzImage.
echo vmlinuz >"$OUT/kernel"
rm -f "$OUT/vmlinux"
offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$OUT/vmlinuz" | head -n1 | cut -d: -f1)
if [ -n "$offset" ] && grep -q '^CONFIG_PVH=y' "$X/boot/config-$KVER"; then
    tail -c +$((offset + 1)) "$OUT/vmlinuz" | xz -dc >"$OUT/vmlinux" 2>/dev/null || true
    [ "$(head -c 4 "$OUT/vmlinux" | od -An -c | tr -d ' ')" = 177ELF ] && echo vmlinux >"$OUT/kernel"
fi
[ "$(cat "$OUT/kernel")" = vmlinux ] || log "WARNING: no PVH vmlinux, booting the bzImage (~2.5 s slower under TCG)"
chmod 0644 "$OUT"/vmlinu[xz] "$OUT/initrd.img"
echo "$KVER" >"$OUT/kver"
log "built $OUT/initrd.img ($(du -k "$OUT/initrd.img" | cut -f1) KiB, $(find "$R/lib/modules" -name '*.ko' | wc -l) modules) for $KVER"
rm -rf "$X" "$R"
echo "$STAMP" >"$OUT/stamp"
facts
