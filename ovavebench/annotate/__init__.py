"""Annotation stage: two-round crowd labelling with exchanged annotators, adjudication, final labels.

Protocol (the paper's): round 1 splits the clips among the annotators, balanced
per class; round 2 gives every clip to a different annotator (the exchange);
round 3 holds the clips on which rounds 1 and 2 disagree, with both answers
pre-filled as predictions, for adjudication. ``finalize`` writes the labels in
the published format.

Tasks use Label Studio's import format. Data fields: ``clip_id``, ``class_name``, ``round``,
``frame_0``…``frame_9`` and ``audio`` (media URLs: the clip's own files, no copies) and
``next_frame_0``…``next_frame_9`` (the next task's frames, prefetched); the view's HTML is in the labelling
config, where each second's player plays ``audio#t=k,k+1``. Controls ``av_0``…``av_9`` (``yes``/``no``,
one per second) and ``clip_flag`` (``broken``). The plan and
every imported annotation (with its history) live in ``W/annotate.sqlite``.

One module per concern: :mod:`.design` (labelling config, task HTML, answers ↔ results), :mod:`.store` (the
SQLite store), :mod:`.plan` (round assignment, disagreements), :mod:`.export` (tasks, media URLs, export),
:mod:`.rounds` (closing earlier rounds), :mod:`.importing` (import and validation), :mod:`.agreement`
(agreement statistics), :mod:`.finalize` (final labels), :mod:`.accounts` (annotator logins) and
:mod:`.labelstudio`, the only module that talks to a Label Studio server.
"""

from __future__ import annotations

from .accounts import AnnotatorAccount, create_annotator_accounts
from .agreement import AgreementReport, RoundStatus, agreement, cohen_kappa
from .design import (
    AV_CONTROLS,
    BROKEN,
    FLAG_CONTROL,
    GUIDE_SUMMARY,
    NO,
    YES,
    AnnotationError,
    answers_to_result,
    label_config,
    parse_result,
    second_view,
)
from .export import (
    DEFAULT_MEDIA_URL_PREFIX,
    TASKS_PER_FILE,
    ExportReport,
    MediaUrls,
    build_tasks,
    check_media_served,
    export_round,
    find_document_root,
    iter_tasks,
    refuse_work_below_root,
    remove_stale_temp_files,
    task_file_names,
)
from .finalize import FinalizeReport, finalize
from .importing import (
    ROUND_FILE_RE,
    ImportProblem,
    ImportReport,
    import_annotations,
    read_export_files,
)
from .plan import Disagreements, annotator_names, find_disagreements, plan_round
from .rounds import ArchivedProject, archive_path, close_earlier_rounds, round_exports
from .store import DB_NAME, current_answers, open_work, register_clips

__all__ = [
    "AV_CONTROLS",
    "BROKEN",
    "DB_NAME",
    "DEFAULT_MEDIA_URL_PREFIX",
    "FLAG_CONTROL",
    "GUIDE_SUMMARY",
    "NO",
    "ROUND_FILE_RE",
    "TASKS_PER_FILE",
    "YES",
    "AgreementReport",
    "AnnotationError",
    "AnnotatorAccount",
    "ArchivedProject",
    "Disagreements",
    "ExportReport",
    "FinalizeReport",
    "ImportProblem",
    "ImportReport",
    "MediaUrls",
    "RoundStatus",
    "agreement",
    "annotator_names",
    "answers_to_result",
    "archive_path",
    "build_tasks",
    "check_media_served",
    "close_earlier_rounds",
    "cohen_kappa",
    "create_annotator_accounts",
    "current_answers",
    "export_round",
    "finalize",
    "find_disagreements",
    "find_document_root",
    "import_annotations",
    "iter_tasks",
    "label_config",
    "open_work",
    "parse_result",
    "plan_round",
    "read_export_files",
    "register_clips",
    "round_exports",
    "refuse_work_below_root",
    "remove_stale_temp_files",
    "second_view",
    "task_file_names",
]
