"""Hosts as they come: the libvirt binding is the distribution's package (python3-libvirt, python3-lxml) for the
system Python, while Ansible runs the module with another interpreter. The module runs again under the system
Python (ansible-core's respawn) and works."""

import os
import re
import subprocess

# pytest fixtures, used as test arguments
from .conftest import pools, prefix, run_ok, workdir  # noqa: F401  pylint: disable=unused-import
from .playbook_runner import ansible  # noqa: F401  pylint: disable=unused-import

SYSTEM_PYTHON = "/usr/bin/python3"


def test_a_module_whose_interpreter_lacks_libvirt_runs_under_the_system_python(ansible, tmp_path, prefix, pools,  # noqa: F811  pylint: disable=redefined-outer-name
                                                                               workdir):
    venv = str(tmp_path / "bare")
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", venv], check=True)
    bare = os.path.join(venv, "bin", "python")
    for binding in ("libvirt", "lxml"):  # the interpreter Ansible is told to use has neither
        assert subprocess.run([bare, "-c", "import " + binding], capture_output=True, check=False).returncode != 0
        assert subprocess.run([SYSTEM_PYTHON, "-c", "import " + binding], check=False).returncode == 0, (
            "Debian's python3-libvirt and python3-lxml (scripts/install-deps.sh) must be installed")
    pool = prefix + "seen"
    pools.append(pool)
    run_ok("storage_pool", dict(name=pool, type="dir", state="active", target=dict(path=os.path.join(workdir, "p"))),
           changed=True)
    variables = ansible.write_vars("vars.json", dict(ansible_python_interpreter=bare))
    run = ansible.run("python_without_libvirt.yml", variables)
    run.assert_ok(changed=0)
    listed = re.search(r"POOLS ([^\s\"]*)", run.stdout)
    assert listed and pool in listed.group(1).split(","), str(run)
