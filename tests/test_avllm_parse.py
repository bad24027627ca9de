"""The AV-LLM answer parser on fixed answers: well-formed, partial, chatty, misspelt, other languages' punctuation."""

from __future__ import annotations

import pytest

from ovavebench.baselines.avllm.parse import parse_answer

CLASSES = ["dog barking", "playing piano", "race car", "female singing", "baby laughter"]
BG = "background"


@pytest.mark.parametrize(
    "answer, labels, unparsed",
    [
        # numbered lines, the prompt's own format
        (
            "\n".join(f"{k}: {'dog barking' if k < 4 else 'other'}" for k in range(10)),
            ["dog barking"] * 4 + [BG] * 6,
            0,
        ),
        # "Second k" words, dashes, capitals, and a chatty preamble and close
        (
            "Sure! Here is my answer.\nSecond 0 - Dog Barking\nSecond 1 - dog barking.\n"
            + "\n".join(f"Second {k} - none" for k in range(2, 10))
            + "\nHope this helps.",
            ["dog barking"] * 2 + [BG] * 8,
            0,
        ),
        # a JSON list inside a code fence
        (
            '```json\n["race car", "race car", "other", "other", "other", "other", "other", "other", '
            '"race car", "race car"]\n```',
            ["race car"] * 2 + [BG] * 6 + ["race car"] * 2,
            0,
        ),
        # a JSON object keyed by second
        (
            '{"0": "playing piano", "1": "playing piano", "2": "other", "3": "other", "4": "other", "5": "other", '
            '"6": "other", "7": "other", "8": "other", "9": "other"}',
            ["playing piano"] * 2 + [BG] * 8,
            0,
        ),
        # full-width punctuation and ideographic commas (a Chinese-style answer with English labels)
        (
            "第0秒：female singing；第1秒：female singing；" + "；".join(f"第{k}秒：other" for k in range(2, 10)),
            ["female singing"] * 2 + [BG] * 8,
            0,
        ),
        (
            "0：baby laughter、1：baby laughter、2：其他、3：other、4：other、"
            "5：other、6：other、7：other、8：other、9：other",
            ["baby laughter"] * 2 + [BG, BG] + [BG] * 6,
            1,
        ),  # 其他 ("other") is not an English label: counted
        # partial: only four seconds answered
        ("0: race car\n1: race car\n2: race car\n3: other", ["race car"] * 3 + [BG] * 7, 6),
        # misspelt and decorated class names still match; unknown names do not
        (
            "0: dog barkin\n1: **Playing Piano**\n2: the race car\n3: a helicopter\n"
            + "\n".join(f"{k}: other" for k in range(4, 10)),
            ["dog barking", "playing piano", "race car", BG] + [BG] * 6,
            1,
        ),
        # ten plain comma-separated items
        (
            "dog barking, dog barking, other, other, other, other, other, other, other, other",
            ["dog barking"] * 2 + [BG] * 8,
            0,
        ),
        # one line with several numbered items
        (
            "0s: race car, 1s: race car, 2s: other, 3s: other, 4s: other, "
            "5s: other, 6s: other, 7s: other, 8s: other, 9s: other",
            ["race car"] * 2 + [BG] * 8,
            0,
        ),
        # nothing usable at all
        ("I cannot tell what happens in this video.", [BG] * 10, 10),
        ("", [BG] * 10, 10),
    ],
)
def test_answers_become_ten_labels_and_unreadable_seconds_are_counted(answer, labels, unparsed):
    parsed = parse_answer(answer, CLASSES)
    assert parsed.labels == labels
    assert parsed.unparsed_seconds == unparsed
    assert len(parsed.problems) == unparsed


def test_a_second_answered_twice_keeps_the_first_and_numbers_past_9_are_ignored():
    parsed = parse_answer(
        "0: race car\n0: dog barking\n12: race car\n" + "\n".join(f"{k}: other" for k in range(1, 10)), CLASSES
    )
    assert parsed.labels == ["race car"] + [BG] * 9 and parsed.fully_parsed
