"""The order a polled batch is translated in: every headline first, then the leads, then the rest.

Pure functions, no engine. A story's units are its headline (0), summary (1) and paragraphs
(2, 3, ...). A desk waiting for breaking news reads headlines first, so the translator runs the
headlines of all stories of a batch, then their summaries and first paragraphs, then the rest,
and publishes a `partial` rendition after each stage when enough work is still ahead (`worth_partial`).
"""

from __future__ import annotations

from collections.abc import Sequence

HEADLINE, SUMMARY, BODY = 0, 1, 2
"""Unit indexes: the headline, the summary, then one per paragraph."""


def plan_stages(counts: Sequence[int], *, lead: int, headlines_first: bool = True) -> list[list[int]]:
    """Group a story's units into stages: [headline], [summary + `lead` paragraphs], [the rest].

    `counts` holds each unit's number of sentences to translate. A story with an empty headline is
    shown under its first paragraph (the translator does the same), so that paragraph joins the
    headline's stage. Without `headlines_first` every unit is in one stage. Stages may be empty.
    """
    units = list(range(len(counts)))
    if not headlines_first:
        return [units]
    first = [HEADLINE]
    if counts[HEADLINE] == 0 and len(counts) > BODY:
        first.append(BODY)
    second = [u for u in units[SUMMARY : BODY + lead + len(first) - 1] if u not in first]
    rest = [u for u in units if u not in first and u not in second]
    return [first, second, rest]


def last_stage(stages: Sequence[Sequence[int]], counts: Sequence[int]) -> int:
    """The last stage holding a sentence to translate (-1 when none does: nothing goes to a model)."""
    return max((k for k, stage in enumerate(stages) if any(counts[u] for u in stage)), default=-1)


def worth_partial(sentences_ahead: int, minimum: int) -> bool:
    """Whether a rendition of what is done so far is worth publishing before the whole story is done.

    Worth it when the model still has at least `minimum` sentences of this batch to translate
    before the story can be finished (sentences of later stages that neither the translation
    memory nor this batch already holds): a headline then reaches the desk that much model time
    before the full text. With less ahead, the full rendition follows too soon for an extra message
    (and an extra index write) to help anyone.
    """
    return minimum >= 0 and sentences_ahead >= max(1, minimum)
