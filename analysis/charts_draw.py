"""Drawing the charts and the files around them: SVG, PDF and PNG through vl-convert,
the deterministic JSON, the interactive HTML fragment and the offline Vega runtime.

Every drawing is a function of its spec (and of the fonts vl-convert sees):
:func:`to_svg` keeps the latest drawings, :func:`to_pdf` converts the SVG it
drew, and :func:`stable_pdf` puts the only varying bytes of vl-convert's PDF
(the order of a page's font resource entries) in a fixed order, so the same
results give byte-identical files.  :mod:`analysis.charts` builds the specs and
gives these functions under its own name too.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from analysis import fonts
from analysis.files import write_atomic

#: Vega-Lite version used for conversion and for the browser runtime.
VL_VERSION = "6.4"


def spec_json(spec: dict[str, Any]) -> str:
    """The spec as deterministic JSON: sorted keys, two-space indent, trailing newline."""
    return json.dumps(spec, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


_RESOURCE_DICT = re.compile(
    rb"(/(?:Font|XObject|ExtGState|Pattern|Shading|ColorSpace|Properties) <<\n)"
    rb"((?:[ \t]+/[^\n]*\n)+)"
    rb"([ \t]*>>)"
)
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_XREF_HEAD = re.compile(rb"xref\r?\n0 (\d+)\r?\n")
_XREF_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])\s{2}")
_REF = re.compile(rb"(?<![\d.])(\d+) 0 R\b")
_STREAM = re.compile(rb">>\s*stream\r?\n")


def _sort_resource_entries(data: bytes) -> bytes:
    def sort_lines(m: re.Match[bytes]) -> bytes:
        lines = m.group(2).splitlines(keepends=True)
        if not all(re.fullmatch(rb"[ \t]+/\S+ [^\n<>\[\]]*\n", ln) for ln in lines):
            return m.group(0)
        return m.group(1) + b"".join(sorted(lines)) + m.group(3)

    return _RESOURCE_DICT.sub(sort_lines, data)


def _split_object(chunk: bytes) -> tuple[bytes, bytes]:
    """(text part, stream part) of one ``N 0 obj ... endobj`` chunk."""
    m = _STREAM.search(chunk)
    return (chunk, b"") if m is None else (chunk[: m.end()], chunk[m.end() :])


def stable_pdf(data: bytes) -> bytes:
    """vl-convert's PDF in a canonical byte order.

    svg2pdf (inside vl-convert) writes no dates and no /ID, but it writes the
    font objects, and so numbers their descendant objects, in hash-map order,
    and lists a page's resource entries (``/fo0 1 0 R``, ``/fo1 2 0 R``) in
    that order too, so the bytes change from run to run.  This sorts those
    dictionary entries, renumbers the objects in the order they are reached
    from the trailer (breadth first, references in the order they appear) and
    writes them in that order with a rebuilt cross-reference table.  The
    objects' contents (streams included) are unchanged.  A file not laid out
    as expected (one classic xref table) is returned with only the entries
    sorted.
    """
    data = _sort_resource_entries(data)
    end = _STARTXREF.search(data)
    head = _XREF_HEAD.match(data, int(end.group(1))) if end else None
    if head is None:
        return data
    xref_at, count, pos = int(end.group(1)), int(head.group(1)), head.end()
    offsets: dict[int, int] = {}
    for number in range(count):
        entry = _XREF_ENTRY.match(data, pos)
        if entry is None:
            return data
        if entry.group(3) == b"n":
            offsets[number] = int(entry.group(1))
        pos = entry.end()
    if not data.startswith(b"trailer", pos) or not offsets:
        return data
    trailer = data[pos : end.start()]

    by_offset = sorted(offsets.items(), key=lambda item: item[1])
    parts: dict[int, tuple[bytes, bytes]] = {}
    for i, (number, start) in enumerate(by_offset):
        stop = by_offset[i + 1][1] if i + 1 < len(by_offset) else xref_at
        chunk = data[start:stop]
        prefix = b"%d 0 obj" % number
        if not chunk.startswith(prefix):
            return data
        parts[number] = _split_object(chunk[len(prefix) :])

    def refs(text: bytes) -> list[int]:
        return [int(m.group(1)) for m in _REF.finditer(text)]

    order: list[int] = []
    queue = [n for n in refs(trailer) if n in parts]
    seen = set(queue)
    while queue:
        number = queue.pop(0)
        order.append(number)
        for ref in refs(parts[number][0]):
            if ref in parts and ref not in seen:
                seen.add(ref)
                queue.append(ref)
    order += sorted(set(parts) - seen)
    new_number = {old: i for i, old in enumerate(order, start=1)}

    def renumber(text: bytes) -> bytes:
        return _REF.sub(lambda m: b"%d 0 R" % new_number.get(int(m.group(1)), 0), text)

    out = bytearray(data[: by_offset[0][1]])
    new_offsets = []
    for old in order:
        text, stream = parts[old]
        new_offsets.append(len(out))
        out += b"%d 0 obj" % new_number[old] + renumber(text) + stream
    xref = len(out)
    size = len(order) + 1
    out += b"xref\n0 %d\n0000000000 65535 f\r\n" % size
    for offset in new_offsets:
        out += b"%010d 00000 n\r\n" % offset
    trailer = re.sub(rb"/Size \d+", b"/Size %d" % size, renumber(trailer))
    out += trailer + b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


#: SVGs drawn lately, by spec and registered font folders, most recent last: fitting a
#: poster chart draws one spec more than once, and a chart's PDF is made from its SVG.
_SVG_MEMO: OrderedDict[tuple[frozenset[Path], str], str] = OrderedDict()
_SVG_MEMO_SIZE = 32
_SVG_MEMO_LOCK = threading.Lock()


def to_svg(spec: dict[str, Any]) -> str:
    """The chart as vl-convert draws it, SVG.

    Drawings are kept for the :data:`_SVG_MEMO_SIZE` specs seen last (the key is
    the spec's JSON in its own key order and the font folders vl-convert
    sees), so asking again for the same spec costs no drawing.  Threads may
    call this at once: vl-convert draws outside the GIL.
    """
    vlc = fonts.vl_convert()
    key = (fonts.vl_font_dirs(), json.dumps(spec, ensure_ascii=False, separators=(",", ":")))
    with _SVG_MEMO_LOCK:
        if key in _SVG_MEMO:
            _SVG_MEMO.move_to_end(key)
            return _SVG_MEMO[key]
    svg = vlc.vegalite_to_svg(spec, vl_version=VL_VERSION)
    with _SVG_MEMO_LOCK:
        _SVG_MEMO[key] = svg
        while len(_SVG_MEMO) > _SVG_MEMO_SIZE:
            _SVG_MEMO.popitem(last=False)
    return svg


def to_pdf(spec: dict[str, Any]) -> bytes:
    """The chart as a one-page PDF: vl-convert's PDF of :func:`to_svg`'s drawing.

    ``vegalite_to_pdf`` draws the SVG and converts it the same way, so the
    bytes are the same (``tests/test_charts_write.py`` checks it); converting the
    drawing that :func:`to_svg` keeps saves a second run of Vega.
    """
    vlc = fonts.vl_convert()

    return stable_pdf(vlc.svg_to_pdf(to_svg(spec)))


def to_png(spec: dict[str, Any], scale: float = 2.0) -> bytes:
    vlc = fonts.vl_convert()

    return vlc.vegalite_to_png(spec, vl_version=VL_VERSION, scale=scale)


def _script_json(value: Any) -> str:
    """Compact JSON that is safe inside a ``<script>`` element."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, esc)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def embed_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec as embedded in HTML: without the ``$schema`` URL."""
    return {k: v for k, v in spec.items() if k != "$schema"}


