"""The fingerprinting core: a classifier as a label-only API, the four combos, the
point-finding methods, Extract, Verify, the paper's metrics (Eq. 5-7) and the statistics
behind a single verdict (null fit, thresholds, intervals). Knows nothing of Hydra, records
or stores."""
