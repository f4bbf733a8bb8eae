"""The sound track: dialogue spoken from the prompt, non-verbal sounds, an ambience bed that
fits the scene, ducking, loudness mastering (ITU-R BS.1770 via pyloudnorm) and a true-peak
ceiling. 48 kHz stereo float32, exactly the clip's length.

::

    plan_dialogue(prompt) → lines + events → espeak-ng / procedural sounds → timeline
      (pauses shortened, speech sped up ≤ 1.25×, then words dropped, if they do not fit)
    ambiences_for(prompt) → beds at their natural loudness → ducked under speech
    mix → −16 LUFS with dialogue (ambience only: its natural level) → true peak ≤ −2.5 dBTP
    (so that it stays ≤ −1 dBTP once AAC-encoded)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inbetween.jobs.models import JobWarning
from inbetween.media import SAMPLE_RATE
from inbetween.media.ambience import ambiences_for, render_ambience
from inbetween.media.dialogue import Event, Line, plan_dialogue
from inbetween.media.speech import Voice, synthesise_speech

__all__ = [
    "DIALOGUE_LUFS",
    "SAMPLE_RATE",
    "TRUE_PEAK_DBTP",
    "Soundtrack",
    "in_background",
    "master_model_audio",
    "preload",
    "soundtrack",
    "start_soundtrack",
    "true_peak_db",
]

DIALOGUE_LUFS = -16.0
AMBIENCE_MAX_LUFS = -18.0
TRUE_PEAK_DBTP = -2.5  # below the −1 dBTP limit, leaving room for AAC's overshoot
MAX_SPEED = 1.25
_HEADROOM = 0.5  # dB the limiter keeps below the ceiling, to win back lost loudness
_TAIL = 0.15  # seconds of silence kept after the last word
_VARIANTS = {"female": "f3", "male": "m3", "child": "f5"}


@dataclass(frozen=True)
class Soundtrack:
    audio: np.ndarray  # (2, samples) float32
    warnings: tuple[JobWarning, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


def _voice(line: Line | Event, language: str, speed: float = 1.0) -> Voice:
    variant = _VARIANTS[line.speaker]
    pitch = 85 if line.speaker == "child" else 50
    delivery = line.delivery if isinstance(line, Line) else "neutral"
    if delivery == "whisper":
        whisper = "whisper" if line.speaker == "male" else "whisperf"
        return Voice(f"{language}+{whisper}", rate=round(140 * speed), pitch=pitch, volume=70)
    if delivery == "loud":
        return Voice(f"{language}+{variant}", rate=round(190 * speed), pitch=min(99, pitch + 18),
                     range=75, volume=160)
    return Voice(f"{language}+{variant}", rate=round(170 * speed), pitch=pitch)


def _resample(speech: np.ndarray, rate: int) -> np.ndarray:
    from scipy.signal import resample_poly

    if rate == SAMPLE_RATE:
        return speech.astype(np.float64)
    divisor = np.gcd(SAMPLE_RATE, rate)
    out: np.ndarray = resample_poly(speech.astype(np.float64), SAMPLE_RATE // divisor,
                                    rate // divisor)
    return out


def _speak(line: Line, speed: float, seed: int) -> np.ndarray:
    audio, rate = synthesise_speech(line.text, _voice(line, line.language, speed), seed)
    return _trim(_resample(audio, rate))


def _trim(audio: np.ndarray, threshold: float = 1e-3) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > threshold)
    return audio[loud[0] : loud[-1] + 1] if loud.size else audio[:0]


def _event_sound(event: Event, rng: np.random.Generator, seed: int) -> np.ndarray:
    """Breath, sigh and gasp: shaped noise; laugh: espeak-ng's "ha ha ha"."""
    if event.kind == "laugh":
        line = Line("ha ha ha!", "en", event.speaker, "loud", 0.0)
        return _speak(line, 1.1, seed) * 0.7
    from scipy.signal import butter, sosfilt

    length = {"breath": 0.75, "sigh": 1.0, "gasp": 0.35}[event.kind]
    n = int(length * SAMPLE_RATE)
    t = np.linspace(0.0, 1.0, n)
    low, high = (300, 2500) if event.kind != "sigh" else (150, 1500)
    sos = butter(2, [low, high], btype="band", fs=SAMPLE_RATE, output="sos")
    noise = sosfilt(sos, rng.standard_normal(n))
    if event.kind == "sigh":  # a falling exhale
        envelope = np.sin(np.pi * t) ** 0.6 * (1.2 - t)
    elif event.kind == "gasp":  # a sharp intake
        envelope = np.clip(t * 6, 0, 1) * (1 - t) ** 2
    else:  # a breath in: swelling then cut
        envelope = np.sin(np.pi * t**1.3) ** 1.5
    sound: np.ndarray = noise / (np.abs(noise).max() + 1e-9) * envelope * 0.25
    return sound


