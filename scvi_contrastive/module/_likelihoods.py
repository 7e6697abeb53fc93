"""Count likelihoods of SCMDCF's decoders: which heads each needs and its distribution."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from scvi.distributions import (
    NegativeBinomial,
    NegativeBinomialMixture,
    Poisson,
    ZeroInflatedNegativeBinomial,
)
from torch.distributions import Bernoulli, Distribution

from .._constants import MODALITIES

#: Decoder heads (outputs per feature) each likelihood reads.
LIKELIHOOD_HEADS = {
    "nb": ("scale",),
    "zinb": ("scale", "dropout"),
    "nb_mixture": ("background", "foreground", "mixing"),
    "bernoulli": ("logits",),
    "poisson": ("scale",),
}
#: Likelihoods each modality may take, its default first.
_ALLOWED_LIKELIHOODS = {
    MODALITIES.RNA: ("nb", "zinb"),
    MODALITIES.PROTEIN: ("nb_mixture", "nb"),
    MODALITIES.ATAC: ("bernoulli", "poisson"),
}


def resolve_likelihoods(modalities: list[str], given: dict[str, str] | None) -> dict[str, str]:
    """Each modality's likelihood: the one ``given``, else its default; unknown ones refused."""
    given = dict(given or {})
    unknown = set(given) - set(_ALLOWED_LIKELIHOODS)
    if unknown:
        raise ValueError(f"Unknown modalities in `likelihoods`: {sorted(unknown)}.")
    resolved = {}
    for m in modalities:
        choice = given.get(m, _ALLOWED_LIKELIHOODS[m][0])
        if choice not in _ALLOWED_LIKELIHOODS[m]:
            raise ValueError(
                f"Likelihood {choice!r} is not available for {m}; choose one of "
                f"{_ALLOWED_LIKELIHOODS[m]}."
            )
        resolved[m] = choice
    return resolved


def count_distribution(
    likelihood: str,
    is_protein: bool,
    out: dict[str, torch.Tensor],
    log_library: torch.Tensor,
    log_dispersion: torch.Tensor | None,
) -> Distribution:
    """Distribution of a modality's counts from its decoder heads ``out``.

    RNA (and Poisson ATAC) rates are proportions times the library, as in scVI; protein rates
    are modelled directly, with a background/foreground mixture as in totalVI; Bernoulli
    accessibility is shifted on the log-odds scale by the cell's depth.
    """
    if likelihood in ("nb", "zinb") and not is_protein:
        mu = torch.softmax(out["scale"], dim=-1) * log_library.exp()
        theta = log_dispersion.exp()
        if likelihood == "zinb":
            return ZeroInflatedNegativeBinomial(mu=mu, theta=theta, zi_logits=out["dropout"])
        return NegativeBinomial(mu=mu, theta=theta)
    if likelihood == "nb":  # protein: rates are modelled directly, as totalVI does
        return NegativeBinomial(mu=out["scale"].clamp(max=15).exp(), theta=log_dispersion.exp())
    if likelihood == "nb_mixture":
        background = out["background"].clamp(max=15).exp()
        foreground = background * (1.0 + F.softplus(out["foreground"]))
        return NegativeBinomialMixture(
            mu1=background,
            mu2=foreground,
            theta1=log_dispersion.exp(),
            mixture_logits=out["mixing"],
        )
    if likelihood == "poisson":
        return Poisson(torch.softmax(out["scale"], dim=-1) * log_library.exp())
    # Accessibility: a cell's sequencing depth shifts the log-odds of every peak.
    return Bernoulli(logits=out["logits"] + log_library, validate_args=False)
