"""The functions ``ovavebench.yaml`` names (lmms-eval imports this file by path): all of them are
:mod:`ovavebench.lmms`'s."""

from ovavebench.lmms.documents import aggregation, doc_messages, doc_target, doc_text, parse_result
from ovavebench.lmms.task import OvavebenchTask


def doc_to_messages(doc, lmms_eval_specific_kwargs=None):
    return doc_messages(doc)


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    return doc_text(doc)


def doc_to_target(doc, model_specific_target_kwargs=None):
    return doc_target(doc)


def process_results(doc, results):
    return parse_result(doc, results)


seen_acc = aggregation("seen", "acc")
seen_seg_f1 = aggregation("seen", "seg_f1")
seen_eve_f1 = aggregation("seen", "eve_f1")
seen_avg = aggregation("seen", "avg")
unseen_acc = aggregation("unseen", "acc")
unseen_seg_f1 = aggregation("unseen", "seg_f1")
unseen_eve_f1 = aggregation("unseen", "eve_f1")
unseen_avg = aggregation("unseen", "avg")
total_acc = aggregation("total", "acc")
total_seg_f1 = aggregation("total", "seg_f1")
total_eve_f1 = aggregation("total", "eve_f1")
total_avg = aggregation("total", "avg")

__all__ = ["OvavebenchTask", "doc_to_messages", "doc_to_target", "doc_to_text", "process_results"]