def _place(cues: list[Line | Event], sounds: list[np.ndarray], pauses: list[float],
           samples: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
    track = np.zeros(samples)
    spans = []
    position = 0.0
    for sound, pause in zip(sounds, pauses, strict=True):
        position += pause
        start = int(position * SAMPLE_RATE)
        end = min(samples, start + sound.size)
        track[start:end] += sound[: end - start]
        spans.append((start / SAMPLE_RATE, end / SAMPLE_RATE))
        position += sound.size / SAMPLE_RATE
    return track, spans


def _fit(cues: list[Line | Event], seconds: float, seed: int) -> tuple[
        list[Line | Event], list[np.ndarray], list[float], float, list[str]]:
    """Cues, sounds and pauses that fit in ``seconds``: shorter pauses, then faster speech
    (at most 1.25×), then words dropped from the end at word boundaries (returned too)."""
    rng = np.random.default_rng(seed)
    available = seconds - _TAIL
    cues = list(cues)
    pauses = [c.pause for c in cues]
    sounds = [_speak(c, 1.0, seed) if isinstance(c, Line) else _event_sound(c, rng, seed)
              for c in cues]

    def length() -> float:
        return sum(pauses) + sum(s.size for s in sounds) / SAMPLE_RATE

    if length() > available:  # 1. tighten the pauses, down to a short beat
        pauses = [max(0.1, p * 0.4) for p in pauses]
    speed = 1.0
    if length() > available:  # 2. speak faster, within what sounds natural
        speech = sum(s.size for s, c in zip(sounds, cues, strict=True) if isinstance(c, Line))
        other = length() - speech / SAMPLE_RATE
        needed = speech / SAMPLE_RATE / max(0.1, available - other)
        speed = min(MAX_SPEED, needed * 1.02)
        sounds = [_speak(c, speed, seed) if isinstance(c, Line) else s
                  for c, s in zip(cues, sounds, strict=True)]
    dropped: list[str] = []
    while length() > available and cues:  # 3. drop words from the end
        last = len(cues) - 1
        cue = cues[last]
        words = cue.text.split() if isinstance(cue, Line) else []
        if isinstance(cue, Line) and len(words) > 1:
            dropped.insert(0, words[-1])
            shorter = Line(" ".join(words[:-1]), cue.language, cue.speaker, cue.delivery,
                           cue.pause)
            cues[last], sounds[last] = shorter, _speak(shorter, speed, seed)
        else:
            if words:
                dropped.insert(0, words[0])
            del cues[last], sounds[last], pauses[last]
    return cues, sounds, pauses, speed, dropped


def _smooth(envelope: np.ndarray, seconds: float) -> np.ndarray:
    """Centred moving average over ``seconds`` (by cumulative sums: O(n) for any width)."""
    width = max(1, int(seconds * SAMPLE_RATE)) | 1
    padded = np.pad(envelope, width // 2, mode="edge")
    sums = np.cumsum(np.concatenate([[0.0], padded]))
    smoothed: np.ndarray = (sums[width:] - sums[:-width]) / width
    return smoothed


def _loudness(audio: np.ndarray) -> float:
    import pyloudnorm

    return float(pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(audio.T))


def true_peak_db(audio: np.ndarray) -> float:
    """True peak (dBTP) by 4× oversampling, as BS.1770 describes."""
    return float(20 * np.log10(max(float(_peaks(audio).max()), 1e-12)))


def _peaks(audio: np.ndarray) -> np.ndarray:
    """Per-sample true-peak estimate: the largest 4× oversampled value of either channel."""
    from scipy.signal import resample_poly

    over = np.abs(resample_poly(audio, 4, 1, axis=-1)).max(axis=0)
    peaks: np.ndarray = over[: audio.shape[-1] * 4].reshape(-1, 4).max(axis=1)
    return peaks


def _master(mix: np.ndarray, level: float, target: float) -> tuple[np.ndarray, float, float]:
    """``mix`` (now at ``level`` LUFS) at ``target`` LUFS with its true peak at most
    ``TRUE_PEAK_DBTP``. Normalise; while the peaks demand it, limit with look-ahead (to half a
    dB under the ceiling) and make up the loudness the limiter took; finally win back what is
    left, within that half dB. Returns the mix, its loudness and its true peak."""
    from scipy.ndimage import minimum_filter1d

    mix = mix * 10 ** ((target - level) / 20)
    ceiling = 10 ** ((TRUE_PEAK_DBTP - _HEADROOM) / 20)
    window = int(0.002 * SAMPLE_RATE) * 2 + 1  # look ahead and behind 2 ms
    peaks = _peaks(mix)
    for _ in range(4):
        if peaks.max() <= ceiling:
            break
        gain = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-12))
        gain = np.minimum(_smooth(minimum_filter1d(gain, window), window / SAMPLE_RATE), 1.0)
        mix, peaks = mix * gain, peaks * gain
        lost = target - _loudness(mix)
        if lost <= _HEADROOM:
            break
        mix, peaks = mix * 10 ** (lost / 20), _peaks(mix * 10 ** (lost / 20))
    loudness = _loudness(mix)
    if loudness < target:  # what is left to win back fits in the headroom
        boost = 10 ** (min(_HEADROOM, target - loudness) / 20)
        mix, peaks = mix * boost, peaks * boost
        loudness = _loudness(mix)
    true_peak = float(20 * np.log10(max(float(peaks.max()), 1e-12)))
    return mix, loudness, true_peak


