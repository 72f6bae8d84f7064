"""Length of the plain-text abstract against a conference's counting rule.

``abstract.txt`` is what submission systems take: title, section headings, body
and the one table, without author names.  Counting rules:

``chars-no-spaces`` (default, ASCO's published rule)
    characters excluding spaces (all white space: spaces, tabs, line breaks).
``chars-with-spaces``
    characters including spaces, each run of white space counted as one space.
``words``
    white-space separated words.

Title and closing sentence (:func:`front_variables`), ``study.abstract`` in
``_quarto.yml``:

``title: neutral`` (default) | ``result``
    ``neutral`` names what was studied (``titles.neutral``, by default the
    ``title`` of ``_quarto.yml``); ``result``
    states the finding (``titles.result``), which several conferences
    discourage, and is used only when the data show it (PSA50 responses
    evident early, ``prose.psa50_evident_early``); otherwise the neutral
    title.
``references: false`` (default) | ``true``
    whether the abstract lists the sources it cites (``show-references``
    of report/abstract.qmd); with ``false`` its citations are dropped
    (ASCO abstracts have no references).
``closing-sentence: false`` (default) | ``true``
    ``true`` ends the conclusions with "Updated data will be presented.",
    a convention several conferences discourage.
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


#: ``study.abstract.title`` values.
TITLE_FORMS = ("neutral", "result")
CLOSING_SENTENCE = "Updated data will be presented."


def front_variables(abstract: dict, project_title: str, evident_early: bool) -> dict[str, str]:
    """The abstract's title and closing sentence (``abstract.title``, ``abstract.closing``).

    Parameters
    ----------
    abstract : dict
        ``study.abstract`` of ``_quarto.yml`` (``title``, ``titles``,
        ``closing-sentence``).
    project_title : str
        ``title`` of ``_quarto.yml``: the neutral title when
        ``titles.neutral`` is not given.
    evident_early : bool
        Whether the data show early PSA50 responses (the claim of the result
        title).

    Returns
    -------
    dict
        ``{"title": ..., "closing": ..., "references": "true" | "false"}``;
        ``closing`` is ``""`` when off.

    Raises
    ------
    analysis.errors.PsmaRweError
        An unknown ``title`` form or a ``closing-sentence`` that is not true/false.
    """
    from analysis.errors import PsmaRweError

    form = str(abstract.get("title", "neutral")).strip().lower()
    if form not in TITLE_FORMS:
        raise PsmaRweError(
            f"_quarto.yml: study.abstract.title is {abstract.get('title')!r}; expected "
            + " or ".join(TITLE_FORMS)
        )
    closing = abstract.get("closing-sentence", False)
    if not isinstance(closing, bool):
        raise PsmaRweError(
            f"_quarto.yml: study.abstract.closing-sentence is {closing!r}; expected true or false"
        )
    titles = abstract.get("titles") or {}
    neutral = str(titles.get("neutral") or project_title)
    result = str(titles.get("result") or neutral)
    title = result if form == "result" and evident_early else neutral
    references = abstract.get("references", False)
    if not isinstance(references, bool):
        raise PsmaRweError(
            f"_quarto.yml: study.abstract.references is {references!r}; expected true or false"
        )
    return {
        "title": title,
        "closing": CLOSING_SENTENCE if closing else "",
        "references": "true" if references else "false",
    }
