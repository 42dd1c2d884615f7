"""libvirt's misleading rbd and gluster errors turned into ones that say what is wrong (backend_errors)."""

import pytest

from ansible_collections.virtops.storage.plugins.module_utils.backend_errors import (
    gluster_start_error, rbd_delete_error, rbd_start_error, start_error)
from ansible_collections.virtops.storage.plugins.module_utils.pool_types import pool_type
from ansible_collections.virtops.storage.plugins.module_utils.errors import VirtopsError

CONNECT = ("starting pool ceph failed: failed to connect to the RADOS monitor on: 10.0.0.1:6789,10.0.0.2,: "
           "No such file or directory")
SPEC = {"type": "rbd", "name": "ceph", "source": {
    "name": "rbd", "hosts": [{"name": "10.0.0.1", "port": 6789}, {"name": "10.0.0.2"}],
    "auth": {"type": "ceph", "username": "libvirt", "secret": {"usage": "client.libvirt"}}}}


def libvirt_error(msg):
    return VirtopsError(msg, action=msg.split(" failed: ")[0], libvirt_code=38)


def test_monitors_that_answer_mean_the_key_is_wrong():
    asked = []

    def answers(host, port):
        asked.append((host, port))
        return host == "10.0.0.2" and port == 6789
    error = rbd_start_error(SPEC, libvirt_error(CONNECT), local=True, answers=answers)
    assert error.details["param"] == "source.auth.secret"
    assert "Ceph refused the login of client.libvirt" in error.msg
    assert "libvirt secret client.libvirt" in error.msg and "ceph auth get-key client.libvirt" in error.msg
    assert error.msg.startswith("starting pool ceph failed: the monitors at 10.0.0.1:6789, 10.0.0.2:3300/6789 answer")
    assert error.msg.endswith("(libvirt reported: %s)" % CONNECT.split(" failed: ", 1)[1])  # its action named once
    assert ("10.0.0.2", 3300) in asked  # a monitor without a port is asked on both of Ceph's ports


def test_no_monitor_answering_means_they_are_down():
    error = rbd_start_error(SPEC, libvirt_error(CONNECT), local=True, answers=lambda host, port: False)
    assert error.details["param"] == "source.hosts"
    assert "no Ceph monitor answers at 10.0.0.1:6789, 10.0.0.2:3300/6789: start the monitors" in error.msg
    assert "key" not in error.msg.split(" (libvirt reported")[0]


def test_over_a_remote_uri_both_causes_are_named():
    error = rbd_start_error(SPEC, libvirt_error(CONNECT), local=False, answers=None)
    assert error.details["param"] == "source"
    assert "no Ceph monitor answers" in error.msg and "Ceph refused the login" in error.msg


def test_other_errors_are_left_as_they_are():
    other = libvirt_error("starting pool ceph failed: failed to create the RBD IoCTX. Does the pool 'x' exist?")
    assert rbd_start_error(SPEC, other, local=True, answers=lambda host, port: True) is other
    assert rbd_delete_error("img", "rbd/img", other) is other


@pytest.mark.parametrize("libvirt_words, param, fragment", [
    ("failed to remove volume 'rbd/img': No such file or directory", "delete_snapshots",
     "Set delete_snapshots: true"),
    ("failed to unprotect snapshot 'rbd/img@libvirt-1': No such file or directory", "name",
     "it is the base of rbd clones"),
])
def test_a_refused_deletion_says_why(libvirt_words, param, fragment):
    error = rbd_delete_error("img", "rbd/img", libvirt_error("deleting volume img of pool p failed: " + libvirt_words))
    assert error.details["param"] == param and fragment in error.msg
    assert error.msg.startswith("deleting volume img (rbd image rbd/img) failed: Ceph refused, ")
    assert error.msg.endswith(libvirt_words + ")")


GLUSTER = {"type": "gluster", "name": "g", "source": {"hosts": [{"name": "gl1"}], "name": "vol1", "dir": "/"}}
GLUSTERFS = {"type": "netfs", "name": "gf", "target": {"path": "/mnt/gf"},
             "source": {"hosts": [{"name": "gl1"}], "dir": "/vol1/images", "format": "glusterfs"}}
MOUNT = "internal error: Child process (/bin/mount -t glusterfs gl1:/vol1/images /mnt/gf) unexpected exit status 1: "


@pytest.mark.parametrize("spec, words, glusterd_answers, param, fragment", [
    (GLUSTER, "failed to connect to gluster://gl1/vol1/: No such file or directory", True, "source.name",
     "glusterd at gl1 answers, but has no volume vol1"),
    (GLUSTERFS, MOUNT + "Mounting glusterfs on /mnt/gf failed.", True, "source.dir",
     "glusterd at gl1 answers, but has no volume vol1"),
    (GLUSTER, "failed to connect to gluster://gl1/vol1/: Transport endpoint is not connected", False, "source.hosts",
     "no glusterd answers at gl1:24007"),
    (GLUSTERFS, MOUNT + "Mounting glusterfs on /mnt/gf failed.", False, "source.hosts",
     "no glusterd answers at gl1:24007"),
    (GLUSTER, "failed to connect to gluster://gl1/vol1/: Input/output error", True, "source.name",
     "gluster volume vol1 on gl1 is stopped, or none of its bricks answers"),
    (GLUSTERFS, MOUNT + "Mount failed. Check the log file  for more details.", True, "source.dir",
     "gluster volume vol1 on gl1 is stopped, or none of its bricks answers"),
    (GLUSTERFS, "cannot open directory '/mnt/gf': Transport endpoint is not connected", True, "source.dir",
     "'gluster volume start vol1 force'"),
])
def test_a_gluster_failure_names_its_cause(spec, words, glusterd_answers, param, fragment):
    asked = []

    def answers(host, port):
        asked.append((host, port))
        return glusterd_answers
    error = gluster_start_error(spec, libvirt_error("starting pool p failed: " + words), local=True, answers=answers)
    assert error.details["param"] == param and fragment in error.msg, error.msg
    assert error.msg.startswith("starting pool p failed: ") and error.msg.endswith("(libvirt reported: %s)" % words)
    assert asked in ([], [("gl1", 24007)])


def test_over_a_remote_uri_glusterd_and_the_volume_are_both_named():
    error = gluster_start_error(GLUSTER, libvirt_error("starting pool p failed: failed to connect to gluster://gl1/"
                                                       "vol1/: No such file or directory"), local=False, answers=None)
    assert "no glusterd answers at gl1:24007" in error.msg and "or it has no volume vol1" in error.msg


def test_netfs_pools_of_other_formats_and_other_gluster_errors_are_left_as_they_are():
    nfs = dict(GLUSTERFS, source=dict(GLUSTERFS["source"], format="nfs"))
    failed = libvirt_error("starting pool p failed: " + MOUNT + "Mount failed. Check the log file")
    assert start_error(pool_type("netfs"), nfs, failed, local=True) is failed
    other = libvirt_error("starting pool p failed: cannot create path '/mnt/gf': Permission denied")
    assert gluster_start_error(GLUSTERFS, other, local=True, answers=None) is other
    assert start_error(pool_type("dir"), {"type": "dir"}, other, local=True) is other
