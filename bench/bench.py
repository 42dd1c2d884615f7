"""The driver of bench/run: each figure is a ratio of timings taken side by side in one run.

Not a test: it asserts only that the runs it times did what they should (no change, no failure).
Every libvirt object it makes is named with a random ``bench-`` prefix and removed at the end.
Environment: BENCH_COLLECTIONS (where virtops.storage is installed, set by bench/run),
BENCH_URI (default qemu:///system), BENCH_ROUNDS (default 3), BENCH_IMPORT_RUNS (default 5), BENCH_FIGURES
(default 1,2,3,4,5,6: the figures to measure; RESULTS.md is written only when all are).
"""

import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import libvirt

BENCH = os.path.dirname(os.path.abspath(__file__))
PLAYBOOKS = os.path.join(BENCH, "playbooks")
RESULTS = os.path.join(BENCH, "RESULTS.md")
COLLECTIONS = os.environ["BENCH_COLLECTIONS"]
URI = os.environ.get("BENCH_URI", "qemu:///system")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
IMPORT_RUNS = int(os.environ.get("BENCH_IMPORT_RUNS", "5"))
# the figures to measure, by number (BENCH_FIGURES=3,6): all by default; RESULTS.md is written only for all
FIGURES = [int(number) for number in os.environ.get("BENCH_FIGURES", "1,2,3,4,5,6").split(",")]
GIB, MIB = 1024 ** 3, 1024 ** 2

PER_OBJECT = ("storage_pool", "storage_volume", "storage_secret", "disk_attach",
              "storage_pool_info", "storage_volume_info", "storage_secret_info", "disk_info")


# ---------------------------------------------------------------- timing

def timed(command, **kwargs):
    """Run ``command``; return (seconds, stdout). A failing command stops the bench with its output."""
    start = time.monotonic()
    proc = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    seconds = time.monotonic() - start
    if proc.returncode:
        sys.exit("bench: %s failed (rc %d):\n%s\n%s" % (
            command[:3], proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return seconds, proc.stdout


def side_by_side(variants, rounds=ROUNDS):
    """Run every variant once per round, interleaved (a slower minute hits all alike); median seconds of each."""
    samples = dict((name, []) for name in variants)
    for dummy in range(rounds):
        for name, run in variants.items():
            samples[name].append(run())
    return dict((name, statistics.median(times)) for name, times in samples.items())


class Ansible:
    """ansible-playbook of the bench venv, on localhost, with virtops.storage from BENCH_COLLECTIONS."""

    def __init__(self, workdir, extra_vars):
        self.extra_vars = extra_vars
        self.env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_LOCAL_TEMP=workdir,
                        ANSIBLE_REMOTE_TEMP=workdir, ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_NOCOLOR="1",
                        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                        ANSIBLE_CONFIG=os.path.join(BENCH, "ansible.cfg"))

    def play(self, playbook, tasks, changed=0, **extra_vars):
        """Run ``playbook``; check that ``tasks`` tasks ran ok and ``changed`` changed (None: any count); seconds."""
        variables = dict(self.extra_vars, **extra_vars)
        # implicit localhost: its Python is ansible-playbook's own (the bench venv, with libvirt and lxml)
        seconds, out = timed([os.path.join(sys.prefix, "bin", "ansible-playbook"), playbook,
                              "-e", json.dumps(variables)], cwd=PLAYBOOKS, env=self.env)
        recap = re.search(r"localhost\s*: ok=(\d+)\s+changed=(\d+)\s+unreachable=0\s+failed=0", out)
        if not recap or tasks is not None and int(recap.group(1)) != tasks or \
                changed is not None and int(recap.group(2)) != changed:
            sys.exit("bench: %s %s did not run %d tasks with %s changed:\n%s" % (
                playbook, extra_vars, tasks, changed, out[-3000:]))
        return seconds


def run_module(name, args):
    """Run an installed virtops.storage module as Ansible runs it on the host (file + JSON args); seconds."""
    path = os.path.join(COLLECTIONS, "ansible_collections", "virtops", "storage", "plugins", "modules", name + ".py")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": dict(args, uri=URI)}, handle)
    try:
        seconds, out = timed([sys.executable, path, handle.name], env=dict(os.environ, PYTHONPATH=COLLECTIONS))
    finally:
        os.unlink(handle.name)
    if json.loads(out).get("failed"):
        sys.exit("bench: %s %s failed: %s" % (name, args, out[-3000:]))
    return seconds


# ---------------------------------------------------------------- the bench's libvirt objects

class Host:
    """The libvirt objects of one bench run, all named ``<prefix>-...``; ``cleanup`` removes them."""

    def __init__(self, conn, prefix, workdir):
        self.conn, self.prefix, self.workdir = conn, prefix, workdir
        self.pools, self.secrets, self.domains = [], [], []  # names, usage ids, names

    def pool(self, suffix):
        """Define, build and start a dir pool ``<prefix>-<suffix>`` under the workdir; return it."""
        name = "%s-%s" % (self.prefix, suffix)
        xml = "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (
            name, os.path.join(self.workdir, suffix))
        self.pools.append(name)
        pool = self.conn.storagePoolDefineXML(xml, 0)
        pool.build(0)
        pool.create(0)
        return pool

    @staticmethod
    def volumes(pool, names, fmt, capacity):
        """Create the volumes ``names`` in ``pool`` (format ``fmt``, ``capacity`` bytes, nothing allocated)."""
        for name in names:
            pool.createXML("<volume><name>%s</name><capacity>%d</capacity><allocation>0</allocation>"
                           "<target><format type='%s'/></target></volume>" % (name, capacity, fmt), 0)

    def secret(self, usage_id):
        """Define a ceph secret with ``usage_id`` and the description the bench's task declares."""
        self.secrets.append(usage_id)
        self.conn.secretDefineXML(
            "<secret ephemeral='no' private='no'><description>bench secret</description>"
            "<usage type='ceph'><name>%s</name></usage></secret>" % usage_id, 0)

    def guest(self):
        """Define (never start) a small q35 guest; return its name."""
        name = self.prefix + "-guest"
        self.domains.append(name)
        self.conn.defineXML("<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><os>"
                            "<type arch='x86_64' machine='q35'>hvm</type></os></domain>" % name)
        return name

    def cleanup(self):
        """Remove every object of the run (a pool's volumes go with its directory), then the workdir.

        Over a new connection, looked up by name: the daemon may have been restarted by another user of it.
        """
        conn = libvirt.open(URI)
        for name in self.domains:
            _gone_or(lambda: conn.lookupByName(name).undefine())
        for usage_id in self.secrets:
            _gone_or(lambda: conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_CEPH, usage_id).undefine())
        for name in self.pools:
            pool = _gone_or(lambda: conn.storagePoolLookupByName(name))
            if pool and pool.isActive():
                pool.destroy()
            if pool:
                pool.undefine()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _gone_or(function):
    """``function()``, or None when the object it looks up is not there (never made, or removed already)."""
    try:
        return function()
    except libvirt.libvirtError as exc:
        if exc.get_error_code() in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_NO_SECRET, libvirt.VIR_ERR_NO_STORAGE_POOL):
            return None
        raise


