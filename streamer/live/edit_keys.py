"""``reenact camera``'s preview hotkeys for the editing controls: a key and the controls in force give the
new controls (pure, so the mapping is testable without a window)."""

from __future__ import annotations

from streamer.edit_controls import MOTION_FROM, RANGES, EditControls

#: Keys that step a control: key -> (control, step). Steps stop at the control's range.
STEPS: dict[str, tuple[str, float]] = {
    "a": ("yaw", -5.0),
    "d": ("yaw", 5.0),
    "w": ("pitch", 5.0),
    "s": ("pitch", -5.0),
    "z": ("roll", -5.0),
    "c": ("roll", 5.0),
    "[": ("expression_scale", -0.25),
    "]": ("expression_scale", 0.25),
    "-": ("smile", -0.25),
    "=": ("smile", 0.25),
}
#: The lip opening the "o" key holds (inner-lip gap over the interocular distance).
LIPS_OPEN = 0.5

#: One line per key for ``--help`` and the README.
HELP = (
    "a/d yaw -/+5, w/s pitch +/-5, z/c roll -/+5, [/] expression scale -/+0.25, -/= smile -/+0.25, "
    "b eyes closed on/off, o mouth open on/off, m motion from both/pose/expression, 0 reset edits"
)


def apply_key(key: str, controls: EditControls) -> EditControls | None:
    """The controls after ``key``; None when ``key`` is not an editing hotkey."""
    if key in STEPS:
        name, step = STEPS[key]
        lo, hi, _ = RANGES[name]
        return controls.updated(**{name: min(hi, max(lo, getattr(controls, name) + step))})
    if key == "b":
        return controls.updated(eyes_open=None if controls.eyes_open == 0.0 else 0.0)
    if key == "o":
        return controls.updated(lips_open=None if controls.lips_open is not None else LIPS_OPEN)
    if key == "m":
        following = MOTION_FROM[(MOTION_FROM.index(controls.motion_from) + 1) % len(MOTION_FROM)]
        return controls.updated(motion_from=following)
    if key == "0":
        return EditControls()
    return None
