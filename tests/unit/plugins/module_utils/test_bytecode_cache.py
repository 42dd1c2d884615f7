"""The per-host cache of compiled module_utils (bytecode_cache), on a zip laid out as Ansible ships a module.

A module_utils file imported from the zip is compiled once and then loaded from the cache; a changed source gets
a new entry (the old one is dropped); a cache directory others can write to, a linked or corrupt entry, or the
switch set to off mean an ordinary compile. Files outside a zip are left to Python.
"""

import importlib.util
import os
import sys
import types
import zipfile
import zipimport

import pytest

from ansible_collections.virtops.storage.plugins.module_utils import bytecode_cache

PACKAGE_DIR = "ansible_collections/virtops/storage/plugins/module_utils"
NAME = bytecode_cache.PACKAGE + "cache_probe"


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "virtops.storage" / "bytecode"


@pytest.fixture
def compiles(monkeypatch):
    """The names compiled by the cache's loader (a miss), in order."""
    calls = []

    def counting_compile(source, filename, *args, **kwargs):
        calls.append(os.path.basename(filename))
        return compile(source, filename, *args, **kwargs)
    monkeypatch.setattr(bytecode_cache, "compile", counting_compile, raising=False)
    return calls


def make_zip(path, source):
    """A zip like Ansible's payload holding one module_utils file ``cache_probe.py``."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(PACKAGE_DIR + "/cache_probe.py", source)
    return str(path)


def load(zip_path):
    """Import the probe from ``zip_path`` through the cache's finder; the module object."""
    zipimport_cache = sys.modules["zipimport"]._zip_directory_cache
    zipimport_cache.pop(zip_path, None)  # a rewritten zip at the same path is read again
    finder = bytecode_cache.CachingFinder(zipimport.zipimporter(zip_path + "/" + PACKAGE_DIR))
    spec = finder.find_spec(NAME)
    assert spec is not None and isinstance(spec.loader, bytecode_cache.CachingLoader)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def entries(cache_home):
    return sorted(os.listdir(cache_home)) if cache_home.exists() else []


def test_compiled_once_then_loaded_from_the_cache(tmp_path, cache_home, compiles):
    first = load(make_zip(tmp_path / "task1.zip", "VALUE = 41 + 1\n"))
    assert first.VALUE == 42 and compiles == ["cache_probe.py"]
    assert [name.split(".")[0] for name in entries(cache_home)] == ["cache_probe"]
    assert oct(cache_home.stat().st_mode & 0o777) == "0o700"
    assert oct((cache_home / entries(cache_home)[0]).stat().st_mode & 0o777) == "0o600"

    second_zip = make_zip(tmp_path / "task2.zip", "VALUE = 41 + 1\n")  # the next task: another temporary zip
    second = load(second_zip)
    assert second.VALUE == 42 and compiles == ["cache_probe.py"]  # no second compile
    assert second.__file__ == second_zip + "/" + PACKAGE_DIR + "/cache_probe.py"


def test_tracebacks_name_this_tasks_file(tmp_path, cache_home, compiles):
    load(make_zip(tmp_path / "task1.zip", "def fail():\n    raise ValueError('x')\n"))
    zip_path = make_zip(tmp_path / "task2.zip", "def fail():\n    raise ValueError('x')\n")
    module = load(zip_path)
    assert len(compiles) == 1
    assert module.fail.__code__.co_filename == zip_path + "/" + PACKAGE_DIR + "/cache_probe.py"


def test_a_changed_source_gets_a_new_entry_and_the_old_one_goes(tmp_path, cache_home, compiles):
    load(make_zip(tmp_path / "a.zip", "VALUE = 1\n"))
    old = entries(cache_home)
    assert load(make_zip(tmp_path / "b.zip", "VALUE = 2\n")).VALUE == 2
    assert len(compiles) == 2
    assert len(entries(cache_home)) == 1 and entries(cache_home) != old


def test_a_directory_others_can_write_to_is_not_used(tmp_path, cache_home, compiles):
    cache_home.mkdir(parents=True)
    cache_home.chmod(0o777)
    for dummy in range(2):
        assert load(make_zip(tmp_path / "a.zip", "VALUE = 3\n")).VALUE == 3
    assert len(compiles) == 2 and entries(cache_home) == []