# ---------------------------------------------------------------- the figures

def machine(conn):
    """The lines that say where the figures come from."""
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    version = conn.getLibVersion()
    ansible = subprocess.run([os.path.join(sys.prefix, "bin", "ansible"), "--version"], capture_output=True,
                             text=True, check=False).stdout.splitlines()[0]
    return ["CPU: %s, %d cores" % (cpu, os.cpu_count()),
            "Kernel: %s %s" % (platform.system(), platform.release()),
            "libvirt: %d.%d.%d (daemon at %s)" % (version // 1000000, version // 1000 % 1000, version % 1000, URI),
            "Python %s, %s, community.libvirt %s" % (platform.python_version(), ansible, community_libvirt()),
            "Load average at start: %.2f %.2f %.2f (the daemon and the cores may be shared)" % os.getloadavg()]


def community_libvirt():
    """The version of community.libvirt the bench venv's ansible package ships."""
    import ansible_collections.community.libvirt as package  # pylint: disable=import-outside-toplevel
    with open(os.path.join(list(package.__path__)[0], "MANIFEST.json")) as handle:
        return json.load(handle)["collection_info"]["version"]


def per_task(ansible):
    """(1) 20 no-change tasks of each per-object module vs ping, community.libvirt's virt_pool and the floor."""
    for kind in ("ping", "floor", "virt_pool") + PER_OBJECT:  # warm-up; the first disk_attach attaches
        ansible.play("single.yml", 1, changed=None, bench_kind=kind)
    kinds = ("ping", "floor", "virt_pool") + PER_OBJECT
    times = side_by_side(dict((kind, lambda kind=kind: ansible.play("per_task.yml", 20, bench_kind=kind))
                              for kind in kinds))
    ping, floor = times["ping"], times["floor"]
    rows = ["| task (20 of them) | seconds | / ping | / floor | / virt_pool | ms per task over ping |",
            "|---|---|---|---|---|---|"]
    for kind in kinds:
        rows.append("| %s | %.2f | %.3f | %.3f | %.3f | %.0f |" % (
            kind, times[kind], times[kind] / ping, times[kind] / floor, times[kind] / times["virt_pool"],
            (times[kind] - ping) / 20 * 1000))
    worst = max(PER_OBJECT, key=lambda kind: times[kind])
    held = [kind for kind in PER_OBJECT if times[kind] <= 1.03 * floor]
    goals = ["(1) every per-object module within 3%% of the floor: %s (%d of %d hold; slowest %s at %.3fx the "
             "floor; virt_pool %.3fx)" % ("holds" if len(held) == len(PER_OBJECT) else "does not hold", len(held),
                                          len(PER_OBJECT), worst, times[worst] / floor, times["virt_pool"] / floor),
             "(1) storage_pool ahead of community.libvirt virt_pool: %s (%.3fx)" % (
                 "holds" if times["storage_pool"] < times["virt_pool"] else "does not hold",
                 times["storage_pool"] / times["virt_pool"])]
    return "1. Per-task cost: 20 no-change tasks, one playbook each (median of %d rounds)" % ROUNDS, rows, goals


def volume_loop(ansible, pool, count=100):
    """(2) ``count`` qcow2 volumes in one loop task, no change: storage_volume vs community.libvirt's virt_volume."""
    names = ["vol%03d.qcow2" % i for i in range(count)]
    Host.volumes(pool, names, "qcow2", GIB)
    variables = dict(bench_pool=pool.name(), bench_volumes=names)
    times = side_by_side({
        "storage_volume": lambda: ansible.play("volumes_ours.yml", 1, **variables),
        "virt_volume": lambda: ansible.play("volumes_virt_volume.yml", 1, **variables)})
    ratio = times["storage_volume"] / times["virt_volume"]
    rows = ["| loop of %d volumes | seconds |" % count, "|---|---|",
            "| virtops.storage.storage_volume | %.2f |" % times["storage_volume"],
            "| community.libvirt.virt_volume | %.2f |" % times["virt_volume"],
            "| ratio | %.3f |" % ratio]
    goals = ["(2) storage_volume faster than virt_volume over %d volumes: %s (%.3fx)" % (
        count, "holds" if ratio < 1 else "does not hold", ratio)]
    return "2. %d volumes in a loop, no change (median of %d rounds)" % (count, ROUNDS), rows, goals


def goal(text, ratio, limit):
    """A goal line: whether ``ratio`` is within ``limit``, and the ratio."""
    return "%s: %s (%.3fx)" % (text, "holds" if ratio <= limit else "does not hold", ratio)


def declaration(host, pools=4, per_pool=250):
    """The bench's host declaration: ``pools`` dir pools of ``per_pool`` qcow2 volumes (hypervisor_storage_pools)."""
    names = ["%s-role%d" % (host.prefix, number) for number in range(pools)]
    host.pools.extend(names)  # the role defines them; cleanup removes them
    return [dict(name=name, type="dir", target=dict(path=os.path.join(host.workdir, name)),
                 volumes=[dict(name="v%03d.qcow2" % i) for i in range(per_pool)]) for name in names]


def role_1000_volumes(ansible, host, pools):
    """(3) 1000 volumes over 4 pools through roles/hypervisor_storage: the first run vs a raw libvirt-python
    loop creating the same volumes (in pools of its own), the no-change run vs a one-task ping play."""
    raw_pools = [host.pool("raw%d" % number) for number in range(len(pools))]
    start = time.monotonic()
    for raw_pool, pool in zip(raw_pools, pools):
        Host.volumes(raw_pool, [volume["name"] for volume in pool["volumes"]], "qcow2", 16 * MIB)
    raw = time.monotonic() - start
    first = ansible.play("role.yml", None, changed=1, bench_declaration=pools)
    times = side_by_side({"role, no change": lambda: ansible.play("role.yml", None, bench_declaration=pools),
                          "ping play": lambda: ansible.play("single.yml", 1, bench_kind="ping")})
    count = sum(len(pool["volumes"]) for pool in pools)
    first_ratio, again_ratio = first / raw, times["role, no change"] / times["ping play"]
    rows = ["| %d volumes over %d pools | seconds | ratio |" % (count, len(pools)), "|---|---|---|",
            "| raw libvirt-python creation loop | %.2f | 1 |" % raw,
            "| the role, first run | %.2f | %.3f |" % (first, first_ratio),
            "| one-task ping play | %.2f | 1 |" % times["ping play"],
            "| the role, no change | %.2f | %.3f |" % (times["role, no change"], again_ratio)]
    goals = [goal("(3) role first run <= 3x a raw libvirt-python loop", first_ratio, 3),
             goal("(3) role no-change run <= 3x a one-task ping play", again_ratio, 3)]
    return ("3. %d volumes over %d pools through the role (first run once; no change: median of %d rounds)" % (
        count, len(pools), ROUNDS)), rows, goals


def volume_info(pool, count=5000):
    """(4) storage_volume_info on ``count`` volumes vs ``virsh vol-list --details`` of the same pool."""
    Host.volumes(pool, ["v%05d.img" % i for i in range(count)], "raw", MIB)
    virsh = ["virsh", "-c", URI, "vol-list", "--details", pool.name()]
    times = side_by_side({
        "storage_volume_info": lambda: run_module("storage_volume_info", {"pool": pool.name()}),
        "virsh vol-list --details": lambda: timed(virsh)[0]})
    ratio = times["storage_volume_info"] / times["virsh vol-list --details"]
    rows = ["| %d volumes of one pool | seconds |" % count, "|---|---|"] + [
        "| %s | %.2f |" % (name, seconds) for name, seconds in times.items()] + ["| ratio | %.3f |" % ratio]
    goals = ["(4) storage_volume_info within 1.5x virsh vol-list --details: %s (%.3fx)" % (
        "holds" if ratio <= 1.5 else "does not hold", ratio)]
    return ("4. storage_volume_info on %d volumes (the module process, as Ansible starts it on the host; "
            "median of %d rounds)" % (count, ROUNDS)), rows, goals


def sparse_image(path, size=10 * GIB, data=GIB, extents=16):
    """Write a sparse raw image of ``size`` bytes holding ``data`` bytes of random data in ``extents`` runs."""
    with open(path, "wb") as handle:
        handle.truncate(size)
        for i in range(extents):
            handle.seek(i * (size // extents))
            handle.write(os.urandom(data // extents))


def allocated(path):
    """Bytes the file at ``path`` occupies on disk."""
    return os.stat(path).st_blocks * 512


def image_import(pool, workdir):
    """(5) storage_volume import_from a local 10 GiB sparse raw image holding 1 GiB vs cp --sparse=always.

    The import flushes the volume to disk before it records the import as done (a crash must not leave a
    record of content that never reached the disk); cp does not flush. So the figure has both references:
    cp alone, as issue 12 names it, and cp followed by ``sync --data`` of the copy, the same guarantee.
    """
    source, copy = os.path.join(workdir, "source.img"), os.path.join(workdir, "copy.img")
    sparse_image(source)
    subprocess.run(["cat", source], stdout=subprocess.DEVNULL, check=True)  # page cache warm
    volume = dict(pool=pool.name(), name="imported.img", capacity="10GiB", format="raw",
                  import_from=dict(src=source, format="raw"))

    # each run starts with nothing left to write back: neither pays for the writeback of the one before
    def ours():
        run_module("storage_volume", dict(pool=volume["pool"], name=volume["name"], state="absent"))
        os.sync()
        return run_module("storage_volume", volume)

    def cp(flushed):
        def run():
            if os.path.exists(copy):
                os.unlink(copy)
            os.sync()
            seconds = timed(["cp", "--sparse=always", source, copy])[0]
            return seconds + (timed(["sync", "--data", copy])[0] if flushed else 0)
        return run

    names = ("storage_volume import_from", "cp --sparse=always", "cp --sparse=always, then sync --data")
    times = side_by_side(dict(zip(names, (ours, cp(False), cp(True)))), rounds=IMPORT_RUNS)
    target = pool.storageVolLookupByName("imported.img").path()
    ours = times[names[0]]
    rows = ["| 10 GiB raw image, 1 GiB of data | seconds | allocated | import / this |", "|---|---|---|---|",
            "| %s | %.2f | %.2f GiB | 1 |" % (names[0], ours, allocated(target) / GIB)]
    rows += ["| %s | %.2f | %.2f GiB | %.3f |" % (name, times[name], allocated(copy) / GIB, ours / times[name])
             for name in names[1:]]
    goals = [goal("(5) import within 1.3x cp --sparse=always followed by sync --data (the import's guarantee)",
                  ours / times[names[2]], 1.3) + "; allocated %.2f GiB vs %.2f GiB" % (
                      allocated(target) / GIB, allocated(copy) / GIB),
             goal("(5) import within 1.3x cp --sparse=always without the flush, as issue 12 words it",
                  ours / times[names[1]], 1.3)]
    return ("5. Import of a sparse image from a local file, page cache warm (module process, no checksum; "
            "median of %d runs)" % IMPORT_RUNS), rows, goals


# runs argv[1:] as a child and prints its own peak RSS (KiB) on stderr; its exit status is the child's
PEAK_RSS_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
dummy, status, usage = os.wait4(pid, 0)
sys.stderr.write("%d\\n" % usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def batched_peak_memory(pools):
    """(6) Peak memory (max RSS) of the storage_host module process over the 1000 volumes (no change)."""
    path = os.path.join(COLLECTIONS, "ansible_collections", "virtops", "storage", "plugins", "modules",
                        "storage_host.py")
    args = dict(uri=URI, pools=pools, pool_defaults=dict(state="active"),
                volume_defaults=dict(format="qcow2", capacity="16M"))
    with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
        handle.flush()
        # Linux counts into a process's peak RSS the memory of the process it was forked from (at exec), and
        # this driver holds a lot by now: a small launcher forks the module, so only the module's own counts
        proc = subprocess.run([sys.executable, "-c", PEAK_RSS_LAUNCHER, sys.executable, path, handle.name],
                              capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=COLLECTIONS),
                              check=False)
    out, status = proc.stdout, proc.returncode
    peak_kib = int(proc.stderr.strip().splitlines()[-1]) if proc.stderr.strip() else 0
    result = json.loads(out)
    if status or result.get("failed") or result["changed"]:
        sys.exit("bench: storage_host over the declaration did not run unchanged: %s" % out[-3000:])
    peak = peak_kib / 1024
    rows = ["| storage_host over %d volumes, no change | peak memory |" % sum(len(p["volumes"]) for p in pools),
            "|---|---|", "| the module process | %.1f MiB |" % peak]
    goals = ["(6) peak memory of the batched run < 100 MiB: %s (%.1f MiB)" % (
        "holds" if peak < 100 else "does not hold", peak)]
    return "6. Peak memory of the batched run over 1000 volumes", rows, goals


# ---------------------------------------------------------------- main

def write_results(lines_of_machine, sections):
    """Write RESULTS.md: the machine, each section's table, then which goals hold."""
    out = ["# bench results", "", "Written by `bench/run` on %s. Each ratio is measured side by side in this run." %
           datetime.date.today().isoformat(), "", "## Machine", ""] + ["- " + line for line in lines_of_machine]
    goals = []
    for title, rows, section_goals in sections:
        out += ["", "## " + title, ""] + rows
        goals += section_goals
    out += ["", "## Goals of issue 12", ""] + ["- " + goal for goal in goals]
    with open(RESULTS, "w") as handle:
        handle.write("\n".join(out) + "\n")
    print("\n".join(out))


def main():
    conn = libvirt.open(URI)
    about = machine(conn)
    prefix = "bench-" + uuid.uuid4().hex[:6]
    workdir = tempfile.mkdtemp(prefix=prefix + "-", dir="/var/tmp")
    os.chmod(workdir, 0o755)
    host = Host(conn, prefix, workdir)
    try:
        pool = host.pool("a")
        Host.volumes(pool, ["disk.qcow2"], "qcow2", GIB)
        host.secret(prefix + "-client")
        ansible = Ansible(workdir, dict(
            bench_uri=URI, bench_pool=pool.name(), bench_pool_path=os.path.join(workdir, "a"),
            bench_volume="disk.qcow2", bench_secret_usage=prefix + "-client", bench_domain=host.guest()))
        pools = declaration(host)
        figures = [(1, lambda: per_task(ansible)), (2, lambda: volume_loop(ansible, host.pool("loop"))),
                   (3, lambda: role_1000_volumes(ansible, host, pools)), (4, lambda: volume_info(host.pool("many"))),
                   (5, lambda: image_import(host.pool("import"), workdir)), (6, lambda: batched_peak_memory(pools))]
        if 6 in FIGURES and 3 not in FIGURES:
            FIGURES.append(3)  # (6) measures the no-change run over what (3) made
        sections = [figure() for number, figure in figures if number in FIGURES]
    finally:
        host.cleanup()
    if sorted(FIGURES) == [1, 2, 3, 4, 5, 6]:
        write_results(about, sections)
    else:
        for title, rows, goals in sections:
            print("\n".join(["## " + title] + rows + goals))


if __name__ == "__main__":
    main()
