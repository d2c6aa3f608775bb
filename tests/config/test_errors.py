"""Errors survive the trip from a cluster job back to the sweep (submitit pickles them)."""

import pickle

from ipguard.utils.errors import ConfigError, IPGuardError, MissingZooError


def test_config_error_round_trips_through_pickle():
    err = ConfigError("n", 0, "the number of fingerprinting points must be >= 1")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ConfigError and str(back) == str(err)
    assert (back.field, back.value, back.valid) == ("n", 0, err.valid)


def test_other_errors_round_trip_through_pickle():
    for err in (IPGuardError("one line"), MissingZooError("no zoo at x: build it")):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err)
