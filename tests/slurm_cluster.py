"""A throwaway single-node SLURM cluster for the tests: munged, slurmctld and slurmd from Debian's
packages, every file they use (config, key, sockets, state, logs) under one temporary folder.

Nothing is written under /etc: daemons and clients find the cluster through ``SLURM_CONF``, and
munge through its own socket (``AuthInfo=socket=...``). ``stop`` ends exactly the processes that
``start`` launched, by their process ids.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ("munge", "slurmctld", "slurmd", "slurm-client")
TOOLS = ("munged", "mungekey", "slurmctld", "slurmd", "sinfo", "sbatch", "srun", "squeue")

SLURM_CONF = """\
ClusterName=gampstest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
PlugStackConfig={root}/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
# The node is what the config says, whatever the hardware detection finds.
SlurmdParameters=config_overrides
# No accounting database: Snakemake asks squeue, which sees a finished job for MinJobAge seconds.
MinJobAge=600
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def apt_install(timeout: float = 300) -> None:
    """Install the Debian packages of the cluster (no daemon is started by them here)."""
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
    ):
        result = subprocess.run(cmd, env=env, timeout=timeout, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout}{result.stderr}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SlurmCluster:
    """One controller and one compute node on this machine, configured under ``root``."""

    def __init__(self, root: Path, cpus: int = 2, mem_mb: int = 4000):
        self.root = Path(root)
        self.cpus, self.mem_mb = cpus, mem_mb
        self.conf = self.root / "slurm.conf"
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def env(self) -> dict[str, str]:
        """The environment of a client of this cluster (and only this one)."""
        path = f"{self.root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        return os.environ | {"SLURM_CONF": str(self.conf), "PATH": path}

    def _write_config(self) -> None:
        for sub in ("state", "spool"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "plugstack.conf").write_text("")
        self.conf.write_text(
            SLURM_CONF.format(
                host=socket.gethostname().split(".")[0],
                root=self.root,
                ctld_port=_free_port(),
                slurmd_port=_free_port(),
                cpus=self.cpus,
                mem_mb=self.mem_mb,
            )
        )
        # Snakemake's job step executor drops every SLURM_* variable, SLURM_CONF too, before its
        # inner srun; a real cluster has its config at the default path, this one restores it.
        srun = self.root / "bin/srun"
        srun.parent.mkdir(exist_ok=True)
        srun.write_text(f'#!/bin/sh\nSLURM_CONF="{self.conf}" exec {shutil.which("srun")} "$@"\n')
        srun.chmod(0o755)
        key = self.root / "munge.key"
        subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True)
        key.chmod(0o600)

    def _launch(self, name: str, cmd: list[str]) -> None:
        with open(self.root / f"{name}.out", "wb") as out:
            self.processes[name] = subprocess.Popen(
                cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def start(self, timeout: float = 60) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._write_config()
        r = self.root
        self._launch(
            "munged",
            [
                "munged",
                "--foreground",
                "--force",
                f"--socket={r}/munge.socket",
                f"--key-file={r}/munge.key",
                f"--pid-file={r}/munged.pid",
                f"--log-file={r}/munged.log",
                f"--seed-file={r}/munged.seed",
            ],
        )
        self._wait(lambda: (r / "munge.socket").exists(), timeout, "munged socket")
        self._launch("slurmctld", ["slurmctld", "-D", "-c", "-f", str(self.conf)])
        self._wait(lambda: self._ok(["sinfo", "-h"]), timeout, "slurmctld to answer")
        self._launch("slurmd", ["slurmd", "-D", "-f", str(self.conf)])
        self.wait_idle(timeout)

    def _ok(self, cmd: list[str]) -> bool:
        result = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=30)
        return result.returncode == 0

    def node_state(self) -> str:
        result = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%T"], env=self.env, capture_output=True, text=True
        )
        return result.stdout.strip()

    def wait_idle(self, timeout: float = 60) -> None:
        """Wait until the node accepts jobs."""
        self._wait(lambda: self.node_state() == "idle", timeout, "the node to be idle")

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [n for n, p in self.processes.items() if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead} exited while waiting for {what}\n{self.logs()}")
            if ready():
                return
            time.sleep(0.5)
        raise TimeoutError(f"timed out after {timeout} s waiting for {what}\n{self.logs()}")

    def cancel_jobs(self) -> None:
        if "slurmctld" in self.processes:
            subprocess.run(
                ["scancel", "--full", "--user", str(os.getuid())], env=self.env, timeout=30
            )

    def stop(self, timeout: float = 20) -> list[int]:
        """End the daemons this object started, by process id, newest first; their ids."""
        stopped = []
        for name in reversed(list(self.processes)):
            proc = self.processes.pop(name)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout)
            stopped.append(proc.pid)
        return stopped

    def completed_jobs(self) -> int:
        """How many batch jobs the controller saw end with exit status 0."""
        log = (self.root / "slurmctld.log").read_text(errors="replace")
        return len(re.findall(r"_job_complete: JobId=\d+ WEXITSTATUS 0", log))

    def logs(self, tail: int = 60) -> str:
        """The last lines of every daemon's output (its log, and what it printed before the log
        was open), for a failure message."""
        parts = []
        for path in sorted(self.root.glob("*.out")):
            lines = path.read_text(errors="replace").splitlines()[-tail:]
            parts.append(f"==> {path.name} <==\n" + "\n".join(lines))
        return "\n".join(parts)