def test_a_linked_entry_is_not_followed(tmp_path, cache_home, compiles):
    load(make_zip(tmp_path / "a.zip", "VALUE = 4\n"))
    entry = cache_home / entries(cache_home)[0]
    planted = tmp_path / "planted"
    planted.write_bytes(entry.read_bytes())
    entry.unlink()
    entry.symlink_to(planted)
    assert load(make_zip(tmp_path / "a.zip", "VALUE = 4\n")).VALUE == 4
    assert len(compiles) == 2  # compiled again, and the link replaced by a file of the cache's own
    assert not entry.is_symlink()


def test_a_corrupt_entry_is_compiled_again(tmp_path, cache_home, compiles):
    load(make_zip(tmp_path / "a.zip", "VALUE = 5\n"))
    entry = cache_home / entries(cache_home)[0]
    entry.write_bytes(b"\x00not marshal data")
    assert load(make_zip(tmp_path / "a.zip", "VALUE = 5\n")).VALUE == 5
    assert len(compiles) == 2
    assert load(make_zip(tmp_path / "a.zip", "VALUE = 5\n")).VALUE == 5
    assert len(compiles) == 2  # the rewritten entry serves the next load


def test_an_unwritable_cache_is_an_ordinary_compile(tmp_path, monkeypatch, compiles):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    for dummy in range(2):
        assert load(make_zip(tmp_path / "a.zip", "VALUE = 6\n")).VALUE == 6
    assert len(compiles) == 2


def test_a_module_not_in_the_zip_is_not_found(tmp_path):
    zip_path = make_zip(tmp_path / "a.zip", "VALUE = 7\n")
    finder = bytecode_cache.CachingFinder(zipimport.zipimporter(zip_path + "/" + PACKAGE_DIR))
    assert finder.find_spec(bytecode_cache.PACKAGE + "missing") is None


@pytest.fixture
def package_at(monkeypatch):
    """Make this collection's module_utils package seem to come from ``directory`` (a zip's, or a real one)."""
    monkeypatch.setattr(sys, "path_importer_cache", dict(sys.path_importer_cache))

    def place(directory):
        package = types.ModuleType(bytecode_cache.PACKAGE[:-1])
        package.__path__ = [directory]
        monkeypatch.setitem(sys.modules, bytecode_cache.PACKAGE[:-1], package)
        return directory
    return place


def test_installed_on_the_packages_directory_in_the_zip(tmp_path, package_at, cache_home, compiles):
    entry = package_at(make_zip(tmp_path / "a.zip", "VALUE = 8\n") + "/" + PACKAGE_DIR)
    bytecode_cache.install()
    bytecode_cache.install()  # once, however often a module asks
    finder = sys.path_importer_cache[entry]
    assert isinstance(finder, bytecode_cache.CachingFinder)
    assert isinstance(finder.find_spec(NAME).loader, bytecode_cache.CachingLoader)


def test_files_outside_a_zip_are_left_to_python(tmp_path, package_at):
    package = tmp_path / PACKAGE_DIR
    package.mkdir(parents=True)
    (package / "cache_probe.py").write_text("VALUE = 7\n")
    entry = package_at(str(package))
    bytecode_cache.install()
    assert not isinstance(sys.path_importer_cache.get(entry), bytecode_cache.CachingFinder)


@pytest.mark.parametrize("switch, installed", [("off", False), ("0", False), ("on", True), (None, True)])
def test_the_switch(tmp_path, package_at, monkeypatch, switch, installed):
    entry = package_at(make_zip(tmp_path / "a.zip", "VALUE = 9\n") + "/" + PACKAGE_DIR)
    if switch is None:
        monkeypatch.delenv(bytecode_cache.SWITCH, raising=False)
    else:
        monkeypatch.setenv(bytecode_cache.SWITCH, switch)
    bytecode_cache.install()
    assert isinstance(sys.path_importer_cache.get(entry), bytecode_cache.CachingFinder) is installed
