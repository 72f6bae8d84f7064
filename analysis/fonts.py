"""The fonts every PDF, SVG and PNG is set in, and nothing else.

Typst and vl-convert normally look for fonts on the machine, so the same
inputs could give other bytes wherever another version of a font, or another
font of the same family name, happens to be installed.  Here both see only:

* the **bundled fonts**, installed from PyPI with the package (SIL Open Font
  Licence 1.1): Lato (sans: headings, tables, charts, the poster), IBM Plex
  Serif (body text of the abstract and supplement) and IBM Plex Mono (code);
* the **project fonts**: every ``.ttf``, ``.otf`` or ``.ttc`` file in the
  project's ``fonts/`` folder, for scripts the bundled fonts lack (Chinese,
  Japanese, Korean, Arabic, …).  They are inputs like the data: hashed into the
  version, listed in the manifest, and used only where a character is missing
  from the bundled fonts (Typst's and vl-convert's glyph fallback).

System fonts are never used.  What remains are the fonts compiled into the
two libraries, fixed by their locked versions: Typst's embedded fonts (New
Computer Modern Math sets any maths; the others are a last-resort glyph
fallback) and vl-convert's built-in Liberation fonts (a last resort for chart
text, which names Lato).  The manifest lists every font file with its SHA-256,
and Typst's embedded faces by family and Typst version.

This module imports nothing heavy: the no-op build hashes the fonts too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from analysis.errors import PsmaRweError

SANS = "Lato"
SERIF = "IBM Plex Serif"
MONO = "IBM Plex Mono"

#: (module of the PyPI font package, family, file name, style, weight) of each bundled face.
BUNDLED: tuple[tuple[str, str, str, str, int], ...] = (
    ("fontpkg_lato", SANS, "Lato-Regular.ttf", "normal", 400),
    ("fontpkg_lato", SANS, "Lato-Italic.ttf", "italic", 400),
    ("fontpkg_lato", SANS, "Lato-Bold.ttf", "normal", 700),
    ("fontpkg_lato", SANS, "Lato-BoldItalic.ttf", "italic", 700),
    ("fontpkg_ibm_plex_serif", SERIF, "IBMPlexSerif-Regular.ttf", "normal", 400),
    ("fontpkg_ibm_plex_serif", SERIF, "IBMPlexSerif-Italic.ttf", "italic", 400),
    ("fontpkg_ibm_plex_serif", SERIF, "IBMPlexSerif-Bold.ttf", "normal", 700),
    ("fontpkg_ibm_plex_serif", SERIF, "IBMPlexSerif-BoldItalic.ttf", "italic", 700),
    ("fontpkg_ibm_plex_mono", MONO, "IBMPlexMono-Regular.ttf", "normal", 400),
    ("fontpkg_ibm_plex_mono", MONO, "IBMPlexMono-Bold.ttf", "normal", 700),
)

#: Folder of a project that holds its own fonts.
PROJECT_FONTS_DIR = "fonts"
FONT_SUFFIXES = frozenset({".ttf", ".otf", ".ttc", ".otc"})


@dataclass(frozen=True)
class FontFile:
    """One font file the renderers may use.

    Attributes
    ----------
    family, style, weight
        What the documents name it by (for project fonts: the file name, the
        family is read by Typst when the manifest is written).
    path
        Where it is on this machine.
    source
        ``"psma-rwe (PyPI package <name>)"`` or ``"project fonts/"``.
    """

    family: str
    style: str
    weight: int
    path: Path
    source: str

    @property
    def sha256(self) -> str:
        return _sha256(self.path)


@cache
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        dist = module.replace("_", "-")
        raise PsmaRweError(
            f"the bundled font package {dist} is not installed; reinstall psma-rwe "
            "(see README.md: the set-up command installs it)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def bundled_fonts() -> list[FontFile]:
    """The bundled faces, in a fixed order."""
    out = []
    for module, family, name, style, weight in BUNDLED:
        path = _package_dir(module) / "files" / name
        if not path.is_file():
            raise PsmaRweError(f"bundled font file missing: {path}; reinstall psma-rwe")
        source = f"PyPI package {module.replace('_', '-')}"
        out.append(FontFile(family, style, weight, path, source))
    return out


def project_fonts(project_dir: Path) -> list[FontFile]:
    """Font files in ``<project>/fonts/`` (any depth), sorted by path."""
    folder = Path(project_dir) / PROJECT_FONTS_DIR
    if not folder.is_dir():
        return []
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in FONT_SUFFIXES
    )
    return [
        FontFile("", "", 0, p, f"project {p.relative_to(project_dir).as_posix()}") for p in files
    ]


def font_set(project_dir: Path) -> list[FontFile]:
    """Every font a build of this project may use: bundled first, then the project's."""
    return [*bundled_fonts(), *project_fonts(project_dir)]


