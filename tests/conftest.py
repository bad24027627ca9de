"""Shared fixtures: the reference data beside the checkout and a local HTTP server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ovavebench.testing.localserver import LocalServer

REPO = Path(__file__).resolve().parent.parent
REFERENCE = Path(os.environ.get("OVAVEBENCH_REFERENCE", REPO.parent / "shared" / "reference"))


def _reference() -> Path:
    # CI has ../shared beside the checkout: these tests must run there, never skip.
    if not (REFERENCE / "README.md").exists():
        raise RuntimeError(
            f"reference data not found at {REFERENCE} (expected ../shared/reference beside the checkout)"
        )
    return REFERENCE


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """The toolkit's cache (checksums, downloads) under the test run's temp folder, never the user's."""
    previous = os.environ.get("OVAVEBENCH_CACHE")
    os.environ["OVAVEBENCH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("OVAVEBENCH_CACHE", None)
    else:
        os.environ["OVAVEBENCH_CACHE"] = previous


@pytest.fixture(scope="session")
def reference() -> Path:
    return _reference()


@pytest.fixture(scope="session")
def ovave_ref(reference: Path) -> Path:
    return reference / "ovavebench"


@pytest.fixture(scope="session")
def reference_server(reference: Path):
    """The reference folder served on 127.0.0.1, as the upstream hosts would serve it."""
    with LocalServer(reference) as server:
        yield server


@pytest.fixture()
def classes_csv() -> Path:
    return REPO / "ovavebench" / "classes.csv"


@pytest.fixture(scope="session")
def demo_small(tmp_path_factory) -> Path:
    """The small demo, run once: a real benchmark folder and its media (12 published clips, 11 obtained).

    Tests that use it must not change it: they copy what they damage."""
    from ovavebench.build.demo import run_demo

    out = tmp_path_factory.mktemp("demo") / "demo"
    run_demo(out, size="small")
    return out


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory):
    """One real Label Studio server on 127.0.0.1 for the whole run (installed into its own venv if needed)."""
    from .labelstudio_server import LabelStudioServer

    root = tmp_path_factory.getbasetemp()
    with LabelStudioServer(root / "label-studio-data", document_root=root) as server:
        yield server


def _untracked(repo: Path) -> set[str] | None:
    """Files in the checkout that git neither tracks nor ignores (None outside a git checkout)."""
    import subprocess

    try:
        result = subprocess.run(
            ["git", "-C", str(repo), "ls-files", "--others", "--exclude-standard", "-z"],
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return set(result.stdout.decode("utf-8", "surrogateescape").split("\0")) - {""} if result.returncode == 0 else None


def pytest_sessionstart(session) -> None:  # type: ignore[no-untyped-def]
    session.config._untracked_before = _untracked(REPO)


def pytest_sessionfinish(session, exitstatus) -> None:  # type: ignore[no-untyped-def]
    """Tests write only under tmp_path or an ignored cache: a new file in the checkout fails the run."""
    before = getattr(session.config, "_untracked_before", None)
    after = _untracked(REPO)
    if before is None or after is None:
        return
    new = sorted(after - before)
    if new:
        import sys

        print(f"\nFAILED: the tests wrote {len(new)} file(s) into the checkout, e.g. {new[:5]}", file=sys.stderr)
        session.exitstatus = 1