def interactive_html(name: str, spec: dict[str, Any]) -> str:
    """A ``<div>`` + ``<script>`` fragment drawing ``spec`` with the page's vegaEmbed."""
    div_id = f"fig-{name}-interactive"
    options = _script_json({"actions": False, "mode": "vega-lite", "renderer": "svg"})
    return (
        f'<div id="{div_id}" class="vega-figure"></div>\n'
        "<script>\n"
        "(function () {\n"
        f"  var spec = {_script_json(embed_spec(spec))};\n"
        "  function draw() {\n"
        f'    window.vegaEmbed("#{div_id}", spec, {options}).catch(function (err) {{\n'
        f'      console.error("fig-{name}:", err);\n'
        "    });\n"
        "  }\n"
        "  if (window.vegaEmbed) {\n"
        "    draw();\n"
        "  } else {\n"
        '    window.addEventListener("DOMContentLoaded", draw);\n'
        "  }\n"
        "})();\n"
        "</script>\n"
    )


def cache_dir() -> Path:
    """Where psma-rwe caches what does not depend on the inputs (``PSMA_RWE_CACHE``,
    else ``$XDG_CACHE_HOME/psma-rwe``, else ``~/.cache/psma-rwe``)."""
    import os

    if os.environ.get("PSMA_RWE_CACHE"):
        return Path(os.environ["PSMA_RWE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "psma-rwe"


def runtime_html() -> str:
    """``<script>`` with the offline Vega/Vega-Lite/vega-embed bundle (defines window.vegaEmbed).

    :func:`vl_convert.javascript_bundle` returns a classic script (no import
    or export statements) that assigns ``vegaEmbed``, ``vega`` and
    ``vegaLite`` to ``window``.  Making it takes 1.5-3 s, and it depends only on
    the vl-convert and Vega-Lite versions, so it is cached per version in
    :func:`cache_dir` (outside every version folder and the inputs' hash; the
    file it gives is the same either way).  A cache that cannot be read or
    written is skipped.
    """
    from importlib.metadata import version

    digest_name = f"vega-runtime-vlc{version('vl-convert-python')}-vl{VL_VERSION}"
    cached = cache_dir() / f"{digest_name}.html"
    check = cache_dir() / f"{digest_name}.sha256"
    try:
        data = cached.read_bytes()
        if hashlib.sha256(data).hexdigest() == check.read_text(encoding="ascii").strip():
            return data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    vlc = fonts.vl_convert()
    bundle = vlc.javascript_bundle(vl_version=VL_VERSION)
    bundle = re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)
    text = f'<script id="vega-runtime">\n{bundle}\n</script>\n'
    try:
        data = text.encode("utf-8")
        write_atomic(cached, data)
        write_atomic(check, hashlib.sha256(data).hexdigest().encode("ascii") + b"\n")
    except OSError:
        pass
    return text
