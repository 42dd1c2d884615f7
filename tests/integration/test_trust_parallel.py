"""Parallel jobs on one host converge the same objects: every job succeeds (issue 9, defect 4).

Two ``ansible-playbook`` processes started together converge the same pool,
secret, URL import and 20 qcow2 volumes; then 2 and 4 processes run the same
module tasks at once, round after round. Every process must succeed, each object
is created by exactly one of them, and the end state is checked on the host:
volumes by ``qemu-img check``, the import by the checksum of its content.
"""

import base64
import os
import subprocess
import threading

import pytest

from .conftest import URI, run_module, run_ok, virsh
from .playbook_runner import ansible  # noqa: F401  pylint: disable=unused-import
from .volume_helpers import http_server, sha256_file, vol_names, write_random

VOLUMES = 20


@pytest.fixture
def secrets_by_usage():
    """Ceph usage ids of secrets a test makes; their secrets are undefined afterwards."""
    usages = []
    yield usages
    for usage in usages:
        for line in virsh("secret-list").splitlines():
            if usage in line:
                virsh("secret-undefine", line.split()[0], check=False)


@pytest.fixture
def image(workdir):
    """A 64 MiB sparse raw image with 4 MiB of data served over HTTP: (url, sha256)."""
    directory = os.path.join(workdir, "images")
    os.mkdir(directory)
    os.chmod(directory, 0o755)
    path = write_random(os.path.join(directory, "golden.raw"), [1, 40], 2, size=64 * 1024 * 1024)
    os.chmod(path, 0o644)
    with http_server(directory) as url:
        yield url + "/golden.raw", sha256_file(path)


def at_once(job, count, timeout=900):
    """Run ``job(index)`` for index 0 .. count-1 in parallel threads (each starting its own processes); wait for all."""
    threads = [threading.Thread(target=job, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)


def secret_uuids(usage):
    """UUIDs of the ceph secrets whose usage id is ``usage``."""
    return [line.split()[0] for line in virsh("secret-list").splitlines() if line.split()[-1:] == [usage]]


def clear_round(pool, usage):
    """Remove what a round made (volumes and the secret), keeping the pool: the next round races again."""
    for name in vol_names(pool):
        virsh("vol-delete", "--pool", pool, name)
    for secret_uuid in secret_uuids(usage):
        virsh("secret-undefine", secret_uuid)


def assert_converged(pool, target, usage, image_sha):
    """One pool, one secret, the imported image byte for byte, 20 clean qcow2 volumes."""
    assert virsh("pool-info", pool).count("running") == 1
    assert len(secret_uuids(usage)) == 1, virsh("secret-list")
    assert sha256_file(os.path.join(target, "golden.img")) == image_sha
    names = sorted(vol_names(pool))
    assert names == sorted(["golden.img"] + ["vm%02d.qcow2" % i for i in range(VOLUMES)]), names
    for index in range(VOLUMES):
        path = os.path.join(target, "vm%02d.qcow2" % index)
        check = subprocess.run(["qemu-img", "check", "-U", path], capture_output=True, text=True, check=False)
        assert check.returncode == 0, (path, check.stdout, check.stderr)


def test_two_playbooks_at_once(ansible, image, workdir, prefix, pools,  # pylint: disable=redefined-outer-name
                               secrets_by_usage, imported):
    """Two ansible-playbook processes converge the same pool, secret, import and 20 volumes: both succeed."""
    url, image_sha = image
    pool, usage = prefix + "par", prefix + "client.par"
    target = os.path.join(workdir, "par")
    pools.append(pool)
    secrets_by_usage.append(usage)
    imported.append((pool, "golden.img"))
    variables = dict(libvirt_uri=URI, pool_name=pool, pool_path=target, secret_usage=usage,
                     secret_value=base64.b64encode(os.urandom(16)).decode(), image_url=url,
                     image_checksum="sha256:" + image_sha,
                     volume_names=["vm%02d.qcow2" % i for i in range(VOLUMES)])
    vars_file = ansible.write_vars("vars.json", variables)
    for dummy in range(2):
        runs = [None, None]

        def play(index):
            runs[index] = ansible.run("parallel.yml", vars_file)

        at_once(play, 2)
        for run in runs:
            run.assert_ok()
        assert_converged(pool, target, usage, image_sha)
        clear_round(pool, usage)
    # converged: a third run changes nothing
    ansible.run("parallel.yml", vars_file).assert_ok()
    ansible.run("parallel.yml", vars_file).assert_ok(changed=0)


def _tasks(pool, target, usage, value, url, image_sha):
    """The module tasks of one job, in order: (module, arguments, object name)."""
    tasks = [("storage_pool", dict(name=pool, type="dir", target=dict(path=target), state="active"), "pool"),
             ("storage_secret", dict(usage_type="ceph", usage_id=usage, value=value), "secret"),
             ("storage_volume", dict(pool=pool, name="golden.img", format="raw",
                                     import_from=dict(src=url, checksum="sha256:" + image_sha)), "golden.img")]
    for index in range(VOLUMES):
        name = "vm%02d.qcow2" % index
        tasks.append(("storage_volume", dict(pool=pool, name=name, capacity="16M", format="qcow2"), name))
    return tasks


@pytest.mark.parametrize("jobs", [2, 4])
def test_parallel_module_runs(jobs, image, workdir, prefix, pools, secrets_by_usage, imported):
    """2 and 4 jobs run the same tasks at once, 5 rounds: all succeed, each object is made by exactly one."""
    url, image_sha = image
    pool, usage = prefix + "jobs", prefix + "client.jobs"
    target = os.path.join(workdir, "jobs")
    pools.append(pool)
    secrets_by_usage.append(usage)
    imported.append((pool, "golden.img"))
    value = base64.b64encode(os.urandom(16)).decode()
    tasks = _tasks(pool, target, usage, value, url, image_sha)
    for round_number in range(5):
        results = [[] for dummy in range(jobs)]

        def job(index):
            # each job starts the list at another place, so creations collide from the first task on
            order = tasks[:3] + tasks[3:][index * 5:] + tasks[3:][:index * 5]
            for module, args, what in order:
                results[index].append((what, run_module(module, args)))

        at_once(job, jobs)
        made = {}
        for job_results in results:
            assert len(job_results) == len(tasks)
            for what, result in job_results:
                assert not result.get("failed"), (round_number, what, result)
                made[what] = made.get(what, 0) + (1 if result["changed"] else 0)
        expected = dict((what, 1) for dummy, dummy, what in tasks)
        if round_number > 0:
            expected["pool"] = 0  # the pool is kept between rounds
        assert made == expected, made
        assert_converged(pool, target, usage, image_sha)
        clear_round(pool, usage)
    run_ok("storage_pool", dict(name=pool, state="active"), changed=False)
