"""Downloading under today's YouTube: runtime checks, warnings kept, run-level errors, budgets, blocks, proxies.

The local server plays YouTube under pressure (``Quota``: per-egress request
quotas answered with a 429, a bot-check or sign-in wall, or "no formats" for a
block period, in seconds here); ``ForwardingProxy`` gives each proxy its own
egress address on the loopback (127.0.0.N), as a proxy elsewhere would.
"""

from __future__ import annotations

import inspect
import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import yt_dlp

from ovavebench.download import (
    Attempt,
    ClipJob,
    ClipResult,
    DownloadOptions,
    TokenBucket,
    commit_result,
    download_clips,
    download_status,
    load_budget,
    open_state,
    runtime_report,
)
from ovavebench.download.failures import RUN_LEVEL_CLASSES, classify_error
from ovavebench.download.worker import _check_runtime_warnings
from ovavebench.errors import OvavebenchError
from ovavebench.testing.localserver import ForwardingProxy, LocalServer, Quota
from ovavebench.testing.synth import linked_window_source

from .test_fuzz_inputs import run_cli


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """40 small source videos (12 s, 64x48): cheap to fetch and cut, so the tests measure the scheduling."""
    root = tmp_path_factory.mktemp("yt")
    ids = [f"clip{i:07d}" for i in range(40)]
    linked_window_source(root, ids, seed=3)
    return root, ids


def _manifest(path: Path, ids: list[str]) -> Path:
    pd.DataFrame(
        [
            {
                "clip_id": f"{y}_000001",
                "youtube_id": y,
                "start_s": 1,
                "end_s": 11,
                "class_name": "dog barking",
                "split": "test",
            }
            for y in ids
        ]
    ).to_csv(path, index=False)
    return path


def _options(server: LocalServer, **kw) -> DownloadOptions:
    base = dict(
        workers=4,
        url_template=server.base_url + "videos/{youtube_id}.mp4",
        backoff_s=0.05,
        backoff_max_s=0.1,
        max_attempts=2,
        block_after=3,
        block_pause_s=0.5,
        max_blocks=5,
    )
    base.update(kw)
    return DownloadOptions(**base)


def _statuses(media: Path) -> dict[str, int]:
    with sqlite3.connect(media / "download.sqlite") as conn:
        return dict(conn.execute("SELECT status, COUNT(*) FROM clips GROUP BY status").fetchall())


# --------------------------------------------------------------------------- the environment


def test_yt_dlp_itself_finds_a_supported_js_runtime_and_the_ejs_scripts():
    # Asked through yt-dlp's own debug header (what `yt-dlp -v` prints), not by guessing paths.
    report = runtime_report()
    assert report.has_js_runtime, report
    assert report.ejs_version, report
    assert any(r.startswith("deno ") for r in report.js_runtimes)


def test_doctor_reports_and_refuses_bad_cookies_and_proxies(tmp_path):
    code, out, err = run_cli("download", "doctor")
    assert code == 0 and "JS runtime    deno" in out and "ok: ready for YouTube" in out, err
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("<html>not cookies</html>\n")
    code, _, err = run_cli("download", "doctor", "--cookies", cookies)
    assert code == 2 and "Netscape" in err and "cookies.txt:1" in err
    proxies = tmp_path / "proxies.txt"
    proxies.write_text("socks5://127.0.0.1:1080\nnot a proxy\n")
    code, _, err = run_cli("download", "doctor", "--proxies", proxies)
    assert code == 2 and "proxies.txt:2" in err


def test_the_private_yt_dlp_method_we_override_still_has_its_shape():
    # `_forceprint` is overridden to skip rendering format tables nobody prints; if yt-dlp renames or
    # reshapes it, this must fail loudly rather than silently lose the speed-up or break downloads.
    method = getattr(yt_dlp.YoutubeDL, "_forceprint", None)
    assert method is not None, "yt-dlp no longer has YoutubeDL._forceprint"
    assert list(inspect.signature(method).parameters) == ["self", "key", "info_dict"]
    assert "forceprint" in inspect.getsource(method)


def test_environment_failures_are_run_level_and_only_evidence_about_a_video_is_permanent():
    for message in [
        "ERROR: [youtube] x: Sign in to confirm you’re not a bot. Use --cookies-from-browser",
        "HTTP Error 429: Too Many Requests",
        "ERROR: [youtube] x: Requested format is not available",
        "ERROR: [youtube] x: No video formats found!",
        "WARNING: [youtube] x: n challenge solving failed",
        "ERROR: [youtube] x: Please sign in",
    ]:
        error = classify_error(message)
        assert error.run_level and error.transient, (message, error)
    for message, name in [
        (
            "ERROR: [youtube] x: Private video. Sign in if you've been granted access to this video. "
            "Use --cookies-from-browser or --cookies for the authentication.",
            "private",
        ),
        ("ERROR: [youtube] x: Video unavailable", "unavailable"),
        ("ERROR: [youtube] x: Sign in to confirm your age", "age_restricted"),
    ]:
        error = classify_error(message)
        assert error.name == name and not error.transient and not error.run_level
    assert classify_error("something nobody has seen").transient  # no evidence: never permanent
    assert {"rate_limited", "bot_check", "sign_in", "no_formats", "js_challenge"} <= RUN_LEVEL_CLASSES


