"""Tables 1-2 from each zoo's member.json files: the counts of suspects per role (and how many
the headline ARUC counts), and the test accuracies of the target and the suspects."""

from __future__ import annotations

import math
from collections.abc import Mapping

from ipguard.data import dataset_title
from ipguard.paper.base import Output, TableOut
from ipguard.paper.tables import Table, fmt, fmt_range, merge_rows
from ipguard.zoo import Member, Zoo
from ipguard.zoo.suspects import Selection, family_row, in_paper, suspect_label

GROUP_ORDER = {"Target": 0, "Positive": 1, "Negative": 2}


def zoo_tables(zoos: Mapping[str, Zoo], errors: Mapping[str, str],
               selection: Selection) -> Output:
    """``table1`` and ``table2``, a row (Table 1) or a column (Table 2) per loaded zoo;
    ``errors`` names the datasets whose zoo could not be read (a warning each)."""
    out = Output(warnings=[f"Tables 1-2: no zoo for {ds} ({why})" for ds, why in errors.items()])
    if zoos:
        out.items += [TableOut("table1", "table1", suspect_counts(zoos, selection)),
                      TableOut("table2", "table2", accuracies(zoos))]
    return out


def suspect_counts(zoos: Mapping[str, Zoo], selection: Selection) -> Table:
    rows, data = [], []
    for ds, zoo in zoos.items():
        # the paper's suspects (docs/stealing.md's families are counted in their own table)
        positives = [m for m in zoo.members if m.role == "positive" and in_paper(m.kind)]
        negatives = [m for m in zoo.members if m.role == "negative" and in_paper(m.kind)]
        headline = [m for m in positives if selection.admits(m.kind, m.hyper)]
        rows.append([dataset_title(ds), zoo.target.arch, str(len(positives)),
                     str(len(headline)), str(len(negatives))])
        data.append({"dataset": ds, "target": zoo.target.arch, "positives": len(positives),
                     "positives_in_aruc": len(headline), "negatives": len(negatives),
                     "rejected": sum(m.role == "rejected" for m in zoo.members)})
    rule = " and ".join(selection.describe().split(", "))
    return Table("Table 1: datasets, target classifiers and suspect classifiers",
                 ["Dataset", "Target classifier", "# Positive suspects", "# in ARUC",
                  "# Negative suspects"], rows, data,
                 notes=[f"Positives: every post-processed target within the 3 % rule; "
                        f"'# in ARUC': {rule}, the headline selection."])


def accuracies(zoos: Mapping[str, Zoo]) -> Table:
    keys: list[tuple[str, str]] = []
    cells: dict[tuple[str, ...], dict[str, str]] = {}
    data = []
    for ds, zoo in zoos.items():
        groups: dict[tuple[str, str], list[Member]] = {}
        for m in zoo.members:
            if m.role != "rejected" and in_paper(m.kind):
                groups.setdefault(_accuracy_row(m), []).append(m)
        for key, members in groups.items():
            if key not in keys:
                keys.append(key)
            accs = [float(m.test_accuracy) for m in members if m.test_accuracy is not None]
            cells.setdefault(key, {})[dataset_title(ds)] = fmt_range(accs) \
                if len(members) > 1 else fmt(accs[0] if accs else None)
            data.append({"dataset": ds, "group": key[0], "row": key[1],
                         "members": ",".join(m.name for m in members),
                         "min": min(accs) if accs else math.nan,
                         "max": max(accs) if accs else math.nan, "count": len(members)})
    keys.sort(key=lambda k: (GROUP_ORDER.get(k[0], len(GROUP_ORDER)),
                             k[1].startswith("Random forest")))
    columns = [dataset_title(ds) for ds in zoos]
    return Table("Table 2: testing accuracies of the target and suspect classifiers",
                 ["Classifier type", "Classifier", *columns], merge_rows(keys, cells, columns),
                 data, notes=["A family of several classifiers shows the range of their "
                              "accuracies; '–' means not applicable."])


def _accuracy_row(m: Member) -> tuple[str, str]:
    """A member's row in Table 2: the target by its architecture, a positive by its label
    (pruning level included), a negative by its family."""
    if m.role == "target":
        return ("Target", m.arch)
    if m.role == "positive":
        return ("Positive", suspect_label(m.kind, m.hyper))
    return ("Negative", family_row(m.kind, m.arch))
