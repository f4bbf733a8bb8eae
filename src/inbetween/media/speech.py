"""Speech synthesis with espeak-ng, loaded through ctypes from the ``espeakng-loader`` wheel
(the library and its voice data ship inside the wheel: no system package, no download).

espeak-ng keeps global state, so every synthesis holds one process-wide lock. Some of that
state (e.g. the pitch-flutter index) survives ``espeak_Terminate`` and changes the output of
the next call, so each synthesis loads the library afresh and unloads it after (``dlclose``
resets its static data; it costs about 4 ms): the same text, voice and seed give the same
samples in any process, whatever was spoken before.
"""

from __future__ import annotations

import _ctypes
import ctypes
import threading
from dataclasses import dataclass

import numpy as np

__all__ = ["Voice", "synthesise_speech"]

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.c_void_p)


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice and its delivery.

    ``name`` is a language voice (``en``, ``fr``, ``de``, ``es``…) with an optional variant
    (``en+f3``: female, ``+m3``: male, ``+whisperf``); ``rate`` in words per minute (espeak's
    default 175), ``pitch`` and ``range`` 0–100 (default 50), ``volume`` 0–200 (default 100).
    """

    name: str = "en+m3"
    rate: int = 175
    pitch: int = 50
    range: int = 50
    volume: int = 100


class _Espeak:
    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                               ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        self.lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint,
                                          ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                          ctypes.c_void_p, ctypes.c_void_p]
        data = espeakng_loader.get_data_path().encode()
        self.sample_rate = int(self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0))
        if self.sample_rate <= 0:
            raise RuntimeError("espeak-ng failed to initialise")
        self._chunks: list[np.ndarray] = []
        self._callback = _CALLBACK(self._collect)  # kept alive as long as the library
        self.lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: ctypes.Array[ctypes.c_short], count: int, _events: int) -> int:
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    def speak(self, text: str, voice: Voice, seed: int) -> np.ndarray:
        if self.lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice.name!r}")
        for parameter, value in ((_RATE, voice.rate), (_PITCH, voice.pitch),
                                 (_RANGE, voice.range), (_VOLUME, voice.volume)):
            self.lib.espeak_SetParameter(parameter, int(value), 0)
        self._chunks = []
        # the voice variants add random breath noise: seed it, for repeatable output
        self.lib.espeak_ng_SetRandSeed(seed)
        encoded = text.encode("utf-8") + b"\0"
        self.lib.espeak_Synth(encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None,
                              None)
        self.lib.espeak_Synchronize()
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return samples.astype(np.float32) / 32768.0


    def close(self) -> None:
        self.lib.espeak_Terminate()
        _ctypes.dlclose(self.lib._handle)


_lock = threading.Lock()


def synthesise_speech(text: str, voice: Voice, seed: int = 0) -> tuple[np.ndarray, int]:
    """Mono float32 speech for ``text`` and its sample rate (espeak-ng's, 22050 Hz);
    the same text, voice and seed give the same samples."""
    with _lock:
        engine = _Espeak()
        try:
            return engine.speak(text, voice, seed), engine.sample_rate
        finally:
            engine.close()