def test_warnings_are_kept_per_attempt_and_counted_and_a_missing_runtime_stops_the_run(tmp_path):
    conn = open_state(tmp_path)
    frame = pd.DataFrame(
        [
            {
                "clip_id": "clip0000001_000001",
                "youtube_id": "clip0000001",
                "start_s": 1,
                "end_s": 11,
                "class_name": "dog barking",
                "split": "test",
            }
        ]
    )
    from ovavebench.download import register_clips

    register_clips(conn, frame)
    warning = (
        "[youtube] clip0000001: No supported JavaScript runtime could be found. Only deno is enabled by default; "
        "some formats may be missing."
    )
    result = ClipResult(
        ClipJob("clip0000001_000001", "clip0000001", 1, 11), "done", [Attempt(1.0, 2.0, "done", warnings=[warning])]
    )
    assert _check_runtime_warnings(result, [warning], DownloadOptions()) and "--allow-no-js-runtime" in result.stop_run
    assert not _check_runtime_warnings(result, [warning], DownloadOptions(allow_no_js_runtime=True))
    commit_result(conn, result)
    conn.close()
    report = download_status(tmp_path)
    assert list(report.warnings.values()) == [1] and "<id>" in next(iter(report.warnings))
    code, out, err = run_cli("download", "status", "--out", tmp_path, "--json")
    assert code == 0, err
    assert json.loads(out)["by_status"] == {"pending": 0, "done": 1, "failed": 0}


def test_an_old_state_database_is_migrated_in_place(tmp_path):
    with sqlite3.connect(tmp_path / "download.sqlite") as conn:  # the first release's attempts table
        conn.executescript("""
            CREATE TABLE clips (clip_id TEXT PRIMARY KEY, youtube_id TEXT NOT NULL, start_s INTEGER NOT NULL,
                end_s INTEGER NOT NULL, class_name TEXT, split TEXT, status TEXT NOT NULL DEFAULT 'pending',
                error_class TEXT, error_message TEXT, attempts INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL,
                first_attempt_at REAL, last_attempt_at REAL, finished_at REAL, download_s REAL, segment_s REAL,
                bytes INTEGER, checksums TEXT);
            CREATE TABLE attempts (clip_id TEXT NOT NULL, started_at REAL NOT NULL, ended_at REAL NOT NULL,
                outcome TEXT NOT NULL, error_class TEXT, error_message TEXT);
            INSERT INTO clips (clip_id, youtube_id, start_s, end_s, status, error_class, created_at)
                VALUES ('clip0000001_000001', 'clip0000001', 1, 11, 'failed', 'unknown', 0);
            INSERT INTO attempts VALUES ('clip0000001_000001', 0, 1, 'failed', 'unknown', 'odd');""")
    conn = open_state(tmp_path)
    columns = {r[1] for r in conn.execute("PRAGMA table_info(attempts)")}
    assert {"warnings", "egress"} <= columns
    assert conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 1
    conn.close()
    assert download_status(tmp_path).by_error_class == {"unknown": 1}


def test_ytdlp_pass_through_options_are_validated(tmp_path):
    from ovavebench.download import ytdlp_params_from

    text = ytdlp_params_from(
        None,
        [
            'extractor_args={"youtubepot-bgutilhttp": {"base_url": ["http://127.0.0.1:4416"]}}',
            "sleep_interval_requests=1.5",
        ],
    )
    assert json.loads(text)["sleep_interval_requests"] == 1.5
    for bad in [
        'outtmpl="x"',
        'sleep_interval_requests="slow"',
        'extractor_args={"youtube": {"player_client": "web"}}',
        "nonsense",
        "js_runtimes=[1]",
    ]:
        with pytest.raises(OvavebenchError):
            ytdlp_params_from(None, [bad])
    options = tmp_path / "ytdlp.json"
    options.write_text('{"js_runtimes": {"node": {}}}')
    assert json.loads(ytdlp_params_from(options, [])) == {"js_runtimes": {"node": {}}}


# --------------------------------------------------------------------------- blocks, budgets, proxies


@pytest.mark.slow
def test_a_temporary_block_pauses_the_run_and_loses_no_clip(source, tmp_path):
    root, ids = source
    manifest = _manifest(tmp_path / "m.csv", ids)
    states = []
    with LocalServer(root) as server:
        # (a) After 20 requests the egress meets a bot check for a block period; the run must rest, probe, go on.
        server.set_quota(Quota(requests=20, window_s=1000, block_s=1.5, answer="bot_check"))
        summary = download_clips(
            manifest, tmp_path / "media", _options(server), on_state=lambda s: states.append(dict(s.egress_states))
        )
    assert (summary.done, summary.failed, summary.pending_left, summary.blocked) == (40, 0, 0, False)
    assert summary.deferred > 0 and _statuses(tmp_path / "media") == {"done": 40}
    assert any(v.startswith("blocked, next probe at ") for s in states for v in s.values())


