"""Annotator accounts: one Label Studio login per annotator of the plan, with a fresh random password."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import OvavebenchError

if TYPE_CHECKING:
    from .labelstudio import LabelStudioClient


@dataclass(frozen=True)
class AnnotatorAccount:
    name: str  # the plan name (the email's part before '@', as Label Studio names the user)
    email: str
    password: str | None  # None: the account existed already and keeps its password


def create_annotator_accounts(client: LabelStudioClient, names: list[str], email_domain: str) -> list[AnnotatorAccount]:
    """An account per annotator that logs in with a fresh random password (checked by logging in once)."""
    accounts = []
    for name in names:
        email = name if "@" in name else f"{name}@{email_domain}"
        password = secrets.token_urlsafe(12)
        if not client.sign_up(email, password):
            accounts.append(AnnotatorAccount(email.split("@")[0], email, None))
            continue
        if not client.can_log_in(email, password):
            raise OvavebenchError(f"Label Studio at {client.url}: the new account {email} cannot log in")
        accounts.append(AnnotatorAccount(email.split("@")[0], email, password))
    return accounts
