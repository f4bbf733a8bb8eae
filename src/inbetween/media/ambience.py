"""Procedural ambience beds chosen from the prompt: rain, wind, ocean, forest, city, crowd,
fire, and a quiet room tone by default. Filtered noise, modulation and grains; seeded, so the
same request gives the same sound. Each bed is returned with its natural loudness (LUFS).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

__all__ = ["AMBIENCES", "SAMPLE_RATE", "ambiences_for", "render_ambience"]

from inbetween.media import SAMPLE_RATE

Bed = Callable[[int, np.random.Generator], np.ndarray]


def _band(noise: np.ndarray, low: float, high: float, slope: float = 0.0) -> np.ndarray:
    """Band-limit ``noise`` (channels × samples) to [low, high] Hz with soft edges; ``slope``
    tilts the spectrum by that many dB per octave (−3: pink, −6: brown)."""
    n = noise.shape[-1]
    spectrum = np.fft.rfft(noise, axis=-1)
    f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    f[0] = 1.0
    gain = 1.0 / np.sqrt(1 + (low / f) ** 4) / np.sqrt(1 + (f / high) ** 4)
    if slope:
        gain = gain * (f / 1000.0) ** (slope / 6.02)
    out: np.ndarray = np.fft.irfft(spectrum * gain, n=n, axis=-1)
    return out


def _slow(n: int, rng: np.random.Generator, rate: float, channels: int = 1) -> np.ndarray:
    """A smooth random envelope in [0, 1] changing about ``rate`` times a second
    (random knots joined by raised-cosine segments)."""
    points = int(n / SAMPLE_RATE * rate) + 2
    knots = rng.random((channels, points))
    x = np.linspace(0, points - 1, n, endpoint=False)
    i = x.astype(int)
    f = (1 - np.cos(np.pi * (x - i))) / 2
    out: np.ndarray = knots[:, i] * (1 - f) + knots[:, i + 1] * f
    return out


def _grains(n: int, rng: np.random.Generator, per_second: float, length: float,
            decay: float) -> np.ndarray:
    """Stereo impulses with decaying noise tails, randomly timed, panned and scaled."""
    out = np.zeros((2, n))
    count = rng.poisson(per_second * n / SAMPLE_RATE)
    size = max(8, int(length * SAMPLE_RATE))
    tail = rng.standard_normal((count, size)) * np.exp(-np.arange(size) / (decay * SAMPLE_RATE))
    starts = rng.integers(0, max(1, n - size), count)
    amps = rng.pareto(3.0, count) + 0.2
    pans = rng.random(count)
    for i in range(count):
        s = starts[i]
        out[0, s : s + size] += tail[i] * amps[i] * (1 - pans[i])
        out[1, s : s + size] += tail[i] * amps[i] * pans[i]
    return out


def _room(n: int, rng: np.random.Generator) -> np.ndarray:
    return _band(rng.standard_normal((2, n)), 20, 400, slope=-3)


def _rain(n: int, rng: np.random.Generator) -> np.ndarray:
    hiss = _band(rng.standard_normal((2, n)), 800, 12000, slope=-1.5)
    drops = _band(_grains(n, rng, 600, 0.004, 0.0008), 1500, 16000)
    bed: np.ndarray = hiss / hiss.std() + 1.4 * drops / (drops.std() + 1e-9)
    return bed


def _wind(n: int, rng: np.random.Generator) -> np.ndarray:
    gusts = 0.25 + _slow(n, rng, 0.35, 2) ** 2 * 1.5
    body = _band(rng.standard_normal((2, n)), 60, 700, slope=-3) * gusts
    whistle = _band(rng.standard_normal((2, n)), 700, 1100) * gusts**2 * 0.6
    bed: np.ndarray = body / body.std() + whistle / (whistle.std() + 1e-9) * 0.3
    return bed


def _ocean(n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    period = rng.uniform(6.5, 9.0)
    phase = rng.uniform(0, 2 * np.pi)
    swell = (0.5 - 0.5 * np.cos(2 * np.pi * t / period + phase)) ** 2
    surge = _band(rng.standard_normal((2, n)), 40, 900, slope=-4.5) * (0.15 + swell)
    wash = _band(rng.standard_normal((2, n)), 600, 6000, slope=-3) * np.clip(
        np.gradient(swell) * SAMPLE_RATE * period / 4, 0, None) ** 1.5
    bed: np.ndarray = surge / surge.std() + 0.6 * wash / (wash.std() + 1e-9)
    return bed


def _forest(n: int, rng: np.random.Generator) -> np.ndarray:
    air = _band(rng.standard_normal((2, n)), 100, 3000, slope=-3)
    out = air / air.std() * 0.25
    t = np.arange(int(0.15 * SAMPLE_RATE)) / SAMPLE_RATE
    for _ in range(rng.poisson(n / SAMPLE_RATE * 0.9) + 1):  # bird phrases
        start = rng.integers(0, n)
        base, pan = rng.uniform(2500, 5500), rng.random()
        for k in range(rng.integers(3, 9)):  # chirps of a phrase
            length = rng.uniform(0.04, 0.15)
            tt = t[: int(length * SAMPLE_RATE)]
            sweep = base * (1 + rng.uniform(-0.25, 0.35) * tt / length)
            chirp = np.sin(2 * np.pi * np.cumsum(sweep) / SAMPLE_RATE) * np.hanning(tt.size)
            s = start + int(k * rng.uniform(0.08, 0.2) * SAMPLE_RATE)
            if s + tt.size < n:
                out[0, s : s + tt.size] += chirp * (1 - pan) * 2.5
                out[1, s : s + tt.size] += chirp * pan * 2.5
    bed: np.ndarray = out
    return bed


def _city(n: int, rng: np.random.Generator) -> np.ndarray:
    rumble = _band(rng.standard_normal((2, n)), 25, 250, slope=-3)
    out = rumble / rumble.std()
    t = np.arange(n) / SAMPLE_RATE
    for _ in range(rng.poisson(n / SAMPLE_RATE * 0.5) + 1):  # cars passing
        centre, width = rng.uniform(0, n / SAMPLE_RATE), rng.uniform(0.8, 1.6)
        envelope = np.exp(-(((t - centre) / width) ** 2))
        car = _band(rng.standard_normal(n), 70, 1800, slope=-3)
        car = car / car.std() * envelope * rng.uniform(1.2, 2.5)
        pan = np.clip(0.5 + (t - centre) / (4 * width), 0, 1)
        out[0] += car * (1 - pan)
        out[1] += car * pan
    if rng.random() < 0.6:  # a distant horn
        s = rng.integers(0, max(1, n - SAMPLE_RATE // 2))
        tt = np.arange(SAMPLE_RATE // 3) / SAMPLE_RATE
        horn = (np.sin(2 * np.pi * 415 * tt) + np.sin(2 * np.pi * 523 * tt)) * np.hanning(tt.size)
        out[:, s : s + tt.size] += horn * 0.6
    bed: np.ndarray = out
    return bed


def _crowd(n: int, rng: np.random.Generator) -> np.ndarray:
    """Babble: talkers as formant-filtered noise with a syllable rhythm and pauses, made at a
    quarter of the sample rate (speech energy is below 6 kHz) and scaled up once."""
    m = -(-n // 4)
    talkers = 14
    f = np.fft.rfftfreq(m, 4 / SAMPLE_RATE)
    f[0] = 1.0
    formants = rng.uniform(350, 900, (talkers, 1))
    gain = (1 / np.sqrt(1 + (0.6 * formants / f) ** 4) / np.sqrt(1 + (f / (3.5 * formants)) ** 4)
            * (f / 1000.0) ** (-2 / 6.02))
    voices = np.fft.irfft(np.fft.rfft(rng.standard_normal((talkers, m)), axis=-1) * gain, n=m)
    t = np.arange(m) * 4 / SAMPLE_RATE
    rates = rng.uniform(3.5, 6.0, (talkers, 1))
    syllables = np.clip(np.sin(2 * np.pi * rates * t + rng.uniform(0, 6.28, (talkers, 1))),
                        0, None) ** 2
    phrases = (_slow(m, rng, 0.6 * 4, talkers) > 0.45).astype(float)  # m is a quarter-rate n
    level = rng.uniform(0.3, 1.0, (talkers, 1)) / voices.std(axis=1, keepdims=True)
    pans = rng.random((talkers, 1))
    speech = voices * syllables * phrases * level
    small = np.stack([(speech * (1 - pans)).sum(0), (speech * pans).sum(0)])
    out: np.ndarray = np.fft.irfft(np.fft.rfft(small, axis=-1), n=m * 4, axis=-1)[:, :n] * 4
    return out


def _fire(n: int, rng: np.random.Generator) -> np.ndarray:
    roar = _band(rng.standard_normal((2, n)), 30, 400, slope=-3) * (0.5 + _slow(n, rng, 2.0, 2))
    crackles = _band(_grains(n, rng, 14, 0.003, 0.0006), 800, 14000)
    pops = _band(_grains(n, rng, 2.5, 0.02, 0.004), 200, 4000)
    bed: np.ndarray = (roar / roar.std() * 0.5 + crackles / (crackles.std() + 1e-9) * 0.9
            + pops / (pops.std() + 1e-9) * 0.5)
    return bed


# name → (keywords, renderer, natural loudness in LUFS)
AMBIENCES: dict[str, tuple[str, Bed, float]] = {
    "rain": (r"rain\w*|drizzl\w*|downpour|storm\w*|thunder\w*", _rain, -24.0),
    "wind": (r"wind\w*|breez\w*|gust\w*|blizzard", _wind, -28.0),
    "ocean": (r"ocean|sea|seaside|waves?|beach|surf|shore", _ocean, -25.0),
    "forest": (r"forest|woods?|birds?|jungle|trees?|meadow|garden", _forest, -33.0),
    "city": (r"city|street|traffic|cars?|downtown|urban|road", _city, -27.0),
    "crowd": (r"crowd\w*|chatter\w*|party|caf[eé]|restaurant|audience|market|bar|pub",
              _crowd, -24.0),
    "fire": (r"fire\w*|campfire|fireplace|flames?|crackl\w*|bonfire", _fire, -30.0),
    "room": (r"$^", _room, -46.0),
}


def ambiences_for(prompt: str) -> list[str]:
    """The beds a prompt's words call for (in table order), or ``["room"]``."""
    found = [name for name, (pattern, _, _) in AMBIENCES.items()
             if re.search(rf"\b(?:{pattern})\b", prompt, re.IGNORECASE)]
    return found or ["room"]


def render_ambience(name: str, samples: int, seed: int) -> tuple[np.ndarray, float]:
    """Stereo float64 bed ``name`` (unnormalised) and its natural loudness in LUFS."""
    _, render, loudness = AMBIENCES[name]
    rng = np.random.default_rng([seed, list(AMBIENCES).index(name)])
    bed = render(samples, rng)
    fade = min(samples // 2, SAMPLE_RATE // 20)
    ramp = np.linspace(0.0, 1.0, fade)
    bed[:, :fade] *= ramp
    bed[:, samples - fade :] *= ramp[::-1]
    return bed, loudness
