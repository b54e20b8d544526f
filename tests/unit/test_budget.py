from modeltrain.pipeline.budget import MIN_SEARCH_SHARE, search_budget


def test_the_search_leaves_room_for_what_follows_it_more_for_bigger_files():
    small = search_budget(10, 60_000, elapsed=0.1)
    big = search_budget(10, 25_000_000, elapsed=0.6)
    assert 7.5 < small < 9.9 and 5.0 < big < small
    assert search_budget(10, 60_000, elapsed=0.1) > search_budget(10, 60_000, elapsed=2.0)


def test_a_short_budget_still_searches_for_a_share_of_it():
    assert search_budget(2, 25_000_000, elapsed=1.0) == MIN_SEARCH_SHARE * 2
    assert search_budget(3600, 1_000, elapsed=0.0) > 3595