def manifest_entries(fonts: list[FontFile], embedded: bool = True) -> list[dict]:
    """Family, style, weight, file name, SHA-256 and source of each font (for manifest.json).

    With ``embedded``, Typst's embedded faces follow (no file: ``file`` and
    ``sha256`` are null, ``source`` names the Typst version that carries them).
    """
    families = _typst_families([f.path for f in fonts if not f.family])
    out = []
    for f in fonts:
        named = families.get(f.path, []) if not f.family else [(f.family, f.style, f.weight)]
        for family, style, weight in named or [("", "", 0)]:
            out.append(
                {
                    "family": family,
                    "style": style,
                    "weight": weight,
                    "file": f.path.name,
                    "sha256": f.sha256,
                    "source": f.source,
                }
            )
    if embedded:
        out.extend(_typst_embedded())
    return out


def _typst_embedded() -> list[dict]:
    from importlib.metadata import version

    import typst

    source = f"embedded in typst {version('typst')} (Python package)"
    faces = typst.Fonts(include_system_fonts=False, include_embedded_fonts=True).fonts()
    return [
        {
            "family": i.family,
            "style": i.style,
            "weight": int(i.weight),
            "file": None,
            "sha256": None,
            "source": source,
        }
        for i in sorted(faces, key=lambda i: (i.family, i.style, int(i.weight)))
        if i.path is None
    ]


def _typst_families(paths: list[Path]) -> dict[Path, list[tuple[str, str, int]]]:
    if not paths:
        return {}
    import typst

    folders = sorted({p.parent for p in paths})
    found = typst.Fonts(
        include_system_fonts=False,
        include_embedded_fonts=False,
        font_paths=[str(f) for f in folders],
    ).fonts()
    out: dict[Path, list[tuple[str, str, int]]] = {}
    for info in found:
        if info.path and Path(info.path) in paths:
            out.setdefault(Path(info.path), []).append((info.family, info.style, int(info.weight)))
    return {k: sorted(v) for k, v in out.items()}


def link_fonts(fonts: list[FontFile], folder: Path) -> Path:
    """Hard-link (or copy) the font files into ``folder``, numbered in order; returns it.

    Typst reads fonts from folders: the embedded renderer's and Quarto's
    (``_psma/fonts``, :mod:`analysis.render.quarto`) both come from here.
    """
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    for i, font in enumerate(fonts):
        target = folder / f"{i:03d}-{font.path.name}"
        if target.exists():
            continue
        try:
            os.link(font.path, target)
        except OSError:
            shutil.copyfile(font.path, target)
    return folder


def typst_fonts(fonts: list[FontFile], folder: Path):
    """A ``typst.Fonts`` of these files and Typst's embedded fonts, no system fonts.

    Typst reads fonts from folders, so the files are linked (or copied) into
    ``folder`` first, a folder of the build's own (its work folder).
    """
    import typst

    link_fonts(fonts, folder)
    return typst.Fonts(
        include_system_fonts=False, include_embedded_fonts=True, font_paths=[str(folder)]
    )


# --- vl-convert -----------------------------------------------------------------

_VL_LOCK = threading.Lock()
_VL_DIRS: set[Path] = set()
_VL_READY = False

_FONTCONFIG = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<!-- psma-rwe: vl-convert sees no system fonts; the bundled ones are registered. -->
<fontconfig><dir>{empty}</dir></fontconfig>
"""


def vl_convert(fonts: list[FontFile] | None = None):
    """``vl_convert``, set up to see only the bundled (and given) fonts.

    vl-convert builds its font database once per process, on first use, from
    the fontconfig configuration (``FONTCONFIG_FILE``) or, when that names no
    folder, from the usual system folders.  The first call here points
    ``FONTCONFIG_FILE`` at a configuration whose only folder is empty while the
    database is built, then restores the environment, and registers the
    folders of the bundled fonts (and of ``fonts``, e.g. a project's).  Every
    use of vl-convert in the package goes through this function.
    """
    global _VL_READY
    import vl_convert as vlc

    with _VL_LOCK:
        if not _VL_READY:
            with tempfile.TemporaryDirectory(prefix="psma-rwe-fonts-") as tmp:
                empty = Path(tmp) / "none"
                empty.mkdir()
                conf = Path(tmp) / "fonts.conf"
                conf.write_text(_FONTCONFIG.format(empty=empty), encoding="utf-8")
                saved = os.environ.get("FONTCONFIG_FILE")
                os.environ["FONTCONFIG_FILE"] = str(conf)
                try:
                    for folder in sorted({f.path.parent for f in bundled_fonts()}):
                        vlc.register_font_directory(str(folder))
                        _VL_DIRS.add(folder)
                finally:
                    if saved is None:
                        os.environ.pop("FONTCONFIG_FILE", None)
                    else:
                        os.environ["FONTCONFIG_FILE"] = saved
            _VL_READY = True
        for folder in sorted({f.path.parent for f in fonts or ()} - _VL_DIRS):
            vlc.register_font_directory(str(folder))
            _VL_DIRS.add(folder)
    return vlc


def vl_font_dirs() -> frozenset[Path]:
    """The font folders registered with vl-convert so far (what its drawings depend on
    besides the spec)."""
    with _VL_LOCK:
        return frozenset(_VL_DIRS)
