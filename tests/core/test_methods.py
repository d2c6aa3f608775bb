"""Each fingerprinting method's defining property (Sections 2.2 and 5.1.3), per-point
stopping, determinism, configs, and extract under the four combos of Table 3."""

from __future__ import annotations

import hydra
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from ipguard.core.extract import extract
from ipguard.core.methods import CWL2, FGSM, IGSM, IPGuard, OnePointIPGuard, Random, boundary_loss
from ipguard.core.methods.cw import target_margin
from ipguard.core.seeding import initial_points
from ipguard.models.digits import small_cnn
from ipguard.utils.errors import ConfigError

from conftest import compose_cfg


class Linear(nn.Module):
    """A fixed linear 4-class model on 1x3x3 inputs: every weight non-zero, known gradients."""

    def __init__(self, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(3)
        self.w = nn.Linear(9, 4).to(dtype)
        with torch.no_grad():
            weight = torch.randn(4, 9, generator=g, dtype=dtype) * 3
            self.w.weight.copy_(torch.where(weight.abs() < 0.3, weight.sign() * 0.3 + 0.3,
                                            weight))
            self.w.bias.copy_(torch.randn(4, generator=g, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w(x.flatten(1))


def _batch(n: int = 12, dtype: torch.dtype = torch.float32, low: float = 0.0,
           high: float = 1.0, model: nn.Module | None = None, runner_up: bool = False):
    """Starts, their labels i and target labels j (least likely, or the runner-up label)."""
    g = torch.Generator().manual_seed(5)
    x0 = (low + (high - low) * torch.rand(n, 1, 3, 3, generator=g)).to(dtype)
    model = model or Linear(dtype)
    with torch.no_grad():
        logits = model(x0)
    i = logits.argmax(1)
    j = logits.topk(2, dim=1).indices[:, 1] if runner_up else logits.argmin(1)
    return model, x0, i, j


def _cnn() -> nn.Module:
    torch.manual_seed(0)
    return small_cnn(10, 1, 8, mean=[0.3], std=[0.4]).eval()


# ---- Random ------------------------------------------------------------------------------

class Untouchable(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - must not run
        raise AssertionError("Random must not query the model")


def test_random_is_uniform_in_the_data_domain_and_ignores_the_start():
    x0 = torch.zeros(3000, 1, 4, 4)
    out = Random()(Untouchable(), x0, torch.zeros(3000).long(), torch.ones(3000).long())
    assert out.x.shape == x0.shape and out.x.min() >= 0 and out.x.max() <= 1
    assert abs(out.x.mean().item() - 0.5) < 0.01
    assert abs(out.x.var().item() - 1 / 12) < 0.005
    assert out.iterations.tolist() == [0] * 3000


def test_random_is_deterministic_for_its_seed_and_follows_the_starts_otherwise():
    g = torch.Generator().manual_seed(0)
    x0 = initial_points("random", 5, g, input_shape=(1, 2, 2))
    i, j = torch.zeros(5).long(), torch.ones(5).long()
    derived = Random()(Untouchable(), x0, i, j).x
    assert torch.equal(derived, Random()(Untouchable(), x0, i, j).x)
    assert not torch.allclose(derived, x0)  # never extract's own stream returned unchanged
    assert not torch.equal(derived, Random()(Untouchable(), x0 * 0.5, i, j).x)
    fixed = Random(seed=7)(Untouchable(), x0, i, j).x
    assert torch.equal(fixed, Random(seed=7)(Untouchable(), x0 * 0.5, i, j).x)
    assert not torch.equal(fixed, Random(seed=8)(Untouchable(), x0, i, j).x)


# ---- FGSM (Eq. 1) ------------------------------------------------------------------------

def test_fgsm_moves_every_pixel_by_exactly_eps_against_the_target_loss_gradient():
    model, x0, i, j = _batch(dtype=torch.float64, low=0.3, high=0.7)  # eps never clips
    eps = 0.1
    out = FGSM(eps=eps)(model, x0, i, j)
    delta = out.x - x0
    assert torch.allclose(delta.abs(), torch.full_like(delta, eps), atol=1e-12, rtol=0)
    # Eq. 1's direction: minus the sign of dJ/dx, J = CE(C(x), j); analytic for a linear C.
    p = F.softmax(model(x0), dim=1)
    grad = (p - F.one_hot(j, 4).double()) @ model.w.weight
    assert torch.equal(delta.flatten(1).sign(), -grad.sign())
    assert out.iterations.tolist() == [1] * len(x0)
    ce = F.cross_entropy  # the step lowers the target label's loss (a targeted step)
    assert torch.all(ce(model(out.x), j, reduction="none") < ce(model(x0), j, reduction="none"))


def test_fgsm_clips_to_the_pixel_domain_and_linf_is_eps_where_unclipped():
    model, x0, i, j = _batch(n=40, dtype=torch.float64)
    eps = 0.25
    out = FGSM(eps=eps)(model, x0, i, j)
    p = F.softmax(model(x0), dim=1)
    grad = ((p - F.one_hot(j, 4).double()) @ model.w.weight).view_as(x0)
    intended = x0 - eps * grad.sign()
    inside = (intended >= 0) & (intended <= 1)
    assert bool((~inside).any()), "the fixture must clip some pixels"
    assert torch.allclose(out.x, intended.clamp(0, 1), atol=1e-12, rtol=0)
    delta = (out.x - x0).abs()
    assert torch.allclose(delta[inside], torch.full_like(delta[inside], eps), atol=1e-12)
    assert torch.all(delta[~inside] < eps) and out.x.min() >= 0 and out.x.max() <= 1
    rows_unclipped = inside.flatten(1).all(dim=1)
    linf = delta.flatten(1).amax(dim=1)
    assert torch.allclose(linf[rows_unclipped], torch.full_like(linf[rows_unclipped], eps))


# ---- IGSM (Eq. 2) ------------------------------------------------------------------------

def test_igsm_stays_in_the_eps_ball_and_stops_each_point_at_its_first_success():
    model, x0, i, j = _batch(n=16, runner_up=True)
    eps, alpha = 0.5, 0.02
    out = IGSM(eps=eps, alpha=alpha, max_iter=60)(model, x0, i, j)
    linf = (out.x - x0).flatten(1).abs().amax(1)
    assert torch.all(linf <= eps + 1e-6)
    assert torch.all(linf <= out.iterations.float() * alpha + 1e-6)
    assert out.x.min() >= 0 and out.x.max() <= 1
    pred = model(out.x).argmax(1)
    ok = pred == j
    assert ok.any() and (~ok).any(), "the fixture must hold both kinds of point"
    assert torch.all(out.iterations[~ok] == 60)  # failures run to the cap, in the ball
    assert len(set(out.iterations[ok].tolist())) > 1  # per-point stopping, not a shared stop
    # The stop is the first success: one step fewer was not yet classified as j.
    for p in ok.nonzero().flatten().tolist():
        t = int(out.iterations[p])
        before = IGSM(eps=eps, alpha=alpha, max_iter=t - 1)(model, x0[p:p + 1], i[p:p + 1],
                                                            j[p:p + 1])
        assert model(before.x).argmax(1).item() != j[p].item()
        alone = IGSM(eps=eps, alpha=alpha, max_iter=60)(model, x0[p:p + 1], i[p:p + 1],
                                                        j[p:p + 1])
        assert alone.iterations.item() == t and torch.allclose(alone.x, out.x[p:p + 1])


# ---- CW-L2 -------------------------------------------------------------------------------

def test_cw_points_reach_the_target_with_margin_k_and_stay_in_the_box():
    model, x0, i, j = _batch(n=10, low=0.1, high=0.9)
    k = 1.0
    out = CWL2(k=k, lr=0.05, binary_search_steps=4, initial_const=1.0, max_iter=300)(
        model, x0, i, j)
    margin = target_margin(model(out.x), j)
    assert torch.all(margin >= k - 1e-4), margin
    assert out.x.min() >= 0 and out.x.max() <= 1
    assert torch.all(out.iterations > 0) and torch.all(out.iterations <= 4 * 300)


def test_cw_binary_search_lowers_l2_as_steps_increase():
    model, x0, i, j = _batch(n=10, low=0.1, high=0.9)
    l2s = []
    for steps in (1, 2, 4, 6):
        out = CWL2(k=0.5, lr=0.05, binary_search_steps=steps, initial_const=50.0,
                   max_iter=200)(model, x0, i, j)
        assert torch.all(target_margin(model(out.x), j) >= 0.5 - 1e-4)
        l2s.append((out.x - x0).flatten(1).norm(dim=1))
    for fewer, more in zip(l2s, l2s[1:], strict=False):
        assert torch.all(more <= fewer + 1e-6)  # the best point is kept across steps
    # and the smaller constants it finds give closer points for most inputs
    assert (l2s[-1] < l2s[0] - 1e-3).float().mean() >= 0.5
    assert l2s[-1].mean() < 0.95 * l2s[0].mean()


def test_cw_unreachable_target_returns_last_iterate_of_the_largest_c():
    model, x0, i, j = _batch(n=4, low=0.1, high=0.9)
    out = CWL2(k=1e4, lr=0.05, binary_search_steps=3, max_iter=25, abort_early=False)(
        model, x0, i, j)
    assert out.iterations.tolist() == [75] * 4  # 3 search steps x 25 Adam steps, no abort
    assert torch.all(target_margin(model(out.x), j) < 1e4)
    assert not torch.allclose(out.x, x0, atol=1e-3)  # a real iterate, not the start


def test_cw_early_abort_is_per_point_and_cuts_iterations():
    model, x0, i, j = _batch(n=6, low=0.1, high=0.9)
    kw = {"k": 0.0, "lr": 0.05, "binary_search_steps": 2, "initial_const": 1.0,
          "max_iter": 150}
    full = CWL2(abort_early=False, **kw)(model, x0, i, j)
    early = CWL2(abort_early=True, **kw)(model, x0, i, j)
    assert full.iterations.tolist() == [300] * 6
    assert bool((early.iterations < 300).any())
    assert len(set(early.iterations.tolist())) > 1  # each point aborts on its own loss
    for p in range(len(x0)):  # per-point constants and aborts: a point alone runs the same
        alone = CWL2(abort_early=True, **kw)(model, x0[p:p + 1], i[p:p + 1], j[p:p + 1])
        assert alone.iterations.item() == early.iterations[p].item()
        assert torch.allclose(alone.x, early.x[p:p + 1], atol=1e-5)


# ---- IPGuard, batched and one point at a time --------------------------------------------

def test_one_point_baseline_solves_the_same_problem_as_batched_ipguard():
    model, x0, i, j = _batch(n=8)
    batched = IPGuard(k=1.0, lr=0.02, max_iter=500)(model, x0, i, j)
    single = OnePointIPGuard(k=1.0, lr=0.02, max_iter=500)(model, x0, i, j)
    assert single.iterations.tolist() == batched.iterations.tolist()
    assert torch.allclose(single.x, batched.x, atol=1e-5)
    assert torch.all(boundary_loss(model(single.x), i, j, 1.0) == 0)


# ---- shared contract ---------------------------------------------------------------------

def _cheap_methods():
    return [Random(), FGSM(eps=0.2), IGSM(eps=0.3, alpha=0.02, max_iter=40),
            CWL2(k=0.5, lr=0.05, binary_search_steps=2, initial_const=1.0, max_iter=60),
            IPGuard(k=1.0, lr=0.05, max_iter=60),
            OnePointIPGuard(k=1.0, lr=0.05, max_iter=60)]


@pytest.mark.parametrize("method", _cheap_methods(), ids=lambda m: m.name)
def test_methods_are_deterministic_and_leave_the_model_alone(method):
    model, x0, i, j = _batch(n=6)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    a, b = method(model, x0, i, j), method(model, x0, i, j)
    assert torch.equal(a.x, b.x) and torch.equal(a.iterations, b.iterations)
    assert a.x.shape == x0.shape and a.iterations.shape == (6,)
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("bad", [
    lambda: FGSM(eps=0), lambda: IGSM(eps=2.0), lambda: IGSM(alpha=0),
    lambda: IGSM(max_iter=0), lambda: CWL2(k=-1), lambda: CWL2(lr=0),
    lambda: CWL2(binary_search_steps=0), lambda: CWL2(initial_const=0),
    lambda: CWL2(max_iter=0),
])
def test_invalid_hyper_parameters_raise_config_errors(bad):
    with pytest.raises(ConfigError, match="invalid method"):
        bad()


@pytest.mark.parametrize("name, cls, override", [
    ("random", Random, "method.seed=3"), ("fgsm", FGSM, "method.eps=0.05"),
    ("igsm", IGSM, "method.eps=0.05"), ("cw_l2", CWL2, "method.k=2.0"),
    ("ipguard", IPGuard, "method.k=2.0"), ("ipguard_onepoint", OnePointIPGuard, "method.k=2.0"),
])
def test_method_config_group_instantiates_each_method(name, cls, override):
    cfg = compose_cfg("bench", [f"method={name}", override, "init=random", "label=random"])
    method = hydra.utils.instantiate(cfg.method)
    assert isinstance(method, cls) and method.name == name
    key, value = override.split("=")[0].split(".")[1], override.split("=")[1]
    assert str(getattr(method, key)) == value
    if name == "igsm":
        assert method.alpha == pytest.approx(1 / 255) and method.max_iter == 1000
    if name == "cw_l2":  # the authors' search defaults
        assert (method.binary_search_steps, method.initial_const, method.max_iter,
                method.abort_early) == (9, 1e-3, 10000, True)


# ---- extract with every method under every combo (Table 3) -------------------------------

@pytest.mark.parametrize("init, label", [("train", "random"), ("train", "least_likely"),
                                         ("random", "random"), ("random", "least_likely")])
def test_extract_runs_every_method_under_each_combo_with_consistent_stats(init, label):
    model = _cnn()
    train_x = torch.rand(50, 1, 8, 8, generator=torch.Generator().manual_seed(1)).round()
    n, seed = 12, 4
    g = torch.Generator().manual_seed(seed)  # extract's own draws, replayed
    x0 = initial_points(init, n, g, train_x=train_x, input_shape=(1, 8, 8))
    with torch.no_grad():
        logits0 = model(x0)
    for method in _cheap_methods():
        fp = extract(model, method, init=init, label=label, n=n, seed=seed, train_x=train_x,
                     input_shape=(1, 8, 8))
        s = fp.stats
        assert fp.meta.combo == f"-{'T' if init == 'train' else 'R'}" \
                                   f"{'R' if label == 'random' else 'L'}"
        assert fp.meta.method == method.name
        if init == "train":  # Table 3's T: starts are training examples
            assert all(bool((train_x == row).all(dim=(1, 2, 3)).any()) for row in x0)
        assert torch.equal(s["i"], logits0.argmax(1))
        if label == "least_likely":
            assert torch.equal(s["j"], logits0.argmin(1))
        else:
            assert torch.all(s["j"] != s["i"])
        with torch.no_grad():
            y = model(fp.x).argmax(1)
        assert torch.equal(fp.y, y)
        assert torch.equal(s["success"], y == s["j"])
        delta = (fp.x - x0).flatten(1)
        assert torch.allclose(s["l2"], delta.norm(dim=1), atol=1e-5)
        assert torch.allclose(s["linf"], delta.abs().amax(1), atol=1e-6)
        assert fp.meta.success_rate == pytest.approx(s["success"].float().mean().item())
        if isinstance(method, FGSM):
            assert torch.all(s["linf"] <= method.eps + 1e-6)
            assert torch.all(s["iterations"] == 1)
        if isinstance(method, IGSM):
            assert torch.all(s["linf"] <= method.eps + 1e-6)
            assert torch.all(s["iterations"][~s["success"]] == method.max_iter)
        if isinstance(method, IPGuard):
            done = s["iterations"] < method.max_iter
            with torch.no_grad():
                loss = boundary_loss(model(fp.x), s["i"], s["j"], method.k)
            assert torch.all(loss[done] == 0)  # Eq. 5 = 0 where the point stopped early
        if isinstance(method, Random):
            assert torch.all(s["iterations"] == 0)


# ---- what each method declares (tables and figures read only this) ------------------------

def test_every_method_declares_its_paper_name_swept_parameter_and_tuning():
    from ipguard.core.methods import METHODS, math_name, method_order, paper_name, swept_param

    assert list(METHODS)[:5] == ["random", "fgsm", "igsm", "cw_l2", "ipguard"]  # paper order
    assert [paper_name(m) for m in METHODS] == ["Random", "FGSM", "IGSM", "CW-L2", "IPGuard",
                                                "IPGuard (one point)"]
    assert {m: swept_param(m) for m in METHODS} == {
        "random": None, "fgsm": "eps", "igsm": "eps", "cw_l2": "k", "ipguard": "k",
        "ipguard_onepoint": "k"}
    assert math_name("cw_l2") == r"CW-$L_2$" and math_name("ipguard") == "IPGuard"
    assert OnePointIPGuard.tuning_name() == "ipguard" and IPGuard.tuning_name() == "ipguard"
    for name, cls in METHODS.items():
        assert cls.name == name and set(cls.defaults()) == set(cls().params())
    assert swept_param("mine", {"alpha": 1}) == "alpha" and paper_name("mine") == "mine"
    assert method_order("mine") > method_order("ipguard_onepoint")
