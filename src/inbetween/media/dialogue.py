"""What the prompt says should be heard: quoted lines, who speaks them and how, when, and
non-verbal sounds (breaths, sighs, laughs, gasps).

Pure text analysis: no audio here. ``plan_dialogue(prompt)`` returns the lines and events in
prompt order, each with the voice, the delivery and the pause the wording puts before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Event", "Line", "detect_language", "find_quotes", "plan_dialogue"]

# opening → closing quote marks; straight single quotes need care (apostrophes)
QUOTE_PAIRS = {"'": "'", '"': '"', "‘": "’", "“": "”", "«": "»", "„": "“", "‚": "‘", "‹": "›"}


def _is_letter(text: str, index: int) -> bool:
    return 0 <= index < len(text) and text[index].isalnum()


def find_quotes(prompt: str) -> list[tuple[int, int, str]]:
    """(start, end, text) of every quoted span; a ' between two letters is an apostrophe."""
    spans: list[tuple[int, int, str]] = []
    i = 0
    while i < len(prompt):
        opening = prompt[i]
        closing = QUOTE_PAIRS.get(opening)
        if closing is None or (opening == "'" and _is_letter(prompt, i - 1)):
            i += 1
            continue
        j = i + 1
        end = -1
        while j < len(prompt):
            if prompt[j] == closing and not (
                closing == "'" and _is_letter(prompt, j - 1) and _is_letter(prompt, j + 1)
            ):
                end = j
                break
            j += 1
        if end < 0:  # an opening mark that is never closed is not a quote
            i += 1
            continue
        text = prompt[i + 1 : end].strip()
        if any(ch.isalnum() for ch in text):
            spans.append((i, end + 1, text))
        i = end + 1
    return spans


_LANGUAGE_WORDS = {
    "fr": {"le", "la", "les", "est", "je", "tu", "vous", "nous", "bonjour", "merci", "c'est",
           "et", "une", "un", "pas", "oui", "non", "très", "mon", "ma", "au", "revoir", "salut",
           "monde", "suis", "qui", "que", "où", "l'eau", "ça", "avec", "pour"},
    "de": {"der", "die", "das", "und", "ist", "ich", "nicht", "guten", "danke", "tag", "wie",
           "geht", "es", "ein", "eine", "ja", "nein", "bitte", "hallo", "welt", "mein", "sehr",
           "auf", "wiedersehen", "schön", "mit", "für", "wir", "sind", "morgen"},
    "es": {"el", "la", "los", "las", "es", "y", "hola", "gracias", "qué", "buenos", "días",
           "por", "favor", "sí", "no", "muy", "mundo", "estoy", "soy", "una", "un", "adiós",
           "cómo", "estás", "para", "con", "mi", "amigo", "bien", "señor"},
    "en": {"the", "is", "and", "you", "hello", "world", "i", "it", "a", "to", "of", "my",
           "what", "are", "we", "this", "that", "yes", "no", "good", "morning", "thank", "oh",
           "wow", "hi", "there", "love", "now", "look", "come", "here", "go"},
}
_LANGUAGE_LETTERS = {"fr": "çèêëàâîïôûœ", "de": "äöüß", "es": "ñ¿¡áíóú"}
_LANGUAGE_NAMES = {"french": "fr", "german": "de", "spanish": "es", "english": "en"}


def detect_language(text: str, hint: str | None = None) -> str:
    """``en``, ``fr``, ``de`` or ``es`` for a quoted line, from its words and letters."""
    if hint:
        return hint
    words = re.findall(r"[\w']+", text.lower())
    scores = {lang: sum(w in vocab for w in words) for lang, vocab in _LANGUAGE_WORDS.items()}
    for lang, letters in _LANGUAGE_LETTERS.items():
        scores[lang] += 2 * sum(ch in letters for ch in text.lower())
    best = max(scores, key=lambda lang: (scores[lang], lang == "en"))
    return best if scores[best] > scores["en"] else "en"


