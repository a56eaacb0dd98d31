"""A fixed-seed corpus of damaged inputs for ``reenact convert``: truncated, bit-flipped and
header-damaged variants of a small valid clip (MP4 and WebM) and photo (JPEG and PNG)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tests.media.clips import ClipSpec, load_photo, make_clip

SEED = 16
#: Container landmarks whose size/type fields are damaged: MP4 boxes, Matroska/WebM element ids,
#: JPEG markers (SOF0, DHT, DQT, SOS), PNG chunks.
_LANDMARKS = [
    b"moov",
    b"trak",
    b"mdia",
    b"stsd",
    b"stsz",
    b"stco",
    b"avcC",
    b"mdat",
    b"ftyp",
    b"\x1a\x45\xdf\xa3",
    b"\x18\x53\x80\x67",
    b"\x16\x54\xae\x6b",
    b"\x1f\x43\xb6\x75",
    b"\xff\xc0",
    b"\xff\xc4",
    b"\xff\xdb",
    b"\xff\xda",
    b"IHDR",
    b"IDAT",
    b"IEND",
]


@dataclass(frozen=True)
class FuzzCase:
    """One damaged input (``role``: "driver" or "source") and how it was damaged."""

    name: str
    role: str
    path: Path


def _valid_inputs(folder: Path) -> dict[str, Path]:
    photo = load_photo()
    small = cv2.resize(photo, (192, 192), interpolation=cv2.INTER_AREA)
    inputs = {
        "mp4": make_clip(ClipSpec("base", ".mp4", frames=6), folder, photo)[0],
        "webm": make_clip(ClipSpec("base", ".webm", "libvpx", frames=6, audio_codec="libopus"), folder, photo)[0],
        "jpg": folder / "base.jpg",
        "png": folder / "base.png",
    }
    cv2.imwrite(str(inputs["jpg"]), small)
    cv2.imwrite(str(inputs["png"]), small)
    return inputs


def _truncations(data: bytes, rng: np.random.Generator, count: int) -> list[tuple[str, bytes]]:
    cuts = [0, 1, 16, len(data) // 2, len(data) - 1]
    cuts += sorted(int(c) for c in rng.integers(1, len(data), count - len(cuts)))
    return [(f"cut{c}", data[:c]) for c in cuts]


def _bit_flips(data: bytes, rng: np.random.Generator, count: int) -> list[tuple[str, bytes]]:
    out = []
    for i in range(count):
        flips = int(rng.choice([1, 4, 32, 256]))
        head = bool(i % 2)  # half of them in the first 1 KiB, where the headers are
        limit = min(len(data), 1024) if head else len(data)
        buf = bytearray(data)
        for pos in rng.integers(0, limit, flips):
            buf[pos] ^= 1 << int(rng.integers(0, 8))
        out.append((f"flip{i}x{flips}{'h' if head else ''}", bytes(buf)))
    return out


def _header_damage(data: bytes, rng: np.random.Generator, count: int) -> list[tuple[str, bytes]]:
    found = [(tag, i) for tag in _LANDMARKS for i in range(len(data)) if data.startswith(tag, i)][:64]
    out = []
    for i in range(count):
        buf = bytearray(data)
        if found:
            tag, pos = found[i % len(found)]
            how = i // len(found) % 3
            lo = max(0, pos - 4)
            if how == 0:  # the size field before the tag (MP4) or after it (EBML, JPEG): random bytes
                span = range(lo, min(len(buf), pos + len(tag) + 4))
                for j in span:
                    buf[j] = int(rng.integers(0, 256))
            elif how == 1:  # huge sizes
                for j in range(lo, min(len(buf), pos + len(tag) + 4)):
                    buf[j] = 0xFF
            else:  # the tag erased
                buf[pos : pos + len(tag)] = bytes(len(tag))
            out.append((f"hdr{i}-{tag.hex()[:8]}-{how}", bytes(buf)))
        else:
            out.append((f"hdr{i}-zeros", bytes(64) + data[64:]))
    return out


#: variants per valid input: (truncations, bit flips, header damages)
_PLAN = {"mp4": (14, 30, 30), "webm": (10, 20, 20), "jpg": (10, 20, 20), "png": (8, 12, 12)}


def make_corpus(folder: Path, seed: int = SEED) -> tuple[dict[str, Path], list[FuzzCase]]:
    """The valid inputs and the damaged cases (at least 200), written into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    valid = _valid_inputs(folder)
    rng = np.random.default_rng(seed)
    cases = []
    for kind, (cuts, flips, headers) in _PLAN.items():
        data = valid[kind].read_bytes()
        role = "source" if kind in ("jpg", "png") else "driver"
        variants = _truncations(data, rng, cuts) + _bit_flips(data, rng, flips) + _header_damage(data, rng, headers)
        for label, blob in variants:
            path = folder / f"{kind}-{label}.{kind}"
            path.write_bytes(blob)
            cases.append(FuzzCase(f"{kind}-{label}", role, path))
    return valid, cases
