"""Per-key budgets: UTC calendar periods, and the check a submission's worst case must pass.

What a key has used in a period is its ledger's charges (delivered generations) in that
period plus the worst cases reserved by its unfinished generations; the store runs the check
in the transaction that stores the new generation, so concurrent submissions cannot
overspend, and a generation's reservation ends with it (settled by its ledger row, or
nothing for an error, a cancel or a deadline).
"""

from __future__ import annotations

import datetime

from inbetween.errors import BudgetExceeded

__all__ = ["budget_exceeded", "period_start", "resets_at"]

_UTC = datetime.UTC


def _day(now: float) -> datetime.date:
    return datetime.datetime.fromtimestamp(now, _UTC).date()


def period_start(period: str, now: float) -> str | None:
    """The first UTC day (YYYY-MM-DD) of the period that holds ``now``; None for ``total``."""
    day = _day(now)
    if period == "day":
        return day.isoformat()
    if period == "month":
        return day.replace(day=1).isoformat()
    return None


def resets_at(period: str, now: float) -> float | None:
    """When the period that holds ``now`` ends (Unix time); None for ``total``."""
    day = _day(now)
    if period == "day":
        end = day + datetime.timedelta(days=1)
    elif period == "month":
        end = (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    else:
        return None
    return datetime.datetime(end.year, end.month, end.day, tzinfo=_UTC).timestamp()


def budget_exceeded(budget: float, period: str, used: float, wanted: float,
                    now: float) -> BudgetExceeded | None:
    """The refusal of a submission whose worst case ``wanted`` is more than what is left of
    ``budget`` after ``used`` (charged + reserved) this ``period``; None when it fits."""
    left = max(0.0, budget - used)
    if wanted <= left + 1e-9:
        return None
    end = resets_at(period, now)
    when = ("it does not reset (a total budget)" if end is None else
            "it resets at " + datetime.datetime.fromtimestamp(end, _UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"))
    name = {"day": "daily", "month": "monthly"}.get(period, "total")
    return BudgetExceeded(
        f"this API key's {name} budget is ${budget:.2f}; ${left:.2f} is left (charged and "
        f"reserved by unfinished generations: ${used:.2f}) and this request may cost up to "
        f"${wanted:.2f} on its most expensive route; {when}. Ask the operator to raise it "
        "(`inbetween keys budget NAME --usd …`), wait for the reset, or ask for a cheaper "
        "request (shorter, or a provider/model that costs less).")
