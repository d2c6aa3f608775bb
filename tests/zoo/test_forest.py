"""Random forests stored without pickle predict exactly as scikit-learn does."""

import numpy as np
import torch

from ipguard.core.classifier import ForestClassifier
from ipguard.data import load_digits_data
from ipguard.models.forest import TreeEnsemble, train_forest


def test_pickle_free_forest_equals_sklearn(tmp_path):
    data = load_digits_data()
    x, y = data.train_tensors()
    xt, _ = data.test_tensors()
    forest, ensemble = train_forest(x, y, n_estimators=20, seed=3)
    ensemble.save(tmp_path / "forest.safetensors")
    loaded = TreeEnsemble.load(tmp_path / "forest.safetensors")
    probe = torch.cat([xt, torch.rand(200, 1, 8, 8, generator=torch.Generator().manual_seed(0))])
    ours = ForestClassifier(loaded).predict(probe).numpy()
    theirs = forest.predict(probe.reshape(len(probe), -1).numpy())
    assert np.array_equal(ours, theirs)
    np.testing.assert_allclose(loaded.predict_proba(probe.numpy()),
                               forest.predict_proba(probe.reshape(len(probe), -1).numpy()),
                               atol=1e-12)
