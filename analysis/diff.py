"""What changed between two built versions: inputs, results and abstract text.

``psma-rwe diff A B`` takes two labels (folders under the outputs folder) or
two version folders and reports

* input files added, removed or changed (by SHA-256 in the manifests);
* every value in results.json that differs, as ``path: old → new``, where a
  path names the place in the JSON (``psa_response.psa50.n``, list items by
  their identifying key when they have one, e.g. ``labs[hemoglobin/dose 2]``);
* a unified diff of abstract.txt.

Both versions are checked first against their manifests: a version whose
manifest is damaged, or one of whose files was altered, removed or cannot be
read after the build, is an error naming the file, never a reported change.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from analysis import config
from analysis.build import MANIFEST
from analysis.errors import PsmaRweError

#: Keys that identify an item of a list in results.json, tried in order.
ITEM_KEYS = (("term", "method", "model"), ("test", "dose_number"), ("name",), ("after_dose",))


@dataclass(frozen=True)
class VersionDiff:
    old: Path
    new: Path
    inputs: list[tuple[str, str]]  # (name, "added" | "removed" | "changed")
    values: list[tuple[str, object, object]]  # (path, old, new)
    abstract: list[str]  # unified diff lines


def resolve_version(ref: str | Path, outputs: Path = config.OUTPUTS_DIR) -> Path:
    """A version folder from a label or a path; error if it is not a built version.

    A bare name (no ``/``) is a label under ``outputs`` first, and a folder of
    the current directory only when no such label exists; anything with a
    ``/`` is a path.
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


def diff_versions(old: Path, new: Path) -> VersionDiff:
    """What changed from ``old`` to ``new``; both are verified against their manifests first."""
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
        try:
            return flatten(json.loads((p / "results.json").read_bytes().decode("utf-8")))
        except FileNotFoundError:
            raise _damaged(p, "results.json is missing") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _damaged(p, f"results.json is not valid JSON ({exc})") from None

    r_old, r_new = results(old), results(new)
    missing = object()
    values = []
    for path in sorted(set(r_old) | set(r_new)):
        x, y = r_old.get(path, missing), r_new.get(path, missing)
        if x != y:
            values.append((path, None if x is missing else x, None if y is missing else y))

    def abstract(p: Path) -> list[str]:
        f = p / "abstract.txt"
        if not f.is_file():
            return []
        try:
            return f.read_bytes().decode("utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise _damaged(p, f"abstract.txt is not UTF-8 text ({exc})") from None

    text = list(
        difflib.unified_diff(
            abstract(old),
            abstract(new),
            f"{old.name}/abstract.txt",
            f"{new.name}/abstract.txt",
            lineterm="",
            n=1,
        )
    )
    return VersionDiff(old, new, inputs, values, text)
