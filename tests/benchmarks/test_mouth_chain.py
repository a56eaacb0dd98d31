"""benchmarks.mouth_chain: the spy records per drawn frame and restores, the links, the one-line errors."""

import numpy as np
import pytest

from benchmarks import mouth_chain as M
from streamer.pipeline import ReenactmentPipeline
from streamer.retarget import AnalyticRetargeter


def test_chain_row_puts_the_loss_on_the_right_link():
    rng = np.random.default_rng(1)
    d = rng.uniform(0, 0.3, 200)
    t = 1.3 * d  # the tracker reads 1.3x wider
    g = 0.75 * t  # the retargeter scales it back
    o = rng.uniform(0, 0.3, 200)  # the drawn mouth reads as noise
    row = M.chain_row({"D": d, "T": t, "G": g, "O": o})
    assert row["r(D,T)"] == pytest.approx(1.0) and row["scale T/D"] == pytest.approx(1.3)
    assert row["r(T,G)"] == pytest.approx(1.0) and row["scale G/T"] == pytest.approx(0.75)
    assert abs(row["r(G,O)"]) < 0.3 and abs(row["r(D,O)"]) < 0.3
    assert "1.00 (1.30)" in M.markdown_row("x", row)


def test_spy_records_one_entry_per_drawn_frame_and_restores(astronaut, image_detector, astronaut_face):
    from streamer.pipeline import prepare_source
    from streamer.reenactors.geometric import GeometricReenactor

    class EveryOtherFrame:
        """A tracker that finds the photo's own face on even frames and nothing on odd ones."""

        def __init__(self, face):
            self.face, self.calls = face, 0

        def update(self, frame):
            self.calls += 1
            return self.face if self.calls % 2 else None

    before = (AnalyticRetargeter.retarget, ReenactmentPipeline.draw)
    reenactor = GeometricReenactor()
    source = prepare_source(astronaut, image_detector, reenactor)
    pipeline = ReenactmentPipeline(source, EveryOtherFrame(astronaut_face), reenactor, None, paste_back=False)
    with M.spy_retarget() as drawn:
        for _ in range(4):
            pipeline.draw(astronaut)
    assert (AnalyticRetargeter.retarget, ReenactmentPipeline.draw) == before
    assert len(drawn) == 4 and np.isnan(drawn[1][0]) and np.isnan(drawn[3][1])
    assert drawn[0][0] == pytest.approx(drawn[2][0]) and np.isfinite(drawn[0][1])


def test_missing_inputs_are_a_one_line_error(tmp_path, capsys):
    code = M.main(["--driver", "nope.mp4", "--source", "nope.jpg", "--data", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "nope.mp4" in err
