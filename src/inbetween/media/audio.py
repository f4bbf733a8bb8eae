"""Sound tracks: for now a quiet, natural-sounding room tone (dialogue comes later)."""

from __future__ import annotations

import numpy as np

__all__ = ["SAMPLE_RATE", "room_tone"]

SAMPLE_RATE = 48_000


def room_tone(seconds: float, *, seed: int, level_dbfs: float = -48.0) -> np.ndarray:
    """Stereo room tone: low-passed (brownish) noise at ``level_dbfs`` RMS.

    Returns float32 planar audio of shape (2, seconds × 48000), deterministic for ``seed``,
    with 50 ms fades at both ends so the track starts and stops without a click.
    """
    samples = round(seconds * SAMPLE_RATE)
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((2, samples))
    # one-pole low-pass twice: a soft, distant "air" rather than hiss
    spectrum = np.fft.rfft(white, axis=1)
    freqs = np.fft.rfftfreq(samples, 1 / SAMPLE_RATE)
    shaped = spectrum / (1 + (freqs / 400.0) ** 2)
    tone = np.fft.irfft(shaped, n=samples, axis=1)
    rms = float(np.sqrt(np.mean(tone**2))) or 1.0
    tone *= 10 ** (level_dbfs / 20) / rms
    fade = min(samples // 2, SAMPLE_RATE // 20)
    ramp = np.linspace(0.0, 1.0, fade)
    tone[:, :fade] *= ramp
    tone[:, samples - fade :] *= ramp[::-1]
    return tone.astype(np.float32)
