import pytest
import torch

from scvi_contrastive.nn.dec import DECHead, clustering_loss, target_distribution


def test_dec_head_assignment_and_room():
    head = DECHead(n_latent=2, max_clusters=4)
    assert not head.initialized
    head.set_centers(torch.tensor([[0.0, 0.0], [10.0, 0.0]]))
    assert head.initialized and int(head.n_active) == 2
    q = head(torch.tensor([[0.1, 0.0], [9.9, 0.0]]))
    assert q.shape == (2, 2)
    torch.testing.assert_close(q.sum(dim=1), torch.ones(2))
    assert q[0, 0] > 0.9 and q[1, 1] > 0.9
    with pytest.raises(ValueError, match="max_clusters"):
        head.set_centers(torch.zeros(5, 2))


def test_target_distribution_sharpens_and_loss_vanishes_at_target():
    q = torch.tensor([[0.6, 0.4], [0.3, 0.7], [0.5, 0.5]])
    p = target_distribution(q)
    torch.testing.assert_close(p.sum(dim=1), torch.ones(3))
    assert p[0, 0] > q[0, 0] and p[1, 1] > q[1, 1]
    torch.testing.assert_close(clustering_loss(p, p), torch.zeros(3), atol=1e-6, rtol=0)
    assert (clustering_loss(q, p) > 0).all()


def test_dec_gradients_pull_cells_to_their_centre():
    head = DECHead(n_latent=2, max_clusters=2)
    head.set_centers(torch.tensor([[0.0, 0.0], [4.0, 0.0]]))
    z = torch.tensor([[1.0, 0.0], [0.2, 0.0], [3.6, 0.0], [4.3, 0.0]], requires_grad=True)
    q = head(z)
    clustering_loss(q, target_distribution(q).detach()).sum().backward()
    # Descending the gradient moves each cell towards its nearer centre.
    assert z.grad[0, 0] > 0 and z.grad[2, 0] < 0
