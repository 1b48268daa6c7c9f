"""How an ingest worker cuts its queue into transactions (no broker needed: nothing connects)."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from tanhui.ingest.subscriber import Delivery, DeliveryStats, SessionSubscriber


def _subscriber(sizes: list[int]) -> SessionSubscriber:
    subscriber = SessionSubscriber(
        name="test", host="127.0.0.1", port=1, topic_filter="t/#", stats=DeliveryStats(), receive_maximum=10
    )
    for mid, size in enumerate(sizes, start=1):
        subscriber._inbox.put(Delivery(mid, 1, "t/x", b"x" * size, 0))
    return subscriber


@given(
    st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=40),
    st.integers(min_value=1, max_value=50),
    st.none() | st.integers(min_value=1, max_value=20_000),
)
def test_batches_keep_arrival_order_and_stop_at_the_first_limit_reached(
    sizes: list[int], most: int, most_bytes: int | None
) -> None:
    subscriber = _subscriber(sizes)
    taken: list[list[Delivery]] = []
    while sum(map(len, taken)) < len(sizes):  # an empty queue would make _take wait 0.2 s for nothing
        taken.append(subscriber._take(most, most_bytes))
    assert [d.mid for batch in taken for d in batch] == list(range(1, len(sizes) + 1))
    for batch in taken:
        assert 1 <= len(batch) <= most
        if most_bytes is not None:
            # Over the limit only by the envelope that crossed it: the one before was still under it.
            assert sum(len(d.payload) for d in batch[:-1]) < most_bytes


def test_large_envelopes_make_small_batches_and_small_ones_large() -> None:
    large = _subscriber([90_000] * 30)
    assert len(large._take(200, 2 * 1024 * 1024)) == 24  # 23 stay under 2 MiB, the 24th crosses it
    small = _subscriber([200] * 300)
    assert len(small._take(200, 2 * 1024 * 1024)) == 200


def test_a_worker_holding_deferred_envelopes_does_not_wait_for_new_ones() -> None:
    subscriber = _subscriber([10])
    started = time.perf_counter()
    assert [d.mid for d in subscriber._take(5, wait=False)] == [1]
    assert subscriber._take(5, wait=False) == []
    assert time.perf_counter() - started < 0.15  # waiting for the first would take 0.2 s
    assert subscriber._take(5) == []
    assert time.perf_counter() - started >= 0.2
