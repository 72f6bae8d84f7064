"""What the documents say about follow-up: sentences and Markdown fragments.

The follow-up results exist only when the data carry follow-up columns, and
the landmark only with overall survival, so the documents cannot hold fixed
cross-references to their tables and figures.  This module writes

* ``followup`` variables for ``_variables.yml`` (``followup.abstract``,
  ``followup.summary``, ``followup.landmark``), each a complete sentence
  computed from the results, or the one sentence saying that follow-up was
  not provided;
* ``followup/supplement.md`` and ``followup/poster.md``, included by the
  report sources: the section with its tables and figures when the data are
  there, one sentence otherwise.

Every number comes from ``results``; nothing here is typed by hand.
"""

from __future__ import annotations

from pathlib import Path

from analysis.files import write_text_atomic
from analysis.tables import fmt_ratio, format_p
from analysis.tables_followup import median_ci, months

NOT_PROVIDED = (
    "Follow-up (dates of death and of last contact) was not provided with the data, so"
    " overall survival and the landmark analysis are not reported."
)


def _median(label: str, e) -> str:
    if e.median_months is None:
        events = f"{e.events} event{'s' if e.events != 1 else ''}"
        patients = f"{e.n} patient{'s' if e.n != 1 else ''}"
        return f"median {label} was not reached ({events} in {patients})"
    return (
        f"median {label} was {months(e.median_months)} months (95% CI"
        f" {months(e.median_ci_low)}–{months(e.median_ci_high)})"
    )


def _short(s) -> str:
    """The abstract's sentence: medians with CI, nothing else (the word limit is tight)."""
    bits = []
    for label, e in (("OS", s.os), ("PSA-PFS", s.psa_pfs)):
        if e is None:
            continue
        if e.median_months is None:
            bits.append(f"median {label} was not reached")
        else:
            ci = f"{months(e.median_ci_low)}–{months(e.median_ci_high)}"
            bits.append(f"median {label} {months(e.median_months)} months (95% CI {ci})")
    text = "; ".join(bits)
    return f"{text[0].upper()}{text[1:]}." if text else ""


def _excluded(lm) -> str:
    died, censored = lm.n_excluded_died, lm.n_excluded_censored
    if died == 0 and censored == 0:
        return "No patient died or was lost to follow-up before the landmark."
    parts = []
    if died:
        parts.append(f"{died} patient{'s' if died != 1 else ''} who died")
    if censored:
        parts.append(f"{censored} whose follow-up ended")
    return f"{' and '.join(parts)} before week {lm.weeks} were excluded.".capitalize()


def variables(results) -> dict[str, str]:
    """The ``followup`` sentences (see the module docstring)."""
    s = results.survival
    out = {
        "abstract": NOT_PROVIDED,
        "summary": NOT_PROVIDED,
        "landmark": "",
        "landmark_short": "",
        "methods": "",
    }
    if s is None:
        return out
    if s.data_cutoff:
        out["methods"] = f"Data were analyzed up to the data cut-off of {s.data_cutoff}."
    if results.landmark is not None:
        out["methods"] += (
            f" The landmark was set at week {results.landmark.weeks} after the first dose."
        )
    out["methods"] = out["methods"].strip()
    parts = []
    if s.os is not None:
        parts.append(_median("overall survival", s.os))
    if s.psa_pfs is not None:
        parts.append(_median("PSA progression-free survival", s.psa_pfs))
    if s.os is None:
        sentence = f"{parts[0][0].upper()}{parts[0][1:]}." if parts else ""
        out["abstract"] = out["summary"] = f"{sentence} {NOT_PROVIDED}".strip()
        return out
    lead = ""
    if s.follow_up_median_months is not None:
        lead = f"After a median follow-up of {months(s.follow_up_median_months)} months, "
    text = " and ".join(parts)
    sentence = f"{lead}{text}." if lead else f"{text[0].upper()}{text[1:]}."
    out["abstract"] = _short(s)
    extra = ""
    if s.rpfs is not None:
        extra = f" Radiographic progression-free survival: {_median('rPFS', s.rpfs)}."
        extra = extra.replace(": median rPFS was", ": median")
    out["summary"] = sentence + extra
    lm = results.landmark
    if lm is not None:
        yes = next(g for g in lm.groups if g.psa50)
        no = next(g for g in lm.groups if not g.psa50)
        hr = (
            "the hazard ratio was not estimable"
            if lm.hr is None
            else (
                f"the hazard ratio of death was {fmt_ratio(lm.hr)} (95% CI"
                f" {fmt_ratio(lm.hr_ci_low)}–{fmt_ratio(lm.hr_ci_high)}; p ="
                f" {format_p(lm.hr_p)})"
            )
        )
        out["landmark"] = (
            f"Among {lm.n_included} patients alive and followed at week {lm.weeks}, median"
            f" overall survival from the landmark was"
            f" {median_ci(yes.median_months, yes.median_ci_low, yes.median_ci_high)} months"
            f" with PSA50 by then ({yes.n} patients) and"
            f" {median_ci(no.median_months, no.median_ci_low, no.median_ci_high)} months"
            f" without ({no.n}); {hr}. {_excluded(lm)}"
        )
        out["landmark_short"] = (
            f"Week-{lm.weeks} landmark: {hr.replace('the hazard ratio', 'hazard ratio')}"
            " for PSA50 reached vs not."
        )
    return out


