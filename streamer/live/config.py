"""Settings of a live stream (server or camera); mirrors the command-line flags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streamer.edit_controls import EditControls
from streamer.reenactors.generators import DEFAULT_GENERATOR, DEFAULT_INTEGRATOR
from streamer.reenactors.geometric import DEFAULT_WARP, WarpName
from streamer.retarget import MotionMode
from streamer.tracking import DEFAULT_TRACKER


@dataclass(frozen=True)
class LiveConfig:
    """How each live stream is built.

    ``max_side`` is smaller than ``convert``'s default: every output pixel is encoded in real time.
    """

    size: int = 256  # face crop side in pixels
    paste_back: bool = True  # paste the face into the source photo (else send the crop)
    motion: MotionMode = "relative"
    backend: str = "auto"  # remap backend of the geometric reenactor
    frame_path: str = "auto"  # paste-back by "opencv" or our "kernels" (``streamer.framepath``)
    warp: WarpName = DEFAULT_WARP  # "mesh" (posed 3D mesh, ``streamer.mesh_warp``) or "planar" (2D landmark warp)
    retarget: str = "analytic"  # "analytic" or "idsg" (``streamer.reenactors.geometric.create_retargeter``)
    idsg_weights: Path | None = None  # IDSG safetensors for retarget="idsg" (None: the shipped file)
    generator: str = DEFAULT_GENERATOR  # "geometric" or "rfg" (``streamer.reenactors.generators``)
    integrator: str = DEFAULT_INTEGRATOR  # RFG: "global" or "global-local"
    weights: Path | None = None  # RFG safetensors (None: the shipped file)
    landmarks: str = "auto"  # detector name (see ``streamer.detectors``)
    tracker: str = DEFAULT_TRACKER  # driver tracker: "temporal" (detector + optical flow) or "detector"
    max_side: int = 640  # largest side of the source canvas (the output frame with paste-back)
    max_upload_bytes: int = 8 * 1024 * 1024
    max_megapixels: float = 25.0
    edits: EditControls = EditControls()  # editing controls a stream starts with (the page's sliders change them)
