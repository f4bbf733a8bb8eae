"""Images, video, sound. The sound stack (``audio`` and what it uses) is imported only by
code that makes sound, so ``inbetween generate --no-audio`` never loads it."""

SAMPLE_RATE = 48_000
"""Every sound track's sample rate (Hz)."""
