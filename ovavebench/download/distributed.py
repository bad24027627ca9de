"""Rebuild across machines on Ray: one actor per egress, the driver the single writer of the state.

Users outgrow one machine because of egress (YouTube's per-IP budget), not CPU.
With ``--ray ADDRESS`` the driver (this process) keeps the manifest and the SQLite
state; one Ray actor per egress (per node of the cluster by default, each with its
own IP; or per proxy with ``--proxies``) runs the same fetch-and-segment code as a
single machine. The budget and block state of each egress are the driver's (the
same :class:`~ovavebench.download.scheduler.Egress` logic), so a blocked node rests
while the others go on.

A clip's 12 files come back through Ray's object store and the driver writes them
atomically (staged, checksums verified, renamed) before committing the row; no
shared filesystem is needed. With ``--shared-out`` the actors write straight into
the output folder on a shared filesystem and return the checksums. An actor (or
node) that dies loses only its in-flight clips, which go back to the queue for the
others; a killed driver resumes as a single-machine run does.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import OvavebenchError
from .ffmpeg_wrapper import ffmpeg_wrapper_dir
from .options import DownloadOptions
from .records import ClipJob, ClipResult
from .worker import process_clip


def _ray():
    try:
        import ray
    except ImportError:
        raise OvavebenchError("--ray needs the distributed extra: pip install 'ovavebench[distributed]'") from None
    return ray


def connect(options: DownloadOptions) -> None:
    """Join the cluster ``options.ray`` names (``local`` starts one on this machine), once per process."""
    ray = _ray()
    if ray.is_initialized():
        return
    address = options.ray
    try:
        if address == "local":
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        else:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise OvavebenchError(
            f"--ray {address}: cannot join the Ray cluster ({str(exc).splitlines()[0]}); start one with "
            "`ray start --head` (and `ray start --address HEAD:6379` on each machine)"
        ) from None


def node_egresses(options: DownloadOptions) -> list[str]:
    """One egress per alive node of the cluster, named after the node (its address, then its id)."""
    connect(options)
    nodes = [n for n in _ray().nodes() if n.get("Alive")]
    if not nodes:
        raise OvavebenchError(f"--ray {options.ray}: the cluster has no alive node")
    return [f"node {n.get('NodeManagerAddress', '?')} {n['NodeID'][:8]}" for n in nodes]


class ClipWorker:
    """The actor: fetches and segments clips on its machine, through its egress (made a Ray actor at run time)."""

    def __init__(self, options: DownloadOptions, shared_out: str | None) -> None:
        from .segmenter import _segmenter_processes

        self.options = options
        self.scratch = Path(tempfile.mkdtemp(prefix="ovavebench-actor-"))
        self.out = Path(shared_out) if shared_out else self.scratch
        self.shared = shared_out is not None
        self.wrapper = ffmpeg_wrapper_dir(self.scratch / ".tools")
        self.stop = threading.Event()
        self.segmenter = _segmenter_processes(options.workers)

    def pid(self) -> int:
        return os.getpid()

    def process(self, job: ClipJob) -> tuple[ClipResult, dict[str, bytes] | None]:
        """One clip, as :func:`~ovavebench.download.scheduler.process_clip`; its files, unless written in place."""
        result = process_clip(job, self.out, self.options, None, self.wrapper, self.stop, self.segmenter)
        if result.status != "done" or self.shared:
            return result, None
        folder = self.out / job.clip_id
        files = {name: (folder / name).read_bytes() for name in result.checksums or {}}
        shutil.rmtree(folder, ignore_errors=True)
        return result, files


class RayWorkers:
    """The actors of a run, one per egress, wired into the egresses' ``submit`` (the scheduler's
    :class:`~ovavebench.download.scheduler.RemoteWorkers`)."""

    def __init__(self, options: DownloadOptions) -> None:
        self.options = options
        self.actors: list[Any] = []

    def egress_names(self) -> list[str]:
        """One egress per alive node of the cluster."""
        return node_egresses(self.options)

    def start(self, egresses: Sequence[Any], out_dir: Path) -> None:
        options = self.options
        ray = _ray()
        connect(options)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        actor_class = ray.remote(ClipWorker)
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        shared = str(out_dir.resolve()) if options.shared_out else None
        for i, egress in enumerate(egresses):
            kwargs: dict[str, Any] = {"max_concurrency": egress.max_in_flight, "num_cpus": 0, "max_restarts": 0}
            if not options.proxies:  # one actor per node: pinned there, so its requests leave from that machine
                kwargs["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
                    nodes[i % len(nodes)]["NodeID"], soft=False
                )
            else:
                kwargs["scheduling_strategy"] = "SPREAD"
            actor = actor_class.options(**kwargs).remote(egress.options, shared)
            self.actors.append(actor)
            egress.submit = lambda job, actor=actor: actor.process.remote(job).future()
            egress.actor = actor

    def pids(self) -> list[int]:
        return _ray().get([actor.pid.remote() for actor in self.actors])

    def close(self) -> None:
        ray = _ray()
        for actor in self.actors:
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001 - already dead
                pass
