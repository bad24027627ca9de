"""Lay downloaded clips out where the published OV-AVEL code reads them (symbolic links, no copies)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..constants import SEGMENTS
from ..errors import OvavebenchError
from ..ids import CLIP_ID_RE


def clip_folder_names(media_dir: str | os.PathLike) -> dict[str, list[str]]:
    """Map YouTube id → names of the clip folders (``<youtube_id>_<start:06d>``) holding a clip (sorted): plain
    names, so that a lookup over the whole benchmark stays small."""
    out: dict[str, list[str]] = {}
    if not os.path.isdir(media_dir):
        return out
    with os.scandir(os.fspath(media_dir)) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            match = CLIP_ID_RE.match(entry.name)
            # a folder without its audio is no clip yet (a run killed mid-clip)
            if match and entry.is_dir() and os.path.exists(os.path.join(entry.path, "audio.wav")):
                out.setdefault(match.group("youtube_id"), []).append(entry.name)
    return out


def clip_dirs_by_youtube_id(media_dir: str | os.PathLike) -> dict[str, list[Path]]:
    """Map YouTube id → clip folders (``<youtube_id>_<start:06d>``) holding a complete clip."""
    return {video: [Path(media_dir, name) for name in names] for video, names in clip_folder_names(media_dir).items()}


def one_clip_folder(youtube_id: str, names: list[str]) -> str | None:
    """The one clip folder name of a benchmark video; an id matching two folders is the user's call, by name."""
    if len(names) > 1:
        raise OvavebenchError(
            f"YouTube id {youtube_id!r} matches {len(names)} clip folders ({', '.join(names)}); "
            "keep the one of the benchmark"
        )
    return names[0] if names else None


def resolve_clip_dir(youtube_id: str, index: dict[str, list[Path]]) -> Path | None:
    """The one clip folder of a benchmark video (``vid_name`` is a bare YouTube id)."""
    found = index.get(youtube_id, [])
    name = one_clip_folder(youtube_id, [p.name for p in found])
    return None if name is None else found[0]


@dataclass
class ExportReport:
    linked: int = 0
    missing: list[str] = field(default_factory=list)


def export_layout(
    media_dir: str | os.PathLike, benchmark_dir: str | os.PathLike, to: str | os.PathLike
) -> ExportReport:
    """Lay clips out as the published OV-AVEL code reads them, with symbolic links (no copies).

    ``<to>/<split>/video/<class>/<vid>/{0..9}.png`` and ``<to>/<split>/audio/<class>/<vid>.wav``.
    """
    from ..benchmark import find_benchmark_files, read_meta

    if not Path(media_dir).is_dir():
        raise OvavebenchError(
            f"{media_dir}: media folder not found (expected the --out folder of `ovavebench download`)"
        )
    meta = read_meta(find_benchmark_files(benchmark_dir).meta)
    index = clip_dirs_by_youtube_id(media_dir)
    to = Path(to)
    report = ExportReport()
    for row in meta.itertuples(index=False):
        # read_meta reads every column as str; str() tells the type checker so
        vid_name, split, cls_name = str(row.vid_name), str(row.split), str(row.cls_name)
        clip = resolve_clip_dir(vid_name, index)
        if clip is None:
            report.missing.append(vid_name)
            continue
        clip = clip.resolve()
        frames_dir = to / split / "video" / cls_name / vid_name
        frames_dir.mkdir(parents=True, exist_ok=True)
        for k in range(SEGMENTS):
            _link(clip / "frames" / f"{k}.png", frames_dir / f"{k}.png")
        audio_dir = to / split / "audio" / cls_name
        audio_dir.mkdir(parents=True, exist_ok=True)
        _link(clip / "audio.wav", audio_dir / f"{vid_name}.wav")
        report.linked += 1
    return report


def _link(target: Path, link: Path) -> None:
    if link.is_symlink() or link.exists():
        if link.is_symlink() and Path(os.readlink(link)) == target:
            return
        link.unlink()
    os.symlink(target, link)
