"""What changed between two built versions: inputs, results and abstract text.

``psma-rwe diff A B`` takes two labels (folders under the outputs folder) or
two version folders and reports

* input files added, removed or changed (by SHA-256 in the manifests);
* every value in results.json that differs, as ``path: old → new``, where a
  path names the place in the JSON (``psa_response.psa50.n``, list items by
  their identifying key when they have one, e.g. ``labs[hemoglobin/dose 2]``);
* a unified diff of abstract.txt.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path

from analysis import config
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
    """A version folder from a label or a path; error if it is not a built version."""
    path = Path(ref)
    candidates = [path] if path.is_dir() else [outputs / str(ref)]
    for candidate in candidates:
        if (candidate / "manifest.json").is_file():
            return candidate
    raise PsmaRweError(
        f"{ref}: no built version found (looked for {candidates[0]}/manifest.json); "
        f"give a label under {outputs} or a version folder"
    )


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
    def manifest(p: Path) -> dict:
        return json.loads((p / "manifest.json").read_text(encoding="utf-8"))

    m_old, m_new = manifest(old), manifest(new)
    inputs = []
    a, b = m_old.get("inputs", {}), m_new.get("inputs", {})
    for name in sorted(set(a) | set(b)):
        if name not in a:
            inputs.append((name, "added"))
        elif name not in b:
            inputs.append((name, "removed"))
        elif a[name]["sha256"] != b[name]["sha256"]:
            inputs.append((name, "changed"))

    def results(p: Path) -> dict:
        return flatten(json.loads((p / "results.json").read_text(encoding="utf-8")))

    r_old, r_new = results(old), results(new)
    missing = object()
    values = []
    for path in sorted(set(r_old) | set(r_new)):
        x, y = r_old.get(path, missing), r_new.get(path, missing)
        if x != y:
            values.append((path, None if x is missing else x, None if y is missing else y))

    def abstract(p: Path) -> list[str]:
        f = p / "abstract.txt"
        return f.read_text(encoding="utf-8").splitlines() if f.is_file() else []

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
