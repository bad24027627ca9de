"""A scripted annotator in Label Studio's labelling stream ("Label All Tasks"), for the browser test and
``benchmarks/annotator_bench.py``: it presses only the keys a task needs, and the page records when each task is
ready, when Submit was pressed, and the long tasks in between (no polling delay in the figures).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

# Installed with ``Page.addScriptToEvaluateOnNewDocument`` beside browser.PAGE_RECORDER: every task the stream shows
# is logged once, at the first frame at which its ten answer groups, its ten frames and Submit are ready; every
# Ctrl+Enter (Submit) is logged at its keydown.
STREAM_RECORDER = """
window.__streamLog = [];
window.__submits = [];
window.__keys = [];
document.addEventListener('keydown', e => {
  window.__keys.push(performance.now());
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) window.__submits.push(performance.now()); }, true);
let ovaveLastClip = null;
const ovaveWatch = () => {
  const images = [...document.querySelectorAll('.ovave-card img')];
  const cards = document.querySelectorAll('.ovave-card .lsf-choices');
  const submit = [...document.querySelectorAll('button')].find(b => /^(submit|update)$/i.test(b.textContent.trim()));
  const clip = images.length ? decodeURIComponent(images[0].src).split('/frames/')[0].split('/').pop() : null;
  if (clip && clip !== ovaveLastClip && cards.length === 10 && images.length === 10
      && images.every(i => i.complete && i.naturalWidth > 0) && submit && !submit.disabled) {
    ovaveLastClip = clip;
    window.__streamLog.push([clip, performance.now()]);
  }
  requestAnimationFrame(ovaveWatch);
};
requestAnimationFrame(ovaveWatch);
"""


@dataclass(frozen=True)
class TaskTiming:
    clip_id: str
    prefilled: list[str | None]  # what the task showed checked when it was ready
    keystrokes: int  # key presses the scripted annotator needed (Shift+digit and Ctrl+Enter count one each)
    ready_ms: float  # page clock
    first_key_ms: float  # the annotator's first key on the task (after a reading pause of quiet_ms)
    submitted_ms: float
    next_interactive_ms: float | None  # the next task ready, and the long tasks that held it over (None: the last)

    @property
    def submit_to_next_ms(self) -> float | None:
        return None if self.next_interactive_ms is None else self.next_interactive_ms - self.submitted_ms


def _checked(driver) -> list[str | None]:  # type: ignore[no-untyped-def]
    return driver.execute_script("""
        return [...document.querySelectorAll('.ovave-card .lsf-choices')].map(group => {
          const on = [...group.querySelectorAll('input')].filter(i => i.checked).map(i => i.name);
          return on.length === 1 ? on[0] : null; });""")


def _wait(condition: Callable[[], object], what: str, timeout_s: float) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _interactive(long_tasks: list[list[float]], ready: float, quiet_ms: float, keys: list[float]) -> float:
    """Ready, or the end of the last long task that holds the main thread after it: one that starts before
    ``ready + quiet_ms`` and before the annotator's first key on the task (what follows a key is the key's work)."""
    first_key = min((k for k in keys if k >= ready), default=float("inf"))
    limit = min(ready + quiet_ms, first_key)
    return max([ready, *(start + duration for start, duration in long_tasks if start < limit)])


def label_stream(
    driver,
    answers_for: Callable[[str], list[int]],
    tasks: int,
    timeout_s: float = 60,  # type: ignore[no-untyped-def]
    quiet_ms: float = 500,
) -> list[TaskTiming]:
    """Label ``tasks`` tasks in a row by keyboard in the stream already open in ``driver``: per task only the seconds
    whose shown answer is not the wanted one (digit: yes, Shift+digit: no), then Ctrl+Enter."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    done: list[tuple[str, list[str | None], int, float, float]] = []
    for n in range(tasks):
        entry = _wait(
            lambda n=n: (log := driver.execute_script("return window.__streamLog")) and len(log) > n and log[n],
            f"task {n + 1} of the stream",
            timeout_s,
        )
        clip, ready = entry  # type: ignore[misc]
        # A person reads the task before the first key: the long tasks of the task's own load end in this window
        # (they are what the figure measures), and none of the annotator's keys falls in it.
        _wait(
            lambda ready=ready: driver.execute_script("return performance.now()") >= ready + quiet_ms,
            "the reading pause",
            10,
        )
        shown = _checked(driver)
        keys = 0
        for k, answer in enumerate(answers_for(str(clip))):
            want = "yes" if answer else "no"
            if shown[k] == want:
                continue
            chain = ActionChains(driver)
            chain.send_keys(str(k)) if answer else chain.key_down(Keys.SHIFT).send_keys(str(k)).key_up(Keys.SHIFT)
            chain.perform()
            keys += 1
        _wait(
            lambda clip=clip: _checked(driver) == [("yes" if a else "no") for a in answers_for(str(clip))],
            f"the answers of {clip} on screen",
            10,
        )
        ActionChains(driver).key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()
        keys += 1
        submitted = _wait(
            lambda n=n: (s := driver.execute_script("return window.__submits")) and len(s) > n and s[n],
            "the Submit key press",
            10,
        )
        done.append((str(clip), shown, keys, float(ready), float(submitted)))  # type: ignore[arg-type]
    # the task after the last one (or the stream's end) bounds the last Submit → next
    try:
        _wait(lambda: len(driver.execute_script("return window.__streamLog")) > tasks, "the next task", 15)
    except AssertionError:
        pass
    time.sleep(quiet_ms / 1000 + 0.2)
    log = driver.execute_script("return window.__streamLog")
    long_tasks = driver.execute_script("return window.__longTasks") or []
    key_times = driver.execute_script("return window.__keys") or []
    out = []
    for n, (clip, shown, keys, ready, submitted) in enumerate(done):
        following = log[n + 1][1] if len(log) > n + 1 else None
        nxt = _interactive(long_tasks, following, quiet_ms, key_times) if following is not None else None
        first_key = min((k for k in key_times if k >= ready), default=submitted)
        out.append(TaskTiming(clip, shown, keys, ready, first_key, submitted, nxt))
    return out


def summary(timings: list[TaskTiming]) -> dict[str, float]:
    """Keystrokes per task, median Submit → next interactive, and tasks per minute the UI allows: per task the
    time from the first key to the next task interactive (keys handled, saved, the next one loaded), with no
    reading time of the annotator's."""
    gaps = [t.submit_to_next_ms for t in timings if t.submit_to_next_ms is not None]
    cycle = [t.next_interactive_ms - t.first_key_ms for t in timings if t.next_interactive_ms is not None]
    keys = [t.submitted_ms - t.first_key_ms for t in timings]
    return {
        "tasks": len(timings),
        "keystrokes_per_task": statistics.mean(t.keystrokes for t in timings),
        "submit_to_next_ms": statistics.median(gaps) if gaps else float("nan"),
        "tasks_per_minute": 60_000 / statistics.mean(cycle) if cycle else float("nan"),
        # where a cycle's time goes: the keys (sent one WebDriver request each) and Submit -> next interactive
        "keys_ms": statistics.median(keys) if keys else float("nan"),
        "ms_per_key": statistics.median(k / max(t.keystrokes - 1, 1) for k, t in zip(keys, timings, strict=True))
        if keys
        else float("nan"),
    }
