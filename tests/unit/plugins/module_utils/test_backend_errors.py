"""libvirt's misleading rbd errors turned into ones that say what is wrong (backend_errors)."""

import pytest

from ansible_collections.virtops.storage.plugins.module_utils.backend_errors import rbd_delete_error, rbd_start_error
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
    assert "libvirt reported: " + CONNECT in error.msg
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
