"""Expand Quarto shortcodes in a ``.qmd`` source before pandoc parses it.

Three shortcodes are supported, plus Quarto's escape form:

``{{< include path >}}``
    Pastes a file in.  A path starting with ``/`` is relative to the project
    root (as in Quarto).  Any other path is relative to the *including* file
    (as in Quarto); if no such file exists it is tried relative to the project
    root (our extension, so ``tables/x.html`` works from ``report/x.qmd`` as
    well as ``../tables/x.html``).  Paths may not leave the project folder.
    An ``.html``/``.htm`` file included on a line of its own becomes a fenced
    raw HTML block, so pandoc keeps it as one raw block however many blank
    lines it holds.  Includes nest; a cycle is an error.
``{{< var key.sub >}}``
    Dotted lookup in ``_variables.yml``.
``{{< meta key.sub >}}``
    Dotted lookup in the document's metadata merged over ``_quarto.yml``'s
    format-independent keys (see :func:`analysis.render.project.lookup_metadata`).
``{{< pagebreak >}}``
    A page break (a ``.psma-pagebreak`` div the Lua filter turns into each
    format's page break).
``{{{< ... >}}}``
    Escape: comes out literally as ``{{< ... >}}``.

``var`` and ``meta`` values are not pasted into the markdown (where ``<script>``
would become raw HTML and ``*`` emphasis): each occurrence becomes an
alphanumeric placeholder token, and ``filters/shortcodes.lua`` puts the value
back as plain text (escaped by pandoc's writers), wherever the token ended up:
prose, code, link targets, attributes, metadata, or raw HTML (HTML-escaped).
An unknown key is a :class:`~analysis.errors.PsmaRweError` naming the key and
the file.

The tokens carry a random nonce drawn for each render (:func:`new_nonce`), and
the pipeline draws another one while the nonce occurs in anything the render
reads (:meth:`ShortcodeExpander.nonce_collides`): a data string shaped like a
token (a race value ``QSCX00000XQSC`` in an included table) is never taken for
one and prints as written.  Every token is replaced, so the nonce never
reaches an output and the outputs stay byte-identical from render to render.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import secrets
import shlex
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.errors import PsmaRweError

#: Placeholder token for the n-th value of a render with nonce ``nonce``;
#: letters and digits only, so no markdown extension splits or rewrites it.
PLACEHOLDER = "QSCX{nonce}{index:05d}XQSC"
#: Length of the nonce (capital letters: 26**20, about 2**94, values).
NONCE_LENGTH = 20
#: Marks for the escaped shortcodes ``{{{< >}}}`` while the others are expanded.
_ESCAPE_MARK = "\x00PSMAESC{nonce}{index}\x00"

_ESCAPED = re.compile(r"\{\{\{<(.*?)>\}\}\}", re.DOTALL)
_SHORTCODE = re.compile(r"\{\{<\s*(.*?)\s*>\}\}", re.DOTALL)
_HTML_SUFFIXES = {".html", ".htm"}
_MAX_DEPTH = 20


def new_nonce() -> str:
    """A random nonce for the placeholder tokens of one render (capital letters)."""
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(NONCE_LENGTH))


def split_front_matter(text: str) -> tuple[str | None, str]:
    """Split a leading ``---`` YAML block off ``text``: ``(yaml_text or None, body)``.

    The body keeps as many blank lines as the YAML block had lines, so line
    numbers in pandoc's messages still match the source file.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        return None, text
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            yaml_text = "".join(lines[1:i])
            return yaml_text, "\n" * (i + 1) + "".join(lines[i + 1 :])
    return None, text


