"""The intake's queue under Faust's flow control: a rebalance's start clears it, a resume not."""

from __future__ import annotations

import asyncio

from streaming.intake import Intake, ScoringApp


def test_a_rebalance_start_clears_the_queue_and_a_resume_keeps_it() -> None:
    """Recovery resumes the flow after it has sought the partitions: lists fetched since stay.

    They are of the new generation and their offsets are read; dropped, their records were
    skipped for good. Lists queued when a rebalance starts must go, or the revocation (which
    waits for every tracked record) would wait for them.
    """

    async def run() -> None:
        app = ScoringApp("intake-test", broker="kafka://127.0.0.1:9", store="memory://")
        intake = Intake(app, "transactions")
        flow = app.flow_control
        flow.resume()  # as Faust's recovery does, once the partitions are sought
        await intake.put(["fetched after the seek"])
        flow.resume()  # recovery resumes again (standbys, then the streams) before "Worker ready"
        assert intake.waiting() == 1
        assert await intake.queue.get() == ["fetched after the seek"]

        await intake.put(["fetched before a rebalance"])
        flow.suspend()  # a rebalance starts: Faust suspends the flow, then clears its queues
        flow.clear()
        assert intake.waiting() == 0

    asyncio.run(run())
