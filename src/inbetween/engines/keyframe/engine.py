"""KeyframeEngine: the CPU engine that works anywhere, in seconds."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from inbetween.engines.base import Clip, EngineRequest, ProgressCallback
from inbetween.engines.keyframe.cues import Shot, parse_cues
from inbetween.engines.keyframe.flow import Fallback, Synthesiser, estimate_motion, judge
from inbetween.engines.keyframe.pair import KeyframePair
from inbetween.engines.keyframe.transitions import PushPullDissolve
from inbetween.jobs.models import JobWarning
from inbetween.media.images import fit_to_canvas

__all__ = ["MATCH_THRESHOLD", "KeyframeEngine"]

MATCH_THRESHOLD = 0.3
"""Below this match confidence the keyframes are treated as different scenes."""



class KeyframeEngine:
    """First frame → last frame by bidirectional dense flow, warping and blending.

    When the two keyframes do not match (match confidence, the mean forward–backward
    consistency of the flow, below ``MATCH_THRESHOLD``), it makes a push-in / dissolve /
    pull-out transition instead of a smeared morph.
    """

    name = "inbetween/keyframe"

    def __init__(self, credits_per_second: float = 0.0) -> None:
        self.credits_per_second = credits_per_second

    def render(
        self,
        request: EngineRequest,
        first: np.ndarray,
        last: np.ndarray,
        on_progress: ProgressCallback | None = None,
    ) -> Clip:
        # 1. check inputs
        self.check_inputs(request, first, last)
        report = on_progress or (lambda _fraction: None)
        # 2. the sound track (dialogue, sounds, ambience, mastered) is made in the background
        # from now on: while the keyframes are analysed (not all of which uses both cores)
        # and the frames render
        sound = None
        if request.generate_audio:
            from inbetween.media.audio import start_soundtrack  # not loaded for silent clips

            sound = start_soundtrack(request.prompt, request.frame_count / request.fps,
                                     request.seed)
        # 3. fit both keyframes to the canvas (cover-crop, no stretching)
        a = fit_to_canvas(first, request.width, request.height)
        b = fit_to_canvas(last, request.width, request.height)
        report(0.2)
        # 4. estimate the camera and the residual flow both ways, and how well they match
        motion = estimate_motion(a, b)
        confidence = round(motion.consistency, 3)
        morph = confidence >= MATCH_THRESHOLD
        frame_at: KeyframePair = PushPullDissolve(a, b)
        fallback: Fallback | None = None
        if morph:  # where the motion does not explain the pair: the camera and a dissolve
            frame_at = synthesiser = Synthesiser(motion)
            synthesiser.fallback = fallback = judge(synthesiser)
        report(0.8)
        # 5. the shot the prompt asks for: camera and pace cues
        shot = parse_cues(request.prompt)
        report(1.0)
        warnings: tuple[JobWarning, ...] = ()
        if request.negative_prompt:
            warnings = (
                JobWarning(
                    "negative_prompt_ignored",
                    f"{self.name} does not use negative_prompt; it was ignored.",
                ),
            )
        # 6. frames, synthesised lazily as the encoder asks for them
        return Clip(
            frames=_frames(frame_at, shot, request),
            frame_count=request.frame_count,
            sound=sound,
            warnings=warnings,
            meta={
                "match_confidence": confidence,
                "transition": "morph" if morph else "push_dissolve",
                "camera": {"scale": round(motion.camera.scale, 4),
                           "rotation_degrees": round(motion.camera.rotation_degrees, 3),
                           "found": motion.camera.found, "method": motion.camera.method},
                # regions where the motion did not explain the keyframes and the camera move
                # with a dissolve was rendered instead (None: nowhere)
                "fallback": None if fallback is None else fallback.details(),
                "timing": shot.pace,
                "cues": list(shot.cues),
                # things that move on their own: matched, appeared or vanished, with their
                # boxes in each keyframe (output pixels)
                "objects": motion.objects() if morph else [],
            },
        )

    @staticmethod
    def check_inputs(request: EngineRequest, first: np.ndarray, last: np.ndarray) -> None:
        for label, image in (("first", first), ("last", last)):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(
                    f"{label} image must be an RGB uint8 array of shape (H, W, 3), "
                    f"got {image.shape} {image.dtype}"
                )
        if request.frame_count < 2:
            raise ValueError(f"frame_count must be at least 2, got {request.frame_count}")
        if request.width % 2 or request.height % 2:
            raise ValueError(
                f"width and height must be even for yuv420p, got {request.width}×{request.height}"
            )


def _frames(frame_at: KeyframePair, shot: Shot, request: EngineRequest) -> Iterator[np.ndarray]:
    count = request.frame_count
    for i in range(count):
        t = i / (count - 1)
        yield frame_at(shot.timing(t), shot.bump_matrix(t, request.width, request.height))
