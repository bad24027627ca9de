"""An audio-visual LLM's answer → 10 per-second labels; whatever cannot be read is background, and counted.

Accepted shapes, in this order: a JSON list of 10 labels (or an object ``{"0": …}``, possibly inside a code fence),
numbered lines or items (``0: dog barking``, ``Second 3 - other``, ``第3秒：狗叫`` with full-width punctuation, ``3s)
race car``), then a plain list of exactly 10 items separated by commas, semicolons or new lines. A label is matched
to a class name after folding case, punctuation and spacing; a close match (difflib, ≥ 0.85) counts; ``other``,
``none``, ``background``, ``no event`` … mean background.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from ...constants import BACKGROUND, OTHER, SEGMENTS

NO_EVENT = {
    "other",
    "others",
    "none",
    "no",
    "background",
    "no event",
    "nothing",
    "silence",
    "silent",
    "n a",
    "na",
    "unknown",
    "no audio visual event",
    "no audiovisual event",
    "not an event",
}
# A numbered item: an optional "second"/"sec"/"s"/"秒" word around the number, then a separator.
_NUMBERED = re.compile(
    r"""^\s*(?:[-*•>]\s*)?(?:\[|\()?\s*
        (?:(?:second|sec|segment|s|t)\s*)?(?:第\s*)?
        (?P<k>\d{1,2})
        \s*(?:s|sec|secs|seconds?|秒)?\s*(?:\]|\))?
        \s*(?:[:：\-–—=>)．.、,，|]+|\s)\s*
        (?P<label>.+?)\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


@dataclass
class ParsedAnswer:
    """Ten labels (class names or ``background``), how many seconds were not readable, and what was wrong."""

    labels: list[str]
    unparsed_seconds: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def fully_parsed(self) -> bool:
        return self.unparsed_seconds == 0


def fold(text: str) -> str:
    """Case, width, accents, punctuation and spacing folded away: ``Dog-Barking!`` → ``dog barking``."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(
        c if c.isalnum() else " " for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    )
    return " ".join(text.split())


class LabelMatcher:
    """A label as a model writes it → a class name of the benchmark, ``background``, or None (unreadable)."""

    def __init__(self, classes: Sequence[str]):
        self.classes = list(classes)
        self.by_fold = {fold(c): c for c in self.classes}
        self.by_fold.setdefault(fold(OTHER), BACKGROUND)

    def __call__(self, label: str) -> str | None:
        key = fold(label.strip().strip("\"'`*_"))
        for prefix in ("the ", "a ", "an ", "event ", "class ", "label "):
            if key.startswith(prefix) and key[len(prefix) :] in self.by_fold:
                key = key[len(prefix) :]
        if not key:
            return None
        if key in NO_EVENT:
            return BACKGROUND
        if key in self.by_fold:
            return self.by_fold[key]
        close = difflib.get_close_matches(key, list(self.by_fold), n=1, cutoff=0.85)
        if close:
            return self.by_fold[close[0]]
        contained = [name for k, name in self.by_fold.items() if len(k) > 3 and re.search(rf"\b{re.escape(k)}\b", key)]
        return contained[0] if len(set(contained)) == 1 else None


def _from_json(text: str) -> list[str] | None:
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        start = min((i for i in (candidate.find("["), candidate.find("{")) if i >= 0), default=-1)
        if start < 0:
            continue
        end = max(candidate.rfind("]"), candidate.rfind("}"))
        try:
            value = json.loads(candidate[start : end + 1])
        except ValueError:
            continue
        if isinstance(value, dict):
            items = {str(k).strip().lower().removeprefix("second").strip(): v for k, v in value.items()}
            if all(str(k) in items for k in range(SEGMENTS)):
                value = [items[str(k)] for k in range(SEGMENTS)]
        if isinstance(value, list) and len(value) == SEGMENTS and all(isinstance(v, (str, int, float)) for v in value):
            return [str(v) for v in value]
    return None


def parse_answer(text: str, classes: Sequence[str], matcher: LabelMatcher | None = None) -> ParsedAnswer:
    """Ten labels from one answer; unreadable seconds are background and counted, never an error."""
    matcher = matcher or LabelMatcher(classes)
    raw: dict[int, str] = {}
    listed = _from_json(text) if isinstance(text, str) else None
    if listed is not None:
        raw = dict(enumerate(listed))
    elif isinstance(text, str):
        for line in re.split(r"[\n;；]+", text):
            for piece in re.split(
                r"(?<=\S)[,，、]\s*(?=(?:second|sec|s|第)?\s*\d{1,2}\s*(?:s|秒)?\s*[:：\-–—=)])",
                line,
                flags=re.IGNORECASE,
            ):
                match = _NUMBERED.match(piece)
                if match and int(match.group("k")) < SEGMENTS and int(match.group("k")) not in raw:
                    raw[int(match.group("k"))] = match.group("label")
        if not raw:
            items = [p for p in re.split(r"[\n,，;；、]+", text) if p.strip()]
            if len(items) == SEGMENTS:
                raw = dict(enumerate(items))
    labels, problems = [], []
    for k in range(SEGMENTS):
        label = matcher(raw[k]) if k in raw else None
        if label is None:
            problems.append(f"second {k}: " + (f"unknown label {raw[k][:40]!r}" if k in raw else "no answer"))
            label = BACKGROUND
        labels.append(label)
    return ParsedAnswer(labels, len(problems), problems)
