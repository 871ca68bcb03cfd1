"""A real one-node Slurm on 127.0.0.1 (Debian's slurm-wlm and munge), for the slurm-marked tests."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path


class SlurmUnavailable(Exception):
    """Why Slurm cannot run here (the test skips with this reason)."""


def _munge() -> None:
    key = Path("/etc/munge/munge.key")
    try:
        munge = pwd.getpwnam("munge")
    except KeyError:
        raise SlurmUnavailable("no munge user (apt-get install munge)") from None
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_bytes(os.urandom(1024))
        os.chown(key, munge.pw_uid, munge.pw_gid)
        key.chmod(0o400)
    run_dir = Path("/run/munge")
    run_dir.mkdir(parents=True, exist_ok=True)
    os.chown(run_dir, munge.pw_uid, munge.pw_gid)
    if subprocess.run(["pgrep", "-x", "munged"], capture_output=True, check=False).returncode != 0:
        started = subprocess.run(["runuser", "-u", "munge", "--", "munged"], capture_output=True, text=True,
                                 check=False)
        if started.returncode != 0:
            raise SlurmUnavailable(f"munged did not start: {started.stderr.strip()[-200:]}")


class Slurm:
    def __init__(self, root: Path, ports: tuple[int, int]) -> None:
        self.root, self.ports = root, ports
        self.node = socket.gethostname().split(".")[0]
        self.conf = root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def __enter__(self) -> Slurm:
        if os.geteuid() != 0:
            raise SlurmUnavailable("slurmd needs root here")
        for tool in ("slurmctld", "slurmd", "srun", "munged"):
            if shutil.which(tool) is None:
                raise SlurmUnavailable(f"{tool} is not installed (apt-get install slurm-wlm munge)")
        _munge()
        for sub in ("state", "spool"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.conf.write_text("\n".join([
            "ClusterName=envbuild", f"SlurmctldHost={self.node}(127.0.0.1)", "SlurmUser=root",
            f"SlurmctldPort={self.ports[0]}", f"SlurmdPort={self.ports[1]}", "AuthType=auth/munge",
            f"StateSaveLocation={self.root / 'state'}", f"SlurmdSpoolDir={self.root / 'spool'}",
            f"SlurmctldPidFile={self.root / 'slurmctld.pid'}", f"SlurmdPidFile={self.root / 'slurmd.pid'}",
            f"SlurmctldLogFile={self.root / 'slurmctld.log'}", f"SlurmdLogFile={self.root / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "SelectType=select/cons_tres",
            "ReturnToService=2", "MpiDefault=none", "JobAcctGatherType=jobacct_gather/none",
            f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={os.cpu_count() or 1} State=UNKNOWN",
            "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP", ""]))
        for daemon in ("slurmctld", "slurmd"):
            started = subprocess.run([daemon, "-f", str(self.conf)], env=self.env, capture_output=True, text=True,
                                     check=False)
            if started.returncode != 0:
                self.__exit__()
                raise SlurmUnavailable(f"{daemon} did not start: {started.stderr.strip()[-200:]}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = subprocess.run(["sinfo", "-h", "-o", "%t"], env=self.env, capture_output=True, text=True,
                                   check=False).stdout.strip()
            if state in ("idle", "mix", "alloc"):
                return self
            time.sleep(0.5)
        log = (self.root / "slurmctld.log").read_text()[-300:] if (self.root / "slurmctld.log").exists() else ""
        self.__exit__()
        raise SlurmUnavailable(f"the node never became idle: {log}")

    def srun(self, *argv: str, env: dict[str, str] | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["srun", "-N1", "--export=ALL", *argv], env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=timeout, check=False)

    def __exit__(self, *exc: object) -> None:
        for pid_file in ("slurmd.pid", "slurmctld.pid"):
            path = self.root / pid_file
            if path.exists():
                with contextlib.suppress(ValueError, ProcessLookupError):
                    os.kill(int(path.read_text().strip()), 15)
        time.sleep(0.5)
