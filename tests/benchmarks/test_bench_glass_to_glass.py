"""Glass-to-glass: the client's window and drop counting, and (slow) one real loopback measurement."""

from __future__ import annotations

import asyncio

import pytest


def _client_with(sent: dict[int, float], received_pts: list[int], origin: int, t0: float):
    from streamer.webrtc.client import LoopbackClient

    async def make():
        client = LoopbackClient("http://127.0.0.1:1", frames=[], fps=25.0)
        client.track.sent.update(sent)
        client._received[:] = [(pts, t0 + 0.5) for pts in received_pts]
        client._t0 = t0
        client.result.server_stats = {"pts_origin": origin}
        losses = client._losses(end=t0 + 10.0)
        await client.pc.close()
        return losses

    return asyncio.run(make())


class TestLossCounting:
    def test_sent_in_window_that_never_came_back(self):
        # Client pts 0..9 sent at t = 100.0 + k; the server's timeline starts at client pts 2 (origin).
        sent = {k: 100.0 + k for k in range(10)}
        received = [0, 1, 3, 5]  # server pts: client pts 2, 3, 5, 7 came back
        # Window from t0 = 101.5 to end - grace = 110.5: client pts 2..9 were due; 4, 6, 8, 9 never came back.
        assert _client_with(sent, received, origin=2, t0=101.5) == (8, 4)

    def test_frames_in_the_grace_period_are_not_lost_yet(self):
        from streamer.webrtc.client import LOSS_GRACE_S

        sent = {0: 100.0, 1: 109.0 + LOSS_GRACE_S + 0.5}  # the second one was sent just before hang-up
        assert _client_with(sent, [0], origin=0, t0=99.0) == (1, 0)

    def test_no_server_stats_no_count(self):
        from streamer.webrtc.client import LoopbackClient

        async def make():
            client = LoopbackClient("http://127.0.0.1:1", frames=[], fps=25.0)
            client.track.sent[0] = 1.0
            out = client._losses(end=10.0)
            await client.pc.close()
            return out

        assert asyncio.run(make()) == (0, 0)


@pytest.mark.slow
def test_measure_glass_to_glass_on_loopback(example_driver, tmp_path):
    """A real server process and one peer for a few seconds (needs aiortc and loopback UDP)."""
    from benchmarks.glass_to_glass import measure_glass_to_glass, why_unavailable
    from streamer.examples import example_source_path

    if why_unavailable():
        pytest.skip(why_unavailable())
    live = measure_glass_to_glass(example_driver, example_source_path(), 3.0, ["--generator", "geometric"])
    assert live.latencies_ms and min(live.latencies_ms) > 0
    assert live.sent > 0 and 0 <= live.lost <= live.sent and live.received > 0
