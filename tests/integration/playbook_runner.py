"""Running the playbooks under ``playbooks/`` with the venv's ansible-playbook, as a user runs them.

Each run gets the installed collection, its own remote and local temp
directories and log file (``Ansible``), and its PLAY RECAP parsed (``Run``).
"""

import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from .conftest import COLLECTIONS, REPO

PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks")
# ansible-playbook is run by the venv's python: the script's shebang may name another interpreter (the venv
# here was made as /tmp/venv-probe and moved, and its scripts still start with #!/tmp/venv-probe/bin/python3)
VENV_BIN = os.path.join(REPO, os.environ.get("VENV", ".venv"), "bin")
RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
                   r"\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)"
                   r"\s+ignored=(?P<ignored>\d+)", re.MULTILINE)


# ---------------------------------------------------------------- running playbooks

class Run:
    """One ansible-playbook run: its return code, output and PLAY RECAP counts (``recaps`` per host, ``recap``
    their sums: for the usual one host, localhost, that host's)."""

    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        found = RECAP.findall(proc.stdout)
        assert found, "no PLAY RECAP (rc %d):\n%s\n%s" % (self.rc, self.stdout, self.stderr)
        names = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
        self.recaps = dict((host, dict(zip(names, (int(count) for count in counts)))) for host, *counts in found)
        self.recap = dict((name, sum(recap[name] for recap in self.recaps.values())) for name in names)

    def __str__(self):
        fatal = [line for line in self.stdout.splitlines() if line.startswith(("fatal:", "[ERROR]"))]
        return "rc %d, recap %s\n--- errors\n%s\n--- stdout (end)\n%s\n--- stderr\n%s" % (
            self.rc, self.recap, "\n".join(fatal), self.stdout[-6000:], self.stderr[-3000:])

    def assert_ok(self, changed=None):
        """The play succeeded; with ``changed``, that many tasks changed (0 for a converged run)."""
        assert self.rc == 0 and self.recap["failed"] == 0 and self.recap["unreachable"] == 0, str(self)
        if changed is not None:
            assert self.recap["changed"] == changed, str(self)

    def failed_task(self):
        """(task name, the 'fatal:' line) of the first task that failed, not ignored."""
        task = None
        for line in self.stdout.splitlines():
            match = re.match(r"^TASK \[(.*)\] \**$", line)
            if match:
                task = match.group(1)
            elif line.startswith("fatal: ["):
                return task, line
        raise AssertionError("no failed task in:\n%s" % self)


class Ansible:
    """A private place to run playbooks: vars files, remote and local temp, log file, all in one temp dir."""

    def __init__(self, root):
        self.root = root
        self.remote_tmp = os.path.join(root, "remote-tmp")
        self.local_tmp = os.path.join(root, "local-tmp")
        self.log_path = os.path.join(root, "ansible.log")
        for path in (self.remote_tmp, self.local_tmp):
            os.mkdir(path, 0o700)

    def write_vars(self, name, variables):
        """Write an extra-vars file readable by its owner only; return its path."""
        path = os.path.join(self.root, name)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(variables, handle)
        return path

    def run(self, playbook, vars_file, *options, inventory="localhost,"):
        """Run playbooks/``playbook`` with ``-e @vars_file`` and ``options`` (--check, --diff, -vvvv...), on the
        hosts of ``inventory`` (a file, or hosts followed by commas)."""
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_REMOTE_TEMP=self.remote_tmp,
                   ANSIBLE_LOCAL_TEMP=self.local_tmp, ANSIBLE_LOG_PATH=self.log_path,
                   ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                   ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="default", ANSIBLE_RETRY_FILES_ENABLED="false")
        argv = [os.path.join(VENV_BIN, "python"), os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory,
                "-e", "@" + vars_file] + list(options) + [os.path.join(PLAYBOOKS, playbook)]
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=self.root, timeout=600,
                              check=False)
        return Run(proc)


@pytest.fixture
def ansible():
    """An Ansible runner with its own temporary directory (0700), removed afterwards."""
    root = tempfile.mkdtemp(prefix="virtops-play-")
    yield Ansible(root)
    shutil.rmtree(root, ignore_errors=True)
