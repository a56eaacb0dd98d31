"""The RFG's architecture config, apart from the networks so that reading it needs no torch (the export
registry describes the graphs' tensors from it on every start; issue 16's fast start)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class RFGConfig:
    """Architecture of the RFG networks (widths; the crop is always ``size`` square)."""

    size: int = 256
    style_dim: int = 64  #: source style code s_s
    feat_channels: int = 32  #: source features at size/4
    motion_channels: tuple[int, int, int] = (24, 40, 64)  #: MotionNet widths at size/4, /8, /16
    dec_channels: int = 32  #: decoder width at size/4
    up_channels: int = 16  #: decoder width at size/2
    local_codes: int = 32  #: codebook size of the local integrator's discrete bottleneck
    calib_channels: int = 16  #: calibration net width
    flow_scale: float = 0.1  #: residual flow output scale (normalised units per unit of activation)
    #: The per-frame graph takes the mesh warp's ``revealed`` mask (issue 14 item 4: what a turn shows that
    #: the photo does not), seen by the motion net and the decoder, so the blend can paint there. False:
    #: the files trained on the planar warp (their graphs have no such input).
    revealed_input: bool = False

    @classmethod
    def from_dict(cls, data: dict) -> RFGConfig:
        """Build from a JSON dict (lists become tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def to_dict(self) -> dict:
        """Plain dict (JSON-safe)."""
        return dataclasses.asdict(self)

    @property
    def grid(self) -> int:
        """Side of the motion/feature grid."""
        return self.size // 4

    @property
    def decoder_adain_size(self) -> int:
        """Length of the decoder's AdaIN parameter vector: scale and shift for its three ``dec_channels``
        layers and its ``up_channels`` one (``streamer.models.rfg.Decoder.adain_size``, checked by a test)."""
        return 2 * (3 * self.dec_channels + self.up_channels)
