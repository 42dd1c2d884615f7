# -*- coding: utf-8 -*-
# Copyright: virtops.storage contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Clear messages for the errors libvirt's storage backends word misleadingly.

Which explainer a pool type gets is its ``misleading_errors`` column of the pool-type table.

libvirt's rbd backend reports librados' and librbd's failures with the wrong
errno: a monitor that does not answer and a cephx key Ceph refuses both read
"failed to connect to the RADOS monitor on: HOST:PORT,: No such file or
directory"; an image that has snapshots (libvirt leaves one behind for each
clone it makes), that is the base of clones, or that a client still has open
fails to delete with "No such file or directory" too. These functions turn such
an error into one that says what is wrong and what to do, keeping libvirt's
words at the end.

Gluster (a gluster pool through libgfapi, a netfs pool of format glusterfs
through mount.glusterfs) words a glusterd that does not answer and a volume it
does not have alike ("No such file or directory", "Mounting glusterfs on ...
failed."), and a stopped volume like one whose bricks are all down
("Input/output error", "Mount failed. Check the log file"): the module asks
glusterd's port for a connection to tell the first two apart.
"""

from __future__ import annotations

import socket

from ansible_collections.virtops.storage.plugins.module_utils.errors import VirtopsError

RADOS_CONNECT = "failed to connect to the RADOS monitor"
RBD_REMOVE = "failed to remove volume"
RBD_UNPROTECT = "failed to unprotect snapshot"
# the ports a Ceph monitor listens on when the pool names none: msgr2, then the legacy protocol
CEPH_MON_PORTS = (3300, 6789)
PROBE_SECONDS = 2.0


# what libgfapi ("failed to connect to gluster://...: <errno>") and mount.glusterfs (glusterfs 10.3) say when
# glusterd has no such volume (ENOENT) or does not answer (ENOTCONN), and when the volume is stopped or none of
# its bricks answers (EIO); a mounted client that lost its bricks fails with ENOTCONN
GLUSTER_NO_BRICK = ("Input/output error", "Mount failed. Check the log file")
GLUSTER_NO_VOLUME = ("failed to connect to gluster://", "Mounting glusterfs on")
GLUSTER_LOST_BRICKS = "Transport endpoint is not connected"
GLUSTERD_PORT = 24007  # libgfapi and mount.glusterfs know no other


def start_error(row, spec, exc, local):
    """The error of starting (or refreshing) pool ``spec`` (of pool type ``row``) for libvirt's error ``exc``."""
    explain = START_ERRORS.get(row.misleading_errors)
    return explain(spec, exc, local) if explain else exc


def delete_error(row, volume_name, image, exc):
    """The error of deleting volume ``volume_name`` (``image``, its path) of a pool of type ``row``."""
    return rbd_delete_error(volume_name, image, exc) if row.misleading_errors == "ceph" else exc


def libvirt_words(exc):
    """libvirt's own message of ``exc``, without the action this module names first."""
    prefix = "%s failed: " % exc.details.get("action")
    return (exc.msg[len(prefix):] if exc.msg.startswith(prefix) else exc.msg).strip()


def monitor_answers(host, port, timeout=PROBE_SECONDS):
    """Whether something accepts a TCP connection at ``host``:``port`` (a Ceph monitor, presumably)."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except (OSError, ValueError):
        return False


def rbd_start_error(spec, exc, local, answers=monitor_answers):
    """The error of starting (or refreshing) rbd pool ``spec`` for libvirt's error ``exc``.

    ``local``: the daemon runs on this host, so a monitor this module reaches is one libvirt reaches: the two
    causes libvirt words alike are told apart by asking the monitors for a connection.
    """
    if RADOS_CONNECT not in exc.msg:
        return exc
    source = spec.get("source") or {}
    auth = source.get("auth") or {}
    secret = auth.get("secret") or {}
    user = "client.%s" % auth.get("username") if auth.get("username") else "the default user (no auth)"
    secret_name = secret.get("usage") or secret.get("uuid") or "(none)"
    monitors = [(host["name"], [host["port"]] if host.get("port") else list(CEPH_MON_PORTS))
                for host in source.get("hosts") or []]
    shown = ", ".join("%s:%s" % (name, "/".join(str(p) for p in ports)) for name, ports in monitors)
    wrong_key = ("Ceph refused the login of %s: the key in libvirt secret %s is not that user's key, or the user "
                 "does not exist or may not use the pool. Set the secret's value (value_b64: the output of 'ceph "
                 "auth get-key %s') and run the task again" % (user, secret_name, user))
    if not local:
        reason, param = ("no Ceph monitor answers at %s (down, or not reachable from the hypervisor), or %s" % (
            shown, wrong_key)), "source"
    elif any(answers(name, port) for name, ports in monitors for port in ports):
        reason, param = "the monitors at %s answer, so %s" % (shown, wrong_key), "source.auth.secret"
    else:
        reason, param = ("no Ceph monitor answers at %s: start the monitors, or list the right ones in "
                         "source.hosts, and run the task again" % shown), "source.hosts"
    return VirtopsError("%s failed: %s (libvirt reported: %s)" % (
        exc.details.get("action") or "starting the pool", reason, libvirt_words(exc)), param=param,
        libvirt_code=exc.details.get("libvirt_code"))


def rbd_delete_error(volume_name, image, exc):
    """The error of deleting the rbd image ``image`` (volume ``volume_name``), for libvirt's error ``exc``."""
    if RBD_UNPROTECT in exc.msg:
        reason, param = ("it is the base of rbd clones (made by clone_from: their parent is its snapshot, which "
                         "Ceph keeps while they exist). Delete those clones first, or make them independent with "
                         "'rbd flatten'"), "name"
    elif RBD_REMOVE in exc.msg:
        reason, param = ("it has snapshots (libvirt leaves one for every clone made from it with clone_from; clones "
                         "may still depend on it), or a client still has it open (a guest running on this or another "
                         "hypervisor). Set delete_snapshots: true to delete its snapshots with it (Ceph refuses "
                         "while clones depend on one), and detach it from every guest"), "delete_snapshots"
    else:
        return exc
    return VirtopsError("deleting volume %s (rbd image %s) failed: Ceph refused, %s (libvirt reported: %s)" % (
        volume_name, image, reason, libvirt_words(exc)), param=param, libvirt_code=exc.details.get("libvirt_code"))


def gluster_start_error(spec, exc, local, answers=monitor_answers):
    """The error of starting (or refreshing) gluster pool ``spec`` (or netfs pool of format glusterfs).

    ``local``: the daemon runs on this host, so glusterd's port as this module reaches it is as libvirt reaches it.
    """
    source = spec.get("source") or {}
    if spec.get("type") == "netfs" and source.get("format") != "glusterfs":
        return exc
    host = ((source.get("hosts") or [{}])[0]).get("name") or "(none)"
    if spec.get("type") == "netfs":
        volume, param = (source.get("dir") or "").strip("/").split("/")[0], "source.dir"
    else:
        volume, param = source.get("name") or spec.get("name"), "source.name"
    no_volume = any(words in exc.msg for words in GLUSTER_NO_VOLUME)
    if any(words in exc.msg for words in GLUSTER_NO_BRICK) or (GLUSTER_LOST_BRICKS in exc.msg and not no_volume):
        reason = ("gluster volume %s on %s is stopped, or none of its bricks answers (brick processes down, or their "
                  "ports not reachable from the hypervisor): start it, or its bricks ('gluster volume start %s force' "
                  "on a gluster server), and run the task again" % (volume, host, volume))
    elif no_volume:
        if not local:
            reason = ("no glusterd answers at %s:%d (down, or not reachable from the hypervisor), or it has no volume "
                      "%s: start glusterd, or create the volume, or name the right host (source.hosts) or volume "
                      "(%s), and run the task again" % (host, GLUSTERD_PORT, volume, param))
        elif not answers(host, GLUSTERD_PORT):
            reason, param = ("no glusterd answers at %s:%d: start glusterd there, or name the right host in "
                             "source.hosts, and run the task again" % (host, GLUSTERD_PORT)), "source.hosts"
        else:
            reason = ("glusterd at %s answers, but has no volume %s: create and start it ('gluster volume create', "
                      "'gluster volume start'), or name an existing volume in %s, and run the task again" % (
                          host, volume, param))
    else:
        return exc
    return VirtopsError("%s failed: %s (libvirt reported: %s)" % (
        exc.details.get("action") or "starting the pool", reason, libvirt_words(exc)), param=param,
        libvirt_code=exc.details.get("libvirt_code"))


# the explainer of a failed start or refresh, by the pool type's misleading_errors column
START_ERRORS = {"ceph": rbd_start_error, "gluster": gluster_start_error}