def soundtrack(prompt: str, seconds: float, seed: int) -> Soundtrack:
    """The sound track for ``prompt``: (2, seconds × 48000) float32."""
    samples = round(seconds * SAMPLE_RATE)
    # 1. dialogue and non-verbal sounds, fitted into the clip
    fitted, sounds, pauses, speed, dropped = _fit(plan_dialogue(prompt), seconds, seed)
    voice_track, spans = _place(fitted, sounds, pauses, samples)
    has_speech = any(isinstance(c, Line) for c in fitted)
    # 2. the ambience beds, each at its natural loudness
    names = ambiences_for(prompt)
    bed = np.zeros((2, samples))
    for name in names:
        layer, target = render_ambience(name, samples, seed)
        bed += layer * 10 ** ((target - _loudness(layer)) / 20)
    # 3. duck the bed under the voice, mix, master
    if voice_track.any():
        envelope = _smooth(np.abs(voice_track), 0.05)
        duck = 1.0 - 0.7 * np.clip(envelope / (envelope.max() + 1e-12) * 4, 0, 1)
        bed *= _smooth(duck, 0.3)
    mix = bed + voice_track[None, :]
    level = _loudness(mix)
    target = DIALOGUE_LUFS if has_speech else min(AMBIENCE_MAX_LUFS, level)
    mix, loudness, true_peak = _master(mix, level, target)
    warnings: tuple[JobWarning, ...] = ()
    if dropped:
        warnings = (JobWarning(
            "dialogue_truncated",
            f"the dialogue did not fit in the {seconds:g} s clip even spoken "
            f"{MAX_SPEED:g}× faster; dropped: {' '.join(dropped)!r}"),)
    details = {
        "source": "synthesized",
        "ambience": names,
        "dialogue": [
            {"text": c.text, "language": c.language, "speaker": c.speaker,
             "delivery": c.delivery, "voice": _voice(c, c.language, speed).name,
             "start": round(s, 2), "end": round(e, 2)}
            for c, (s, e) in zip(fitted, spans, strict=True) if isinstance(c, Line)],
        "sounds": [{"kind": c.kind, "start": round(s, 2), "end": round(e, 2)}
                   for c, (s, e) in zip(fitted, spans, strict=True) if isinstance(c, Event)],
        "speech_speed": round(speed, 3),
        "loudness_lufs": round(loudness, 2),
        "true_peak_dbtp": round(true_peak, 2),
    }
    return Soundtrack(mix.astype(np.float32), warnings, details)


