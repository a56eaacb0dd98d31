"""RFG: the Reenacted Face Generator, with the global/local integrators and the calibration net.

After the DG paper's RFG (StarGAN2-style encoder/decoder, source style code injected by AdaIN, landmark
maps as input) and the subtle-motions paper's global/local integrators, adapted to a CPU budget of
about 2 GFLOPs per frame at 256x256 and to training on a few thousand frames:

* It starts from the analytic landmark warp (``streamer.reenactors.geometric``): the per-frame
  inputs are the geometric reenactor's output (``base``) and its backward pixel map. A small U-Net
  (``MotionNet``) at 64x64 predicts a residual flow and an occlusion map from the landmark maps; the
  source features (computed once per source) are warped with 4-D ``grid_sample`` along the refined
  flow, and a decoder with AdaIN (style code of the source) draws what the warp cannot show. The
  output blends the refined warp of ``base`` and the decoded image with a predicted mask. With the
  output layers initialised as they are, a fresh network returns ``base``: training can only start
  from the geometric reenactor and improve on it.
* Global integrator ``y_G = G(d0, d_i, S)``: ``RFGGenerator`` with ``base`` = the source warped by the
  motion from the driver's reference frame to now.
* Local integrator ``y_L = L(d_{i-1}, d_i, y_{i-1})``: the RFG's motion path on the previous output
  (``LocalIntegrator``): the same U-Net, fed the landmark maps of the previous and current targets
  and ``y_{i-1}``, with a discrete (Gumbel-softmax) bottleneck, predicts the small frame-to-frame
  flow that carries ``y_{i-1}`` forward. It has no decoder of its own (a CPU budget choice: new
  content comes from the global integrator; the calibration net picks per region).
* Calibration net ``C(y_G, y_L, S)``: a per-pixel mask and a residual, with the source's style.

Everything exports to ONNX with static shapes and 4-D ``grid_sample`` only (no 5-D volumes).
The per-source part (``RFGGenerator.encode_style`` and, for the global integrator, ``encode_features``)
runs once per source photo; the per-frame part is ``RFGGenerator.frame`` (+ ``encode_features`` of
the local integrator and ``CalibrationNet``.

Conventions: images are (N, 3, H, W) in [-1, 1] (RGB order is irrelevant as long as it is
consistent; the runtime feeds BGR); pixel maps are (N, H, W, 2) source pixel coordinates (x, y)
with pixel centres at integers (``PixelMapWarp``'s convention); landmark maps are (N, 1, S/4, S/4).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from streamer.models.rfg_config import RFGConfig
from streamer.models.sampling import bilinear_sample


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.2))


def pixel_map_to_grid(pixel_map: torch.Tensor, image_size: int | None = None) -> torch.Tensor:
    """(N, H, W, 2) pixel coordinates -> (N, H, W, 2) ``grid_sample`` coordinates (align_corners=True) of
    an ``image_size`` square image (default: the map's own H x W)."""
    h, w = (pixel_map.shape[1], pixel_map.shape[2]) if image_size is None else (image_size, image_size)
    scale = torch.tensor([2.0 / (w - 1), 2.0 / (h - 1)], dtype=pixel_map.dtype, device=pixel_map.device)
    return pixel_map * scale - 1.0


def identity_grid(n: int, size: int, like: torch.Tensor) -> torch.Tensor:
    """(n, size, size, 2) identity sampling grid (align_corners=True)."""
    lin = torch.linspace(-1.0, 1.0, size, dtype=like.dtype, device=like.device)
    gy, gx = torch.meshgrid(lin, lin, indexing="ij")
    return torch.stack((gx, gy), dim=-1).unsqueeze(0).expand(n, size, size, 2)


def sample(image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Bilinear 4-D sampling with edge replication (the only resampling op the networks use); ONNX
    ``GridSample`` or gathers, by ``streamer.models.sampling.sampler``."""
    return bilinear_sample(image, grid)


class ResDown(nn.Module):
    """Downsampling residual block (StarGAN2's encoder block, without normalisation)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.LeakyReLU(0.2),
            nn.Conv2d(cin, cin, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(cin, cout, 3, 1, 1),
            nn.AvgPool2d(2),
        )
        self.skip = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(cin, cout, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.body(x) + self.skip(x)) * 0.7071


class StyleEncoder(nn.Module):
    """E_s: the source's style code from downsampling residual blocks (per source, once).

    It looks at the source at half size: the code is global (colours, lighting, texture statistics),
    and a quarter of the cost matters during training, where E_s also runs on every output.
    """

    def __init__(self, cfg: RFGConfig):
        super().__init__()
        chans = [16, 32, 64, 96, 128, 128]
        layers: list[nn.Module] = [nn.AvgPool2d(2), nn.Conv2d(3, chans[0], 3, 2, 1)]  # size/4
        layers += [ResDown(a, b) for a, b in zip(chans[:-1], chans[1:], strict=True)]  # size/8 .. size/128
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.LeakyReLU(0.2), nn.Linear(chans[-1], cfg.style_dim))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(image).mean(dim=(2, 3)))


class FeatureEncoder(nn.Module):
    """Appearance features at size/4 (per source for G, per frame on y_{i-1} for L)."""

    def __init__(self, cfg: RFGConfig):
        super().__init__()
        c = cfg.feat_channels
        self.body = nn.Sequential(_conv(3, 24, 2), _conv(24, c, 2), nn.Conv2d(c, c, 3, 1, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.body(image)


class AdaIN(nn.Module):
    """Instance norm, then the scale/shift that the style projection computed for this layer."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.norm = nn.InstanceNorm2d(channels, affine=False)

    def forward(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        gamma, beta = params[:, : self.channels], params[:, self.channels :]
        return self.norm(x) * (1.0 + gamma[:, :, None, None]) + beta[:, :, None, None]


class GumbelBottleneck(nn.Module):
    """Discrete latent: per position one of ``codes`` learned vectors (Gumbel-softmax while training).

    Inference takes the arg-max code as ``(logits == max)`` (ReduceMax/Equal/Cast in ONNX, no
    OneHot), so an imperfect previous output snaps to a code instead of accumulating error.
    """

    def __init__(self, channels: int, codes: int, tau: float = 1.0):
        super().__init__()
        self.logits = nn.Conv2d(channels, codes, 1)
        self.codebook = nn.Conv2d(codes, channels, 1, bias=False)
        self.tau = tau

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.logits(x)
        if self.training:
            onehot = F.gumbel_softmax(logits, tau=self.tau, hard=True, dim=1)
        else:
            onehot = (logits == logits.amax(dim=1, keepdim=True)).to(x.dtype)
        return self.codebook(onehot)


class MotionNet(nn.Module):
    """A small U-Net at size/4: residual flow (2) and occlusion logit (1) from landmark maps + base."""

    def __init__(self, cfg: RFGConfig, in_channels: int, discrete: bool, occlusion: bool = True):
        super().__init__()
        c0, c1, c2 = cfg.motion_channels
        self.e1, self.e2, self.e3 = _conv(in_channels, c0), _conv(c0, c1, 2), _conv(c1, c2, 2)
        self.mid = _conv(c2, c2)
        self.bottleneck = GumbelBottleneck(c2, cfg.local_codes) if discrete else None
        self.d2, self.d1 = _conv(c2 + c1, c1), _conv(c1 + c0, c0)
        self.head = nn.Conv2d(c0, 3 if occlusion else 2, 3, 1, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)  # no residual flow
        if occlusion:
            with torch.no_grad():
                self.head.bias[2] = 3.0  # features visible

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.e1(x)
        x2 = self.e2(x1)
        x3 = self.mid(self.e3(x2))
        if self.bottleneck is not None:
            x3 = self.bottleneck(x3)
        y = self.d2(torch.cat([F.interpolate(x3, scale_factor=2.0, mode="nearest"), x2], 1))
        y = self.d1(torch.cat([F.interpolate(y, scale_factor=2.0, mode="nearest"), x1], 1))
        return self.head(y)


class Decoder(nn.Module):
    """Warped features + target landmark map + base -> RGB (size) and the blend mask logit; AdaIN everywhere."""

    def __init__(self, cfg: RFGConfig):
        super().__init__()
        d, u = cfg.dec_channels, cfg.up_channels
        self.inp = nn.Conv2d(cfg.feat_channels + 1 + 3 + int(cfg.revealed_input), d, 3, 1, 1)
        self.n0, self.c1, self.n1, self.c2, self.n2 = (
            AdaIN(d),
            nn.Conv2d(d, d, 3, 1, 1),
            AdaIN(d),
            nn.Conv2d(d, d, 3, 1, 1),
            AdaIN(d),
        )
        self.up = nn.Conv2d(d, u, 3, 1, 1)
        self.nu = AdaIN(u)
        self.out = nn.Conv2d(u, 4 * 4, 3, 1, 1)  # pixel shuffle x2: 3 RGB + 1 mask at full size
        nn.init.normal_(self.out.weight, std=1e-3)
        with torch.no_grad():
            bias = torch.zeros(4, 4)
            bias[3] = 4.0  # mask ~0.98: start from the (refined) warp of base
            self.out.bias.copy_(bias.reshape(-1))
        self.layers = [self.n0, self.n1, self.n2, self.nu]

    @property
    def adain_size(self) -> int:
        """Length of the per-source AdaIN parameter vector."""
        return sum(2 * n.channels for n in self.layers)

    def forward(self, x: torch.Tensor, adain: torch.Tensor) -> torch.Tensor:
        p, offs = [], 0
        for n in self.layers:
            p.append(adain[:, offs : offs + 2 * n.channels])
            offs += 2 * n.channels
        act = nn.functional.leaky_relu
        h = act(self.n0(self.inp(x), p[0]), 0.2)
        r = act(self.n1(self.c1(h), p[1]), 0.2)
        h = (h + self.n2(self.c2(r), p[2])) * 0.7071
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = act(self.nu(self.up(h), p[3]), 0.2)
        return F.pixel_shuffle(self.out(h), 2)


class RFGGenerator(nn.Module):
    """The reenacted face generator, used as the global integrator."""

    def __init__(self, cfg: RFGConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or RFGConfig()
        self.style = StyleEncoder(cfg)
        self.features = FeatureEncoder(cfg)
        self.motion = MotionNet(cfg, 1 + 1 + 2 + 3 + int(cfg.revealed_input), discrete=False)
        self.decoder = Decoder(cfg)
        self.adain = nn.Linear(cfg.style_dim, self.decoder.adain_size)
        nn.init.zeros_(self.adain.weight)
        nn.init.zeros_(self.adain.bias)

    def encode_style(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per source: (style code, AdaIN parameters)."""
        s = self.style(source)
        return s, self.adain(s)

    def encode_features(self, image: torch.Tensor) -> torch.Tensor:
        """Appearance features at size/4 (per source for G; per frame on y_{i-1} for L)."""
        return self.features(image)

    def frame(
        self,
        feats: torch.Tensor,
        adain: torch.Tensor,
        base: torch.Tensor,
        pixel_map: torch.Tensor,
        lm_src: torch.Tensor,
        lm_tgt: torch.Tensor,
        mouth: torch.Tensor | None = None,
        revealed: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per frame: (output, residual flow at size/4 in normalised units, blend mask at full size).

        ``mouth`` (N, 1, S, S) in [0, 1], the target's open mouth (``streamer.models.rfg_mouth``): the
        blend mask is raised to it, so inside the opening the output is the (refined) base, whose
        interior the geometric reenactor draws from the target's lips, never the decoder's guess.
        ``revealed`` (N, 1, S, S) in [0, 1], the mesh warp's revealed mask (only with
        ``cfg.revealed_input``; None there means nothing revealed): the motion net and the decoder see
        it at size/4, so the blend mask can hand what the photo does not show to the decoder.
        """
        n, g = base.shape[0], self.cfg.grid
        # The analytic flow at g x g in grid units. Pooling first, then scaling (both linear): the scale
        # then runs on g*g instead of S*S points (onnxruntime's broadcast Mul over S*S was 1.2 ms).
        flow0 = pixel_map_to_grid(F.avg_pool2d(pixel_map.permute(0, 3, 1, 2), 4).permute(0, 2, 3, 1), self.cfg.size)
        flow0 = flow0.permute(0, 3, 1, 2)  # (N, 2, g, g)
        ident_g = identity_grid(n, g, base)
        base_g = F.avg_pool2d(base, 4)
        disp0 = flow0 - ident_g.permute(0, 3, 1, 2)
        extra: list[torch.Tensor] = []
        if self.cfg.revealed_input:
            extra = [F.avg_pool2d(revealed, 4) if revealed is not None else torch.zeros_like(lm_tgt)]
        m = self.motion(torch.cat([lm_src, lm_tgt, disp0 * 4.0, base_g, *extra], 1))
        dflow = m[:, :2] * self.cfg.flow_scale
        occlusion = torch.sigmoid(m[:, 2:3])
        # Features: follow the analytic flow composed with the residual (flow0 sampled at x + dflow).
        moved = ident_g + dflow.permute(0, 2, 3, 1)
        feat_grid = sample(flow0, moved).permute(0, 2, 3, 1)
        warped = sample(feats, feat_grid) * occlusion
        # Pixels: base is already warped by flow0, so only the residual applies to it.
        dflow_full = F.interpolate(dflow, scale_factor=4.0, mode="bilinear", align_corners=False)
        refined = sample(base, identity_grid(n, self.cfg.size, base) + dflow_full.permute(0, 2, 3, 1))
        dec = self.decoder(torch.cat([warped, lm_tgt, sample(base_g, moved), *extra], 1), adain)
        mask = torch.sigmoid(dec[:, 3:4])
        if mouth is not None:
            mask = mask + (1.0 - mask) * mouth
        out = mask * refined + (1.0 - mask) * torch.tanh(dec[:, :3])
        return out, dflow, mask

    def forward(
        self,
        source: torch.Tensor,
        base: torch.Tensor,
        pixel_map: torch.Tensor,
        lm_src: torch.Tensor,
        lm_tgt: torch.Tensor,
        mouth: torch.Tensor | None = None,
        revealed: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Training/analysis convenience: per-source and per-frame parts in one call (global integrator)."""
        _, adain = self.encode_style(source)
        return self.frame(self.encode_features(source), adain, base, pixel_map, lm_src, lm_tgt, mouth, revealed)[0]


class LocalIntegrator(nn.Module):
    """L(d_{i-1}, d_i, y_{i-1}): the previous output carried along the predicted frame-to-frame flow."""

    def __init__(self, cfg: RFGConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or RFGConfig()
        self.motion = MotionNet(cfg, 1 + 1 + 3, discrete=True, occlusion=False)

    def forward(self, prev: torch.Tensor, lm_prev: torch.Tensor, lm_tgt: torch.Tensor) -> torch.Tensor:
        n = prev.shape[0]
        dflow = self.motion(torch.cat([lm_prev, lm_tgt, F.avg_pool2d(prev, 4)], 1)) * self.cfg.flow_scale
        full = F.interpolate(dflow, scale_factor=4.0, mode="bilinear", align_corners=False)
        return sample(prev, identity_grid(n, self.cfg.size, prev) + full.permute(0, 2, 3, 1))


class CalibrationNet(nn.Module):
    """C(y_G, y_L, S): per-pixel choice between the integrators (mask) plus a small residual."""

    def __init__(self, cfg: RFGConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or RFGConfig()
        c = cfg.calib_channels
        self.inp = _conv(9, c)  # at size/2: y_G, y_L, |y_G - y_L|
        self.down = nn.Conv2d(c, 2 * c, 3, 2, 1)  # size/4
        self.norm = AdaIN(2 * c)
        self.mid = _conv(2 * c, 2 * c)
        self.head = nn.Conv2d(2 * c, 4, 3, 1, 1)  # mask + residual at size/4, upsampled x4
        self.adain = nn.Linear(cfg.style_dim, 4 * c)
        for layer in (self.head, self.adain):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        with torch.no_grad():
            self.head.bias[0] = 2.0  # start by trusting the global integrator (no drift)

    def style_params(self, style: torch.Tensor) -> torch.Tensor:
        """Per source: AdaIN parameters from the source's style code."""
        return self.adain(style)

    def forward(self, y_g: torch.Tensor, y_l: torch.Tensor, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(calibrated output, mask of the global integrator at full size)."""
        x = F.avg_pool2d(torch.cat([y_g, y_l, (y_g - y_l).abs()], 1), 2)
        h = self.mid(F.leaky_relu(self.norm(self.down(self.inp(x)), params), 0.2))
        out = F.interpolate(self.head(h), scale_factor=4.0, mode="bilinear", align_corners=False)
        mask = torch.sigmoid(out[:, :1])
        return mask * y_g + (1.0 - mask) * y_l + 0.1 * torch.tanh(out[:, 1:]), mask


class PatchDiscriminator(nn.Module):
    """D_f: patch logits at full and half size; returns every layer's features for feature matching."""

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128), scales: int = 2):
        super().__init__()
        self.nets = nn.ModuleList()
        for _ in range(scales):
            layers, cin = [], 3
            for c in channels:
                layers.append(_conv(cin, c, 2))
                cin = c
            layers.append(nn.Conv2d(cin, 1, 3, 1, 1))
            self.nets.append(nn.Sequential(*layers))

    def forward(self, image: torch.Tensor) -> list[list[torch.Tensor]]:
        results = []
        for i, net in enumerate(self.nets):
            x = image if i == 0 else F.avg_pool2d(image, 2**i)
            feats = []
            for layer in net:
                x = layer(x)
                feats.append(x)
            results.append(feats)
        return results


class ShapeDiscriminator(nn.Module):
    """D_s: real/fake logits of soft landmark maps (size/4) of real faces and of generated faces."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(_conv(1, 32, 2), _conv(32, 64, 2), _conv(64, 64, 2), nn.Conv2d(64, 1, 3, 1, 1))

    def forward(self, heatmap: torch.Tensor) -> torch.Tensor:
        return self.net(heatmap)


class LandmarkRegressor(nn.Module):
    """A small differentiable landmark regressor: (N, 3, S, S) face -> (N, 68, 2) in [0, 1] crop units.

    Trained here on the prepared crops (tracked landmarks as labels); frozen, it gives the landmark
    loss and the generated faces' landmark maps for D_s.
    """

    def __init__(self, points: int = 68):
        super().__init__()
        self.points = points
        chans = [3, 32, 64, 96, 128, 128]
        self.body = nn.Sequential(*[_conv(a, b, 2) for a, b in zip(chans[:-1], chans[1:], strict=True)])
        self.head = nn.Linear(128 * 4 * 4, points * 2)
        nn.init.zeros_(self.head.weight)
        with torch.no_grad():
            self.head.bias.fill_(0.5)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(image, size=(128, 128), mode="bilinear", align_corners=False, antialias=False)
        x = self.body(x)  # (N, 128, 4, 4)
        return self.head(x.flatten(1)).reshape(-1, self.points, 2)


def soft_landmark_map(points: torch.Tensor, size: int, sigma: float = 1.0) -> torch.Tensor:
    """Differentiable landmark map: (N, P, 2) points in [0, 1] -> (N, 1, size, size), max of Gaussians."""
    lin = (torch.arange(size, dtype=points.dtype, device=points.device) + 0.5) / size
    dx = (lin[None, None, :] - points[..., 0:1]) * size  # (N, P, size)
    dy = (lin[None, None, :] - points[..., 1:2]) * size
    g = torch.exp(-(dy[..., :, None] ** 2 + dx[..., None, :] ** 2) / (2 * sigma**2))  # (N, P, size, size)
    return g.amax(dim=1, keepdim=True)


# ---- the deployed parts: static-shape wrappers (torch, ONNX, TensorRT run the same graphs) ---------
class RFGSourcePart(nn.Module):
    """Per source, once: source features and the AdaIN parameters of G and C."""

    def __init__(self, gen: RFGGenerator, calib: CalibrationNet):
        super().__init__()
        self.gen, self.calib = gen, calib

    def forward(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        style, adain_g = self.gen.encode_style(source)
        return self.gen.encode_features(source), adain_g, self.calib.style_params(style)


class RFGGlobalFrame(nn.Module):
    """Per frame: the global integrator y_G (with the mouth guard's input, and the mesh warp's revealed
    mask when the config has ``revealed_input``)."""

    def __init__(self, gen: RFGGenerator):
        super().__init__()
        self.gen = gen

    def forward(
        self,
        feats: torch.Tensor,
        adain: torch.Tensor,
        base: torch.Tensor,
        pixel_map: torch.Tensor,
        lm_src: torch.Tensor,
        lm_tgt: torch.Tensor,
        mouth: torch.Tensor,
        revealed: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.gen.frame(feats, adain, base, pixel_map, lm_src, lm_tgt, mouth, revealed)[0]


class RFGCalibrationFrame(nn.Module):
    """Per frame: the calibration net's output."""

    def __init__(self, calib: CalibrationNet):
        super().__init__()
        self.calib = calib

    def forward(self, y_g: torch.Tensor, y_l: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return self.calib(y_g, y_l, params)[0]


@dataclass
class RFGNetworks:
    """The three trained networks and their config, as loaded from one weights file."""

    config: RFGConfig
    gen: RFGGenerator
    local: LocalIntegrator
    calib: CalibrationNet
    metadata: dict

    def parts(self) -> dict[str, nn.Module]:
        """The deployed graphs by name (eval mode)."""
        return {
            "rfg_source": RFGSourcePart(self.gen, self.calib).eval(),
            "rfg_global": RFGGlobalFrame(self.gen).eval(),
            "rfg_local": self.local.eval(),
            "rfg_calibration": RFGCalibrationFrame(self.calib).eval(),
        }


def build_networks(config: RFGConfig | None = None) -> RFGNetworks:
    """Freshly initialised networks (as training starts: the output equals the geometric base)."""
    cfg = config or RFGConfig()
    return RFGNetworks(cfg, RFGGenerator(cfg).eval(), LocalIntegrator(cfg).eval(), CalibrationNet(cfg).eval(), {})


RFG_FORMAT = "rfg-v1"
#: Weights-file prefixes of the three deployed networks.
_PREFIXES = ("global", "local", "calibration")


def save_networks(nets: RFGNetworks, path, metadata: dict[str, str] | None = None) -> None:
    """Write G, L and C to one safetensors file (config and ``metadata`` in its header); atomic."""
    import json

    from safetensors.torch import save

    from export.atomic import atomic_write_bytes

    tensors = {}
    for prefix, module in zip(_PREFIXES, (nets.gen, nets.local, nets.calib), strict=True):
        for k, v in module.state_dict().items():
            tensors[f"{prefix}.{k}"] = v.detach().cpu().contiguous()
    meta = {**(metadata or {}), "format": RFG_FORMAT, "config": json.dumps(nets.config.to_dict())}
    atomic_write_bytes(path, save(tensors, metadata=meta))


def load_networks(path) -> RFGNetworks:
    """Load ``rfg.safetensors`` (written by ``training.rfg.task.RFGTask.export``); safetensors only."""
    import json

    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        if meta.get("format") != RFG_FORMAT:
            raise ValueError(
                f"{path} is not an RFG weights file (format {meta.get('format')!r}, expected {RFG_FORMAT!r})"
            )
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    nets = build_networks(RFGConfig.from_dict(json.loads(meta["config"])))
    nets.metadata = meta
    for prefix, module in zip(_PREFIXES, (nets.gen, nets.local, nets.calib), strict=True):
        part = {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        module.load_state_dict(part, strict=True)
    return nets
