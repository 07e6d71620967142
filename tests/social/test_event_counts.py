import numpy as np
import pytest

from recsys.social.event_counts import EventCounter

KEYS = np.array([7, 7, 7, 3, 7])
TIMES = np.array([10, 20, 20, 5, 30])
GROUPS = np.array([0, 1, 1, -1, 2])


def test_counts_up_to_the_time_inclusive() -> None:
    c = EventCounter(KEYS, TIMES, GROUPS)
    np.testing.assert_array_equal(
        c.count(np.array([7, 7, 7, 7, 3, 9]), np.array([9, 10, 20, 99, 5, 99])),
        [0, 1, 3, 4, 1, 0],
    )


def test_own_group_is_left_out_once_it_happened() -> None:
    c = EventCounter(KEYS, TIMES, GROUPS)
    # Group 1 has two events under key 7 at time 20; before 20 there is nothing to leave out.
    got = c.count(np.array([7, 7, 7, 3]), np.array([20, 15, 99, 99]), np.array([1, 1, 2, 0]))
    np.testing.assert_array_equal(got, [1, 1, 3, 1])


def test_undated_events_leave_one_out() -> None:
    c = EventCounter(np.array([1, 1, 1]), np.zeros(3, np.int64), np.array([0, 1, 2]))
    np.testing.assert_array_equal(c.count(np.ones(3, np.int64), np.zeros(3), np.arange(3)), [2] * 3)
    # Strictly earlier: undated data has no last contact.
    assert c.last_before(np.array([1]), np.array([0]))[0] == np.iinfo(np.int64).min


def test_last_before_and_weights() -> None:
    c = EventCounter(KEYS, TIMES, weights=np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    np.testing.assert_array_equal(c.last_before(np.array([7, 7, 3]), np.array([20, 31, 5])),
                                  [10, 30, np.iinfo(np.int64).min])
    np.testing.assert_array_equal(c.count(np.array([7]), np.array([20])), [6.0])


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="one length"):
        EventCounter(np.array([1, 2]), np.array([1]))
    with pytest.raises(ValueError, match=">= 0"):
        EventCounter(np.array([-1]), np.array([1]))


def test_totals_answer_as_the_counter_does_after_the_last_event() -> None:
    from recsys.social.event_counts import NEVER, EventTotals

    c = EventCounter(KEYS, TIMES, GROUPS, weights=np.array([1.0, 2.0, 0.5, 4.0, 1.0]))
    totals = c.totals(with_last=True)
    np.testing.assert_array_equal(totals.keys, [3, 7])
    np.testing.assert_allclose(totals.totals, [4.0, 4.5])
    np.testing.assert_array_equal(totals.last, [5, 30])
    keys, late = np.array([7, 3, 9, -1]), np.full(4, 100)
    np.testing.assert_allclose(totals.count(keys), c.count(keys, late))
    np.testing.assert_array_equal(totals.last_before(keys, late), c.last_before(keys, late))
    # A request clock behind the data's still gets a time before the request.
    assert totals.last_before(np.array([7]), np.array([25]))[0] == 24
    np.testing.assert_array_equal(
        totals.any_between(keys, np.full(4, 20)), c.any_between(keys, np.full(4, 20), late)
    )
    assert totals.last_before(np.array([9]), np.array([1]))[0] == NEVER
    without_last = c.totals()
    assert without_last.last is None
    with pytest.raises(ValueError, match="last times"):
        without_last.last_before(keys, late)
    empty = EventCounter(np.zeros(0), np.zeros(0)).totals(with_last=True)
    assert len(empty) == 0 and empty.count(keys).sum() == 0
    with pytest.raises(ValueError, match="differ in length"):
        EventTotals(np.array([1]), np.array([1.0, 2.0]))


def test_a_shared_time_axis_counts_as_the_counters_own() -> None:
    axis = np.array([1, 5, 10, 20, 30, 40])
    shared = EventCounter(KEYS, TIMES, GROUPS, time_values=axis)
    own = EventCounter(KEYS, TIMES, GROUPS)
    keys, times = np.array([7, 7, 7, 3, 7, 9]), np.array([9, 20, 35, 5, 30, 99])
    groups = np.array([-1, 1, 2, 0, 1, -1])
    np.testing.assert_array_equal(shared.count(keys, times, groups), own.count(keys, times, groups))
    np.testing.assert_array_equal(shared.last_before(keys, times), own.last_before(keys, times))
    with pytest.raises(ValueError, match="lacks 1 of the event times"):
        EventCounter(KEYS, TIMES, time_values=np.array([5, 10, 20]))
