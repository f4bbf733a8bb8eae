"""Generation jobs: the domain model and the operations on it."""

from inbetween.jobs.models import (
    Generation,
    GenerationRequest,
    ImageInput,
    JobWarning,
    Outcome,
    Stage,
    Status,
)

__all__ = [
    "Generation",
    "GenerationRequest",
    "ImageInput",
    "JobWarning",
    "Outcome",
    "Stage",
    "Status",
]