def scalar_text(value: Any, key: str, where: str) -> str:
    """The text Quarto would print for a YAML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (str, int, float, _dt.date)):
        return str(value)
    if isinstance(value, list) and all(
        isinstance(v, (str, int, float, bool, _dt.date)) for v in value
    ):
        return ", ".join(scalar_text(v, key, where) for v in value)
    raise PsmaRweError(
        f"{where}: shortcode key '{key}' holds a {type(value).__name__}, not a printable "
        f"value; name one of its entries (e.g. '{key}.name')"
    )


def dotted_lookup(data: Any, key: str) -> tuple[bool, Any]:
    """Look ``a.b.c`` up in nested dicts (list entries by index): ``(found, value)``."""
    node = data
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


@dataclass
class ShortcodeExpander:
    """Expands shortcodes of one document; collects the placeholder values.

    Parameters
    ----------
    project_dir : Path
        Project root (absolute).
    variables : dict
        Contents of ``_variables.yml``.
    metadata : dict
        Metadata ``{{< meta >}}`` looks keys up in.
    nonce : str
        Capital letters in every placeholder token (default: :func:`new_nonce`).
    """

    project_dir: Path
    variables: dict
    metadata: dict
    nonce: str = ""
    values: list[str] = field(default_factory=list)
    #: Text of every file :meth:`expand` was given (sources and includes).
    inputs: list[str] = field(default_factory=list)
    _index: dict[str, int] = field(default_factory=dict)
    _escapes: int = 0

    def __post_init__(self) -> None:
        self.nonce = self.nonce or new_nonce()
        if not re.fullmatch(r"[A-Z]+", self.nonce):
            raise ValueError(f"placeholder nonce must be capital letters, got {self.nonce!r}")
        self._token_re = re.compile(rf"QSCX{self.nonce}(\d+)XQSC")

    def placeholder(self, index: int) -> str:
        """The token standing for the ``index``-th value."""
        return PLACEHOLDER.format(nonce=self.nonce, index=index)

    def nonce_collides(self, *more: Any) -> bool:
        """Does the nonce occur in an input read so far, a value, or in ``more``?

        ``more``: further inputs (texts, or YAML data, checked as their JSON).
        When it does, a data string could pass for a token: render with a new nonce.
        """
        texts = [*self.inputs, *self.values]
        texts += [
            m if isinstance(m, str) else json.dumps(m, default=str, ensure_ascii=False)
            for m in more
        ]
        return any(self.nonce in t for t in texts)

    # -- public -----------------------------------------------------------

    def expand(self, text: str, path: Path, _stack: tuple[Path, ...] = ()) -> str:
        """Expand every shortcode in ``text``, which was read from ``path``."""
        if len(_stack) > _MAX_DEPTH:
            raise PsmaRweError(f"{self._rel(path)}: includes nested more than {_MAX_DEPTH} deep")
        self.inputs.append(text)
        escaped: dict[str, str] = {}

        def stash(m: re.Match) -> str:
            mark = _ESCAPE_MARK.format(nonce=self.nonce, index=self._escapes)
            self._escapes += 1
            escaped[mark] = "{{<" + m.group(1) + ">}}"
            return mark

        text = _ESCAPED.sub(stash, text)
        out: list[str] = []
        for line in text.splitlines(keepends=True):
            out.append(self._expand_line(line, path, (*_stack, path)))
        result = "".join(out)
        for mark, original in escaped.items():
            result = result.replace(mark, original)
        return result

    def value_text(self, kind: str, key: str, path: Path, depth: int = 0) -> str:
        """The plain text of ``{{< kind key >}}`` (nested shortcodes expanded as text)."""
        source = self.variables if kind == "var" else self.metadata
        found, value = dotted_lookup(source, key)
        if not found:
            where = "_variables.yml" if kind == "var" else "the document metadata or _quarto.yml"
            raise PsmaRweError(
                f"{self._rel(path)}: unknown {kind} key '{key}' in shortcode "
                f"{{{{< {kind} {key} >}}}} (not found in {where})"
            )
        text = scalar_text(value, key, self._rel(path))
        # metadata parsed from already-expanded front matter holds placeholders
        text = self.resolve(text)
        if "{{<" in text and depth < _MAX_DEPTH:
            text = _SHORTCODE.sub(lambda m: self._nested_text(m, path, depth + 1), text)
        return text

    def resolve(self, value: Any) -> Any:
        """``value`` (nested lists/dicts) with placeholder tokens replaced by their text.

        For the few metadata values Python itself reads (layout keys, flags).
        """
        if isinstance(value, str):
            return self._token_re.sub(lambda m: self.values[int(m.group(1))], value)
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    # -- internals ----------------------------------------------------------

    def _rel(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.project_dir).as_posix()
        except ValueError:
            return str(path)

    def _nested_text(self, m: re.Match, path: Path, depth: int) -> str:
        name, args = self._parse(m.group(1), path)
        if name in ("var", "meta") and len(args) == 1:
            return self.value_text(name, args[0], path, depth)
        return m.group(0)

    def _parse(self, inner: str, path: Path) -> tuple[str, list[str]]:
        try:
            parts = shlex.split(inner)
        except ValueError as exc:
            raise PsmaRweError(
                f"{self._rel(path)}: cannot parse shortcode {{{{< {inner} >}}}}: {exc}"
            ) from None
        if not parts:
            raise PsmaRweError(f"{self._rel(path)}: empty shortcode {{{{< >}}}}")
        return parts[0], parts[1:]

    def _placeholder(self, value: str) -> str:
        if value not in self._index:
            self._index[value] = len(self.values)
            self.values.append(value)
        return self.placeholder(self._index[value])

    def _expand_line(self, line: str, path: Path, stack: tuple[Path, ...]) -> str:
        stripped = line.strip()
        whole = _SHORTCODE.fullmatch(stripped)
        if whole:
            name, args = self._parse(whole.group(1), path)
            if name == "include":
                return self._include(args, path, stack, own_line=True)
            if name == "pagebreak":
                return "\n::: {.psma-pagebreak}\n:::\n\n"
        return _SHORTCODE.sub(lambda m: self._inline(m, path, stack), line)

    def _inline(self, m: re.Match, path: Path, stack: tuple[Path, ...]) -> str:
        name, args = self._parse(m.group(1), path)
        if name in ("var", "meta"):
            if len(args) != 1:
                raise PsmaRweError(
                    f"{self._rel(path)}: {{{{< {name} >}}}} takes one key, got {args!r}"
                )
            return self._placeholder(self.value_text(name, args[0], path))
        if name == "include":
            return self._include(args, path, stack, own_line=False).rstrip("\n")
        raise PsmaRweError(
            f"{self._rel(path)}: unsupported shortcode '{name}' in {m.group(0)} "
            "(supported: include, var, meta, pagebreak)"
        )

    def _resolve_include(self, target: str, path: Path) -> Path:
        root = self.project_dir
        if target.startswith("/"):
            candidates = [root / target.lstrip("/")]
        else:
            candidates = [path.parent / target, root / target]
        inside = [c.resolve() for c in candidates if c.resolve().is_relative_to(root)]
        if not inside:
            raise PsmaRweError(
                f"{self._rel(path)}: include path '{target}' points outside the project"
            )
        for resolved in inside:
            if resolved.is_file():
                return resolved
        raise PsmaRweError(
            f"{self._rel(path)}: included file '{target}' not found "
            f"(looked for {', '.join(self._rel(c) for c in inside)})"
        )

    def _include(self, args: list[str], path: Path, stack: tuple[Path, ...], own_line: bool) -> str:
        if len(args) != 1:
            raise PsmaRweError(
                f"{self._rel(path)}: {{{{< include >}}}} takes one path, got {args!r}"
            )
        target = self._resolve_include(args[0], path)
        if target in stack:
            chain = " -> ".join(self._rel(p) for p in (*stack, target))
            raise PsmaRweError(f"include cycle: {chain}")
        content = self.expand(target.read_text(encoding="utf-8"), target, stack)
        if not content.endswith("\n"):
            content += "\n"
        if own_line and target.suffix.lower() in _HTML_SUFFIXES:
            from analysis.render.includes import fenced_html

            return f"\n{fenced_html(content)}\n"
        return content