MAX_MODEL_GAIN_DB = 20.0  # a quiet model track is raised by at most this much


def master_model_audio(wave: np.ndarray, rate: int, seconds: float) -> Soundtrack:
    """A generative model's own sound — ``wave`` (channels, samples) or (samples,) at ``rate``
    Hz — as the clip's track: 48 kHz stereo, exactly ``seconds`` long (cut, or padded with
    silence), lowered to −16 LUFS when louder, raised towards it by at most 20 dB otherwise,
    true peak at most ``TRUE_PEAK_DBTP`` (≤ −1 dBTP once AAC-encoded)."""
    audio = np.nan_to_num(np.asarray(wave, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if audio.ndim == 1:
        audio = audio[None, :]
    audio = np.repeat(audio, 2, axis=0) if audio.shape[0] == 1 else audio[:2]
    if rate != SAMPLE_RATE:
        audio = np.stack([_resample(channel, rate) for channel in audio])
    samples = round(seconds * SAMPLE_RATE)
    audio = np.pad(audio[:, :samples], ((0, 0), (0, max(0, samples - audio.shape[1]))))
    audio = _without_dc(audio)  # an offset is inaudible but eats the peak headroom
    level = _loudness(audio)
    warnings: tuple[JobWarning, ...] = ()
    if not np.isfinite(level):  # silence (below the BS.1770 gate): left as it is
        loudness, true_peak = level, true_peak_db(audio)
        warnings = (JobWarning("silent_model_audio",
                               "the model made no audible sound for this clip"),)
    else:
        target = min(DIALOGUE_LUFS, level + MAX_MODEL_GAIN_DB)
        audio, loudness, true_peak = _master(audio, level, target)
        if true_peak > TRUE_PEAK_DBTP:  # the limiter could not hold it: the ceiling wins
            audio = audio * 10 ** ((TRUE_PEAK_DBTP - true_peak) / 20)
            loudness, true_peak = _loudness(audio), true_peak_db(audio)
        if target < DIALOGUE_LUFS - 1:
            warnings = (JobWarning(
                "quiet_model_audio",
                f"the model's sound was quiet ({level:.1f} LUFS); raised by "
                f"{MAX_MODEL_GAIN_DB:g} dB to {loudness:.1f} LUFS, not to {DIALOGUE_LUFS:g}"),)
    details = {
        "source": "model",
        "model_sample_rate": rate,
        "loudness_lufs": round(loudness, 2) if np.isfinite(loudness) else None,
        "true_peak_dbtp": round(true_peak, 2),
    }
    return Soundtrack(audio.astype(np.float32), warnings, details)


def _without_dc(audio: np.ndarray) -> np.ndarray:
    """``audio`` through a zero-phase 20 Hz high-pass (removes a DC offset and rumble)."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(2, 20.0, btype="highpass", fs=SAMPLE_RATE, output="sos")
    filtered: np.ndarray = sosfiltfilt(sos, audio, axis=-1)
    return filtered


def preload() -> None:
    """Import what making a sound track needs (SciPy, pyloudnorm, espeak-ng's loader): about
    half a second, paid once per process, ahead of the first job rather than inside it."""
    import espeakng_loader  # noqa: F401
    import pyloudnorm  # noqa: F401
    import scipy.ndimage
    import scipy.signal  # noqa: F401


def in_background(make: Callable[[], Soundtrack], name: str) -> Future[Soundtrack]:
    """``make()`` in a background thread, so the track is made while frames are rendered."""
    future: Future[Soundtrack] = Future()

    def run() -> None:
        try:
            future.set_result(make())
        except BaseException as e:  # handed to whoever waits for the result
            future.set_exception(e)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def start_soundtrack(prompt: str, seconds: float, seed: int) -> Future[Soundtrack]:
    """``soundtrack`` in a background thread, so it is made while frames are rendered."""
    return in_background(lambda: soundtrack(prompt, seconds, seed), "soundtrack")
