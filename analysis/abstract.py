"""Length of the plain-text abstract against a conference's counting rule.

``abstract.txt`` is what submission systems take: title, section headings, body
and the one table, without author names.  Counting rules:

``chars-no-spaces`` (default, ASCO's published rule)
    characters excluding spaces (all white space: spaces, tabs, line breaks).
``chars-with-spaces``
    characters including spaces, each run of white space counted as one space.
``words``
    white-space separated words.
"""

from __future__ import annotations

RULES = {
    "chars-no-spaces": "characters excluding spaces",
    "chars-with-spaces": "characters including spaces",
    "words": "words",
}


def counts(text: str) -> dict[str, int]:
    """Characters with and without spaces, and words."""
    words = text.split()
    return {
        "chars_no_spaces": sum(len(w) for w in words),
        "chars_with_spaces": len(" ".join(words)),
        "words": len(words),
    }


def abstract_length(text: str, limit: int = 2000, rule: str = "chars-no-spaces") -> dict:
    """Counts of ``text`` and whether the count under ``rule`` is within ``limit``."""
    if rule not in RULES:
        from analysis.errors import PsmaRweError

        raise PsmaRweError(
            f"_quarto.yml: study.abstract.count-rule is {rule!r}; expected one of "
            + ", ".join(RULES)
        )
    c = counts(text)
    count = c[rule.replace("-", "_")]
    return {
        **c,
        "rule": rule,
        "rule_label": RULES[rule],
        "limit": int(limit),
        "count": count,
        "within_limit": count <= limit,
    }
