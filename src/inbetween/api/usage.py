"""`GET /v2/usage`: what the calling key was charged, per UTC day, model and provider, from
the spend ledger (rows written with each delivered generation; deleting a generation keeps
its row, and errors, cancels, blocks and deadlines are never charged)."""

from __future__ import annotations

import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from inbetween.api.auth import require_key
from inbetween.api.errors import ERROR_RESPONSES
from inbetween.api.state import Services, services
from inbetween.errors import InvalidRequest
from inbetween.store.base import ApiKey

__all__ = ["router"]

router = APIRouter(prefix="/v2", tags=["usage"])
MAX_DAYS = 366


class UsageRow(BaseModel):
    date: str = Field(description="UTC day, YYYY-MM-DD.")
    model: str
    provider: str = Field(description="`local`, or the upstream provider that delivered.")
    generations: int
    seconds: float = Field(description="Video seconds delivered.")
    cost_usd: float


class UsageTotal(BaseModel):
    generations: int
    seconds: float
    cost_usd: float


class UsageReport(BaseModel):
    """Body of `GET /v2/usage`."""

    data: list[UsageRow]
    total: UsageTotal


def _day(value: str, field: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value) if len(value) == 10 else _bad(value, field)
    except ValueError:
        return _bad(value, field)


def _bad(value: str, field: str) -> datetime.date:
    raise InvalidRequest(f"{field}: a UTC day as YYYY-MM-DD (e.g. 2026-11-25), not "
                         f"{value[:40]!r}", field=field)


@router.get(
    "/usage",
    response_model=UsageReport,
    responses={k: ERROR_RESPONSES[k] for k in (400, 401, 429)},
    summary="This key's spend per day, model and provider",
)
def usage(
    first: str = Query(alias="from", max_length=40,
                       description="First UTC day, YYYY-MM-DD (inclusive)."),
    last: str = Query(alias="to", max_length=40,
                      description=f"Last UTC day, YYYY-MM-DD (inclusive; at most {MAX_DAYS} "
                      "days after `from`)."),
    key: ApiKey = Depends(require_key),
    svc: Services = Depends(services),
) -> UsageReport:
    """What this key's delivered generations cost, day by day (UTC), from the ledger."""
    svc.limiter.check(key.id, "poll")
    start, end = _day(first, "from"), _day(last, "to")
    if end < start:
        raise InvalidRequest("to: must not be before from", field="to")
    if (end - start).days >= MAX_DAYS:
        raise InvalidRequest(f"to: at most {MAX_DAYS} days after from; ask for several "
                             "ranges", field="to")
    groups: dict[tuple[str, str, str], list[float]] = {}
    for charge in svc.store.charges(key.id, start.isoformat(), end.isoformat()):
        group = groups.setdefault((charge.date, charge.model, charge.provider), [0, 0.0, 0.0])
        group[0] += 1
        group[1] += charge.seconds
        group[2] += charge.cost_usd
    rows = [UsageRow(date=d, model=m, provider=p, generations=int(g[0]), seconds=g[1],
                     cost_usd=round(g[2], 6)) for (d, m, p), g in sorted(groups.items())]
    return UsageReport(data=rows, total=UsageTotal(
        generations=sum(r.generations for r in rows), seconds=sum(r.seconds for r in rows),
        cost_usd=round(sum(r.cost_usd for r in rows), 6)))
