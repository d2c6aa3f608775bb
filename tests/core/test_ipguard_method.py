"""Eq. 5 and IPGuard's batched Adam with per-point stopping and clipping."""

import torch
from torch import nn

from ipguard.core.methods import IPGuard, boundary_loss


def test_eq5_on_hand_made_logits():
    logits = torch.tensor([
        [5.0, 1.0, 0.0],   # i=0, j=1, k=1: relu(5-1+1)=5, relu(max(0)-5)=0 -> 5
        [1.0, 3.0, 0.0],   # Z_j >= Z_i + k and Z_i >= rest: loss 0 (solution)
        [1.0, 2.5, 4.0],   # relu(1-2.5+1)=0, relu(4-1)=3 -> 3
        [2.0, 2.5, 0.0],   # on j's side but only 0.5 < k away: relu(2-2.5+1)=0.5
    ])
    i = torch.tensor([0, 0, 0, 0])
    j = torch.tensor([1, 1, 1, 1])
    assert boundary_loss(logits, i, j, k=1.0).tolist() == [5.0, 0.0, 3.0, 0.5]


def test_eq5_k_zero_is_the_boundary_itself():
    logits = torch.tensor([[2.0, 2.0, 1.0]])  # Z_i = Z_j >= rest: on CB (Eq. 4)
    assert boundary_loss(logits, torch.tensor([0]), torch.tensor([1]), k=0.0).item() == 0.0


class Linear3(nn.Module):
    """A fixed linear 3-class model on 1x2x2 inputs with known geometry."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Linear(4, 3)
        with torch.no_grad():
            self.w.weight.copy_(torch.tensor([[4.0, 0, 0, 0], [0, 4.0, 0, 0], [0, 0, 4.0, 0]]))
            self.w.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w(x.flatten(1))


def _starts() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x0 = torch.tensor([[0.9, 0.1, 0.0, 0.0], [0.9, 0.1, 0.0, 0.0], [0.1, 0.9, 0.2, 0.0]])
    x0 = x0.view(3, 1, 2, 2)
    return x0, torch.tensor([0, 0, 1]), torch.tensor([1, 2, 0])


def test_stopping_points_satisfy_eq5_and_stay_in_unit_box():
    model = Linear3()
    x0, i, j = _starts()
    out = IPGuard(k=1.0, lr=0.05, max_iter=1000)(model, x0, i, j)
    loss = boundary_loss(model(out.x), i, j, 1.0)
    assert torch.all(loss == 0)
    assert out.x.min() >= 0 and out.x.max() <= 1
    assert torch.all(model(out.x).argmax(1) == j)


def test_per_point_stopping_freezes_finished_points():
    model = Linear3()
    x0, i, j = _starts()
    # point 0 already satisfies Eq. 5 for (i=0, j=1)? make it so: x = (0.3, 0.6, ...)
    x0[0] = torch.tensor([0.3, 0.6, 0.0, 0.0]).view(1, 2, 2)
    out = IPGuard(k=1.0, lr=0.05)(model, x0, i, j)
    assert out.iterations[0] == 0
    assert torch.equal(out.x[0], x0[0])  # a finished point never moves
    assert torch.all(out.iterations[1:] > 0)
    # each point's iteration count equals a run of that point alone (no cross-talk)
    for p in range(3):
        alone = IPGuard(k=1.0, lr=0.05)(model, x0[p:p + 1], i[p:p + 1], j[p:p + 1])
        assert alone.iterations.item() == out.iterations[p].item()
        assert torch.allclose(alone.x, out.x[p:p + 1], atol=1e-6)


def test_iteration_cap_is_respected():
    model = Linear3()
    x0, i, j = _starts()
    out = IPGuard(k=100.0, lr=0.001, max_iter=7)(model, x0, i, j)  # k unreachable in [0,1]
    assert out.iterations.tolist() == [7, 7, 7]


def test_clipping_to_pixel_domain():
    model = Linear3()
    x0, i, j = _starts()
    out = IPGuard(k=3.5, lr=0.5, max_iter=50)(model, x0, i, j)  # big steps push past [0, 1]
    assert out.x.min() >= 0 and out.x.max() <= 1


def test_model_parameters_get_no_gradients():
    model = Linear3()
    x0, i, j = _starts()
    IPGuard(k=1.0, lr=0.05)(model, x0, i, j)
    assert all(p.grad is None for p in model.parameters())
