"""The sound track: dialogue, non-verbal sounds, ambiences, loudness and true peak —
measured on audio decoded from real MP4s where the issue asks for it."""

from __future__ import annotations

import itertools
from concurrent.futures import Future
from pathlib import Path

import av
import numpy as np
import pyloudnorm
import pytest

from inbetween.media.ambience import AMBIENCES, ambiences_for
from inbetween.media.audio import SAMPLE_RATE, soundtrack, true_peak_db
from inbetween.media.dialogue import find_quotes, plan_dialogue
from inbetween.media.video import encode_mp4

EXAMPLE = "A woman looks into the camera, breathes in, then exclaims energetically, 'Hello world!'"


def _mp4_audio(tmp_path: Path, prompt: str, seconds: int = 4, seed: int = 1) -> np.ndarray:
    """Encode a clip with the prompt's sound track; return the decoded (2, n) audio."""
    track = soundtrack(prompt, seconds, seed)
    pending: Future = Future()  # type: ignore[type-arg]
    pending.set_result(track)
    frames = (np.zeros((64, 64, 3), np.uint8) for _ in range(seconds * 24))
    out = tmp_path / "a.mp4"
    encode_mp4(out, frames, width=64, height=64, fps=24, frame_count=seconds * 24, audio=pending)
    with av.open(str(out)) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.name, stream.codec_context.sample_rate) == ("aac", 48000)
        assert stream.codec_context.channels == 2
        assert float(stream.duration * stream.time_base) == pytest.approx(seconds, abs=1e-3)
        decoded = np.concatenate([f.to_ndarray() for f in container.decode(stream)], axis=1)
    assert seconds * SAMPLE_RATE <= decoded.shape[1] <= seconds * SAMPLE_RATE + 1024
    return decoded[:, : seconds * SAMPLE_RATE]


def _loudness(audio: np.ndarray) -> float:
    return float(pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(audio.T))


def _speech_band_db(audio: np.ndarray, window: float = 0.02) -> np.ndarray:
    """Short-time level (dBFS) in the speech band, one value per ``window`` seconds."""
    from scipy.signal import butter, sosfilt

    sos = butter(4, [300, 3400], btype="band", fs=SAMPLE_RATE, output="sos")
    band = sosfilt(sos, audio.mean(axis=0))
    size = int(window * SAMPLE_RATE)
    frames = band[: band.size // size * size].reshape(-1, size)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


# -- quotes and the dialogue plan ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("prompt", "lines"),
    [
        (EXAMPLE, ["Hello world!"]),
        ('He says "hi" and she says “bye”', ["hi", "bye"]),
        ("« Bonjour » ‘yes’ „Guten Tag“ ‚ja‘ ‹oui›", ["Bonjour", "yes", "Guten Tag", "ja", "oui"]),
        ("The woman's dog doesn't bark; l'eau est froide", []),
        ("She whispers 'don't go, it's late' to the man's son", ["don't go, it's late"]),
        ("an empty quote '' and a lone ' mark", []),
    ],
)
def test_quotes_and_apostrophes(prompt: str, lines: list[str]) -> None:
    assert [text for _, _, text in find_quotes(prompt)] == lines


def test_example_prompt_plan() -> None:
    plan = plan_dialogue(EXAMPLE)
    assert [type(c).__name__ for c in plan] == ["Event", "Line"]
    breath, line = plan
    assert breath.kind == "breath"  # type: ignore[union-attr]
    assert (line.speaker, line.delivery, line.language) == ("female", "loud", "en")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("prompt", "speaker", "delivery", "language"),
    [
        ('A man whispers "it is time"', "male", "whisper", "en"),
        ('A little girl shouts "look at this!"', "child", "loud", "en"),
        ('A woman says "Bonjour, je suis très contente"', "female", "neutral", "fr"),
        ('A man asks "Wie geht es dir, mein Freund?"', "male", "neutral", "de"),
        ('She says "Hola, ¿cómo estás, amigo?"', "female", "neutral", "es"),
        ('He says in French "merci"', "male", "neutral", "fr"),
    ],
)
def test_voice_delivery_and_language(prompt: str, speaker: str, delivery: str,
                                     language: str) -> None:
    (line,) = [c for c in plan_dialogue(prompt) if hasattr(c, "text")]
    assert (line.speaker, line.delivery, line.language) == (speaker, delivery, language)  # type: ignore[union-attr]


