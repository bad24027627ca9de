import json
import shutil

import pytest

from ovavebench.cli import app
from ovavebench.errors import ChecksumError, InputFileError
from ovavebench.metadata.fetch import fetch_file
from ovavebench.metadata.published import OVAVE_FILES, read_vggsound_csv, read_vggsound_labels
from ovavebench.taxonomy import load_taxonomy
from ovavebench.testing.localserver import LocalServer

from .cli_runner import CliRunner

runner = CliRunner()


def _fetch_args(server, cache):
    return [
        "metadata",
        "fetch",
        "--cache",
        str(cache),
        "--vggsound-url",
        server.url("vggsound/vggsound_test_rows.csv"),
        "--vggsound-stat-url",
        server.url("vggsound/stat.csv"),
        "--ovave-base-url",
        server.url("ovavebench/"),
    ]


def test_fetch_downloads_verifies_and_skips_on_rerun(reference_server, reference, tmp_path):
    cache = tmp_path / "cache"
    result = runner.invoke(app, _fetch_args(reference_server, cache))
    assert result.exit_code == 0, result.output
    for name in OVAVE_FILES:
        assert (cache / "ovavebench" / name).read_bytes() == (reference / "ovavebench" / name).read_bytes()
    assert (cache / "vggsound" / "vggsound.csv").read_bytes() == (
        reference / "vggsound" / "vggsound_test_rows.csv"
    ).read_bytes()
    assert result.output.count("downloaded") == 7
    before = reference_server.request_count("ovavebench/ovave_dataset_meta.csv")
    again = runner.invoke(app, _fetch_args(reference_server, cache))
    assert again.exit_code == 0
    assert again.output.count("already verified") == 7
    assert reference_server.request_count("ovavebench/ovave_dataset_meta.csv") == before  # nothing re-fetched
    assert not list(cache.rglob("*.part")) and not list(cache.rglob("*.tmp"))


def test_corrupted_published_file_is_refused_and_not_kept(ovave_ref, tmp_path):
    served = tmp_path / "served"
    shutil.copytree(ovave_ref, served)
    with open(served / "ovave_categories.csv", "a") as handle:
        handle.write("a class nobody published\n")
    with LocalServer(served) as server:
        result = runner.invoke(
            app,
            [
                "metadata",
                "fetch",
                "--cache",
                str(tmp_path / "c"),
                "--ovave-base-url",
                server.base_url,
                "--vggsound-url",
                server.url("none.csv"),
            ],
        )
    assert result.exit_code == 2
    assert "ovave_categories.csv" in result.output and "does not match the published" in result.output
    assert not (tmp_path / "c" / "ovavebench" / "ovave_categories.csv").exists()


def test_interrupted_download_resumes_with_range_request(reference, tmp_path):
    source = reference / "vggsound" / "vggsound_test_rows.csv"
    with LocalServer(reference) as server:
        server.set_fault("vggsound/vggsound_test_rows.csv", truncate=100_000, times=1)
        dest = tmp_path / "vggsound.csv"
        with pytest.raises(Exception, match="run again to resume"):
            fetch_file(server.url("vggsound/vggsound_test_rows.csv"), dest)
        partial = dest.with_name("vggsound.csv.part")
        assert partial.stat().st_size == 100_000 and not dest.exists()
        result = fetch_file(server.url("vggsound/vggsound_test_rows.csv"), dest)
    assert dest.read_bytes() == source.read_bytes()
    assert result.bytes == source.stat().st_size and not partial.exists()


def test_fetch_http_error_is_one_clear_line(tmp_path):
    with LocalServer(tmp_path) as server:
        with pytest.raises(Exception, match=r"HTTP 404"):
            fetch_file(server.url("missing.csv"), tmp_path / "x.csv")


def test_checksum_error_type(ovave_ref, tmp_path):
    with LocalServer(ovave_ref) as server:
        with pytest.raises(ChecksumError):
            fetch_file(server.url("ovave_categories.csv"), tmp_path / "x.csv", expected_sha256="0" * 64)


GOOD = "---g-f_I2yQ,1,people marching,test"


@pytest.mark.parametrize(
    "line, message",
    [
        ("---g-f_I2yQ,1,people marching", "expected 4 columns"),
        ("---g-f_I2yQ,1.5,people marching,test", "is not an integer"),
        ("---g-f_I2yQ,-3,people marching,test", "negative start time"),
        ("short,1,people marching,test", "invalid YouTube id 'short'"),
        ("---g-f_I2y!,1,people marching,test", "invalid YouTube id"),
        ("---g-f_I2yQ,1,people marchin,test", "unknown label 'people marchin'"),
        ("---g-f_I2yQ,1,Dog Barking,test", "unknown label 'Dog Barking'"),
        ("---g-f_I2yQ,1,people marching,dev", "split 'dev'"),
    ],
)
def test_bad_vggsound_row_names_file_and_line(tmp_path, reference, line, message):
    path = tmp_path / "vggsound.csv"
    path.write_text(GOOD + "\n" + line + "\n")
    labels = read_vggsound_labels(reference / "vggsound" / "stat.csv")
    with pytest.raises(InputFileError) as info:
        read_vggsound_csv(path, load_taxonomy(), known_labels=labels)
    assert message in str(info.value)
    assert f"{path}:2" in str(info.value)


def test_case_variant_of_taxonomy_label_is_caught_without_vocabulary(tmp_path):
    path = tmp_path / "vggsound.csv"
    path.write_text("---g-f_I2yQ,1,Dog  barking,train\n")
    with pytest.raises(InputFileError, match="did you mean 'dog barking'"):
        read_vggsound_csv(path, load_taxonomy())


def test_bom_and_crlf_are_read_like_plain_rows(tmp_path, reference):
    text = (reference / "vggsound" / "vggsound_test_rows.csv").read_text().splitlines()[:50]
    plain, windows = tmp_path / "plain.csv", tmp_path / "windows.csv"
    plain.write_text("\n".join(text) + "\n")
    windows.write_bytes(("\ufeff" + "\r\n".join(text) + "\r\n").encode("utf-8"))
    a = read_vggsound_csv(plain, load_taxonomy()).rows
    b = read_vggsound_csv(windows, load_taxonomy()).rows
    assert a.equals(b) and len(a) == 50
    assert a["youtube_id"].iloc[0] == "---g-f_I2yQ"


def test_skip_bad_rows_counts_them_in_the_manifest_summary(tmp_path, ovave_ref):
    path = tmp_path / "vggsound.csv"
    path.write_text(GOOD + "\nbad,row\n-0BIyqJj9ZU,x,people belly laughing,test\n")
    out = tmp_path / "manifest.csv"
    result = runner.invoke(
        app,
        [
            "manifest",
            "--out",
            str(out),
            "--vggsound-csv",
            str(path),
            "--benchmark-dir",
            str(ovave_ref),
            "--skip-bad-rows",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "manifest.summary.json").read_text())
    assert summary["bad_rows"]["count"] == 2
    assert [b["line"] for b in summary["bad_rows"]["first"]] == [2, 3]
    failing = runner.invoke(
        app, ["manifest", "--out", str(out), "--vggsound-csv", str(path), "--benchmark-dir", str(ovave_ref)]
    )
    assert failing.exit_code == 2 and f"{path}:2" in failing.output
