"""Sentence segmentation accuracy per language on the project's own evaluation set.

What is measured, and why: the translate service splits every paragraph into sentences before a
model sees it, and a wrong split (after Turkish `2.` in `2. Dünya Savaşı`, after `Dr.`, inside a
number) garbles the translation of both halves. The evaluation set,
services/translate/tests/segmentation_cases.json, holds news-style paragraphs in English, Arabic
and Turkish with their expected sentences (ordinals, dates, abbreviations, initials, quotations,
Arabic punctuation, numbers with separators, URLs, ellipses, datelines). A case counts as correct
only when every boundary is right: the splitter returns exactly the expected sentences.

Goal: at least 99% of the cases per language (the same floor the unit test asserts).

Usage: `uv run python bench/segmentation.py [--failures]`. A table goes to stdout (per language,
then per tag where a case failed; `--failures` prints each failing case) and, as the last line,
one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from wirewatch_translate.segment import split_sentences

CASES = Path(__file__).resolve().parents[1] / "services/translate/tests/segmentation_cases.json"
LANGUAGES = ("en", "ar", "tr")
GOAL = 0.99


def main() -> None:
    """Score the splitter on every case and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", action="store_true", help="print each failing case")
    args = parser.parse_args()

    data: dict[str, Any] = json.loads(CASES.read_text(encoding="utf-8"))
    figures: dict[str, Any] = {"goal": GOAL}
    failed_tags: Counter[tuple[str, str]] = Counter()
    failures: list[tuple[str, list[str], list[str]]] = []
    print(f"{'language':<10}{'cases':>7}{'correct':>9}{'accuracy':>10}{'sentences/s':>13}")
    for lang in LANGUAGES:
        cases = data[lang]
        correct = 0
        sentences = 0
        started = time.perf_counter()
        for case in cases:
            expected: list[str] = case["sentences"]
            got = split_sentences(" ".join(expected), lang)
            sentences += len(expected)
            if got == expected:
                correct += 1
            else:
                failed_tags[(lang, case["tag"])] += 1
                failures.append((lang, expected, got))
        elapsed = time.perf_counter() - started
        accuracy = correct / len(cases)
        rate = sentences / elapsed if elapsed > 0 else 0.0
        figures[lang] = {"cases": len(cases), "correct": correct, "accuracy": round(accuracy, 4)}
        print(f"{lang:<10}{len(cases):>7}{correct:>9}{accuracy:>10.1%}{rate:>13,.0f}")
    figures["goal_met"] = all(figures[lang]["accuracy"] >= GOAL for lang in LANGUAGES)
    if failed_tags:
        print()
        print(f"{'failed by tag':<28}{'cases':>7}")
        for (lang, tag), count in sorted(failed_tags.items()):
            print(f"{lang + ' ' + tag:<28}{count:>7}")
    if args.failures:
        for lang, expected, got in failures:
            print(f"\n[{lang}] expected: {json.dumps(expected, ensure_ascii=False)}")
            print(f"[{lang}] got:      {json.dumps(got, ensure_ascii=False)}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