@dataclass(frozen=True)
class Line:
    """One line of dialogue to speak."""

    text: str
    language: str
    speaker: str  # "female", "male" or "child"
    delivery: str  # "neutral", "whisper" or "loud"
    pause: float  # seconds of action the wording puts before this line


@dataclass(frozen=True)
class Event:
    """A non-verbal sound: "breath", "sigh", "laugh" or "gasp"."""

    kind: str
    pause: float
    speaker: str = "male"


Cue = Line | Event

_SPEAKERS = [
    ("child", r"child|kid|toddler|little (?:boy|girl)|baby"),
    ("female", r"woman|girl|lady|she|her|mother|mom|grandma|grandmother|actress|queen|wife"),
    ("male", r"man|boy|guy|he|his|him|father|dad|grandpa|grandfather|actor|king|husband"),
]
_WHISPER = r"whisper\w*|murmur\w*|softly|quietly|under (?:her|his) breath"
_LOUD = r"exclaim\w*|shout\w*|yell\w*|scream\w*|energetic\w*|loudly|cheer\w*|cries out"
_EVENTS = [
    ("breath", r"breathes? in|inhales?|takes? a (?:deep )?breath|breathes? deeply"),
    ("sigh", r"sighs?|exhales?"),
    ("laugh", r"laugh\w*|giggl\w*|chuckl\w*"),
    ("gasp", r"gasps?"),
]
# seconds of screen time that words before a line take up
_ACTION = re.compile(r"\b(?:looks?|turns?|smiles?|nods?|walks?|stands?|sits?|raises?|opens?|"
                     r"closes?|glances?|steps?|leans?|waves?|points?)\b", re.I)
_BEAT = re.compile(r"\b(?:then|after a (?:beat|moment|pause)|pauses?|finally|later)\b", re.I)
_LANGUAGE_HINT = re.compile(r"\bin (french|german|spanish|english)\b", re.I)
_SENTENCE_START = 0.4


def _speaker(context: str) -> str:
    found = [(m.start(), kind) for kind, pattern in _SPEAKERS
             for m in re.finditer(rf"\b(?:{pattern})\b", context, re.I)]
    if not found:
        return "male"
    # the nearest mention before the line wins; a child beats its gendered noun
    last_position = max(found)[0]
    nearest = [kind for position, kind in found if position >= last_position - 12]
    return "child" if "child" in nearest else max(found)[1]


def _screen_time(words: str) -> float:
    """Seconds the actions and beats in ``words`` take before what follows them."""
    return 0.4 * len(_ACTION.findall(words)) + 0.2 * len(_BEAT.findall(words))


def plan_dialogue(prompt: str) -> list[Cue]:
    """Lines and non-verbal events in the order the prompt tells them, with the pause before."""
    cues: list[tuple[int, Cue]] = []
    previous_end = 0
    segments = [*find_quotes(prompt), (len(prompt), len(prompt), "")]
    for index, (start, end, text) in enumerate(segments):
        lead = prompt[previous_end:start]
        base = _SENTENCE_START if index == 0 else 0.3
        events = sorted((m.start(), m.end(), kind) for kind, pattern in _EVENTS
                        for m in re.finditer(rf"\b(?:{pattern})\b", lead, re.I))
        cursor = 0
        for event_start, event_end, kind in events:
            cues.append((previous_end + event_start,
                         Event(kind, base + _screen_time(lead[cursor:event_start]),
                               _speaker(prompt[: previous_end + event_start]))))
            base, cursor = 0.15, event_end
        if text:
            context = prompt[:start]
            hint = _LANGUAGE_HINT.search(lead)
            delivery = ("whisper" if re.search(rf"\b(?:{_WHISPER})", lead, re.I)
                        else "loud" if re.search(rf"\b(?:{_LOUD})", lead, re.I)
                        or text.rstrip().endswith("!") else "neutral")
            language = detect_language(text, _LANGUAGE_NAMES[hint.group(1).lower()]
                                       if hint else None)
            pause = base + _screen_time(lead[cursor:])
            cues.append((start, Line(text, language, _speaker(context), delivery, pause)))
        previous_end = end
    return [cue for _, cue in sorted(cues, key=lambda item: item[0])]
