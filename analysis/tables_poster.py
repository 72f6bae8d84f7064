"""The poster's tables: a compact Table 1.

``table1_compact`` is :func:`analysis.tables.table1` (the same statistics, the
same formatting) on the few key variables of :data:`POSTER_TABLE1`, in that
order, in the overall column only (the poster's column is too narrow for
the groups).  Variables the results do not have are left
out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from analysis import tables

if TYPE_CHECKING:
    from great_tables import GT

    from analysis.results import StudyResults

#: Table 1 variables the poster shows, in its order.
POSTER_TABLE1 = (
    "age",
    "ecog",
    "gleason",
    "bone_mets",
    "lymph_node_mets",
    "visceral_mets",
    "baseline_psa",
    "prior_therapies",
)


def compact_results(results: StudyResults) -> StudyResults:
    """``results`` with Table 1 cut to :data:`POSTER_TABLE1`."""
    t1 = results.table1
    by_name = {v.name: v for v in t1.variables}
    keep = tuple(by_name[n] for n in POSTER_TABLE1 if n in by_name)
    return dataclasses.replace(results, table1=dataclasses.replace(t1, variables=keep))


#: Footnote of the poster's count-only "Missing" rows (the supplement says it in its
#: source notes, which the poster does not show).
MISSING_NOTE = "No value recorded; not in the percentages."


def table1_compact(results: StudyResults) -> GT:
    """The poster's Table 1 (see the module docstring).

    Its rows of patients without a value (:data:`analysis.tables.MISSING_LABEL`),
    which give a count and no percentage, carry a footnote saying why.
    """
    from great_tables import loc

    gt = tables.table1(compact_results(results), name="table1_compact", p_values=False)
    gt = gt.cols_hide(["responders", "non_responders"])
    frame = gt._tbl_data
    missing = [
        i
        for i, (label, overall) in enumerate(zip(frame["label"], frame["overall"], strict=True))
        if str(label).strip(f"{tables.NBSP} ") == tables.MISSING_LABEL and "%" not in overall
    ]
    if missing:
        gt = gt.tab_footnote(MISSING_NOTE, locations=loc.stub(rows=missing))
    return gt


#: Builders by table name.
BUILDERS: dict[str, Callable[[StudyResults], GT]] = {"table1_compact": table1_compact}
