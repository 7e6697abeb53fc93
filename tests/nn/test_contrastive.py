import math

import pytest
import torch

from scvi_contrastive.nn.contrastive import (
    info_nce_loss,
    mutual_information_loss,
    neighborhood_loss,
    scale_gradient,
)


def one_hot_balanced(n: int, k: int) -> torch.Tensor:
    return torch.eye(k)[torch.arange(n) % k]


@pytest.mark.parametrize("lamb", [0.0, 0.5, 10.0])
def test_mutual_information_known_values(lamb):
    k = 4
    aligned = one_hot_balanced(40, k)
    # Views that agree and use all k components equally: the minimum, -(1 + 2 lamb) log k.
    expected = -(1 + 2 * lamb) * math.log(k)
    # (Empty joint cells are clamped to float32's eps, hence the tolerance.)
    assert mutual_information_loss(aligned, aligned, lamb).item() == pytest.approx(
        expected, rel=1e-4
    )
    # Uninformative views (uniform rows): no mutual information, only the entropy bonus.
    uniform = torch.full((40, k), 1 / k)
    expected_uniform = -2 * lamb * math.log(k)
    assert mutual_information_loss(uniform, uniform, lamb).item() == pytest.approx(
        expected_uniform
    )


def test_mutual_information_prefers_agreement_and_is_symmetric():
    torch.manual_seed(0)
    p_a = torch.softmax(torch.randn(64, 5), dim=1)
    p_b = torch.softmax(torch.randn(64, 5), dim=1)
    assert mutual_information_loss(p_a, p_a) < mutual_information_loss(p_a, p_b)
    assert mutual_information_loss(p_a, p_b).item() == pytest.approx(
        mutual_information_loss(p_b, p_a).item()
    )


def test_mutual_information_gradients_and_extremes():
    logits = torch.tensor([[80.0, -80.0, 0.0]] * 8, requires_grad=True)
    p = torch.softmax(logits, dim=1)  # rows with exact zeros
    loss = mutual_information_loss(p, p.detach().roll(1, dims=0))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


def test_info_nce_known_value():
    temperature = 0.5
    z = torch.eye(2)
    # Each anchor: one positive (similarity 1) and two negatives (similarity 0).
    expected = -math.log(math.exp(1 / temperature) / (math.exp(1 / temperature) + 2))
    assert info_nce_loss(z, z, temperature).item() == pytest.approx(expected, rel=1e-5)


def test_info_nce_groups_keep_negatives_within_the_anchors_group():
    temperature = 0.5
    z = torch.eye(4)
    # Two groups of two pairs: each anchor keeps one positive and two negatives of its group.
    grouped = info_nce_loss(z, z, temperature, groups=torch.tensor([0, 0, 1, 1]))
    expected = -math.log(math.exp(1 / temperature) / (math.exp(1 / temperature) + 2))
    assert grouped.item() == pytest.approx(expected, rel=1e-5)
    assert info_nce_loss(z, z, temperature).item() > grouped.item()


def test_scale_gradient_keeps_the_value_and_scales_the_gradient():
    x = torch.randn(3, requires_grad=True)
    y = scale_gradient(x, 0.25)
    torch.testing.assert_close(y, x.detach())
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.full((3,), 0.25))


def test_info_nce_ranks_true_pairs_and_handles_extremes():
    torch.manual_seed(0)
    z_a = torch.randn(32, 8)
    paired = info_nce_loss(z_a, z_a + 0.01 * torch.randn(32, 8))
    shuffled = info_nce_loss(z_a, z_a[torch.randperm(32)])
    assert paired < shuffled
    big = (1e6 * torch.randn(16, 4)).requires_grad_()
    loss = info_nce_loss(big, big.detach() * 2, temperature=0.01)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(big.grad).all()


def test_shape_and_temperature_errors():
    with pytest.raises(ValueError, match="same shape"):
        info_nce_loss(torch.zeros(3, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="same shape"):
        mutual_information_loss(torch.zeros(3, 2), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="temperature"):
        info_nce_loss(torch.ones(3, 2), torch.ones(3, 2), temperature=0)


def test_neighborhood_loss_known_value_and_preference():
    # Two cells: each one's only neighbour is the other, whatever the spaces: loss 0.
    assert neighborhood_loss(torch.randn(2, 3), torch.randn(2, 5)).item() == pytest.approx(0.0)
    torch.manual_seed(0)
    groups = torch.arange(40) % 4
    space = torch.eye(4)[groups] + 0.05 * torch.randn(40, 4)
    kept = torch.eye(4)[groups] @ torch.randn(4, 6) + 0.05 * torch.randn(40, 6)
    shuffled = kept[torch.randperm(40)]
    assert neighborhood_loss(kept, space) < neighborhood_loss(shuffled, space) - 0.5
    # Equal-size groups seen the same way in both spaces: the loss is the entropy of a uniform
    # choice among the 9 other members of the group as temperatures go to zero.
    exact = torch.eye(4)[groups]
    value = neighborhood_loss(exact, exact, temperature=1e-3, space_temperature=1e-3)
    assert value.item() == pytest.approx(math.log(9), rel=1e-4)


def test_neighborhood_loss_gradients_and_errors():
    z = torch.randn(16, 4, requires_grad=True)
    neighborhood_loss(z, torch.randn(16, 3)).backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    single = torch.randn(1, 4, requires_grad=True)
    assert neighborhood_loss(single, torch.randn(1, 3)).item() == 0.0
    with pytest.raises(ValueError, match="one row per cell"):
        neighborhood_loss(torch.randn(5, 4), torch.randn(6, 3))
    with pytest.raises(ValueError, match="positive"):
        neighborhood_loss(torch.randn(5, 4), torch.randn(5, 3), space_temperature=0.0)
