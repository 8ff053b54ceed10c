"""Token-budgeted, length-sorted batches: the throughput lever of CPU translation.

Sentences of similar length are decoded together so little compute goes to padding, and a batch
holds as many sentences as the token budget allows, across paragraphs and across stories.
"""

from __future__ import annotations

from collections.abc import Sequence


def plan_batches(lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    """Group item indexes into batches whose padded size (items x longest) stays within `max_tokens`.

    Items are sorted longest first, so padding is minimal and an over-budget item travels alone
    instead of being dropped. The returned batches hold indexes into `lengths`.
    """
    if max_tokens < 1:
        msg = f"max_tokens must be positive, got {max_tokens}"
        raise ValueError(msg)
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in order:
        length = max(1, lengths[index])
        width = max(longest, length)
        if current and width * (len(current) + 1) > max_tokens:
            batches.append(current)
            current, width = [], length
        current.append(index)
        longest = width
    if current:
        batches.append(current)
    return batches
