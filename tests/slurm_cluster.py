"""A real Slurm cluster on localhost for tests: munge + slurmctld + two slurmd (virtual nodes kazn1, kazn2).

Installs the Debian packages when they are missing (root + apt-get), writes a slurm.conf with every
state/log/spool path under a temporary directory, starts the daemons in their own sessions and stops
them again (`scontrol shutdown`, then munged if we started it). Two virtual nodes on one host give a
real two-node `srun` for the torchrun c10d rendezvous. Recipe and pitfalls: ../shared/PLATFORM.md.

By hand (keeps the cluster up until Enter):

    python tests/slurm_cluster.py /tmp/slurm
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
NODES = ["kazn1", "kazn2"]
HOSTS_LINE = "127.0.0.1 " + " ".join(NODES) + "  # kazllm test Slurm cluster (removed at shutdown)"
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")


class ClusterUnavailable(RuntimeError):
    """Why no local cluster can run here (not root, no apt-get, install failed): tests skip with this."""


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def ensure_packages() -> None:
    """apt-get install the Slurm and munge packages unless their binaries are already there."""
    if all(shutil.which(b) for b in ("slurmctld", "slurmd", "sbatch", "munged")):
        return
    if os.geteuid() != 0:
        raise ClusterUnavailable("Slurm is not installed and installing it needs root")
    if not shutil.which("apt-get"):
        raise ClusterUnavailable("Slurm is not installed and there is no apt-get to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
    ):
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise ClusterUnavailable(f"`{' '.join(cmd)}` failed: {r.stderr.strip()[-500:]}")


def slurm_conf(root: Path, ctld_port: int, node_ports: list[int], cpus: int, mem_mb: int) -> str:
    nodes = "\n".join(
        f"NodeName={name} NodeHostname=localhost NodeAddr=127.0.0.1 "
        f"Port={port} CPUs={cpus} RealMemory={mem_mb}"
        for name, port in zip(NODES, node_ports)
    )
    return f"""\
ClusterName=kazllmtest
SlurmctldHost=localhost
SlurmctldPort={ctld_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# A short credential lifetime, else a requeued job waits ~120 s before it may start again.
AuthInfo=cred_expire=5
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=sched_interval=2,bf_interval=1
MailProg=/bin/true
JobRequeue=1
ReturnToService=2
KillWait=10
MinJobAge=600
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SlurmdParameters=config_overrides
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool/%n
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd-%n.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd-%n.log
{nodes}
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


class LocalSlurmCluster:
    """Start with `start()`, use `env` for client commands (SLURM_CONF), always `stop()`."""

    def __init__(self, root: Path, cpus: int = 2, mem_mb: int = 8000):
        self.root = Path(root)
        self.cpus, self.mem_mb = cpus, mem_mb
        self.conf = self.root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self._procs: list[subprocess.Popen] = []
        self._munged: subprocess.Popen | None = None
        self._hosts_added = False

    # -- start ---------------------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> LocalSlurmCluster:
        if os.geteuid() != 0:
            raise ClusterUnavailable("a local Slurm cluster needs root (slurmd runs jobs as any user)")
        ensure_packages()
        try:
            self._start_munge()
            self._add_hosts_line()
            for sub in ("state", "log", *(f"spool/{n}" for n in NODES)):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            ctld_port, *node_ports = _free_ports(1 + len(NODES))
            self.conf.write_text(slurm_conf(self.root, ctld_port, node_ports, self.cpus, self.mem_mb))
            log = open(self.root / "log" / "daemons.out", "ab")
            self._procs.append(
                subprocess.Popen(
                    ["slurmctld", "-D", "-c", "-f", str(self.conf)],
                    env=self.env,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )
            for name in NODES:
                self._procs.append(
                    subprocess.Popen(
                        ["slurmd", "-D", "-N", name, "-f", str(self.conf)],
                        env=self.env,
                        stdout=log,
                        stderr=log,
                        start_new_session=True,
                    )
                )
            self._wait_idle(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_munge(self) -> None:
        if self._munge_works():
            return  # a munged is already serving the default socket: share it
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        self._munged = subprocess.Popen(
            ["/usr/sbin/munged", "-F"],
            user="munge",
            group="munge",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while not self._munge_works():
            if time.monotonic() > deadline or self._munged.poll() is not None:
                raise ClusterUnavailable("munged did not start (check /etc/munge/munge.key)")
            time.sleep(0.1)

    @staticmethod
    def _munge_works() -> bool:
        if not MUNGE_SOCKET.exists():
            return False
        cred = subprocess.run(["munge", "-n"], capture_output=True)
        return (
            cred.returncode == 0
            and subprocess.run(["unmunge"], input=cred.stdout, capture_output=True).returncode == 0
        )

    def _add_hosts_line(self) -> None:
        hosts = Path("/etc/hosts")
        text = hosts.read_text()
        if HOSTS_LINE not in text.splitlines():
            hosts.write_text(text + ("" if text.endswith("\n") else "\n") + HOSTS_LINE + "\n")
            self._hosts_added = True

    def _wait_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        states = ""
        while time.monotonic() < deadline:
            for p in self._procs:
                if p.poll() is not None:
                    raise ClusterUnavailable(f"{p.args[0]} exited with {p.returncode}: {self.log_tail()}")
            r = self.run(["sinfo", "-h", "-N", "-o", "%N %T"], check=False)
            states = r.stdout.strip()
            if r.returncode == 0 and all(f"{n} idle" in states for n in NODES):
                return
            time.sleep(0.3)
        raise ClusterUnavailable(f"nodes not idle after {timeout:.0f} s ({states!r}): {self.log_tail()}")

    # -- use -----------------------------------------------------------------------------------------
    def run(self, cmd: list[str], check: bool = True, **kw) -> subprocess.CompletedProcess:
        r = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=60, **kw)
        if check and r.returncode != 0:
            raise RuntimeError(f"`{' '.join(cmd)}` failed ({r.returncode}): {r.stderr.strip()}")
        return r

    def job(self, job_id: str) -> dict[str, str]:
        """`scontrol show job` as a dict (JobState, Restarts, ExitCode, ...); {} once the job is gone."""
        r = self.run(["scontrol", "show", "job", "-o", job_id], check=False)
        if r.returncode != 0:
            return {}
        return dict(kv.split("=", 1) for kv in r.stdout.split() if "=" in kv)

    def log_tail(self, chars: int = 2000) -> str:
        logs = sorted((self.root / "log").glob("*"))
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-chars:]}" for p in logs if p.is_file()
        )

    # -- stop ----------------------------------------------------------------------------------------
    def stop(self) -> None:
        if self.conf.exists() and any(p.poll() is None for p in self._procs):
            subprocess.run(["scontrol", "shutdown"], env=self.env, capture_output=True, timeout=30)
        for p in self._procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)  # the daemon's own session (start_new_session), nothing else
                p.wait()
        self._procs.clear()
        if self._munged is not None:
            self._munged.terminate()
            self._munged.wait(timeout=10)
            self._munged = None
        if self._hosts_added:
            hosts = Path("/etc/hosts")
            hosts.write_text(
                "".join(
                    line
                    for line in hosts.read_text().splitlines(keepends=True)
                    if line.rstrip("\n") != HOSTS_LINE
                )
            )
            self._hosts_added = False


if __name__ == "__main__":
    import sys

    cluster = LocalSlurmCluster(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/kazllm-slurm")).start()
    print(f"cluster up: export SLURM_CONF={cluster.conf}")
    try:
        input("press Enter to shut it down ")
    finally:
        cluster.stop()
