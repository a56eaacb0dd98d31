"""Guard: every ``--retarget`` x ``--generator`` x ``--integrator`` mode moves the face with the driver.

One shared cross pair: a frontal photo of one person (Yui Aragaki) driven by 3.5 s of a clip of another
(LIA-X driving1: turns about 20 degrees and opens the mouth wide in those seconds; dlib measures its
yaw_offset over -0.25..0.10 and its mouth opening over 0.02..0.46). Each mode converts it in process
(``--crop-only``, the face crop) and dlib's 68 points judge the output frame by frame against the
driver's: the output's yaw (``yaw_offset``) and mouth opening must correlate with the driver's
(Pearson r > 0.7) and dlib must find a face in at least 95% of the output frames. dlib, not
MediaPipe: the product tracks with MediaPipe, an outside judge does not share its blind spots.

The IDSG weights of 2026-11-22 froze the face in the source's pose whatever the driver did (dlib yaw r
0.28-0.29 on this pair; the issue measured -0.87 on another); this test catches that. What it cannot
see: a torn face that still turns and opens its mouth (IDSG weights with eyes and lips visibly torn scored
yaw r 0.99, mouth r 0.88-0.97, 100% found); the IDSG's own per-source check
(``streamer.retarget_idsg.motion_response``) guards that.

All six modes run in the default suite: about 40 s together on the 2-core CI machine when quiet (33 s
CPU). It needs the shared data and dlib (the ``quality`` extra, part of ``test``); without either it
skips saying which is missing.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import make_dlib_judge, shared_file

pytestmark = pytest.mark.shared_data

SOURCE = "raw/AniPortrait/configs/inference/ref_images/Aragaki.png"
DRIVER = "raw/LIA-X/data/driving/driving1.mp4"
SECONDS = 3.5
MIN_R = 0.7
MIN_FOUND = 0.95

#: (retarget, generator, integrator); the integrator applies to the RFG only.
MODES = [
    ("analytic", "rfg", "global"),
    ("analytic", "rfg", "global-local"),
    ("analytic", "geometric", "global"),
    ("idsg", "rfg", "global"),
    ("idsg", "rfg", "global-local"),
    ("idsg", "geometric", "global"),
]


@pytest.fixture(scope="module")
def judge():
    """dlib at full resolution without upsampling (the clip's faces are large)."""
    return make_dlib_judge(max_side=10_000, upsample=0)


@pytest.fixture(scope="module")
def driver_track(judge):
    from benchmarks.dlib_landmarks import measure_frames, read_frames

    path = shared_file(DRIVER)
    track = measure_frames(judge, read_frames(path, max_frames=int(SECONDS * 25) + 1))  # the clip is 25 fps
    assert track.found == 1.0 and np.nanstd(track.yaw) > 0.05 and np.nanstd(track.mouth) > 0.05
    return track


@pytest.mark.parametrize("mode", MODES, ids=["-".join(m) for m in MODES])
def test_mode_follows_the_driver(mode, judge, driver_track, tmp_path):
    from benchmarks.dlib_landmarks import measure_frames, pearson, read_frames
    from streamer.convert import ConvertOptions, convert

    retarget, generator, integrator = mode
    out = tmp_path / "out.mp4"
    opts = ConvertOptions(
        source=shared_file(SOURCE),
        driver=shared_file(DRIVER),
        out=out,
        paste_back=False,
        progress=False,
        max_seconds=SECONDS,
        retarget=retarget,
        generator=generator,
        integrator=integrator,
    )
    summary = convert(opts)
    track = measure_frames(judge, read_frames(out))
    n = min(len(track.yaw), len(driver_track.yaw))
    assert summary.frames >= n >= int(SECONDS * 25) - 2
    r_yaw = pearson(driver_track.yaw[:n], track.yaw[:n])
    r_mouth = pearson(driver_track.mouth[:n], track.mouth[:n])
    found = track.found
    line = f"{'/'.join(mode)}: yaw r {r_yaw:.2f}, mouth r {r_mouth:.2f}, dlib found a face in {found:.0%} of {n}"
    print(line)
    assert found >= MIN_FOUND, line
    assert r_yaw > MIN_R, line
    assert r_mouth > MIN_R, line
