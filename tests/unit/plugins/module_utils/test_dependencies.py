"""Without libvirt-python (or lxml) for its interpreter, a module runs again under the system Python that has the
distribution's packages; else it fails saying both ways to install them."""

import pytest

from ansible_collections.virtops.storage.plugins.module_utils import connection


class Failed(Exception):
    pass


class Module:
    def fail_json(self, **result):
        raise Failed(result)


class Respawned(Exception):
    pass


@pytest.fixture
def host(monkeypatch, tmp_path):
    """This interpreter lacks libvirt; ``host['pythons']``: which system Pythons exist (as files under tmp_path)
    and which of libvirt and lxml each imports."""
    state = {"pythons": {}, "respawned_in": None, "has_respawned": False}
    monkeypatch.setattr(connection, "LIBVIRT_IMPORT_ERROR", "ImportError: No module named 'libvirt'")
    monkeypatch.setattr(connection, "has_respawned", lambda: state["has_respawned"])
    candidates = [str(tmp_path / name) for name in ("python3", "platform-python", "python")]
    for path in candidates:
        open(path, "w").close()
    monkeypatch.setattr(connection, "SYSTEM_PYTHONS", tuple(candidates) + (str(tmp_path / "absent"),))

    def probe(paths, module_name):
        name = paths[0].rsplit("/", 1)[1]
        return paths[0] if module_name in state["pythons"].get(name, ()) else None

    def respawn(interpreter):
        state["respawned_in"] = interpreter
        raise Respawned(interpreter)  # respawn_module never returns
    monkeypatch.setattr(connection, "probe_interpreters_for_module", probe)
    monkeypatch.setattr(connection, "respawn_module", respawn)
    return state


def test_the_module_runs_again_under_the_system_python_with_both_packages(host):
    host["pythons"] = {"python": ("lxml",), "platform-python": ("libvirt", "lxml")}
    with pytest.raises(Respawned):
        connection.check_dependencies(Module())
    assert host["respawned_in"].endswith("/platform-python")


@pytest.mark.parametrize("pythons, has_respawned", [
    ({}, False),
    ({"python3": ("lxml",)}, False),  # the binding is missing there too
    ({"python3": ("libvirt", "lxml")}, True),  # already respawned: never again
])
def test_otherwise_it_fails_naming_both_ways_to_install(host, pythons, has_respawned):
    host["pythons"], host["has_respawned"] = pythons, has_respawned
    with pytest.raises(Failed) as failed:
        connection.check_dependencies(Module())
    message = failed.value.args[0]["msg"]
    assert "Failed to import the required Python library (libvirt-python)" in message
    assert "pip install libvirt-python lxml" in message and "python3-libvirt and python3-lxml" in message
    assert host["respawned_in"] is None


def test_nothing_happens_when_both_import(monkeypatch, host):
    monkeypatch.setattr(connection, "LIBVIRT_IMPORT_ERROR", None)
    connection.check_dependencies(Module())
    assert host["respawned_in"] is None
