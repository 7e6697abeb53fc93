import numpy as np
import pytest

from scvi_contrastive.tools.sketch import random_sketch, sketch_rows


def test_small_sets_are_kept_whole():
    np.testing.assert_array_equal(random_sketch(50, 50), np.arange(50))
    np.testing.assert_array_equal(random_sketch(50, 1_000), np.arange(50))
    np.testing.assert_array_equal(random_sketch(50, None), np.arange(50))
    assert len(random_sketch(0, 10)) == 0


def test_large_sets_give_sorted_distinct_rows_that_follow_the_seed():
    rows = random_sketch(10_000, 300, random_state=1)
    assert rows.shape == (300,) and len(np.unique(rows)) == 300
    assert np.all(np.diff(rows) > 0) and rows[0] >= 0 and rows[-1] < 10_000
    np.testing.assert_array_equal(rows, random_sketch(10_000, 300, random_state=1))
    assert not np.array_equal(rows, random_sketch(10_000, 300, random_state=2))
    # Uniform: each tenth of the rows holds about a tenth of the sketch.
    assert np.all(np.abs(np.bincount(rows // 1_000) - 30) < 15)


def test_sketch_size_must_be_positive():
    with pytest.raises(ValueError, match="max_cells"):
        random_sketch(10, 0)


def test_sketch_rows_draws_sorted_rows_from_the_given_ones():
    rows = np.array([90, 10, 70, 30, 50])
    np.testing.assert_array_equal(sketch_rows(rows, None), [10, 30, 50, 70, 90])
    drawn = sketch_rows(rows, 3, random_state=4)
    assert drawn.size == 3 and np.all(np.diff(drawn) > 0) and set(drawn) <= set(rows)
    np.testing.assert_array_equal(drawn, np.sort(rows[random_sketch(5, 3, random_state=4)]))
