"""Camera and pace words in the prompt, and what each does to the shot.

The first and last frames are fixed, so every cue works *between* them:

- camera cues add a move that rises and falls back over the clip (a ``sin(πt)`` bump on top
  of the camera path between the keyframes): the middle of the clip is zoomed, panned,
  tilted or orbited, the ends stay exactly the keyframes;
- pace cues choose the timing curve τ(t) that maps clip time to motion progress.

A cue preceded within three words by a negation (no, not, don't, without, never) is ignored.
``docs/prompt-cues.md`` documents the vocabulary.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["CAMERA_CUES", "PACE_CUES", "Shot", "parse_cues"]

Timing = Callable[[float], float]


def _smoothstep(t: float) -> float:
    return t * t * (3.0 - 2.0 * t)


def _window(start: float, end: float, curve: Timing) -> Timing:
    """Hold, then ``curve`` over [start, end] of the clip, then hold."""
    return lambda t: curve(min(1.0, max(0.0, (t - start) / (end - start))))


@dataclass(frozen=True)
class CameraCue:
    """A bump at mid-clip: zoom factor, shift (fractions of width, height), roll in degrees."""

    zoom: float = 0.0
    shift: tuple[float, float] = (0.0, 0.0)
    roll: float = 0.0


# word patterns → cue name; the first matching name of each family is used
CAMERA_CUES: dict[str, tuple[str, CameraCue]] = {
    "zoom_in": (r"zoom(?:s|ing)? in|push(?:es|ing)?[ -]in|dolly(?:ing)? in|moves? closer",
                CameraCue(zoom=0.12)),
    "zoom_out": (r"zoom(?:s|ing)? out|pull(?:s|ing)?[ -](?:back|out)|dolly(?:ing)? out",
                 CameraCue(zoom=-0.08)),
    # panning left turns the camera left: the scene slides right in the frame
    "pan_left": (r"pan(?:s|ning)? (?:to the )?left", CameraCue(shift=(0.06, 0.0))),
    "pan_right": (r"pan(?:s|ning)? (?:to the )?right", CameraCue(shift=(-0.06, 0.0))),
    "tilt_up": (r"tilt(?:s|ing)? up", CameraCue(shift=(0.0, 0.06))),
    "tilt_down": (r"tilt(?:s|ing)? down", CameraCue(shift=(0.0, -0.06))),
    "orbit": (r"orbit(?:s|ing)?|arc shot|circl(?:es|ing) around",
              CameraCue(shift=(-0.05, 0.0), roll=4.0)),
}

PACE_CUES: dict[str, tuple[str, Timing]] = {
    "linear": (r"linear(?:ly)?|constant[ -]speed", lambda t: t),
    "slow_motion": (r"slow[ -]?(?:motion|mo)|slow(?:ly)?",
                    lambda t: 0.7 * t + 0.3 * _smoothstep(t)),
    "timelapse": (r"time[ -]?lapse", _window(0.2, 0.8, lambda t: t)),
    "fast": (r"fast|quick(?:ly)?|rapid(?:ly)?|sudden(?:ly)?", _window(0.25, 0.75, _smoothstep)),
    "accelerate": (r"accelerat\w*|speeds? up", lambda t: t * t),
    "decelerate": (r"decelerat\w*|slows? down|comes? to (?:a )?(?:stop|rest)",
                   lambda t: 1.0 - (1.0 - t) ** 2),
}

_NEGATION = re.compile(r"\b(?:no|not|don't|dont|without|never)\b(?:\W+\w+){0,2}\W*$", re.I)


@dataclass(frozen=True)
class Shot:
    """The cues found in a prompt: the timing curve and the camera bump."""

    cues: tuple[str, ...]
    timing: Timing
    bump: CameraCue
    pace: str = "eased"

    def bump_matrix(self, t: float, width: int, height: int) -> np.ndarray | None:
        """3×3 transform of the output frame at clip time ``t`` (about its centre), or None."""
        b = self.bump
        if b == CameraCue() or t <= 0.0 or t >= 1.0:  # the keyframes stay exactly as given
            return None
        k = math.sin(math.pi * t)
        cx, cy = width / 2.0, height / 2.0
        angle = math.radians(b.roll * k)
        scale = 1.0 + b.zoom * k
        cos, sin = scale * math.cos(angle), scale * math.sin(angle)
        dx, dy = b.shift[0] * width * k, b.shift[1] * height * k
        return np.array([
            [cos, -sin, cx - cos * cx + sin * cy + dx],
            [sin, cos, cy - sin * cx - cos * cy + dy],
            [0.0, 0.0, 1.0],
        ])


def _mentions(pattern: str, prompt: str) -> int | None:
    """Position of the first non-negated mention of ``pattern`` in ``prompt``, or None."""
    for match in re.finditer(rf"\b(?:{pattern})\b", prompt, re.IGNORECASE):
        if not _NEGATION.search(prompt[: match.start()]):
            return match.start()
    return None


def parse_cues(prompt: str) -> Shot:
    """The shot a prompt asks for: every camera cue found, and the first pace cue."""
    cues: list[tuple[int, str]] = []
    zoom, shift_x, shift_y, roll = 0.0, 0.0, 0.0, 0.0
    for name, (pattern, cue) in CAMERA_CUES.items():
        where = _mentions(pattern, prompt)
        if where is not None:
            cues.append((where, name))
            zoom += cue.zoom
            shift_x += cue.shift[0]
            shift_y += cue.shift[1]
            roll += cue.roll
    paces = [(where, name) for name, (pattern, _) in PACE_CUES.items()
             if (where := _mentions(pattern, prompt)) is not None]
    timing: Timing = _smoothstep
    pace = "eased"
    if paces:
        first_pace = min(paces)
        cues.append(first_pace)
        pace = first_pace[1]
        timing = PACE_CUES[pace][1]
    return Shot(
        cues=tuple(name for _, name in sorted(cues)),
        timing=timing,
        bump=CameraCue(zoom=zoom, shift=(shift_x, shift_y), roll=roll),
        pace=pace,
    )