# -- speech in the decoded audio ----------------------------------------------------------------
def test_example_speech_starts_after_the_breath(tmp_path: Path) -> None:
    track = soundtrack(EXAMPLE, 8, seed=3)
    (line,) = track.details["dialogue"]
    assert 0.5 <= line["start"] <= 2.5 and line["end"] < 8
    assert track.details["sounds"][0]["kind"] == "breath"
    assert track.details["sounds"][0]["end"] <= line["start"]
    levels = _speech_band_db(_mp4_audio(tmp_path, EXAMPLE, seconds=8, seed=3))
    loud = np.flatnonzero(levels > levels.max() - 25)
    assert 0.5 <= loud[0] * 0.02 <= 2.5  # sound begins in the window, not at frame 0
    speech = levels[int(line["start"] / 0.02) : int(line["end"] / 0.02)]
    assert speech.max() > levels[: int(0.5 / 0.02)].max() + 30  # far above the room tone


def test_no_quotes_no_speech(tmp_path: Path) -> None:
    track = soundtrack("A quiet morning in an empty room", 4, seed=1)
    assert track.details["dialogue"] == [] and track.details["sounds"] == []
    assert _speech_band_db(_mp4_audio(tmp_path, "A quiet morning in an empty room")).max() < -40


@pytest.mark.parametrize(("text", "language"), [("Bonjour, mon ami, comment ça va ?", "fr"),
                                                ("Guten Morgen, wie geht es dir?", "de"),
                                                ("Hola amigo, ¿qué tal?", "es")])
def test_foreign_dialogue_is_spoken_with_its_voice(text: str, language: str) -> None:
    track = soundtrack(f'A woman says "{text}"', 4, seed=1)
    (line,) = track.details["dialogue"]
    assert line["language"] == language and line["text"] == text
    assert line["voice"] == f"{language}+f3"  # espeak-ng's voice for that language
    start, end = int(line["start"] * SAMPLE_RATE), int(line["end"] * SAMPLE_RATE)
    assert end - start > 0.5 * SAMPLE_RATE  # spoken, not dropped
    assert np.abs(track.audio[:, start:end]).max() > 0.1


def test_long_dialogue_is_sped_up_then_cut_at_a_word(tmp_path: Path) -> None:
    words = " ".join(f"word{i}" for i in range(30))
    track = soundtrack(f'A man says "{words}"', 4, seed=1)
    (line,) = track.details["dialogue"]
    assert track.details["speech_speed"] == pytest.approx(1.25)
    kept = line["text"].split()
    assert kept == words.split()[: len(kept)] and 0 < len(kept) < 30  # whole words only
    (warning,) = track.warnings
    assert warning.code == "dialogue_truncated"
    assert " ".join(words.split()[len(kept):]) in warning.message
    assert line["end"] <= 4 - 0.1  # the last kept word is not cut by the clip's end


def test_a_line_that_fits_only_faster_is_sped_up_not_cut() -> None:
    prompt = 'A man says "' + " ".join(["hello there, how are you"] * 3) + '"'
    (natural,) = soundtrack(prompt, 30, seed=1).details["dialogue"]
    spoken = natural["end"] - natural["start"]
    seconds = 0.16 + spoken / 1.12 + 0.15  # a short beat, the line 12 % faster, the tail
    track = soundtrack(prompt, seconds, seed=1)
    assert 1.05 < track.details["speech_speed"] <= 1.25
    assert track.warnings == () and track.details["dialogue"][0]["text"] == natural["text"]


