"""Fixtures of the reliability tests: each test taking ``case`` runs once per model class."""

import pytest
from reliability_cases import CASES


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    return CASES[request.param]


@pytest.fixture(scope="module")
def trained(case):
    """A trained model of the case's class, shared by the tests of a module (per worker)."""
    return case.fit(case.model(batch_key="batch"))
