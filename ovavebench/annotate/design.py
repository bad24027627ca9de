"""The task design: the labelling config, the task view's HTML, and answers to and from Label Studio's
``result`` lists (controls ``av_0``…``av_9``, yes/no, and ``clip_flag``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import quoteattr

from ..constants import SEGMENTS

YES, NO, BROKEN = "yes", "no", "broken"
AV_CONTROLS = tuple(f"av_{k}" for k in range(SEGMENTS))
FLAG_CONTROL = "clip_flag"


# The task view has to fit one laptop screen and respond at once (crowd annotators, a 2-core machine): frames and
# per-second audio are plain <img>/<audio> elements in an inline HyperText (Label Studio's <Image> is a canvas with a
# fixed size and zoom tools, its <Audio> a waveform that costs ~1 s of main thread each), laid out by CSS in a
# 5 × 2 grid. Answers are checkbox-style single choices: radio inputs would share names across the ten groups, so the
# arrow keys would move an answer to the neighbouring second.
_TASK_CSS = """
.ovave-head { display: flex; flex-wrap: wrap; align-items: center; gap: 2px 16px; }
.ovave-head h1, .ovave-head h2, .ovave-head h3, .ovave-head h4 { margin: 0 !important; }
.ovave-guide { font-size: 12px; line-height: 1.35; color: #444; margin: 2px 0 4px; }
.ovave-guide p { margin: 0; }
.ovave-clip audio { width: 100%; height: 32px; display: block; }
.ovave-grid { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 6px; margin-top: 4px; }
.ovave-card { border: 1px solid #c8c8c8; border-radius: 4px; padding: 2px 4px 0; min-width: 0; }
.ovave-card h4, .ovave-card h5, .ovave-card h6 {
  margin: 0 !important; font-size: 13px !important; line-height: 18px !important; }
.ovave-card img { display: block; width: 100%; aspect-ratio: 4 / 3; object-fit: contain; background: #000; }
.ovave-card audio { display: block; width: 100%; height: 26px; }
.ovave-card .lsf-choices { display: flex; flex-wrap: wrap; gap: 0 8px; margin: 0 !important; min-width: 0; }
.ovave-card .lsf-choice { margin: 0 !important; }
.ovave-flag { margin-top: 4px; }
.ovave-prefetch {
  position: fixed; left: 0; bottom: 0; width: 1px; height: 1px; overflow: hidden; opacity: 0.01; pointer-events: none; }
.ovave-prefetch-box { width: 1px; height: 1px; animation: ovave-prefetch 0s linear 0.3s forwards; }
@keyframes ovave-prefetch { to { background-image: var(--ovave-next); } }
"""
GUIDE_SUMMARY = (
    "**yes** = in this second you *hear* the class and *see* what makes the sound. **no** = off-screen source, "
    "silent object, music or voice-over over pictures, another class. The player below plays the whole clip, "
    "for context. **Keys**: `0`–`9` answer second 0–9 *yes*, `Shift`+`0`–`9` answer it *no*; `b` flags the clip "
    "broken; `Ctrl`+`Enter` submits. "
    "Full guide: GUIDELINES.md."
)
YES_HOTKEY, NO_HOTKEY = "{k}", "shift+{k}"


def second_view(k: int) -> str:
    """One second's card content, a template Label Studio fills from the task's URLs (``$frame_k``, ``$audio``):
    the second's middle frame and the clip's own audio from k to k + 1 s (a media fragment: the player starts at k
    and pauses at k + 1; no per-second copy of the audio exists)."""
    return (
        f'<img src="$frame_{k}" alt="second {k}" loading="eager">'
        f'<audio controls preload="none" src="$audio#t={k},{k + 1}" title="second {k}: {k}-{k + 1} s"></audio>'
    )


CLIP_VIEW = '<audio controls preload="metadata" src="$audio" title="whole clip, 10 s"></audio>'
# The next task's frames (``$next_frame_k``; empty for the last task): CSS background images of a 1-pixel box whose
# style sets them only 0.3 s after the task is shown (an animation delay): the requests come after this task's own
# frames and answers are up, and Submit finds the next frames in the page's image cache. The delay is short because
# an annotator who trusts a pre-filled task submits within a second: at 1 s the prefetch raced Submit and lost
# (Submit -> next 0.75-1.1 s median against 0.5-0.8 s at 0.3 s, benchmarks/annotator_bench.py), and fetching the
# frames costs the main thread nothing (decoded off it, on first paint). (Hidden <img> elements were requested with
# the task's own; a <link rel=prefetch> was fetched twice.)


def _prefetch_view(segments: int) -> str:
    layers = ", ".join(f"url('$next_frame_{k}')" for k in range(segments))
    return f'<div class="ovave-prefetch-box" style="--ovave-next: {layers}"></div>'


def label_config(segments: int = SEGMENTS) -> str:
    """The Label Studio labelling config: the class, the whole clip's audio, then per second a frame, its audio
    and a yes/no question (``av_k``), on one screen at 1366×768. The task view's HTML lives here; a task's data
    holds only its URLs."""
    lines = [
        '<View className="ovave">',
        "  <Style>" + _TASK_CSS.replace("\n", "\n    ") + "</Style>",
        '  <View className="ovave-head">',
        '    <Header size="3" value="$class_name"/>',
        '    <Text name="clip" value="$clip_id"/>',
        "  </View>",
        f'  <View className="ovave-guide"><Markdown value={quoteattr(GUIDE_SUMMARY)}/></View>',
        '  <View className="ovave-clip">'
        f'<HyperText name="clip_player" value={quoteattr(CLIP_VIEW)} inline="true"/></View>',
        '  <View className="ovave-grid">',
    ]
    for k in range(segments):
        lines += [
            '    <View className="ovave-card">',
            f'      <Header size="6" value="Second {k}"/>',
            f'      <HyperText name="second_{k}" value={quoteattr(second_view(k))} inline="true"/>',
            f'      <Choices name="av_{k}" toName="second_{k}" choice="single" showInline="true" required="true" '
            f'requiredMessage="Second {k}: answer yes or no">',
            f"        <Choice value={quoteattr(YES)} hotkey={quoteattr(YES_HOTKEY.format(k=k))}/>",
            f"        <Choice value={quoteattr(NO)} hotkey={quoteattr(NO_HOTKEY.format(k=k))}/>",
            "      </Choices>",
            "    </View>",
        ]
    lines += [
        "  </View>",
        f'  <View className="ovave-prefetch"><HyperText name="prefetch" value={quoteattr(_prefetch_view(segments))} '
        'inline="true"/></View>',
        '  <View className="ovave-flag">',
        f'    <Choices name="{FLAG_CONTROL}" toName="clip" choice="multiple" showInline="true">',
        f'      <Choice value="{BROKEN}" hotkey="b" '
        'hint="The clip never shows or sounds like its class, or is broken throughout"/>',
        "    </Choices>",
        "  </View>",
        "</View>",
    ]
    return "\n".join(lines) + "\n"


def answers_to_result(answers: Sequence[int], broken: bool) -> list[dict[str, Any]]:
    """Answers → a Label Studio ``result`` list (for predictions and tests)."""
    result = [
        {"from_name": f"av_{k}", "to_name": f"second_{k}", "type": "choices", "value": {"choices": [YES if a else NO]}}
        for k, a in enumerate(answers)
    ]
    if broken:
        result.append({"from_name": FLAG_CONTROL, "to_name": "clip", "type": "choices", "value": {"choices": [BROKEN]}})
    return result


class AnnotationError(ValueError):
    """An annotation that does not fit the task design."""


def parse_result(result: Any, segments: int = SEGMENTS) -> tuple[list[int], bool]:
    """A Label Studio ``result`` list → (10 answers, broken flag); raise :class:`AnnotationError`."""
    if not isinstance(result, list):
        raise AnnotationError("result is not a list")
    answers: dict[int, int] = {}
    broken = False
    for item in result:
        if not isinstance(item, dict):
            raise AnnotationError("a result item is not an object")
        name = item.get("from_name")
        value = item["value"] if isinstance(item.get("value"), dict) else {}
        choices = value.get("choices")
        if item.get("type") != "choices" or not isinstance(choices, list):
            raise AnnotationError(f"control {name!r}: expected a choices result")
        if name == FLAG_CONTROL:
            if any(c != BROKEN for c in choices):
                raise AnnotationError(f"control {FLAG_CONTROL}: unknown choice(s) {choices} (expected {BROKEN!r})")
            broken = broken or BROKEN in choices
            continue
        match = re.fullmatch(r"av_(\d{1,4})", name) if isinstance(name, str) else None
        if not match or int(match.group(1)) >= segments:
            raise AnnotationError(f"unknown control {name!r}")
        k = int(match.group(1))
        if k in answers:
            raise AnnotationError(f"control {name} answered twice")
        if len(choices) != 1 or choices[0] not in (YES, NO):
            raise AnnotationError(f"control {name}: choice {choices} is not exactly one of {YES!r}/{NO!r}")
        answers[k] = 1 if choices[0] == YES else 0
    missing = [k for k in range(segments) if k not in answers]
    if missing:
        raise AnnotationError(f"second(s) {missing} not answered")
    return [answers[k] for k in range(segments)], broken
