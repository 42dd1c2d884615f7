"""The release artifact: ``ansible-galaxy collection build`` makes the tarball of galaxy.yml's version, and that
tarball installed into a clean collections path runs the demo (converges, then changes nothing)."""

import os
import subprocess
import tarfile

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(REPO, os.environ.get("VENV", ".venv"), "bin")


def test_the_built_tarball_installed_alone_runs_the_demo(tmp_path):
    with open(os.path.join(REPO, "galaxy.yml")) as handle:
        version = yaml.safe_load(handle)["version"]
    subprocess.run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path),
                    REPO], check=True, capture_output=True)
    tarball = tmp_path / ("virtops-storage-%s.tar.gz" % version)
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    for wanted in ("MANIFEST.json", "plugins/modules/storage_pool.py", "roles/hypervisor_storage/tasks/main.yml",
                   "meta/runtime.yml", "meta/execution-environment.yml", "requirements.txt", "bindep.txt",
                   "CHANGELOG.rst", "docs/docsite/extra-docs.yml"):
        assert wanted in names, wanted
    assert not [name for name in names if name.startswith((".venv", "build/", "tests/output"))]

    collections = tmp_path / "collections"
    # only the clean path: with another one configured (make exports build/collections), ansible-galaxy finds the
    # collection installed there and installs nothing
    subprocess.run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "install", "-p", str(collections),
                    str(tarball)], check=True, capture_output=True,
                   env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections)))
    installed = collections / "ansible_collections" / "virtops" / "storage"
    with open(installed / "MANIFEST.json") as handle:
        assert yaml.safe_load(handle)["collection_info"]["version"] == version
    # that path only: neither build/collections nor a copy in the Python's site-packages
    demo = subprocess.run([os.path.join(REPO, "demo", "run.sh")], capture_output=True, text=True, check=False,
                          env=dict(os.environ, DEMO_COLLECTIONS=str(collections), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false"))
    assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-2000:]
    assert "second run reported no change" in demo.stdout + demo.stderr
