"""Each scheme's defining computation, on hand-built cases and tiny models
(ipguard.core.schemes; the interface and the end-to-end ranking are in test_schemes.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from ipguard.core.schemes import (
    CAE,
    SACM,
    SACW,
    Auxiliary,
    Misclassified,
    ModelDiff,
    Zest,
    conferrability,
    correlation_distance,
    correlation_matrix,
    cutmix,
    ddv,
    ddv_similarity,
    ensemble_conferrability,
    misclassified,
    signature_similarity,
    transfer,
)
from ipguard.core.schemes.base import represent
from ipguard.core.schemes.cae import cae_loss
from ipguard.core.schemes.modeldiff import pgd
from ipguard.core.schemes.zest import align_classes, grid_segments, lime_weights, masked_images
from ipguard.utils.errors import IPGuardError


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def net(seed: int) -> nn.Module:
    """An untrained 4-class CNN on 1x4x4 inputs: its labels are arbitrary but fixed."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(64, 4)).eval()


class Quadrants(nn.Module):
    """4 classes on 1x4x4 inputs: the brightest 2x2 quadrant (a box pasted by CutMix moves
    it)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 10 * F.avg_pool2d(x, 2).flatten(1)


def data(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 4, 4, generator=g), torch.randint(4, (n,), generator=g)


# ---- shared -------------------------------------------------------------------------------

def test_logits_are_recovered_from_probabilities_up_to_their_mean():
    z = torch.randn(6, 5, dtype=torch.float64) * 4
    assert torch.allclose(represent(F.softmax(z, 1), "logits"), z - z.mean(1, keepdim=True))
    p = F.softmax(z, 1)
    assert torch.equal(represent(p, "prob"), p)


# ---- AKH (misclassified) ------------------------------------------------------------------

def test_akh_points_are_all_misclassified_by_the_target():
    target, (x, y) = net(0), data()
    scheme = Misclassified(n=60)
    fp = scheme.generate(target, x, y, seed=2)
    with torch.no_grad():
        labels = target(fp["x"]).argmax(1)
    assert torch.equal(labels, fp["y"])
    assert (fp["y"] != fp["truth"]).all()
    real = ~fp["cutmix"]
    assert real.sum() == int((target(x).argmax(1) != y).sum().clamp(max=60))
    rows = (fp["x"][real][:, None] == x[None]).flatten(2).all(2)   # each real point is an input
    assert rows.any(1).all()
    assert torch.equal(fp["truth"][real], y[rows[:].float().argmax(1)])


def test_akh_adds_cutmix_mistakes_only_when_asked_and_says_when_there_are_too_few():
    target, (x, _) = Quadrants(), data()
    y = target(x).argmax(1)                                          # the target is always right
    _, truth, is_mix = misclassified(target, x, y, 10, torch.Generator().manual_seed(0))
    assert is_mix.all() and len(truth) == 10
    with pytest.raises(IPGuardError, match="only 0 owner inputs"):
        misclassified(target, x, y, 10, torch.Generator().manual_seed(0), augment=False)


def test_cutmix_pastes_one_box_of_the_second_image_and_reports_what_is_left():
    xa, xb = torch.zeros(50, 1, 8, 8), torch.ones(50, 1, 8, 8)
    mixed, kept = cutmix(xa, xb, torch.Generator().manual_seed(1))
    assert torch.allclose(kept, 1 - mixed.flatten(1).mean(1))
    for image in mixed[:, 0]:                                       # the pasted part is a box
        rows, cols = image.nonzero(as_tuple=True)
        if len(rows):
            box = image[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
            assert box.all()


# ---- SAC ----------------------------------------------------------------------------------

def test_sac_correlation_matrix_is_scaled_cosine_distance():
    out = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0], [1.0, 1.0]])
    c = correlation_matrix(out)
    assert torch.allclose(c, c.T) and torch.allclose(c.diagonal(), torch.zeros(4).double())
    assert c[0, 1] == pytest.approx(0.5) and c[0, 2] == pytest.approx(1.0)
    assert c[0, 3] == pytest.approx((1 - 2**-0.5) / 2)
    assert c.min() >= 0 and c.max() <= 1
    other = correlation_matrix(out.flip(0))
    assert correlation_distance(c, other) == pytest.approx(float((c - other).abs().mean()))


@pytest.mark.parametrize("make", [SACW, SACM])
@pytest.mark.parametrize("output", ["logits", "prob"])
def test_sac_of_a_model_with_itself_is_distance_zero(make, output):
    target, (x, y) = net(0), data()
    scheme = make(n=20, output=output)
    fp = scheme.generate(target, x, y)
    c = fp["correlation"]
    assert c.shape == (20, 20) and torch.allclose(c, c.T)
    assert scheme.score(fp, target).value == pytest.approx(1.0, abs=1e-12)
    assert scheme.score(fp, net(1)).value < 1.0


# ---- ModelDiff ----------------------------------------------------------------------------

def test_modeldiff_ddv_is_the_cosine_distance_within_each_pair():
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    b = torch.tensor([[0.0, 3.0], [2.0, 2.0], [-1.0, 0.0]])
    assert torch.allclose(ddv(a, b), torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64))
    v = torch.tensor([0.2, 0.5, 0.1])
    assert ddv_similarity(v, 3 * v) == pytest.approx(1.0)
    assert ddv_similarity(v, torch.tensor([-0.5, 0.2, 0.0])) == pytest.approx(0.0)


@pytest.mark.parametrize("pairs", ["adversarial", "normal"])
def test_modeldiff_of_a_model_with_itself_is_one(pairs):
    target, (x, y) = net(0), data()
    scheme = ModelDiff(n=30, pairs=pairs)
    fp = scheme.generate(target, x, y)
    assert fp.queries == 60 and fp["ddv"].shape == (30,)
    assert scheme.score(fp, target).value == pytest.approx(1.0, abs=1e-12)
    if pairs == "normal":
        assert not (fp["x"] == fp["x_prime"]).flatten(1).all(1).any()


def test_modeldiff_pairs_are_pgd_examples_within_the_ball():
    target, (x, _) = Quadrants(), data(40)
    adv = pgd(target, x, eps=0.1, steps=20, step=0.01, generator=torch.Generator())
    assert (adv - x).abs().max() <= 0.1 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    labels = target(x).argmax(1)
    assert F.cross_entropy(target(adv), labels) > F.cross_entropy(target(x), labels)
    assert (target(adv).argmax(1) != labels).float().mean() > 0.5


# ---- CAE ----------------------------------------------------------------------------------

def test_cae_conferrability_is_transfer_to_surrogates_times_non_transfer_to_references():
    t = torch.tensor([2, 0, 1])
    surrogates = torch.tensor([[2, 0, 1], [2, 1, 1], [2, 0, 3], [1, 0, 3]])  # 3/4, 3/4, 2/4
    references = torch.tensor([[2, 0, 0], [0, 0, 0]])                        # 1/2, 1, 0
    assert torch.allclose(transfer(surrogates, t), torch.tensor([0.75, 0.75, 0.5]).double())
    conf = conferrability(surrogates, references, t)
    assert torch.allclose(conf, torch.tensor([0.75 * 0.5, 0.0, 0.5]).double())


def test_cae_ensemble_and_loss_follow_the_papers_equations():
    ps = torch.tensor([[[0.7, 0.3]], [[0.5, 0.5]]])                   # surrogates: mean .6 .4
    pr = torch.tensor([[[0.9, 0.1]], [[0.1, 0.9]]])                   # references: mean .5 .5
    sigma = ensemble_conferrability(ps, pr)
    assert torch.allclose(sigma, torch.tensor([[0.3, 0.2]]))
    p_seed, p_target = torch.tensor([[0.8, 0.2]]), torch.tensor([[0.4, 0.6]])
    loss = cae_loss(p_seed, p_target, ps, pr, (1.0, 0.5, 2.0))
    h_conf = -torch.log(torch.tensor(0.3))
    h_away = -(0.8 * torch.log(torch.tensor(0.4)) + 0.2 * torch.log(torch.tensor(0.6)))
    h_agree = -(0.4 * torch.log(torch.tensor(0.6)) + 0.6 * torch.log(torch.tensor(0.4)))
    assert loss.item() == pytest.approx((h_conf - 0.5 * h_away + 2.0 * h_agree).item(), rel=1e-5)


def test_cae_fingerprint_records_the_target_labels_and_their_conferrability():
    target, (x, y) = net(0), data()
    with torch.no_grad():
        y = target(x).argmax(1)                                      # seeds: all correct
    aux = Auxiliary(surrogates=[net(0), net(0)], references=[net(1), net(2)])
    scheme = CAE(n=20, max_iter=20, alpha=0.02, eps=0.2)
    fp = scheme.generate(target, x, y, aux=aux)
    with torch.no_grad():
        assert torch.equal(target(fp["x"]).argmax(1), fp["y"])
        s = torch.stack([m(fp["x"]).argmax(1) for m in aux.surrogates])
        r = torch.stack([m(fp["x"]).argmax(1) for m in aux.references])
    assert torch.allclose(fp["conf"], conferrability(s, r, fp["y"]))
    assert fp["x"].min() >= 0 and fp["x"].max() <= 1
    assert scheme.score(fp, target).value == 1.0


# ---- Zest ---------------------------------------------------------------------------------

def test_zest_superpixels_masks_and_least_squares():
    seg = grid_segments(4, 4, 2)
    assert seg.tolist() == [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]
    x = torch.ones(1, 1, 4, 4)
    masks = torch.tensor([[[1, 0, 0, 1]]], dtype=torch.uint8)
    image = masked_images(x, masks, seg, torch.tensor([0.25]))[0, 0]
    assert image.tolist() == [[1, 1, .25, .25], [1, 1, .25, .25], [.25, .25, 1, 1],
                              [.25, .25, 1, 1]]
    g = torch.Generator().manual_seed(0)
    z = torch.randint(0, 2, (3, 40, 5), generator=g).double()
    w = torch.randn(3, 5, 4, generator=g, dtype=torch.float64)
    assert torch.allclose(lime_weights(z, z @ w), w)


def test_zest_aligns_classes_and_scores_a_model_with_itself_one():
    w = torch.randn(2, 6, 5, dtype=torch.float64)
    perm = torch.tensor([3, 0, 4, 1, 2])
    assert torch.equal(align_classes(w.reshape(-1, 5), w[..., perm].reshape(-1, 5)),
                       w.reshape(-1, 5))
    assert signature_similarity(w, w[..., perm]) == pytest.approx(1.0)
    assert signature_similarity(w, w[..., perm], align=False) < 0.9
    target, (x, y) = net(0), data()
    scheme = Zest(references=4, samples=16, grid=2)
    fp = scheme.generate(target, x, y)
    assert fp.queries == 64 and fp["signature"].shape == (4, 4, 4)
    assert scheme.score(fp, target).value == pytest.approx(1.0)
    assert scheme.score(fp, net(1)).value < 1.0
