"""The bundled example: a public-domain source photo and a driver clip made from it.

The source is NASA's portrait of astronaut Eileen Collins (public domain; the copy scikit-image
ships as ``skimage.data.astronaut``), stored as ``assets/astronaut.jpg``. No driver video with a
licence that allows shipping was at hand, so the driver is made here, deterministically, by moving
the same photo with the geometric reenactor along a scripted motion (head turns, nods, blinks, a
talking mouth) with a tone as its audio track: it exercises every part of ``convert``.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from importlib import resources
from pathlib import Path

import av
import numpy as np

from streamer.compositor import Compositor
from streamer.detectors import create_detector
from streamer.geometry import rotation_matrix
from streamer.landmarks import interocular
from streamer.media.images import fit_within, load_image
from streamer.pipeline import prepare_source
from streamer.reenactors.geometric import GeometricReenactor


def example_source_path() -> Path:
    """Path of the bundled source photo."""
    return Path(str(resources.files("streamer") / "assets" / "astronaut.jpg"))


def scripted_motion(t: float) -> tuple[float, float, float, float, float]:
    """(yaw, pitch, roll, mouth opening, eyelid closure) at time ``t`` seconds."""
    yaw = 24.0 * np.sin(2 * np.pi * t / 4.0)
    pitch = 10.0 * np.sin(2 * np.pi * t / 2.5 + 0.6)
    roll = 5.0 * np.sin(2 * np.pi * t / 5.0)
    mouth = max(0.0, np.sin(2 * np.pi * t / 1.3)) * 0.35
    blink = float(np.exp(-((((t % 2.2) - 1.6) / 0.07) ** 2)))
    return yaw, pitch, roll, mouth, blink


def make_example_driver(
    path: str | Path,
    seconds: float = 6.0,
    fps: int = 25,
    size: int = 384,
    motion: Callable[[float], tuple[float, float, float, float, float]] = scripted_motion,
) -> Path:
    """Write the example driver clip (H.264 + AAC tone) to ``path``, moved by ``motion(t)`` (see
    :func:`scripted_motion`; tests script other motions, a clip that starts in profile for one)."""
    path = Path(path)
    image = fit_within(load_image(example_source_path()), size)
    detector = create_detector("mediapipe", "image")
    reenactor = GeometricReenactor()
    src = prepare_source(image, detector, reenactor, what="the example photo")
    detector.close()
    compositor = Compositor(reenactor.crop_size)
    base = src.crop_landmarks.points.astype(np.float64)
    centre = base.mean(axis=0)
    iod = interocular(base)
    h, w = image.shape[:2]
    rate = 44100
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.options = {"crf": "18", "preset": "veryfast"}
        audio = out.add_stream("aac", rate=rate)
        samples_done = 0
        for i in range(int(seconds * fps)):
            yaw, pitch, roll, mouth, blink = motion(i / fps)
            pts = base.copy()
            pts[[65, 66, 67, 56, 57, 58, 6, 7, 8, 9, 10]] += (0.0, mouth * iod, 0.0)
            pts[[4, 5, 11, 12]] += (0.0, 0.5 * mouth * iod, 0.0)
            pts[[37, 38, 43, 44]] += blink * (base[[41, 40, 47, 46]] - base[[37, 38, 43, 44]])
            pts = (pts - centre) @ rotation_matrix(yaw, pitch, roll).T + centre
            crop = reenactor.render(src.state, src.crop_landmarks.with_points(pts))
            frame = compositor.paste(image, crop, src.affine)
            vf = av.VideoFrame.from_ndarray(frame, format="bgr24")
            vf.pts = i
            vf.time_base = Fraction(1, fps)
            for packet in video.encode(vf):
                out.mux(packet)
            n = int((i + 1) * rate / fps) - samples_done
            t = (samples_done + np.arange(n)) / rate
            tone = (0.05 + 0.4 * mouth) * np.sin(2 * np.pi * 220.0 * t)
            af = av.AudioFrame.from_ndarray(tone.astype(np.float32)[None], format="fltp", layout="mono")
            af.sample_rate, af.pts = rate, samples_done
            samples_done += n
            for packet in audio.encode(af):
                out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                out.mux(packet)
    return path
