"""A real single-node Slurm cluster for one test, from Debian's packages (the recipe and its
traps: ../shared/notes/slurm.md). Everything lives in one temporary folder with its own munge
socket and free ports, so a system Slurm is not disturbed; every daemon started is stopped."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .conftest import free_port
from .debian import apt_install

_PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]


def _install() -> None:
    apt_install(_PACKAGES, ["slurmctld", "slurmd", "munged", "sbatch"], "a real Slurm cluster")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()  # slurmd ignores TERM until it has registered: KILL after a while
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextmanager
def slurm_cluster() -> Iterator[dict[str, str]]:
    """Start munged, slurmctld and slurmd; yield the environment sbatch needs (SLURM_CONF)."""
    _install()
    root = Path(tempfile.mkdtemp(prefix="tcia-slurm-"))
    root.chmod(0o711)  # munged wants every parent of its socket executable by all
    for name in ("munge", "state", "spool", "log"):
        (root / name).mkdir(mode=0o711)
    key = root / "munge" / "key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    host = socket.gethostname().split(".")[0]
    started: list[subprocess.Popen[bytes]] = []
    logs = root / "log"
    outputs: list[IO[bytes]] = []

    def log(name: str) -> IO[bytes]:
        outputs.append((logs / name).open("wb"))
        return outputs[-1]

    try:
        started.append(
            subprocess.Popen(
                [
                    "munged",
                    "-F",
                    "-S",
                    f"{root}/munge/sock",
                    f"--key-file={key}",
                    f"--pid-file={root}/munge/pid",
                    f"--seed-file={root}/munge/seed",
                ],
                stdout=subprocess.DEVNULL,
                stderr=log("munged.out"),
            )
        )
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
        conf = root / "slurm.conf"
        conf.write_text(
            "\n".join(
                [
                    "ClusterName=tcia",
                    f"SlurmctldHost={host}(127.0.0.1)",
                    f"SlurmctldPort={free_port()}",
                    f"SlurmdPort={free_port()}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    f"AuthInfo=socket={root}/munge/sock",
                    "CredType=cred/munge",
                    f"StateSaveLocation={root}/state",
                    f"SlurmdSpoolDir={root}/spool",
                    f"SlurmctldPidFile={root}/slurmctld.pid",
                    f"SlurmdPidFile={root}/slurmd.pid",
                    f"SlurmctldLogFile={logs}/slurmctld.log",
                    f"SlurmdLogFile={logs}/slurmd.log",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core",
                    "JobAcctGatherType=jobacct_gather/none",
                    "AccountingStorageType=accounting_storage/none",
                    "MpiDefault=none",
                    "MailProg=/bin/true",
                    "ReturnToService=2",
                    "MinJobAge=4",
                    "SchedulerParameters=batch_sched_delay=0,sched_interval=1",
                    f"NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} "
                    f"RealMemory={memory} State=UNKNOWN",
                    f"PartitionName=main Nodes={host} Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )
        environment = {**os.environ, "SLURM_CONF": str(conf)}
        for _ in range(100):
            if (root / "munge" / "sock").exists():
                break
            time.sleep(0.05)
        for command in (["slurmctld", "-D"], ["slurmd", "-D", "-N", host]):
            started.append(
                subprocess.Popen(
                    command,
                    env=environment,
                    stdout=log(f"{command[0]}.out"),
                    stderr=subprocess.STDOUT,
                )
            )
        for _ in range(200):
            dead = [p.args for p in started if p.poll() is not None]
            assert not dead, f"{dead} died; see {logs}: {_tail(logs)}"
            state = subprocess.run(
                ["timeout", "2", "sinfo", "-h", "-N", "-o", "%T"],
                env=environment,
                capture_output=True,
                text=True,
            ).stdout.strip()
            if state == "idle":
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"the Slurm node never became idle: {_tail(logs)}")
        yield environment
    finally:
        for process in reversed(started):  # slurmd, slurmctld, munged
            _stop(process)
        for output in outputs:
            output.close()
        shutil.rmtree(root, ignore_errors=True)


def _tail(logs: Path) -> str:
    return " | ".join(
        f"{path.name}: {path.read_text(errors='replace')[-400:]}" for path in sorted(logs.iterdir())
    )
