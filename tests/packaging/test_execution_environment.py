"""The execution environment: ansible-builder turns execution-environment.yml into a build context, and the
collection's dependency files (requirements.txt, bindep.txt, via meta/execution-environment.yml) hold exactly
what the modules import and run where they run."""

import ast
import glob
import os
import re
import subprocess
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(REPO, os.environ.get("VENV", ".venv"), "bin")
COLLECTIONS = os.path.join(REPO, "build", "collections")
PLUGINS = glob.glob(os.path.join(REPO, "plugins", "**", "*.py"), recursive=True)

# the distribution names of the Python libraries the modules import
PYPI_NAMES = {"libvirt": "libvirt-python", "lxml": "lxml"}
# the packages of the commands the modules run (module.get_bin_path): (Debian, RPM)
COMMAND_PACKAGES = {"qemu-img": ("qemu-utils", "qemu-img"), "parted": ("parted", "parted"),
                    "blkid": ("util-linux", "util-linux"), "lsblk": ("util-linux", "util-linux")}
# what libvirt-python loads at run time
LIBVIRT_LIBRARY = ("libvirt0", "libvirt-libs")


def third_party_imports():
    """The top-level modules the collection's plugins import that are neither the standard library nor Ansible."""
    found = set()
    for path in PLUGINS:
        with open(path) as handle:
            tree = ast.parse(handle.read(), path)
        for node in ast.walk(tree):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            found.update(name.split(".")[0] for name in names)
    return sorted(name for name in found if name not in sys.stdlib_module_names
                  and name not in ("ansible", "ansible_collections", "__future__"))


def commands_run():
    """The commands the modules look up with get_bin_path."""
    found = set()
    for path in PLUGINS:
        with open(path) as handle:
            found.update(re.findall(r"get_bin_path\(\"([\w.-]+)\"", handle.read()))
    return sorted(found)


def bindep_entries():
    """(package, its bracketed profiles and platforms) of bindep.txt."""
    entries = []
    with open(os.path.join(REPO, "bindep.txt")) as handle:
        for line in handle:
            line = line.split("#")[0].strip()
            if line:
                match = re.match(r"^(\S+)\s*(?:\[(.*)\])?$", line)
                entries.append((match.group(1), set((match.group(2) or "").split())))
    return entries


def test_requirements_txt_is_what_the_modules_import():
    with open(os.path.join(REPO, "requirements.txt")) as handle:
        required = sorted(re.split(r"[<>=!~ ]", line.strip())[0] for line in handle
                          if line.strip() and not line.startswith("#"))
    assert third_party_imports() == sorted(PYPI_NAMES)
    assert required == sorted(PYPI_NAMES.values())


def test_bindep_txt_is_what_the_modules_run_and_load():
    assert commands_run() == sorted(COMMAND_PACKAGES)
    runtime = dict((name, profiles) for name, profiles in bindep_entries() if "compile" not in profiles)
    for debian, rpm in list(COMMAND_PACKAGES.values()) + [LIBVIRT_LIBRARY]:
        if debian == rpm:
            assert debian in runtime and not runtime[debian], (debian, runtime)
        else:
            assert runtime.get(debian) == {"platform:dpkg"} and runtime.get(rpm) == {"platform:rpm"}, (debian, rpm)
    expected = set(package for pair in list(COMMAND_PACKAGES.values()) + [LIBVIRT_LIBRARY] for package in pair)
    assert set(runtime) == expected, "bindep.txt lists more than the modules need: %s" % (set(runtime) - expected)


def test_ansible_builder_introspects_the_installed_collection():
    """What ansible-builder gathers from the installed collection (meta/execution-environment.yml)."""
    out = subprocess.run([os.path.join(VENV_BIN, "ansible-builder"), "introspect", "--sanitize", COLLECTIONS],
                         capture_output=True, text=True, check=True).stdout
    gathered = yaml.safe_load(out[out.index("python:"):] if "python:" in out else out)
    python = " ".join(gathered["python"]) if isinstance(gathered["python"], list) else str(gathered["python"])
    for name in PYPI_NAMES.values():
        assert name in python and "virtops.storage" in python, python
    system = "\n".join(gathered["system"]) if isinstance(gathered["system"], list) else str(gathered["system"])
    assert "libvirt-dev [platform:dpkg compile]" in system and "qemu-img [platform:rpm]" in system, system


def test_ansible_builder_creates_the_build_context(tmp_path):
    context = str(tmp_path / "context")
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-builder"), "create", "-c", context, "--output-filename",
                           "Containerfile", "-f", os.path.join(REPO, "execution-environment.yml")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(os.path.join(context, "Containerfile")) as handle:
        containerfile = handle.read()
    assert "ansible-galaxy" in containerfile and "assemble" in containerfile, containerfile
    with open(os.path.join(context, "_build", "requirements.yml")) as handle:
        galaxy = yaml.safe_load(handle)
    assert [c["name"] for c in galaxy["collections"]] == ["virtops.storage"], galaxy
