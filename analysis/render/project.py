"""Project files, metadata merging and author normalisation.

Metadata is merged the way Quarto layers it, later layers winning (dicts are
merged key by key, anything else is replaced):

1. ``_quarto.yml`` top-level keys (minus ``project``, ``format`` and
   Quarto's execution keys);
2. ``_quarto.yml`` ``format: <name>:`` keys for the output being written;
3. the document's front matter (minus ``format``);
4. the document's ``format: <name>:`` keys.

Format names: ``html`` and ``psma-rwe-html`` (the extension's format) for
HTML; ``typst``, ``pdf`` and ``psma-rwe-typst`` (in that order) for the Typst
PDF; ``docx`` and ``psma-rwe-docx`` for Word; ``plain`` for the plain-text abstract.
``{{< meta >}}`` shortcodes see layers 1 and 3 only (the format-independent
keys), so their text is the same in all outputs.

Authors (``author`` or ``authors``, Quarto's forms: a string, a list of
strings, or a list of maps with ``name``, ``affiliation(s)``, ``email``; a
top-level ``affiliations`` list with ``id``/``name`` that ``ref:`` points to)
are normalised as Quarto normalises them, into ``by-author`` (``name`` with
``literal``, ``affiliations`` with ``number`` and ``name``, ``email``) and
``by-affiliation`` (``number``, ``name``), the affiliations numbered in order
of first mention: the extension's templates read that shape under both
renderers.
"""

from __future__ import annotations

import copy
import datetime as _dt
import os
from pathlib import Path
from typing import Any

import yaml

from analysis.errors import PsmaRweError

#: Output name -> the Quarto ``format:`` names whose options apply to it.
FORMAT_ALIASES: dict[str, tuple[str, ...]] = {
    "html": ("html", "psma-rwe-html"),
    "pdf": ("typst", "pdf", "psma-rwe-typst"),
    "docx": ("docx", "psma-rwe-docx"),
    "plain": ("plain",),
}
#: Top-level keys that are Quarto configuration, not document metadata.
NON_METADATA_KEYS = frozenset(
    {"project", "format", "execute", "jupyter", "engine", "knitr", "website", "book", "filters"}
)


def load_yaml(path: Path, what: str) -> dict:
    """Read a YAML mapping; a missing file is an empty mapping."""
    if not path.is_file():
        return {}
    return parse_yaml(path.read_text(encoding="utf-8"), what)


def safe_load(text: str):
    """``yaml.safe_load`` through libyaml when PyYAML has it (the same data, several
    times faster on the computed variables every render reads); YAML it refuses is
    read again by the pure-Python loader, whose messages quote the offending line."""
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is not None:
        try:
            return yaml.load(text, Loader=loader)
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def parse_yaml(text: str, what: str) -> dict:
    """Parse YAML text that must hold a mapping (or nothing)."""
    try:
        data = safe_load(text)
    except yaml.YAMLError as exc:
        raise PsmaRweError(f"{what}: invalid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PsmaRweError(f"{what}: expected a mapping of keys to values")
    return data


def deep_merge(base: dict, over: dict) -> dict:
    """``over`` merged onto a copy of ``base`` (nested dicts merged, the rest replaced)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _strip(meta: dict) -> dict:
    return {k: v for k, v in meta.items() if k not in NON_METADATA_KEYS}


def _format_options(meta: dict, output: str) -> dict:
    formats = meta.get("format")
    merged: dict = {}
    if not isinstance(formats, dict):
        return merged
    for name in reversed(FORMAT_ALIASES[output]):  # later aliases win: typst over pdf
        options = formats.get(name)
        if isinstance(options, dict):
            merged = deep_merge(merged, options)
    return merged


def shortcode_metadata(project_meta: dict, front: dict) -> dict:
    """What ``{{< meta >}}`` looks keys up in (format-independent layers)."""
    return deep_merge(_strip(project_meta), _strip(front))


def format_metadata(project_meta: dict, front: dict, output: str) -> dict:
    """The metadata pandoc sees when writing ``output`` (``html``/``pdf``/``docx``)."""
    meta = _strip(project_meta)
    meta = deep_merge(meta, _format_options(project_meta, output))
    meta = deep_merge(meta, _strip(front))
    meta = deep_merge(meta, _format_options(front, output))
    return meta


# --- authors ------------------------------------------------------------------


def _author_name(name: Any) -> str:
    if isinstance(name, dict):
        if name.get("literal"):
            return str(name["literal"])
        return " ".join(str(name[k]) for k in ("given", "family") if name.get(k))
    return "" if name is None else str(name)


def _affiliation_text(aff: Any) -> str:
    if isinstance(aff, dict):
        parts = [aff.get(k) for k in ("department", "name", "city", "region", "state", "country")]
        return ", ".join(str(p) for p in parts if p)
    return str(aff)


def normalize_authors(meta: dict) -> tuple[list[dict], list[dict]]:
    """``(by_author, by_affiliation)`` from Quarto-style author metadata."""
    authors = meta.get("authors", meta.get("author"))
    if authors is None:
        return [], []
    if not isinstance(authors, list):
        authors = [authors]
    registry: dict[str, str] = {}
    for aff in meta.get("affiliations") or []:
        if isinstance(aff, dict) and aff.get("id"):
            registry[str(aff["id"])] = _affiliation_text(aff)

    by_affiliation: list[dict] = []
    numbers: dict[str, int] = {}
    by_author: list[dict] = []
    for author in authors:
        if not isinstance(author, dict):
            by_author.append({"name": {"literal": _author_name(author)}, "affiliations": []})
            continue
        raw = author.get("affiliations", author.get("affiliation", []))
        if not isinstance(raw, list):
            raw = [raw]
        affiliations = []
        for aff in raw:
            if isinstance(aff, dict) and "ref" in aff:
                text = registry.get(str(aff["ref"]), str(aff["ref"]))
            elif isinstance(aff, str) and aff in registry:
                text = registry[aff]
            else:
                text = _affiliation_text(aff)
            if text not in numbers:
                numbers[text] = len(numbers) + 1
                by_affiliation.append({"number": numbers[text], "name": text})
            affiliations.append({"number": numbers[text], "name": text})
        entry = {
            "name": {"literal": _author_name(author.get("name"))},
            "affiliations": affiliations,
        }
        if author.get("email"):
            entry["email"] = str(author["email"])
        by_author.append(entry)
    return by_author, by_affiliation


# --- dates --------------------------------------------------------------------


def resolve_date(value: Any) -> Any:
    """Quarto's ``today``/``now``/``last-modified`` as a fixed ISO date.

    The date comes from ``SOURCE_DATE_EPOCH`` when it is set (so builds stay
    byte-identical), else from the clock.
    """
    if isinstance(value, str) and value.strip() in ("today", "now", "last-modified"):
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        if epoch is not None and epoch.strip().isdigit():
            day = _dt.datetime.fromtimestamp(int(epoch), tz=_dt.UTC).date()
        else:
            day = _dt.date.today()
        return day.isoformat()
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return value
