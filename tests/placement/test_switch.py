"""The per-segment switch: a paired bootstrap decides, the rule is the side of doubt."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.placement import CirclePlacer
from recsys.placement.plain_rule import activity_band, plain_rule_members
from recsys.placement.switch import (
    SEGMENTS,
    ValidationCopies,
    choose_segments,
    micro_f1,
    paired_bootstrap_wins,
)
from tests.placement.synthetic import make_problem


def _noisy(truth: np.ndarray, flip: float, rng: np.random.Generator) -> np.ndarray:
    return truth ^ (rng.random(truth.shape) < flip)


def test_bootstrap_tells_a_clear_win_from_a_tie() -> None:
    rng = np.random.default_rng(0)
    truth = rng.random((600, 6)) < 0.3
    users = np.arange(600)
    good, bad = _noisy(truth, 0.05, rng), _noisy(truth, 0.25, rng)
    assert paired_bootstrap_wins(good, bad, truth, users, n_boot=300, rng=rng) == 1.0
    assert paired_bootstrap_wins(bad, good, truth, users, n_boot=300, rng=rng) == 0.0
    # Two equally good predictors: neither wins often enough to be trusted.
    a, b = _noisy(truth, 0.1, rng), _noisy(truth, 0.1, rng)
    assert 0.02 < paired_bootstrap_wins(a, b, truth, users, n_boot=300, rng=rng) < 0.98
    # Identical predictions never win (a tie keeps the rule).
    assert paired_bootstrap_wins(a, a, truth, users, n_boot=50, rng=rng) == 0.0


def test_copies_of_one_user_resample_together() -> None:
    rng = np.random.default_rng(1)
    truth = rng.random((6, 8)) < 0.4
    model, rule = _noisy(truth, 0.1, rng), _noisy(truth, 0.2, rng)
    # Twenty copies of each of 6 users are the evidence of 6 users, not of 120.
    copies = [np.tile(a, (20, 1)) for a in (model, rule, truth)]
    as_users = paired_bootstrap_wins(*copies, np.tile(np.arange(6), 20), n_boot=400,
                                     rng=np.random.default_rng(0))  # fmt: skip
    as_rows = paired_bootstrap_wins(*copies, np.arange(120), n_boot=400,
                                    rng=np.random.default_rng(0))  # fmt: skip
    assert as_rows == 1.0 and as_users < 0.95


def test_choose_segments_keeps_the_model_only_where_it_clearly_wins() -> None:
    rng = np.random.default_rng(2)
    n, c = 3000, 6
    truth = rng.random((n, c)) < 0.3
    # Item events: band by total; in every band the rule sees the truth through some noise.
    totals = rng.choice([2, 10, 30, 60], size=n)
    items = (truth * 3 + rng.random((n, c))) * (totals / 10.0)[:, None]
    rule = plain_rule_members(items)
    # The model: near perfect in the lightest band, the rule's exact members in the others.
    proba = np.where(rule, 0.9, 0.1)
    light = totals == 2
    proba[light] = np.where(truth[light], 0.9, 0.1)
    bands = ValidationCopies(proba, truth, items, np.arange(n))
    choice = choose_segments(bands, bands, np.full(c, 0.5), min_members=0, max_members=None,
                             n_boot=200)  # fmt: skip
    assert choice.use_rule.shape == (len(SEGMENTS),)
    assert not choice.use_rule[0] and choice.model_wins[0] == 1.0
    # Ties with the rule (and the labelled segment, a mix) fall to the rule unless clear.
    assert choice.use_rule[1:4].all()
    first = activity_band(items.sum(axis=1)) == 0
    assert choice.f1[0, 0] == pytest.approx(micro_f1(proba[first] >= 0.5, truth[first]))
    with pytest.raises(ValueError, match="confidence"):
        choose_segments(bands, bands, np.full(c, 0.5), min_members=0, max_members=None,
                        confidence=1.0)  # fmt: skip


def test_a_segment_without_validation_copies_uses_the_rule() -> None:
    rng = np.random.default_rng(3)
    truth = rng.random((200, 4)) < 0.4
    items = truth * 1.0 + 0.01  # every copy has < 5 item events
    copies = ValidationCopies(np.where(truth, 0.9, 0.1), truth, items, np.arange(200))
    choice = choose_segments(copies, copies, np.full(4, 0.5), min_members=0, max_members=None,
                             n_boot=100)  # fmt: skip
    assert np.isnan(choice.f1[1:4]).all() and choice.use_rule[1:4].all()


@pytest.fixture(scope="module")
def problem():
    return make_problem(n_users=1500, seed=3)


def test_the_placer_applies_and_saves_its_choice(problem, tmp_path) -> None:
    eng, f = problem.engagement, problem.user_factors
    placer = CirclePlacer(random_state=0).fit(eng, f)
    assert placer.use_rule_.shape == (len(SEGMENTS),)
    np.testing.assert_array_equal(placer.use_rule_,
                                  placer.segment_wins_ < placer.switch_confidence)  # fmt: skip
    proba = placer.predict_proba(eng, f)
    # Force the rule in every segment: members are the plain rule's, with engagement given,
    # except for users without item events (the rule would place them nowhere).
    placer.use_rule_ = np.ones(len(SEGMENTS), bool)
    members = placer.members_from_proba(proba, eng)
    active = np.asarray(eng["item_events"].sum(axis=1)).ravel() > 0
    assert active.any() and (~active).any()
    np.testing.assert_array_equal(members[active], plain_rule_members(eng["item_events"])[active])
    placer.use_rule_ = np.zeros(len(SEGMENTS), bool)
    np.testing.assert_array_equal(members[~active],
                                  placer.members_from_proba(proba, eng)[~active])  # fmt: skip
    placer.use_rule_ = np.ones(len(SEGMENTS), bool)
    with pytest.raises(ValueError, match="pass engagement"):
        placer.members_from_proba(proba)
    placer.save(tmp_path)
    loaded = CirclePlacer.load(tmp_path)
    assert loaded.use_rule_.all()
    np.testing.assert_array_equal(loaded.segment_wins_, placer.segment_wins_)
    (tmp_path / "use_rule.npy").unlink()
    assert not CirclePlacer.load(tmp_path).use_rule_.any()  # saved before the switch existed


def test_labelled_users_are_switched_per_band_and_old_placers_upgrade() -> None:
    import scipy.sparse as sp

    from recsys.placement.switch import LABELLED, apply_switch, upgrade_use_rule, user_segments

    # User 0: 2 item events, 5 posts; user 1: 50 item events, 5 posts; user 2: 50, no posts;
    # user 3: no item events.
    items = sp.csr_matrix(np.array([[2, 0], [5, 45], [45, 5], [0, 0]], np.float32))
    posts = sp.csr_matrix(np.array([[5, 0], [0, 5], [0, 0], [0, 0]], np.float32))
    eng = {"item_events": items, "posts_written": posts}
    np.testing.assert_array_equal(user_segments(eng, 3), [LABELLED + 0, LABELLED + 3, 3, 0])
    use_rule = np.zeros(len(SEGMENTS), bool)
    use_rule[[LABELLED + 3, 0]] = True  # heavy labelled users and the lightest band: the rule
    model = np.array([[False, True], [True, False], [True, False], [True, False]])
    got = apply_switch(model, use_rule, eng, 3)
    # User 3 has no item events: the rule would place them nowhere, the model keeps them.
    np.testing.assert_array_equal(got, [[False, True], [False, True], [True, False],
                                        [True, False]])  # fmt: skip
    old = np.array([False, False, True, True, True])  # 4 bands, then one labelled flag
    np.testing.assert_array_equal(upgrade_use_rule(old), [False, False, True, True] + [True] * 4)
    with pytest.raises(ValueError, match="segments"):
        upgrade_use_rule(np.zeros(3, bool))
