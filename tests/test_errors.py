import math

import numpy as np
import pytest

from molgen.errors import is_finite_number


@pytest.mark.parametrize("value", [0, 1, -2.5, 1e300, np.float64(0.5)])
def test_finite_numbers_accepted(value):
    assert is_finite_number(value)


@pytest.mark.parametrize("value", [True, False, None, "1", [1], math.nan, math.inf, -math.inf])
def test_non_numbers_and_non_finite_refused(value):
    assert not is_finite_number(value)
