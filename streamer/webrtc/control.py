"""Data-channel messages from the page: JSON objects with a ``type``."""

from __future__ import annotations

import json

from streamer.edit_controls import controls_from_mapping
from streamer.errors import InputError
from streamer.live.sources import SourceLibrary
from streamer.live.stream import Control, Reanchor, SetEdits, SetPasteBack, SetSource

MAX_MESSAGE_BYTES = 4096


def parse_control(message: str | bytes, library: SourceLibrary) -> Control:
    """``{"type": "reanchor"}``, ``{"type": "paste_back", "value": bool}``, ``{"type": "source", "id": str}`` or
    ``{"type": "edits", "controls": {"yaw": 10, ...}}`` (the page's sliders: every editing control, checked as
    ``EditControls`` checks them; a missing one is at its default)."""
    if len(message) > MAX_MESSAGE_BYTES:
        raise InputError(f"control message over {MAX_MESSAGE_BYTES} bytes")
    try:
        data = json.loads(message)
    except (ValueError, UnicodeDecodeError):
        raise InputError("control message is not JSON") from None
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "reanchor":
        return Reanchor()
    if kind == "paste_back":
        if not isinstance(data.get("value"), bool):
            raise InputError('"paste_back" needs a boolean "value"')
        return SetPasteBack(data["value"])
    if kind == "source":
        if not isinstance(data.get("id"), str):
            raise InputError('"source" needs a string "id"')
        return SetSource(library.get(data["id"]))
    if kind == "edits":
        return SetEdits(controls_from_mapping(data.get("controls")))
    raise InputError(f"unknown control message type {kind!r}")
