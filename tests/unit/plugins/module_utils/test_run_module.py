"""converge.run_module, the one place errors become fail_json: what escaped the converger's own errors too."""

import libvirt
import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.virtops.storage.plugins.module_utils.converge import run_module
from ansible_collections.virtops.storage.plugins.module_utils.errors import DAEMON_LOST, ParameterError

from .fake_libvirt import libvirt_error

URI = "qemu:///system"


class ExitingModule:
    """An AnsibleModule as run_module uses it: exit_json and fail_json record their call and end the run
    (SystemExit, as AnsibleModule's do)."""

    argument_spec = {"uri": {"type": "str"}}

    def __init__(self):
        self.params = {"uri": URI}
        self.no_log_values = set()
        self.exited = self.failed = None
        self.warnings = []

    def warn(self, warning):
        self.warnings.append(warning)

    def exit_json(self, **result):
        self.exited = result
        raise SystemExit(0)

    def fail_json(self, **result):
        self.failed = result
        raise SystemExit(1)


class Raising:
    """A converger whose run raises ``error``."""

    def __init__(self, error):
        self.error = error

    def run(self):
        raise self.error


def _failed_with(error):
    """Run a converger raising ``error``; return what fail_json got."""
    module = ExitingModule()
    with patch_module_args({"uri": URI}), pytest.raises(SystemExit):
        run_module(module, lambda module, connection: Raising(error))
    assert module.exited is None
    return module.failed


def test_a_result_is_exit_json():
    class Converger:  # pylint: disable=too-few-public-methods
        @staticmethod
        def run():
            return {"changed": False, "warnings": ["careful"]}
    module = ExitingModule()
    with patch_module_args({"uri": URI}), pytest.raises(SystemExit):
        run_module(module, lambda module, connection: Converger())
    assert module.exited == {"changed": False} and module.warnings == ["careful"] and module.failed is None


def test_a_parameter_error_names_its_parameter():
    assert _failed_with(ParameterError("capacity", "too large")) == {"msg": "capacity: too large", "param": "capacity"}


def test_an_unexpected_exception_is_an_internal_error_with_its_traceback():
    failed = _failed_with(RuntimeError("dictionary changed size during iteration"))
    assert failed["msg"] == ("virtops.storage internal error (RuntimeError: dictionary changed size during "
                             "iteration); the task stopped there")
    assert failed["exception"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: dictionary changed size during iteration" in failed["exception"]


def test_a_raw_libvirt_error_is_a_libvirt_call_error():
    error = libvirt_error(libvirt.VIR_ERR_INTERNAL_ERROR, "internal error: cannot open directory '/srv/images'")
    failed = _failed_with(error)
    assert failed == {"msg": "a libvirt call failed: internal error: cannot open directory '/srv/images'",
                      "action": "a libvirt call", "libvirt_code": libvirt.VIR_ERR_INTERNAL_ERROR}


def test_a_raw_libvirt_error_of_a_lost_daemon_says_so():
    error = libvirt_error(libvirt.VIR_ERR_SYSTEM_ERROR, "End of file while reading data: Input/output error",
                          libvirt.VIR_FROM_RPC)
    failed = _failed_with(error)
    assert failed["msg"] == "a libvirt call failed: End of file while reading data: Input/output error; " + DAEMON_LOST
    assert failed["daemon_lost"] is True
