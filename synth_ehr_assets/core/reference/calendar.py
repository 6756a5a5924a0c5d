"""Service-date calendars by setting, and the seasons of seasonal conditions and vaccines.

- Weekdays: NAMCS 2019 / NEHRS: about 95% of office visits fall on weekdays (Saturday clinics carry ~4%,
  Sunday ~1%); scheduled hospital outpatient procedures (endoscopy, imaging, infusions) and elective admissions
  (joint replacement, chemotherapy) run on weekdays; emergency visits, urgent admissions and births happen on
  every day (NHAMCS: emergency volume varies by under 15% across weekdays).
- Holidays: offices and scheduled services close on the six major US federal holidays (New Year's Day, Memorial
  Day, Independence Day, Labor Day, Thanksgiving, Christmas, observed dates) from the `holidays` package.
- Seasons (share of a season's cases by month): influenza from CDC FluView clinical-laboratory positives,
  seasons 2010-2020 (October to April, peak December-February); RSV from CDC NREVSS, pre-2020 seasons (October
  to April, peak December-January); influenza vaccination from CDC FluVaxView weekly doses (August to March,
  ~2/3 in September-October).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import numpy as np

WINDOW_START = date(2024, 1, 1)
WINDOW_DAYS = 731
CLOSED_HOLIDAYS = ("New Year's Day", "Memorial Day", "Independence Day", "Labor Day", "Thanksgiving Day", "Christmas Day")
# month shares (January..December) of each season
SEASONS: dict[str, tuple[float, ...]] = {
    "influenza": (.27, .25, .13, .05, 0, 0, 0, 0, 0, .03, .07, .20),
    "rsv": (.25, .15, .08, .03, 0, 0, 0, 0, 0, .06, .16, .27),
    "flu_vaccine": (.04, .02, .01, 0, 0, 0, 0, .04, .30, .36, .15, .08),
}
SEASON_NAMES = tuple(SEASONS)
# settings and the share of their weekend days kept (the rest move to the nearest open weekday)
SETTINGS = ("office", "scheduled", "any")
KEEP_SATURDAY = (.28, .10, 1.0)
KEEP_SUNDAY = (.07, 0.0, 1.0)


@lru_cache(maxsize=1)
def window_calendar() -> dict[str, np.ndarray]:
    """Per window day: month (0-11), year (0 = 2024), weekday (0 = Monday), closed (major holiday)."""
    import holidays

    days = [WINDOW_START + timedelta(days=d) for d in range(WINDOW_DAYS)]
    us = holidays.US(years=sorted({d.year for d in days}), observed=True)
    closed = [any(name.startswith(CLOSED_HOLIDAYS) for name in us.get_list(d)) for d in days]
    return {
        "month": np.array([d.month - 1 for d in days], np.int8),
        "year": np.array([d.year - WINDOW_START.year for d in days], np.int8),
        "weekday": np.array([d.weekday() for d in days], np.int8),
        "closed": np.array(closed, bool),
    }


def season_factors() -> np.ndarray:
    """(season, month) multipliers with mean 1 over the year (annual volume unchanged)."""
    shares = np.array([SEASONS[name] for name in SEASON_NAMES])
    return shares / shares.sum(axis=1, keepdims=True) * 12


def _nearest_open(open_: np.ndarray, step: int) -> np.ndarray:
    """For each day, the nearest open day in direction `step` (-1 or +1); -1 where none inside the window."""
    out = np.full(len(open_), -1)
    last = -1
    days = range(len(open_)) if step < 0 else range(len(open_) - 1, -1, -1)
    for d in days:
        if open_[d]:
            last = d
        out[d] = last
    return out


def shift_to_open_days(rng: np.random.Generator, day: np.ndarray, setting: np.ndarray, low: np.ndarray,
                       high: np.ndarray, same, in_season: np.ndarray) -> np.ndarray:
    """Move office and scheduled claims off closed holidays and (most) weekends, to the nearest open weekday.

    The new day stays in [low, high], in a month where `in_season` (n, 12) is true, and satisfies
    `same(old, new)` (e.g. the patient's age does not change); a claim with no such day keeps its date.
    """
    cal = window_calendar()
    weekday, closed, month = cal["weekday"][day], cal["closed"][day], cal["month"]
    keep_sat, keep_sun = np.array(KEEP_SATURDAY)[setting], np.array(KEEP_SUNDAY)[setting]
    u = rng.random(len(day))
    move = (setting < 2) & (closed | ((weekday == 5) & (u >= keep_sat)) | ((weekday == 6) & (u >= keep_sun)))
    open_ = (cal["weekday"] < 5) & ~cal["closed"]
    back, ahead = _nearest_open(open_, -1)[day], _nearest_open(open_, 1)[day]

    def valid(candidate: np.ndarray) -> np.ndarray:
        safe = np.clip(candidate, 0, WINDOW_DAYS - 1)
        season_ok = in_season[np.arange(len(day)), month[safe]]
        return (candidate >= low) & (candidate <= high) & season_ok & same(day, safe)

    forward_first = rng.random(len(day)) < .5
    next_ahead = _nearest_open(open_, 1)[np.clip(ahead + 1, 0, WINDOW_DAYS - 1)]
    next_back = _nearest_open(open_, -1)[np.clip(back - 1, 0, WINDOW_DAYS - 1)]
    # a weekend visit moves to a random weekday of its week (Saturday) or the next (Sunday), as booked visits
    # spread over the week; otherwise (or if that day is closed or invalid) the nearest open day on either side,
    # then one open day further out
    spread = np.where(weekday == 5, day - rng.integers(1, 6, len(day)), day + rng.integers(1, 6, len(day)))
    spread = np.where((weekday >= 5) & (spread >= 0) & (spread < WINDOW_DAYS), spread, -1)
    spread = np.where(open_[np.clip(spread, 0, WINDOW_DAYS - 1)], spread, -1)
    candidates = [spread, np.where(forward_first, ahead, back), np.where(forward_first, back, ahead),
                  np.where(forward_first, next_ahead, next_back), np.where(forward_first, next_back, next_ahead)]
    new = day.copy()
    pending = move.copy()
    for candidate in candidates:
        take = pending & (candidate >= 0) & valid(candidate)
        new[take] = candidate[take]
        pending &= ~take
    return new
