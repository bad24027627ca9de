"""The constants of the task, defined once.

Every OV-AVEBench video is a 10-second window cut into ten 1-second segments; each segment is one middle
frame and one second of 16 kHz mono audio, labelled with the video's class or ``background``.
"""

from __future__ import annotations

from typing import Final

VERSION: Final = "0.2.0"
"""The toolkit's version: the one source of truth (the build reads it; ``ovavebench.__version__`` is it). Here, in
the leaf module every stage may import, so that a module recording the version never imports the package's face."""

CLIP_SECONDS: Final = 10
"""Length of every benchmark window, in seconds."""

SEGMENTS: Final = 10
"""Segments per video: one per second of the window."""

SAMPLE_RATE: Final = 16_000
"""Audio sample rate of the benchmark's media (Hz, mono)."""

SAMPLES_PER_SEGMENT: Final = SAMPLE_RATE * CLIP_SECONDS // SEGMENTS
"""Audio samples in one segment."""

BACKGROUND: Final = "background"
"""The label of a segment in which the video's class is not both heard and seen."""

OTHER: Final = "other"
"""The extra class name the published code appends after the classes (its index is the background index)."""
