"""The download stage on a real local Ray cluster: one actor per egress, the driver the single writer.

``ray.init`` with a small CPU count starts a real cluster on this machine (GCS,
raylet, worker processes); each actor is its own worker process. Egress is told
apart by the loopback address each forwarding proxy sends from (127.0.0.N).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the distributed extra (ray) is not installed")

from ovavebench.download import DownloadOptions, download_clips, verify_downloads  # noqa: E402
from ovavebench.testing.localserver import ForwardingProxy, LocalServer, Quota  # noqa: E402
from ovavebench.testing.synth import linked_window_source  # noqa: E402

pytestmark = [pytest.mark.distributed, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray-source")
    manifest = linked_window_source(root, [f"ray{i:08d}" for i in range(40)], seed=7)
    return root, manifest


def _options(server: LocalServer, **kw) -> DownloadOptions:
    base = dict(
        workers=4,
        url_template=server.base_url + "videos/{youtube_id}.mp4",
        backoff_s=0.05,
        backoff_max_s=0.1,
        max_attempts=2,
        block_after=3,
        block_pause_s=0.5,
        max_blocks=1,
        ray="local",
    )
    base.update(kw)
    return DownloadOptions(**base)


def _rows(media: Path) -> dict[str, tuple]:
    with sqlite3.connect(media / "download.sqlite") as conn:
        return {r[0]: r[1:] for r in conn.execute("SELECT clip_id, status, checksums FROM clips")}


def _done_attempts(media: Path) -> dict[str, int]:
    with sqlite3.connect(media / "download.sqlite") as conn:
        return dict(conn.execute("SELECT clip_id, COUNT(*) FROM attempts WHERE outcome = 'done' GROUP BY clip_id"))


@pytest.fixture(scope="module")
def single_machine(source, tmp_path_factory):
    root, manifest = source
    media = tmp_path_factory.mktemp("single") / "media"
    with LocalServer(root) as server:
        summary = download_clips(manifest, media, _options(server, ray=None))
    assert summary.done == 40
    return _rows(media)


def test_a_ray_run_gives_the_same_files_checksums_and_rows_as_one_machine(cluster, source, single_machine, tmp_path):
    root, manifest = source
    with LocalServer(root) as server, ForwardingProxy("127.0.0.2") as a, ForwardingProxy("127.0.0.3") as b:
        summary = download_clips(manifest, tmp_path / "media", _options(server, proxies=(a.url, b.url)))
        egresses = {e for _, e, _, _ in server.request_log()}
    assert (summary.done, summary.failed, summary.pending_left) == (40, 0, 0)
    assert egresses == {"127.0.0.2", "127.0.0.3"}  # both actors fetched, each through its own egress
    assert _rows(tmp_path / "media") == single_machine  # same status and checksums, clip by clip
    assert set(_done_attempts(tmp_path / "media").values()) == {1}  # each clip done exactly once
    report = verify_downloads(tmp_path / "media")
    assert (report.ok, report.bad, report.strays, report.temp_leftovers) == (40, [], [], [])


def test_actors_can_write_into_a_shared_output_folder(cluster, source, single_machine, tmp_path):
    root, manifest = source
    with LocalServer(root) as server:
        summary = download_clips(manifest, tmp_path / "media", _options(server, shared_out=True))
    assert summary.done == 40 and _rows(tmp_path / "media") == single_machine
    assert verify_downloads(tmp_path / "media").ok == 40


def _actor_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"ray::ClipWorker" in cmdline:
                pids.append(int(entry.name))
    return pids


def test_killing_an_actor_mid_run_loses_nothing_and_duplicates_nothing(cluster, source, single_machine, tmp_path):
    root, manifest = source
    killed: list[int] = []

    def kill_one(result, summary) -> None:  # type: ignore[no-untyped-def]
        if summary.done >= 5 and not killed:
            pids = _actor_pids()
            assert len(pids) >= 2, pids
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    with LocalServer(root) as server, ForwardingProxy("127.0.0.2") as a, ForwardingProxy("127.0.0.3") as b:
        server.set_rate(20.0)  # slow enough per egress that the kill lands mid-run
        summary = download_clips(
            manifest, tmp_path / "media", _options(server, proxies=(a.url, b.url)), on_result=kill_one
        )
    assert killed
    assert (summary.done, summary.failed, summary.pending_left) == (40, 0, 0)
    assert "lost (actor died)" in summary.egress_states.values()
    assert _rows(tmp_path / "media") == single_machine
    assert set(_done_attempts(tmp_path / "media").values()) == {1}
    report = verify_downloads(tmp_path / "media")
    assert (report.ok, report.bad, report.strays, report.temp_leftovers) == (40, [], [], [])


def test_a_blocked_proxy_actor_rests_while_the_other_carries_on(cluster, source, tmp_path):
    root, manifest = source
    with LocalServer(root) as server, ForwardingProxy("127.0.0.2") as blocked, ForwardingProxy("127.0.0.3") as free:
        server.set_quota(
            Quota(
                requests=2, window_s=1000, block_s=float("inf"), answer="bot_check", egresses=frozenset({"127.0.0.2"})
            )
        )
        summary = download_clips(manifest, tmp_path / "media", _options(server, proxies=(blocked.url, free.url)))
    assert summary.failed == 0 and summary.done == 40
    statuses = {status for status, _ in _rows(tmp_path / "media").values()}
    assert statuses == {"done"}
    assert summary.egress_states[blocked.url] == "given up"
    assert json.dumps(summary.egress_states)  # per-actor states for the progress bar


def test_the_cli_runs_on_ray_with_proxies(cluster, source, tmp_path):
    from .test_fuzz_inputs import run_cli

    root, manifest = source
    with LocalServer(root) as server, ForwardingProxy("127.0.0.4") as a, ForwardingProxy("127.0.0.5") as b:
        proxies = tmp_path / "proxies.txt"
        proxies.write_text(f"# two egresses\n{a.url}\n{b.url}\n")
        code, out, err = run_cli(
            "download",
            "--manifest",
            manifest,
            "--out",
            tmp_path / "media",
            "--ray",
            "local",
            "--proxies",
            proxies,
            "--url-template",
            server.base_url + "videos/{youtube_id}.mp4",
            "--limit",
            "10",
        )
    assert code == 0, err
    assert "10 done, 0 failed" in out
    code, _, err = run_cli(
        "download",
        "--manifest",
        manifest,
        "--out",
        tmp_path / "media2",
        "--shared-out",
        "--url-template",
        "http://127.0.0.1:9/{youtube_id}.mp4",
    )
    assert code == 2 and "--shared-out goes with --ray" in err