def supplement_md(results, tables: set[str], figures: set[str]) -> str:
    """The supplement's follow-up section (``followup/supplement.md``)."""
    v = variables(results)
    out = ["### Follow-up and survival", ""]
    refs = []
    if "survival" in tables:
        refs.append("@tbl-survival")
    if "km" in figures:
        refs.append("@fig-km")
    out.append(v["summary"] + (f" ({', '.join(refs)})" if refs else ""))
    out.append("")
    if "survival" in tables:
        out += [
            "::: {#tbl-survival}",
            "{{< include ../tables/survival.md >}}",
            "",
            "Time-to-event endpoints from the first dose.",
            ":::",
            "",
        ]
    if "km" in figures:
        out += [
            "![Kaplan–Meier estimates from the first dose with 95% confidence bands and the"
            " numbers at risk.](../figures/km.svg){#fig-km}",
            "",
        ]
    if "landmark" in tables:
        refs = "@tbl-landmark" + (", @fig-landmark" if "landmark" in figures else "")
        out += [
            f"{v['landmark']} ({refs})",
            "",
            "::: {#tbl-landmark}",
            "{{< include ../tables/landmark.md >}}",
            "",
            "Overall survival from the landmark by PSA50 response at the landmark.",
            ":::",
            "",
        ]
        if "landmark" in figures:
            out += [
                "![Overall survival from the landmark by PSA50 reached by then, with the"
                " numbers at risk.](../figures/landmark.svg){#fig-landmark}",
                "",
            ]
    if "discontinuation" in tables or "dosing" in tables:
        refs = [f"@tbl-{k}" for k in ("dosing", "discontinuation") if k in tables]
        out += [f"Treatment received and reasons for stopping are in {' and '.join(refs)}.", ""]
    if "dosing" in tables:
        out += [
            "::: {#tbl-dosing}",
            "{{< include ../tables/dosing.md >}}",
            "",
            "Doses and administered activity of 177Lu-PSMA-617.",
            ":::",
            "",
        ]
    if "discontinuation" in tables:
        out += [
            "::: {#tbl-discontinuation}",
            "{{< include ../tables/discontinuation.md >}}",
            "",
            "Reasons for discontinuing 177Lu-PSMA-617.",
            ":::",
            "",
        ]
    return "\n".join(out).rstrip() + "\n"


def poster_md(results, figures: set[str]) -> str:
    """The poster's follow-up block (``followup/poster.md``): the survival sentence,
    the Kaplan–Meier figure (poster version) and the landmark result, or the one
    sentence saying that follow-up was not provided."""
    v = variables(results)
    s = results.survival
    out = ["## Survival", ""]
    if s is None:
        return "\n".join([*out, NOT_PROVIDED]) + "\n"
    out += [v["abstract"] if s.os is not None else v["summary"], ""]
    if "km-poster" in figures:
        out += [
            "![Kaplan–Meier estimates from the first dose with 95% confidence bands and the"
            " numbers at risk.](../figures/km-poster.svg){#fig-km}",
            "",
        ]
    if v["landmark_short"]:
        out += [v["landmark_short"], ""]
    return "\n".join(out).rstrip() + "\n"


def write_fragments(results, folder: Path, tables: set[str], figures: set[str]) -> None:
    """Write ``supplement.md`` and ``poster.md`` into ``folder``."""
    write_text_atomic(folder / "supplement.md", supplement_md(results, tables, figures))
    write_text_atomic(folder / "poster.md", poster_md(results, figures))
