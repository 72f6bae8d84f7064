"""Direct identifiers: in header names (HIPAA Safe Harbor) and in ``patient_id`` values.

The rule table is :data:`analysis.config.IDENTIFIER_RULES` (documented there);
this module normalises header names into words and matches the table's terms on
whole words.  No pandas: :mod:`analysis.load` checks headers before reading rows.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from analysis import config

_UPPER_RUN = re.compile(r"([A-Z]+)([A-Z][a-z])")  # MRNNumber -> MRN_Number
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")  # dateOfBirth -> date_Of_Birth
_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")  # address1 -> address_1
_SEPARATORS = re.compile(r"[\W_]+")

_PERSON_NAME = (("name",), ("names",))


def header_words(name: str) -> tuple[str, ...]:
    """The words of a header name: ``"DateOfBirth"`` → ``("date", "of", "birth")``.

    NFKC, camelCase and letter/digit boundaries split, lower case; any character that
    is not a letter or digit (``_``, ``-``, ``.``, space, control characters) separates.
    """
    text = unicodedata.normalize("NFKC", name)
    text = _UPPER_RUN.sub(r"\1_\2", text)
    text = _CAMEL.sub(r"\1_\2", text)
    text = _LETTER_DIGIT.sub("_", text)
    return tuple(word for word in _SEPARATORS.split(text.casefold()) if word)


def normalised_name(name: str) -> str:
    """Header words joined by ``_`` (``"Death Date"`` → ``"death_date"``)."""
    return "_".join(header_words(name))


@lru_cache(maxsize=1)
def _terms() -> tuple[tuple[tuple[str, ...], str], ...]:
    terms = [
        (header_words(term), category)
        for category, listed in config.IDENTIFIER_RULES.items()
        for term in listed
    ]
    # Longest first: the first match is the most specific ("ip_address" before "address").
    return tuple(sorted(terms, key=lambda t: -len(t[0])))


@lru_cache(maxsize=1)
def _exempt() -> frozenset[str]:
    contract = {col for cols in config.COLUMNS.values() for col in cols}
    return frozenset({normalised_name(col) for col in contract | config.IDENTIFIER_EXEMPT_COLUMNS})


def identifier_category(name: str) -> tuple[str, str] | None:
    """``(Safe Harbor category, matched term)`` if header ``name`` names an identifier.

    Columns of the contract and :data:`~analysis.config.IDENTIFIER_EXEMPT_COLUMNS`
    (compared after normalisation) never match.
    """
    words = header_words(name)
    if not words or "_".join(words) in _exempt():
        return None
    for term, category in _terms():
        n = len(term)
        for i in range(len(words) - n + 1):
            if words[i : i + n] != term:
                continue
            if term in _PERSON_NAME and i > 0 and words[i - 1] in config.NON_PERSON_NAME_WORDS:
                continue  # "agent_name": the name of a drug, not of a person
            return category, "_".join(term)
    return None


# --- patient_id values ----------------------------------------------------------------

_SSN = re.compile(r"\d{3}([- ]?)\d{2}\1\d{4}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_MRN = re.compile(
    r"(mrn|medical[\W_]*record([\W_]*(number|num|no))?)[\W_]*\d.*", re.IGNORECASE | re.DOTALL
)

#: ``(pattern, reason)``: a ``patient_id`` that the whole pattern matches is refused.
ID_VALUE_PATTERNS = (
    (_SSN, "is shaped like a social security number (ddd-dd-dddd or 9 digits)"),
    (_EMAIL, "is shaped like an e-mail address"),
    (_MRN, "starts like a medical record number (MRN followed by digits)"),
)


def id_value_reason(value: str) -> str | None:
    """Why a ``patient_id`` value looks like a direct identifier, or ``None``.

    Tested on the whole (stripped) value; the value itself is never repeated in
    the message, so that the identifier does not end up in a terminal or a log.
    """
    for pattern, reason in ID_VALUE_PATTERNS:
        if pattern.fullmatch(value):
            return reason
    return None
