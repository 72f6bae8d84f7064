"""What changed between two built versions, for a team re-submitting an abstract.

``psma-rwe diff A B`` takes two labels (folders under the outputs folder) or
two version folders.  Both are checked first against their manifests: a
version whose manifest is damaged, or one of whose files was altered, removed
or cannot be read after the build, is an error naming the file, never a
reported change.  :func:`diff_versions` then compares, in this order,

1. **the numbers the abstract and poster display**, old → new, as the documents
   print them.  A version keeps the values the documents cited
   (``variables.yml``) and the sources that cite them (``sources/report/*.qmd``,
   with the ``sources/followup/*.md`` fragments they include); the ``{{< var key >}}``
   shortcodes of ``abstract.qmd`` and ``poster.qmd`` say which values appear,
   and where.  Shortcodes joined only by punctuation, ``to``, ``of`` or
   ``95% CI`` in the source are one displayed number, with the ``%`` that
   follows it: ``8 (38.1%; 95% CI 18.1–61.6)``.  Generated sentences
   (``prose.*``, follow-up) are compared word by word.  A version built before
   psma-rwe kept these files falls back on its manifest's summary (patients,
   PSA50);
2. **the abstract**: its plain text (``abstract.txt``) word by word, paragraph
   by paragraph, and its length against the conference's limit (the
   manifest's ``abstract_length``);
3. **the tables' changed cells** (``tables/*.html``, read as displayed),
   named ``Poster Table 2, row <stub>, column <header>``: the number a
   document gives the table (abstract first, then poster, then supplement);
4. **input files** added, removed or changed (by SHA-256 in the manifests);
5. every value of ``results.json`` that differs, as ``path: old → new``, where a
   path names the place in the JSON (``psa_response.psa50.n``, list items by
   their identifying key when they have one, e.g. ``labs[hemoglobin/dose 2]``).

:mod:`analysis.diff_report` gives the terminal view and the ``--format json``
document (its keys are listed there), :mod:`analysis.diff_html` the ``--html`` page.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from analysis import config
from analysis.build import DOCUMENTS, MANIFEST, SOURCES, VARIABLES
from analysis.errors import PsmaRweError

#: Keys that identify an item of a list in results.json, tried in order.
ITEM_KEYS = (("term", "method", "model"), ("test", "dose_number"), ("name",), ("after_dose",))
#: The documents whose displayed numbers lead the report, in this order.
SHOWN_IN = ("abstract", "poster")
#: Human names of the variables the documents cite; any other key is named by its path.
LABELS = {
    "cohort.patients": "Patients",
    "cohort.period": "Treatment period",
    "cohort.date_note": "Note on dates",
    "cohort.doses": "Doses given",
    "cohort.doses_median": "Doses per patient, median",
    "cohort.doses_min": "Doses per patient, range",
    "cohort.completed": "Completed treatment",
    "cohort.ongoing": "Still on treatment",
    "cohort.discontinued": "Stopped early",
    "prior.median": "Prior systemic therapies, median",
    "prior.min": "Prior systemic therapies, range",
    "psa50.n": "PSA50 response",
    "psa50.pct": "PSA50 rate",
    "psa50.ci_low": "PSA50 rate, 95% CI",
    "psa90.n": "PSA90 response",
    "psa90.pct": "PSA90 rate",
    "psa90.ci_low": "PSA90 rate, 95% CI",
    "confirmed.n": "Confirmed PSA50",
    "definitions.baseline_window_days": "Baseline window, days",
    "definitions.confirmation_days": "Confirmation interval, days",
    "prose.responders": "Responders' treatment",
    "prose.psa50_timing": "PSA50 timing",
    "prose.psa90_timing": "PSA90 timing",
    "prose.psa50_early": "Conclusion on early PSA50",
    "prose.psa90_early": "Conclusion on deep responses",
    "prose.toxicity": "Anemia and thrombocytopenia",
    "followup.abstract": "Survival",
    "followup.landmark_short": "Landmark analysis",
}


@dataclass(frozen=True)
class Shown:
    """A number (or generated sentence) as the documents display it, old → new.

    Attributes
    ----------
    label : str
        Human name (:data:`LABELS`, else the variable's path).
    keys : tuple of str
        The ``{{< var >}}`` keys it is made of (``include:<file>`` for an included
        generated fragment; ``summary.*`` for the manifest's summary).
    documents : tuple of str
        ``"abstract"``, ``"poster"``: where it is displayed.
    kind : {"number", "text"}
        A number, or a sentence compared word by word.
    old, new : str or None
        As displayed; ``None`` where a version does not display it.
    """

    label: str
    keys: tuple[str, ...]
    documents: tuple[str, ...]
    kind: str  # "number" | "text"
    old: str | None
    new: str | None


@dataclass(frozen=True)
class Paragraph:
    """A changed paragraph of ``abstract.txt``; ``words`` are ``(op, text)`` runs."""

    where: str
    old: str | None
    new: str | None
    words: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Cell:
    """A changed table cell; ``None`` for a side without it."""

    row: str
    column: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class TableChange:
    """The changed cells of one table; ``numbers`` maps a document to its table number."""

    name: str
    title: str
    numbers: tuple[tuple[str, int], ...]
    cells: tuple[Cell, ...]

    @property
    def reference(self) -> str:
        """``Poster Table 2``: the first document showing it, or the fragment's file."""
        if not self.numbers:
            return f"Table {self.name}"
        doc, number = self.numbers[0]
        return f"{doc.capitalize()} Table {number}"


@dataclass(frozen=True)
class VersionDiff:
    """Everything that changed from ``old`` to ``new`` (see the module docstring).

    Attributes
    ----------
    old, new : Path
        The two version folders.
    inputs : tuple
        ``(name, "added" | "removed" | "changed")`` of each input file that differs.
    values : tuple
        ``(path, old, new)`` of each differing value of ``results.json`` (exact).
    shown : tuple of Shown
        The changed numbers and sentences of the abstract and poster, in reading order.
    shown_source : {"variables", "manifest summary", "none"}
        Where ``shown`` comes from: the versions' ``variables.yml`` and sources, or
        (a version built before they were kept) the manifests' summary.
    shown_note : str
        Why ``shown`` is incomplete, or ``""``.
    paragraphs : tuple of Paragraph
        The changed paragraphs of ``abstract.txt``.
    length_old, length_new : dict or None
        The manifests' ``abstract_length``.
    tables : tuple of TableChange
        The tables with changed cells: abstract's first, then poster's, then the rest.
    """

    old: Path
    new: Path
    inputs: tuple[tuple[str, str], ...]  # (name, "added" | "removed" | "changed")
    values: tuple[tuple[str, object, object], ...]  # (path, old, new)
    shown: tuple[Shown, ...]
    shown_source: str  # "variables" | "manifest summary" | "none"
    shown_note: str
    paragraphs: tuple[Paragraph, ...]
    length_old: dict | None
    length_new: dict | None
    tables: tuple[TableChange, ...]

    @property
    def identical(self) -> bool:
        """Nothing differs: inputs, displayed numbers, abstract, tables, results."""
        return not (
            self.inputs
            or self.values
            or self.shown
            or self.paragraphs
            or self.tables
            or self.length_old != self.length_new
        )


def resolve_version(ref: str | Path, outputs: Path = config.OUTPUTS_DIR) -> Path:
    """A version folder from a label or a path; error if it is not a built version.

    A bare name (no ``/``) is a label under ``outputs`` first, and a folder of
    the current directory only when no such label exists; anything with a
    ``/`` is a path.

    Parameters
    ----------
    ref : str or Path
        A label or a folder.
    outputs : Path
        The folder of versions labels are looked up in.

    Returns
    -------
    Path
        A folder holding a ``manifest.json``.

    Raises
    ------
    PsmaRweError
        Saying what ``ref`` is instead (missing, a file, a folder without a manifest).
    """
    text = str(ref)
    as_path = Path(text)
    bare = "/" not in text and "\\" not in text
    candidates = [outputs / text, as_path] if bare else [as_path]
    for candidate in candidates:
        if candidate.is_dir() and (candidate / MANIFEST).is_file():
            return candidate
    first = candidates[0]
    if first.exists() and not first.is_dir():
        why = f"{first} is a file, not a version folder"
    elif first.is_dir():
        why = f"{first} is a folder but not a built version (it has no {MANIFEST})"
    else:
        why = f"no built version found (looked for {first}/{MANIFEST})"
    raise PsmaRweError(f"{ref}: {why}; give a label under {outputs} or a version folder")


def _damaged(version: Path, what: str) -> PsmaRweError:
    return PsmaRweError(
        f"version {version.name} ({version}) is damaged: {what}; rebuild it or restore it "
        "from a copy: a damaged version cannot be compared"
    )


def load_manifest(version: Path) -> dict:
    """``manifest.json`` of a version, checked for the fields a comparison relies on."""
    try:
        data = json.loads((version / MANIFEST).read_bytes().decode("utf-8"))
    except OSError as exc:
        raise _damaged(version, f"{MANIFEST} cannot be read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _damaged(version, f"{MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _damaged(version, f"{MANIFEST} holds a {type(data).__name__}, expected an object")
    for key in ("inputs", "outputs"):
        entries = data.get(key)
        if not isinstance(entries, dict):
            raise _damaged(version, f"{MANIFEST} has no {key!r} table")
    for name, entry in data["inputs"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise _damaged(version, f"{MANIFEST}: input {name!r} has no sha256")
    for name, digest in data["outputs"].items():
        if not isinstance(digest, str):
            raise _damaged(version, f"{MANIFEST}: output {name!r} has no sha256")
    return data


def verify_version(version: Path, manifest: dict) -> None:
    """Every output the manifest lists is present with its SHA-256; error naming the others."""
    altered, missing = [], []
    for name, digest in sorted(manifest["outputs"].items()):
        path = version / name
        try:
            got = hashlib.sha256(path.read_bytes()).hexdigest()
        except FileNotFoundError:
            missing.append(name)
            continue
        except OSError as exc:
            raise _damaged(version, f"{name} cannot be read ({exc.strerror or exc})") from None
        if got != digest:
            altered.append(name)
    if altered or missing:
        parts = []
        if altered:
            parts.append(
                f"changed after the build (SHA-256 differs from the manifest): {', '.join(altered)}"
            )
        if missing:
            parts.append(f"missing: {', '.join(missing)}")
        raise _damaged(version, "; ".join(parts))


def _item_name(item: dict, index: int) -> str:
    for keys in ITEM_KEYS:
        if all(k in item for k in keys):
            parts = []
            for k in keys:
                v = item[k]
                parts.append(f"dose {v}" if k in ("dose_number", "after_dose") else str(v))
            return "/".join(parts)
    return str(index)


def flatten(data, prefix: str = "") -> dict[str, object]:
    """Nested JSON → {dotted path: scalar}."""
    out: dict[str, object] = {}
    if isinstance(data, dict):
        for key in sorted(data):
            out.update(flatten(data[key], f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            name = _item_name(item, i) if isinstance(item, dict) else str(i)
            out.update(flatten(item, f"{prefix}[{name}]"))
    else:
        out[prefix] = data
    return out


def _text(version: Path, name: str) -> str | None:
    """A listed UTF-8 file of a (verified) version, or ``None`` if the version has none."""
    path = version / name
    if not path.is_file():
        return None
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _damaged(version, f"{name} is not UTF-8 text ({exc})") from None


# --- word diff ------------------------------------------------------------------------


def word_diff(old: str, new: str) -> tuple[tuple[str, str], ...]:
    """``old`` → ``new`` word by word.

    Parameters
    ----------
    old, new : str
        Two texts; tabs (table rows of ``abstract.txt``) are shown as `` | ``.

    Returns
    -------
    tuple of (str, str)
        ``(op, words)`` runs in reading order, ``op`` ``"="`` (in both), ``"-"``
        (only in ``old``) or ``"+"`` (only in ``new``); a replacement is a ``-`` run
        followed by a ``+`` run.
    """
    a, b = old.replace("\t", " | ").split(), new.replace("\t", " | ").split()
    out: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(("=", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("-", " ".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", " ".join(b[j1:j2])))
    return tuple(out)


# --- displayed numbers ------------------------------------------------------------------

_SHORTCODE = re.compile(r"\{\{<\s*(.*?)\s*>\}\}", re.S)
_ESCAPED = re.compile(r"\{\{\{<.*?>\}\}\}", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
#: Text that joins two shortcodes into one displayed number.
_CONNECTOR = re.compile(r"(?:[\s()%,;:–\-—/]|95% CI|\bCI\b|\bto\b|\bof\b)*")
_SPACE = re.compile(r"\s+")


def _tokens(version: Path, rel: str, depth: int = 0) -> list[tuple[str, str]]:
    """A source as ``("text", s)``, ``("var", key)`` and ``("break", what)`` tokens.

    ``.md``/``.qmd`` includes are followed inside the version; an included fragment
    without shortcodes (generated text) is one ``("fragment", path)`` token.
    """
    from analysis.render.shortcodes import split_front_matter

    text = _text(version, rel)
    if text is None or depth > 10:
        return [("break", rel)]
    if depth == 0:
        text = split_front_matter(text)[1]
    text = _COMMENT.sub("", _ESCAPED.sub(" ", text))
    if depth and not _SHORTCODE.search(text):
        return [("fragment", rel)]
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _SHORTCODE.finditer(text):
        out.append(("text", text[pos : m.start()]))
        pos = m.end()
        parts = m.group(1).split()
        if len(parts) == 2 and parts[0] == "var":
            out.append(("var", parts[1]))
        elif len(parts) == 2 and parts[0] == "include" and parts[1].endswith((".md", ".qmd")):
            target = _normal(f"{Path(rel).parent.as_posix()}/{parts[1]}")
            out += _tokens(version, target, depth + 1)
        else:
            out.append(("break", parts[0] if parts else ""))
    out.append(("text", text[pos:]))
    return out


def _normal(rel: str) -> str:
    """``sources/report/../followup/x.md`` → ``sources/followup/x.md`` (never above the version)."""
    parts: list[str] = []
    for part in rel.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part and part != ".":
            parts.append(part)
    return "/".join(parts)


@dataclass(frozen=True)
class _Place:
    """One displayed number in a source: its keys and the text around and between them."""

    document: str
    keys: tuple[str, ...]
    joins: tuple[str, ...]  # text between consecutive keys
    suffix: str  # "%" or ")" closing the number


def _places(version: Path, document: str, is_text) -> list[_Place]:
    """The displayed numbers of one document's source, in reading order."""
    tokens = _tokens(version, f"{SOURCES}/report/{document}.qmd")
    places: list[_Place] = []
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        if kind == "fragment":
            places.append(_Place(document, (f"include:{value}",), (), ""))
        if kind != "var":
            i += 1
            continue
        keys, joins = [value], []
        j = i + 1
        while (
            not is_text(keys[-1])
            and j + 1 < len(tokens)
            and tokens[j][0] == "text"
            and tokens[j + 1][0] == "var"
            and not is_text(tokens[j + 1][1])
            and len(tokens[j][1]) <= 24
            and _CONNECTOR.fullmatch(tokens[j][1])
        ):
            joins.append(_SPACE.sub(" ", tokens[j][1]))
            keys.append(tokens[j + 1][1])
            j += 2
        after = tokens[j][1] if j < len(tokens) and tokens[j][0] == "text" else ""
        shown = "".join(joins)
        suffix = "%" if after.startswith("%") else ""
        if shown.count("(") > shown.count(")") and after[len(suffix) :].startswith(")"):
            suffix += ")"
        places.append(_Place(document, tuple(keys), tuple(joins), suffix))
        i = j
    return places


def _value(variables: dict, key: str) -> str | None:
    from analysis.render.shortcodes import dotted_lookup, scalar_text

    found, value = dotted_lookup(variables, key)
    if not found:
        return None
    try:
        return _SPACE.sub(" ", scalar_text(value, key, VARIABLES)).strip()
    except PsmaRweError:
        return None


def _display(place: _Place, variables: dict, version: Path) -> str | None:
    if place.keys[0].startswith("include:"):
        text = _text(version, place.keys[0].removeprefix("include:"))
        if text is None:
            return None
        body = [line for line in text.splitlines() if not line.startswith("#")]
        return _SPACE.sub(" ", " ".join(body)).strip()
    values = [_value(variables, k) for k in place.keys]
    if all(v is None for v in values):
        return None
    out = [values[0] or "?"]
    for join, value in zip(place.joins, values[1:], strict=True):
        out += [join, value or "?"]
    return "".join(out) + place.suffix


def _label(keys: tuple[str, ...], version: Path) -> str:
    key = keys[0]
    if key.startswith("include:"):
        rel = key.removeprefix("include:")
        text = _text(version, rel) or ""
        heading = next((ln.lstrip("#").strip() for ln in text.splitlines() if ln[:1] == "#"), "")
        return f"{heading} block" if heading else f"Included text ({rel})"
    if key in LABELS:
        return LABELS[key]
    head, _, tail = key.partition(".")
    return f"{head.replace('_', ' ')}: {tail.replace('_', ' ').replace('.', ', ')}".strip(": ")


def _variables(version: Path) -> dict | None:
    import yaml

    text = _text(version, VARIABLES)
    if text is None:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _damaged(version, f"{VARIABLES} is not valid YAML ({exc})") from None
    return data if isinstance(data, dict) else {}


def _shown(old: Path, new: Path, m_old: dict, m_new: dict) -> tuple[tuple[Shown, ...], str, str]:
    """The changed displayed numbers, where they come from, and a note if incomplete."""
    v_old, v_new = _variables(old), _variables(new)
    sources = all(
        (v / SOURCES / "report" / f"{d}.qmd").is_file() for v in (old, new) for d in SHOWN_IN
    )
    if v_old is None or v_new is None or not sources:
        return _summary_shown(old, new, m_old, m_new, v_old is None)

    def is_text(key: str) -> bool:
        values = (_value(v_old, key), _value(v_new, key))
        return key.startswith(("prose.", "followup.")) or any(
            v is not None and (v == "" or len(v.split()) > 3) for v in values
        )

    pairs: dict[tuple, list] = {}
    for side, (version, variables) in enumerate(((old, v_old), (new, v_new))):
        seen: dict[tuple, int] = {}
        for doc in SHOWN_IN:
            for place in _places(version, doc, is_text):
                n = seen[(doc, place.keys)] = seen.get((doc, place.keys), 0) + 1
                entry = pairs.setdefault((doc, place.keys, n), [None, None, place])
                entry[side] = _display(place, variables, version)
    items: list[Shown] = []
    for (doc, keys, _), (a, b, _place) in sorted(
        pairs.items(), key=lambda kv: SHOWN_IN.index(kv[0][0])
    ):
        if a == b:
            continue
        kind = "text" if is_text(keys[0]) or keys[0].startswith("include:") else "number"
        item = Shown(_label(keys, new if b is not None else old), keys, (doc,), kind, a, b)
        items = _merge(items, item)
    return tuple(items), "variables", ""


def _merge(items: list[Shown], item: Shown) -> list[Shown]:
    """``items`` + ``item``, or with ``item``'s documents added to one that displays it already."""

    def within(part: str | None, whole: str | None) -> bool:
        return part == whole or (part is not None and whole is not None and part in whole)

    for n, other in enumerate(items):
        same = (other.kind, other.old, other.new) == (item.kind, item.old, item.new)
        inside = set(item.keys) <= set(other.keys) and within(item.old, other.old)
        if same or (inside and within(item.new, other.new)):
            docs = other.documents + tuple(d for d in item.documents if d not in other.documents)
            items[n] = Shown(other.label, other.keys, docs, other.kind, other.old, other.new)
            return items
    return [*items, item]


def _summary_shown(old: Path, new: Path, m_old: dict, m_new: dict, old_missing: bool):
    """The manifests' summary (patients, PSA50) for versions without ``variables.yml``."""
    which = old if old_missing else new
    note = (
        f"{which.name} does not keep the values its documents displayed ({VARIABLES}, "
        f"{SOURCES}/: built by an earlier psma-rwe); rebuild it to compare every number "
        "of the abstract and poster"
    )

    def line(m: dict) -> tuple[str | None, str | None]:
        s = m.get("summary")
        if not isinstance(s, dict):
            return None, None
        n, pct = s.get("psa50_n"), s.get("psa50_pct")
        psa50 = None
        if isinstance(n, int):
            psa50 = f"{n:,}" + (f" ({pct:.1f}%)" if isinstance(pct, int | float) else "")
        patients = s.get("n_patients")
        return (f"{patients:,}" if isinstance(patients, int) else None), psa50

    (pa, ra), (pb, rb) = line(m_old), line(m_new)
    if (pa, ra, pb, rb) == (None,) * 4:
        return (), "none", note.replace("; rebuild", " and its manifest has no summary; rebuild")
    items = []
    for label, key, a, b in (
        ("Patients", "summary.n_patients", pa, pb),
        ("PSA50 response", "summary.psa50", ra, rb),
    ):
        if a != b:
            items.append(Shown(label, (key,), SHOWN_IN, "number", a, b))
    return tuple(items), "manifest summary", note


# --- abstract ---------------------------------------------------------------------------


def _headings(lines: list[str]) -> list[str]:
    """For each line of abstract.txt, the heading of the section it is in."""
    out, current = [], "Title"
    for i, line in enumerate(lines):
        blank_around = (i == 0 or not lines[i - 1].strip()) and (
            i + 1 == len(lines) or not lines[i + 1].strip()
        )
        words = line.split()
        table = re.match(r"(Table \d+)[:.]", line)
        if table:
            current = table.group(1)
        elif (
            i > 0
            and blank_around
            and "\t" not in line
            and 0 < len(words) <= 5
            and not line.rstrip().endswith((".", ":", ";", ","))
        ):
            current = line.strip()
        out.append(current)
    return out


def _paragraphs(old: list[str], new: list[str]) -> tuple[Paragraph, ...]:
    out = []
    where_old, where_new = _headings(old), _headings(new)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        # non-blank lines of the block, paired in order; the extra ones added or removed
        a = [(where_old[i], old[i]) for i in range(i1, i2) if old[i].strip()]
        b = [(where_new[j], new[j]) for j in range(j1, j2) if new[j].strip()]
        for (_, x), (where, y) in zip(a, b, strict=False):
            out.append(Paragraph(where, x, y, word_diff(x, y)))
        out += [Paragraph(where, x, None, (("-", x),)) for where, x in a[len(b) :]]
        out += [Paragraph(where, None, y, (("+", y),)) for where, y in b[len(a) :]]
    return tuple(out)


# --- tables -----------------------------------------------------------------------------


def _numbers(version: Path) -> dict[str, list[tuple[str, int, str]]]:
    from analysis.diff_tables import table_numbers

    out: dict[str, list[tuple[str, int, str]]] = {}
    for doc in DOCUMENTS:
        page = _text(version, f"{doc}.html")
        for gt, (number, caption) in table_numbers(page or "").items():
            out.setdefault(gt, []).append((doc, number, caption))
    return out


def _table_changes(old: Path, new: Path) -> tuple[TableChange, ...]:
    from analysis.diff_tables import read_tables

    t_old, t_new = read_tables(old), read_tables(new)
    n_old, n_new = _numbers(old), _numbers(new)
    out = []
    for name in sorted(set(t_old) | set(t_new)):
        gid_a, a = t_old.get(name, (None, None))
        gid_b, b = t_new.get(name, (None, None))
        cells = _cells(a, b)
        if not cells:
            continue
        places = n_new.get(gid_b or "", []) or n_old.get(gid_a or "", [])
        title = places[0][2] if places else (b or a).title or name
        numbers = tuple((doc, number) for doc, number, _ in places)
        out.append(TableChange(name, title, numbers, tuple(cells)))

    def order(t: TableChange):
        docs = dict(t.numbers)
        for rank, doc in enumerate(DOCUMENTS):
            if doc in docs:
                return (rank, docs[doc], t.name)
        return (len(DOCUMENTS), 0, t.name)

    return tuple(sorted(out, key=order))


def _cells(a, b) -> list[Cell]:
    """The changed cells from table ``a`` to ``b`` (either may be ``None``)."""
    out = []
    rows_a = {key: cells for key, _, cells in (a.rows if a else ())}
    rows_b = {key: cells for key, _, cells in (b.rows if b else ())}
    labels: dict[tuple[str, ...], str] = {}
    for table in (b, a):
        for _, _, cells in table.rows if table else ():
            for col in cells:
                labels.setdefault(col, table.column_label(col) or " › ".join(col))
    if a and b:
        for hid, y in b.headers.items():
            x = a.headers.get(hid)
            if x is not None and x != y:
                out.append(Cell("(column header)", x, x, y))
    order = [k for k, _, _ in (b.rows if b else ())]
    order += [k for k, _, _ in (a.rows if a else ()) if k not in rows_b]
    for key in order:
        x, y = rows_a.get(key, {}), rows_b.get(key, {})
        for col in [*y, *(c for c in x if c not in y)]:
            if x.get(col) != y.get(col):
                out.append(Cell(key, labels[col], x.get(col), y.get(col)))
    notes_a, notes_b = (a.notes if a else ()), (b.notes if b else ())
    for k in range(max(len(notes_a), len(notes_b))):
        x = notes_a[k] if k < len(notes_a) else None
        y = notes_b[k] if k < len(notes_b) else None
        if x != y:
            out.append(Cell("(note)", str(k + 1), x, y))
    return out


# --- the comparison -----------------------------------------------------------------------


def diff_versions(old: Path, new: Path) -> VersionDiff:
    """What changed from ``old`` to ``new``; both are verified against their manifests first.

    Parameters
    ----------
    old, new : Path
        Version folders (:func:`resolve_version`).

    Returns
    -------
    VersionDiff

    Raises
    ------
    PsmaRweError
        A damaged version (manifest unreadable or incomplete, a listed file altered,
        missing or not UTF-8), naming the version and the file.
    """
    m_old, m_new = load_manifest(old), load_manifest(new)
    verify_version(old, m_old)
    verify_version(new, m_new)
    inputs = []
    a, b = m_old["inputs"], m_new["inputs"]
    for name in sorted(set(a) | set(b)):
        if name not in a:
            inputs.append((name, "added"))
        elif name not in b:
            inputs.append((name, "removed"))
        elif a[name]["sha256"] != b[name]["sha256"]:
            inputs.append((name, "changed"))

    def results(p: Path) -> dict:
        text = _text(p, "results.json")
        if text is None:
            raise _damaged(p, "results.json is missing")
        try:
            return flatten(json.loads(text))
        except json.JSONDecodeError as exc:
            raise _damaged(p, f"results.json is not valid JSON ({exc})") from None

    r_old, r_new = results(old), results(new)
    missing = object()
    values = []
    for path in sorted(set(r_old) | set(r_new)):
        x, y = r_old.get(path, missing), r_new.get(path, missing)
        if x != y:
            values.append((path, None if x is missing else x, None if y is missing else y))

    shown, source, note = _shown(old, new, m_old, m_new)
    lines_old = (_text(old, "abstract.txt") or "").splitlines()
    lines_new = (_text(new, "abstract.txt") or "").splitlines()

    def length(m: dict) -> dict | None:
        got = m.get("abstract_length")
        return got if isinstance(got, dict) else None

    return VersionDiff(
        old=old,
        new=new,
        inputs=tuple(inputs),
        values=tuple(values),
        shown=shown,
        shown_source=source,
        shown_note=note,
        paragraphs=_paragraphs(lines_old, lines_new),
        length_old=length(m_old),
        length_new=length(m_new),
        tables=_table_changes(old, new),
    )
