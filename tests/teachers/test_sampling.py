"""Nucleus sampling of the local backend (`sample_top_p`), checked against exact probabilities."""

import pytest

torch = pytest.importorskip("torch")

from trajkit.teachers.local import NUCLEUS_SEARCH, sample_top_p  # noqa: E402


def draw(probs, top_p, n=20000, seed=0):
    generator = torch.Generator().manual_seed(seed)
    rows = probs.unsqueeze(0).expand(n, -1)
    return sample_top_p(rows, torch.full((n,), top_p), torch.rand(n, generator=generator))


def test_only_the_nucleus_is_sampled_in_proportion():
    probs = torch.tensor([0.5, 0.25, 0.15, 0.1])
    counts = torch.bincount(draw(probs, 0.7), minlength=4).float() / 20000
    # the nucleus for 0.7 is the smallest set reaching it: {0, 1} (0.5 + 0.25 >= 0.7)
    assert counts[2] == 0 and counts[3] == 0
    assert torch.allclose(counts[:2], torch.tensor([2 / 3, 1 / 3]), atol=0.015)
    counts = torch.bincount(draw(probs, 0.8), minlength=4).float() / 20000
    assert counts[3] == 0 and torch.allclose(counts[:3], torch.tensor([0.5, 0.25, 0.15]) / 0.9, atol=0.015)


def test_top_p_one_samples_the_whole_distribution():
    probs = torch.softmax(torch.linspace(0, 3, 1000), dim=0)  # wider than the first search
    assert probs.shape[0] > NUCLEUS_SEARCH
    tokens = draw(probs, 1.0)
    tail = probs[: 1000 - NUCLEUS_SEARCH].sum().item()
    assert abs((tokens < 1000 - NUCLEUS_SEARCH).float().mean().item() - tail) < 0.015


def test_a_nucleus_beyond_the_first_search_is_found():
    probs = torch.full((4 * NUCLEUS_SEARCH,), 1.0 / (4 * NUCLEUS_SEARCH))
    tokens = draw(probs, 0.9)
    kept = int((tokens.unique()).numel())
    assert kept > 3 * NUCLEUS_SEARCH  # flat distribution: 90% of the tokens are in the nucleus


def test_rows_use_their_own_top_p_and_the_first_token_always_stays():
    probs = torch.tensor([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25]])
    tokens = sample_top_p(probs, torch.tensor([0.0, 0.5]), torch.tensor([0.99, 0.99]))
    assert tokens.tolist() == [0, 1]  # top_p 0 keeps only the best; 0.5 keeps two tokens
