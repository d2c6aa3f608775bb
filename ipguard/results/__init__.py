"""Results: the typed record of one bench run, the local store, verdicts and the area's
decomposition computed over records, and the W&B mirror (writer and reader)."""
