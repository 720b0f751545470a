"""`api.routers.entries._Waker`: the group's writer thread wakes the requests of one
event loop waiting for their groups with one ``call_soon_threadsafe`` per run of
answers, not one per request; each waiting request is still woken, exactly once,
whatever thread answers it; a cancelled request is skipped; a closed loop is no error."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from api.routers import entries


def _count_calls(monkeypatch: pytest.MonkeyPatch, loop: asyncio.AbstractEventLoop) -> list[Any]:
    calls: list[Any] = []
    real = loop.call_soon_threadsafe

    def counted(callback: Any, *args: Any) -> Any:
        calls.append(callback)
        return real(callback, *args)

    monkeypatch.setattr(loop, "call_soon_threadsafe", counted)
    return calls


def test_a_group_of_answers_wakes_the_loop_once_and_every_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def main() -> None:
        waker = entries._waker()
        assert entries._waker() is waker  # one a loop
        calls = _count_calls(monkeypatch, asyncio.get_running_loop())
        futures = [waker.future() for _ in range(20)]

        def writer() -> None:  # as the group's writer answers its callers, in turn
            for future in futures:
                waker.wake(future)

        thread = threading.Thread(target=writer)
        thread.start()
        thread.join()  # all answered before the loop ran again: one wake-up
        await asyncio.wait_for(asyncio.gather(*futures), 5)
        assert len(calls) == 1
        # answered while the loop runs: woken again, none missed, none twice
        more = [waker.future() for _ in range(50)]
        thread = threading.Thread(target=lambda: [waker.wake(f) for f in more])
        thread.start()
        await asyncio.wait_for(asyncio.gather(*more), 5)
        thread.join()
        assert 2 <= len(calls) <= 51
        assert all(f.result() is None for f in more)

    asyncio.run(main())


def test_a_cancelled_request_is_skipped_and_a_closed_loop_is_no_error() -> None:
    async def main() -> entries._Waker:
        waker = entries._waker()
        gone, waiting = waker.future(), waker.future()
        gone.cancel()
        threading.Thread(target=lambda: (waker.wake(gone), waker.wake(waiting))).start()
        await asyncio.wait_for(waiting, 5)
        assert gone.cancelled()
        return waker

    waker = asyncio.run(main())  # the loop is closed now
    loop = asyncio.new_event_loop()
    late = loop.create_future()
    loop.close()
    waker.wake(late)  # no error, nothing kept
    assert waker._ready == []


def test_a_single_event_through_the_route_is_answered_by_its_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`_grouped` resolves with the group's answer (here a stand-in ledger answering
    from another thread, as the group's writer does)."""

    class Pending:
        def answer(self) -> str:
            return "receipt"

    class Ledger:
        def submit(self, signed: Any, wake: Any, charge: Any) -> Pending:
            threading.Timer(0.01, wake).start()
            return Pending()

    async def main() -> Any:
        return await asyncio.wait_for(entries._grouped(Ledger(), None, None), 5)  # type: ignore[arg-type]

    assert asyncio.run(main()) == "receipt"


def test_a_closed_loop_and_its_waker_are_dropped() -> None:
    """`_WAKERS` is keyed weakly by the loop: its waker must not hold the loop itself
    (a value that refers to its own key keeps both for ever: each closed loop, with
    everything it refers to, leaked)."""
    import gc
    import weakref

    async def main() -> weakref.ref[asyncio.AbstractEventLoop]:
        entries._waker()
        return weakref.ref(asyncio.get_running_loop())

    gone = asyncio.run(main())
    gc.collect()
    assert gone() is None
