"""Generation jobs: the domain model and the operations on it."""

from inbetween.jobs.models import (
    Generation,
    GenerationRequest,
    ImageInput,
    Outcome,
    Stage,
    Status,
    JobWarning,
)

__all__ = [
    "Generation",
    "GenerationRequest",
    "ImageInput",
    "Outcome",
    "Stage",
    "Status",
    "JobWarning",
]
