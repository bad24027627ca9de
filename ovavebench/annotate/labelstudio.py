"""Talking to a live Label Studio server with ``label-studio-sdk`` 2.x.

One project per round and annotator; tasks are bulk-imported (one request per
``IMPORT_CHUNK`` tasks); annotations come back through snapshot exports (a
direct export of ~50k annotations takes over a minute, past the SDK's default
60 s timeout). The API key never appears in messages: every SDK error is
re-raised as :class:`OvavebenchError` with the key scrubbed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from ..errors import OvavebenchError

IMPORT_CHUNK = 5000
ENV_API_KEY = "LABEL_STUDIO_API_KEY"
LONG_TIMEOUT_S = 900


class LabelStudioClient:
    """A thin wrapper over the SDK for the annotation protocol."""

    def __init__(self, url: str, api_key: str | None = None, timeout_s: float = 120.0):
        from label_studio_sdk import LabelStudio

        key = api_key or os.environ.get(ENV_API_KEY)
        if not key:
            raise OvavebenchError(f"Label Studio at {url}: no API key (pass --api-key or set {ENV_API_KEY})")
        self.url = url.rstrip("/")
        self._key = key
        self._sdk = LabelStudio(base_url=self.url, api_key=key, timeout=timeout_s)
        self.warnings: list[str] = []
        self._invite_token: str | None = None

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # any SDK/transport error: one clear line, never the key
            detail = str(getattr(exc, "body", "") or exc).replace(self._key, "***")
            status = getattr(exc, "status_code", None)
            raise OvavebenchError(
                f"Label Studio at {self.url}: {what} failed{f' (HTTP {status})' if status else ''}: {detail[:500]}"
            ) from None

    # ----------------------------------------------------------------- projects and tasks

    def create_project(self, title: str, config: str) -> int:
        project = self._call(f"creating project {title!r}", self._sdk.projects.create, title=title, label_config=config)
        return int(project.id)

    def ensure_project(
        self, conn: sqlite3.Connection, round_no: int, annotator: str, config: str, local_files: Path | None
    ) -> int:
        """The project of (round, annotator), created once and remembered in the plan database."""
        row = conn.execute(
            "SELECT ls_project_id FROM projects WHERE round = ? AND annotator = ?", (round_no, annotator)
        ).fetchone()
        if row:
            return int(row[0])
        project_id = self.create_project(f"OV-AVEBench round {round_no} - {annotator}", config)
        if local_files is not None:
            try:
                self.attach_local_files(project_id, local_files)
            except OvavebenchError as exc:
                # Without it every frame and audio file is a 404 and annotators would flag good clips broken.
                raise OvavebenchError(
                    f"{exc}; start Label Studio with LOCAL_FILES_SERVING_ENABLED=true and "
                    f"LOCAL_FILES_DOCUMENT_ROOT={local_files.resolve().parent} (the media folder must "
                    "sit strictly below it)"
                ) from None
        with conn:
            conn.execute("INSERT INTO projects VALUES (?, ?, ?, ?)", (round_no, annotator, project_id, self.url))
        return project_id

    def show_predictions(self, project_id: int, model_version: str) -> None:
        """Pre-fill each task with its prediction of ``model_version`` when an annotator opens it."""
        self._call(
            f"enabling pre-annotation in project {project_id}",
            self._sdk.projects.update,
            id=project_id,
            show_collab_predictions=True,
            model_version=model_version,
        )

    def attach_local_files(self, project_id: int, folder: Path) -> None:
        """Local-files storage so ``/data/local-files/?d=`` media URLs resolve (the server must allow it)."""
        self._call(
            "attaching local-files storage",
            self._sdk.import_storage.local.create,
            project=project_id,
            path=str(folder.resolve()),
            use_blob_urls=False,
            title="ovavebench media",
        )

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> int:
        """Bulk-import tasks, ``IMPORT_CHUNK`` per request."""
        from label_studio_sdk.core.request_options import RequestOptions

        for start in range(0, len(tasks), IMPORT_CHUNK):
            chunk = tasks[start : start + IMPORT_CHUNK]
            self._call(
                f"importing {len(chunk)} tasks into project {project_id}",
                self._sdk.projects.import_tasks,
                id=project_id,
                request=chunk,
                request_options=RequestOptions(timeout_in_seconds=LONG_TIMEOUT_S),
            )
        return len(tasks)

    def imported_clips(self, project_id: int) -> set[str]:
        """The clips a project holds tasks of already (an export run again, or resumed after a kill, imports only
        the others)."""
        return {
            str(task["data"]["clip_id"])
            for task in self.snapshot_export(project_id)
            if isinstance(task, dict) and isinstance(task.get("data"), dict) and "clip_id" in task["data"]
        }

    def project_ids(self, conn: sqlite3.Connection, round_no: int) -> dict[str, int]:
        return {
            r[0]: int(r[1])
            for r in conn.execute("SELECT annotator, ls_project_id FROM projects WHERE round = ?", (round_no,))
        }

    def media_status(self, url_path: str) -> int:
        """The HTTP status the server gives a media URL (what an annotator's browser gets for it)."""
        import urllib.error
        import urllib.request

        request = urllib.request.Request(
            self.url + url_path, headers={"Authorization": f"Token {self._key}", "Range": "bytes=0-0"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (urllib.error.URLError, OSError) as exc:
            raise OvavebenchError(f"Label Studio at {self.url}: fetching {url_path} failed: {exc}") from None

    # ----------------------------------------------------------------- users and exports

    def users(self) -> dict[int, str]:
        """User id → email (or username)."""
        listed = self._call("listing users", self._sdk.users.list)
        return {int(u.id): (u.email or u.username) for u in listed}

    def create_user(self, username: str, email: str, password: str) -> int:
        """A user through the REST API. Label Studio ignores the password there: the account cannot log in
        (use :meth:`sign_up` for an annotator who has to)."""
        user = self._call(
            f"creating user {username!r}", self._sdk.users.create, username=username, email=email, password=password
        )
        return int(user.id)

    def _form_post(self, path: str, fields: dict[str, str]) -> tuple[int, str, str]:
        """POST a Label Studio web form as a browser does (CSRF cookie and token); (status, final URL, page)."""
        import http.cookiejar
        import urllib.error
        import urllib.parse
        import urllib.request

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        try:
            opener.open(self.url + path, timeout=30).read()
            csrf = next((c.value for c in jar if c.name == "csrftoken"), "")
            body = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": csrf}).encode()
            request = urllib.request.Request(self.url + path, data=body, headers={"Referer": self.url + path})
            with opener.open(request, timeout=30) as response:
                return int(response.status), response.geturl(), response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return int(exc.code), self.url + path, ""
        except (urllib.error.URLError, OSError) as exc:
            raise OvavebenchError(f"Label Studio at {self.url}: {path} failed: {exc}") from None

    def sign_up(self, email: str, password: str) -> bool:
        """Create an account that logs in with ``password``, through the server's own sign-up form and the
        organisation's invite token (the REST API ignores passwords). False when the email is taken."""
        import html
        import re
        import urllib.parse

        if self._invite_token is None:  # one request per client, not per account
            invite = self._call(
                "reading the organisation's invite link", self._sdk.organizations.invites.get_invite_link
            )
            self._invite_token = urllib.parse.quote(str(invite.token))
        status, final_url, page = self._form_post(
            f"/user/signup/?token={self._invite_token}", {"email": email, "password": password}
        )
        if status == 200 and "/user/signup" not in final_url:
            return True  # signed up and redirected into the app
        errors = [
            html.unescape(e).strip()
            for block in re.findall(r'class="[^"]*errors?[^"]*"[^>]*>(.*?)</ul>', page, re.S)
            for e in re.findall(r"<li>\s*([^<]{1,300}?)\s*</li>", block)
        ]
        if any("already exists" in e for e in errors):
            return False
        raise OvavebenchError(
            f"Label Studio at {self.url}: signing up {email} failed (HTTP {status})"
            + (f": {'; '.join(errors[:3])}" if errors else "")
        )

    def can_log_in(self, email: str, password: str) -> bool:
        """Whether the login form accepts ``email``/``password`` (it redirects away from itself on success)."""
        status, final_url, _ = self._form_post("/user/login/", {"email": email, "password": password})
        return status == 200 and "/user/login" not in final_url

    def delete_project(self, project_id: int) -> None:
        self._call(f"deleting project {project_id}", self._sdk.projects.delete, id=project_id)

    def snapshot_export(self, project_id: int, poll_s: float = 0.5) -> list[dict[str, Any]]:
        """All tasks with their annotations, through a snapshot export (no request timeout)."""
        from label_studio_sdk.core.request_options import RequestOptions

        options = RequestOptions(timeout_in_seconds=LONG_TIMEOUT_S)
        export = self._call(
            f"starting an export of project {project_id}",
            self._sdk.projects.exports.create,
            id=project_id,
            title="ovavebench import",
            request_options=options,
        )
        deadline = time.monotonic() + LONG_TIMEOUT_S
        while True:
            state = self._call("polling the export", self._sdk.projects.exports.get, id=project_id, export_pk=export.id)
            if state.status == "completed":
                break
            if state.status == "failed" or time.monotonic() > deadline:
                raise OvavebenchError(
                    f"Label Studio at {self.url}: export {export.id} of project {project_id} {state.status}"
                )
            time.sleep(poll_s)
        data = self._call(
            "downloading the export",
            lambda: b"".join(
                self._sdk.projects.exports.download(
                    id=project_id, export_pk=export.id, export_type="JSON", request_options=options
                )
            ),
        )
        return json.loads(data)
