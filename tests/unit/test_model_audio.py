"""A generative model's own sound as the clip's track (``master_model_audio``): resampled to
48 kHz stereo, exactly the clip's length, lowered to −16 LUFS when louder, raised by at most
20 dB when quieter, DC removed, true peak ≤ −1 dBTP after AAC encoding."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

import av
import numpy as np
import pyloudnorm
import pytest

from inbetween.media.audio import SAMPLE_RATE, master_model_audio, true_peak_db
from inbetween.media.video import encode_mp4


def _speechlike(rate: int, seconds: float, level: float, seed: int = 0) -> np.ndarray:
    """Bursts of harmonic tone at roughly ``level`` (peak amplitude), mono."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    tone = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((180, 360, 540, 900), 1))
    bursts = (np.sin(2 * np.pi * 2.5 * t) > 0).astype(float)
    return np.asarray(level * tone / 2 * bursts + 0.002 * rng.standard_normal(t.size))


def _lufs(audio: np.ndarray) -> float:
    return float(pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(audio.T))


def _aac_roundtrip(tmp_path: Path, track: np.ndarray, seconds: int) -> np.ndarray:
    from inbetween.media.audio import Soundtrack

    pending: Future[Soundtrack] = Future()
    pending.set_result(Soundtrack(track))
    out = tmp_path / "m.mp4"
    encode_mp4(out, (np.zeros((64, 64, 3), np.uint8) for _ in range(seconds * 24)), width=64,
               height=64, fps=24, frame_count=seconds * 24, audio=pending)
    with av.open(str(out)) as container:
        stream = container.streams.audio[0]
        decoded = np.concatenate([f.to_ndarray() for f in container.decode(stream)], axis=1)
    return decoded[:, : seconds * SAMPLE_RATE]


def test_a_loud_track_is_lowered_to_minus_16_and_kept_under_the_peak_ceiling(
    tmp_path: Path,
) -> None:
    wave = np.stack([_speechlike(24_000, 4.3, 0.9), _speechlike(24_000, 4.3, 0.9, seed=1)])
    wave[:, 5000:5040] = 1.0  # a click
    track = master_model_audio(wave.astype(np.float32), 24_000, 4.0)
    assert track.audio.shape == (2, 4 * SAMPLE_RATE) and track.audio.dtype == np.float32
    assert track.details["source"] == "model" and track.details["model_sample_rate"] == 24_000
    assert abs(_lufs(track.audio) + 16) <= 1 and abs(track.details["loudness_lufs"] + 16) <= 1
    decoded = _aac_roundtrip(tmp_path, track.audio, 4)
    assert abs(_lufs(decoded) + 16) <= 1 and true_peak_db(decoded) <= -1.0
    assert track.warnings == ()


def test_a_quiet_track_is_raised_by_at_most_20_db() -> None:
    wave = _speechlike(SAMPLE_RATE, 6.0, 0.004)  # mono, far below −16 LUFS
    before = _lufs(np.repeat(wave[None], 2, axis=0))
    track = master_model_audio(wave, SAMPLE_RATE, 6.0)
    after = _lufs(track.audio)
    assert track.audio.shape == (2, 6 * SAMPLE_RATE)
    assert np.array_equal(track.audio[0], track.audio[1])  # mono on both channels
    assert after == pytest.approx(before + 20, abs=1.0) and after < -17
    assert [w.code for w in track.warnings] == ["quiet_model_audio"]


def test_length_offset_and_silence() -> None:
    short = master_model_audio(np.full((2, 1000), 0.3, np.float32), 48_000, 2.0)
    assert short.audio.shape == (2, 2 * SAMPLE_RATE)  # padded with silence
    assert abs(float(short.audio[:, SAMPLE_RATE:].mean())) < 1e-3
    offset = _speechlike(48_000, 4.0, 0.3)[None].repeat(2, axis=0) + 0.4  # a DC offset
    track = master_model_audio(offset, 48_000, 4.0)
    assert abs(float(track.audio.mean())) < 1e-3 and true_peak_db(track.audio) <= -2.4
    silent = master_model_audio(np.zeros((2, 48_000 * 4)), 48_000, 4.0)
    assert not silent.audio.any() and silent.details["loudness_lufs"] is None
    assert [w.code for w in silent.warnings] == ["silent_model_audio"]