@pytest.mark.slow
def test_a_lasting_block_exits_3_with_untried_clips_pending_and_a_later_run_finishes(source, tmp_path):
    root, ids = source
    manifest = _manifest(tmp_path / "m.csv", ids)
    with LocalServer(root) as server:
        # (b) Blocked for good after 6 requests, and --max-blocks 1: the run gives up with exit code 3.
        server.set_quota(Quota(requests=6, window_s=1000, block_s=float("inf"), answer="rate_limit"))
        args = [
            "download",
            "--manifest",
            manifest,
            "--out",
            tmp_path / "media",
            "--url-template",
            server.base_url + "videos/{youtube_id}.mp4",
            "--block-pause",
            "0.3",
            "--max-blocks",
            "1",
            "--backoff",
            "0.05",
        ]
        code, out, err = run_cli(*args)
        assert code == 3, (out, err)
        lines = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and "blocked" in lines[0] and "--cookies" in lines[0] and "--proxies" in lines[0]
        statuses = _statuses(tmp_path / "media")
        assert "failed" not in statuses and statuses["pending"] >= 30
        server.set_quota(None)  # the block is lifted
        code, out, err = run_cli(*args)
        assert code == 0, err
    assert _statuses(tmp_path / "media") == {"done": 40}


@pytest.mark.slow
def test_the_request_budget_holds_over_a_scaled_hour_and_survives_a_restart(source, tmp_path):
    root, ids = source
    manifest = _manifest(tmp_path / "m.csv", ids)
    hour_s, budget = 4.0, 20  # (c) 20 clips per 4-second "hour"
    with LocalServer(root) as server:
        options = _options(server, max_clips_per_hour=budget, budget_hour_s=hour_s, limit=30)
        download_clips(manifest, tmp_path / "media", options)
        log = [t for t, _, path, _ in server.request_log() if path.startswith("/videos/")]
    first = {}
    for t, _, path, _ in [(t, e, p, a) for t, e, p, a in server.request_log() if p.startswith("/videos/")]:
        first.setdefault(path, t)  # a clip's first request: when its budget token was spent
    starts = sorted(first.values())
    in_first_hour = sum(1 for t in starts if t < starts[0] + hour_s)
    assert budget * 0.8 <= in_first_hour <= budget * 1.05 + 2, in_first_hour  # +2: the bucket's initial burst
    assert log and len(starts) == 30
    conn = open_state(tmp_path / "media")
    saved = load_budget(conn, "direct")
    conn.close()
    assert saved is not None and saved[0] < 1.0  # spent: a restart right away must wait, not start afresh
    bucket = TokenBucket(budget, hour_s, tokens=saved[0], updated_at=saved[1])
    assert bucket.wait_s(saved[1]) > 0


def test_a_blocked_proxy_rests_while_the_other_carries_on(source, tmp_path):
    root, ids = source
    manifest = _manifest(tmp_path / "m.csv", ids)
    with LocalServer(root) as server, ForwardingProxy("127.0.0.2") as blocked, ForwardingProxy("127.0.0.3") as free:
        # (d) One egress is blocked from its first request; the other has no limit.
        server.set_quota(
            Quota(
                requests=0, window_s=1000, block_s=float("inf"), answer="bot_check", egresses=frozenset({"127.0.0.2"})
            )
        )
        summary = download_clips(
            manifest, tmp_path / "media", _options(server, proxies=(blocked.url, free.url), max_blocks=1)
        )
        by_egress = {}
        for _, egress, _path, _ in server.request_log():
            by_egress[egress] = by_egress.get(egress, 0) + 1
    assert summary.done == 40 and summary.failed == 0
    assert _statuses(tmp_path / "media") == {"done": 40}
    assert by_egress.get("127.0.0.3", 0) >= 40 and by_egress.get("127.0.0.2", 0) <= 10
    assert summary.egress_states[blocked.url] == "given up"
    with sqlite3.connect(tmp_path / "media" / "download.sqlite") as conn:
        outcomes = dict(conn.execute("SELECT egress, COUNT(*) FROM attempts WHERE outcome = 'done' GROUP BY egress"))
    assert outcomes == {free.url: 40}


def test_doctor_probe_makes_one_real_extraction(source):
    root, ids = source
    with LocalServer(root) as server:
        code, out, err = run_cli("download", "doctor", "--probe", server.url(f"videos/{ids[0]}.mp4"))
        assert code == 0, err
        assert "probe         1 format(s)" in out
        server.set_quota(Quota(requests=0, window_s=1000, block_s=float("inf"), answer="bot_check"))
        code, out, err = run_cli("download", "doctor", "--probe", server.url(f"videos/{ids[0]}.mp4"))
    assert code == 2 and "bot_check" in err and len(err.strip().splitlines()) == 1