# -- ambiences ----------------------------------------------------------------------------------
def _features(audio: np.ndarray) -> np.ndarray:
    """log of: spectral centroid, spectral flatness in 2–6 kHz (low = tonal), envelope
    variability, impulsiveness (crest of 5 ms peaks), share of envelope modulation at a
    syllabic rate (3–7 Hz), share of slow modulation (0.05–0.5 Hz: swells, gusts)."""
    mono = audio.mean(axis=0).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(mono)) ** 2
    f = np.fft.rfftfreq(mono.size, 1 / SAMPLE_RATE)
    centroid = float((f * spectrum).sum() / spectrum.sum())
    band = spectrum[(f > 2000) & (f < 6000)] + 1e-20
    flatness = float(np.exp(np.mean(np.log(band))) / np.mean(band))
    env = np.sqrt(np.mean(mono[: mono.size // 2400 * 2400].reshape(-1, 2400) ** 2, axis=1))
    variability = float(env.std() / env.mean())
    short = np.abs(mono[: mono.size // 240 * 240].reshape(-1, 240)).max(axis=1)
    crest = float(np.percentile(short, 99.5) / np.median(short))
    modulation = np.abs(np.fft.rfft(env - env.mean())) ** 2
    mod_f = np.fft.rfftfreq(env.size, 0.05)
    slow = float(modulation[(mod_f > 0.05) & (mod_f < 0.5)].sum() / modulation[1:].sum())
    syllabic = float(modulation[(mod_f > 3) & (mod_f < 7)].sum() / modulation[1:].sum())
    return np.array([np.log(centroid), np.log(flatness), np.log(variability), np.log(crest),
                     np.log(syllabic), np.log(slow)])


def _scene(name: str) -> str:
    """A prompt that calls for ambience ``name`` (its first keyword)."""
    return "a quiet scene" if name == "room" else f"a scene with {AMBIENCES[name][0].split('|')[0]}"


@pytest.fixture(scope="module")
def beds() -> dict[str, np.ndarray]:
    return {name: soundtrack(_scene(name), 8, 5).audio for name in AMBIENCES}


def test_keywords_choose_the_ambience() -> None:
    assert ambiences_for("a rainy street at night") == ["rain", "city"]
    assert ambiences_for("waves on the beach, a campfire crackles") == ["ocean", "fire"]
    assert ambiences_for("birds in the forest, a gentle breeze") == ["wind", "forest"]
    assert ambiences_for("a crowded cafe") == ["crowd"]
    assert ambiences_for("a portrait") == ["room"]


def test_ambiences_are_each_recognisably_their_own(beds: dict[str, np.ndarray]) -> None:
    features = {name: _features(audio) for name, audio in beds.items()}
    for a, b in itertools.combinations(features, 2):
        assert np.abs(features[a] - features[b]).max() > 0.4, (a, b, features[a], features[b])
    centroid = {n: np.exp(v[0]) for n, v in features.items()}
    assert centroid["rain"] > 2 * centroid["wind"] and centroid["rain"] > 2 * centroid["city"]
    assert features["forest"][1] < features["rain"][1] - 0.5  # tonal bird calls vs hiss
    assert np.exp(features["fire"][3]) > 3 * np.exp(features["wind"][3])  # crackles
    slow = {n: np.exp(v[5]) for n, v in features.items()}
    syllabic = {n: np.exp(v[4]) for n, v in features.items()}
    assert slow["ocean"] > 0.5 and slow["ocean"] > 3 * slow["rain"]  # swells
    assert slow["wind"] > 3 * slow["rain"]  # gusts
    assert syllabic["crowd"] == max(syllabic.values())  # babble


@pytest.mark.parametrize("name", list(AMBIENCES))
def test_ambience_only_loudness_is_natural(tmp_path: Path, name: str) -> None:
    audio = _mp4_audio(tmp_path, _scene(name))
    lufs = _loudness(audio)
    assert -50 <= lufs <= -18, lufs
    if name == "room":
        assert lufs < -40
    if name in ("rain", "crowd"):
        assert lufs > -28
    assert true_peak_db(audio) <= -1.0


def test_dialogue_is_mastered_to_minus_16_lufs(tmp_path: Path) -> None:
    for prompt in (EXAMPLE, 'In a crowded cafe a man whispers "we have to leave now"',
                   'In the rain a child shouts "look, a rainbow!"'):
        audio = _mp4_audio(tmp_path, prompt, seconds=6)
        assert abs(_loudness(audio) + 16) <= 1.0, prompt
        assert true_peak_db(audio) <= -1.0
        assert np.abs(audio).max() < 1.0  # no clipping


def test_same_seed_same_sound() -> None:
    a = soundtrack(f"{EXAMPLE} in the rain", 4, seed=9).audio
    b = soundtrack(f"{EXAMPLE} in the rain", 4, seed=9).audio
    c = soundtrack(f"{EXAMPLE} in the rain", 4, seed=10).audio
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.shape == (2, 4 * SAMPLE_RATE) and a.dtype == np.float32
