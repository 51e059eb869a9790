"""Operator control: holds on plans, and each network's schedule (interval, pause).

A hold keeps an intersection (or every intersection of a network) on the plan in force:
every retiming leaves it out and says so, until the hold ends or is released. A network's
schedule has the service's ``retime_interval_s`` unless an operator set its own; a new
interval takes effect at once (the next run is one new interval after the last one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from signal_opt.service.audit import entry
from signal_opt.service.errors import InvalidInput, NotFound
from signal_opt.service.networks import NetworkCatalog
from signal_opt.settings import Settings
from signal_opt.storage import Hold, Repository, ScheduleRecord, StoredPlan
from signal_opt.storage.control import insert_holds

__all__ = ["UNCHANGED", "Control", "ScheduleView", "retime_job"]

UNCHANGED = object()
"""An update field that is left as it is."""


def retime_job(network: str) -> str:
    """Name of a network's scheduled retiming in ``scheduler_leases``."""
    return f"retime:{network}"


@dataclass(frozen=True)
class ScheduleView:
    network: str
    interval_s: float
    interval_source: str
    """``setting`` (the service's ``retime_interval_s``) or ``network`` (set by an operator)."""
    paused: bool
    reason: str | None
    updated_by: str | None
    updated_at: datetime | None
    next_run_at: float | None
    """Epoch s; None before the scheduler first saw the network."""
    last_run_at: float | None
    last_run_by: str | None


def _describe(h: Hold) -> str:
    scope = "network hold" if h.intersection_id is None else "hold"
    until = f" until {h.ends_at.isoformat()}" if h.ends_at else ""
    return f"{scope} {h.id} by {h.created_by}{until}: {h.reason}"


class Control:
    """Holds and schedules of one service (storage, the catalog of networks, a clock)."""

    def __init__(
        self,
        settings: Settings,
        repo: Repository,
        catalog: NetworkCatalog,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.repo = repo
        self.catalog = catalog
        self.clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # -- holds ---------------------------------------------------------------------------
    def held(self, network: str, ids: Sequence[str]) -> dict[str, str]:
        """Those of ``ids`` an active hold keeps on their plan: id -> which hold and why."""
        holds = self.repo.holds(network, active_at=self._now())
        whole = next((h for h in holds if h.intersection_id is None), None)
        own = {h.intersection_id: h for h in holds if h.intersection_id is not None}
        out = {}
        for iid in ids:
            h = own.get(iid) or whole
            if h is not None:
                out[iid] = _describe(h)
        return out

    def _check_until(self, until: datetime | None) -> datetime | None:
        if until is None:
            return None
        until = until if until.tzinfo is not None else until.replace(tzinfo=UTC)
        if until <= self._now():
            raise InvalidInput("the hold would end in the past", ("body", "until"))
        return until.astimezone(UTC)

    def hold(
        self,
        network: str,
        ids: Sequence[str] | None,
        reason: str,
        until: datetime | None,
        actor: str,
    ) -> list[Hold]:
        """Hold intersections ``ids`` (None: the whole network) on their current plans; a
        hold replaces the active hold of the same intersection (or network)."""
        net = self.catalog.get(network)
        for j, iid in enumerate(ids or ()):
            if iid not in net.by_id:
                raise InvalidInput(
                    f"network {network!r} has no intersection {iid!r}",
                    ("body", "intersections", j),
                )
        ends = self._check_until(until)
        now = self._now()
        active = self.repo.holds(network, active_at=now)
        targets = list(dict.fromkeys(ids)) if ids else [None]
        current = self.repo.current_plans(network, [t for t in targets if t is not None])
        replace = [h.id for h in active if h.intersection_id in targets]
        rows = [
            {
                "network": network,
                "intersection_id": t,
                "plan_version": current[t].version if t is not None and t in current else None,
                "reason": reason,
                "created_by": actor,
                "created_at": now,
                "ends_at": ends,
            }
            for t in targets
        ]
        audit = [
            entry("hold.create", actor, network, target=t or "*", reason=reason) for t in targets
        ]
        return self.repo.add_holds(rows, replace, actor, now, audit)

    def hold_after_rollback(
        self, network: str, reason: str, until: datetime | None, actor: str
    ) -> Callable[[Connection, list[StoredPlan]], object]:
        """What a rollback runs in its own transaction: hold the rolled-back plan."""
        ends = self._check_until(until)
        now = self._now()
        active = self.repo.holds(network, active_at=now)

        def add(conn: Connection, stored: list[StoredPlan]) -> object:
            [p] = stored
            replace = [h.id for h in active if h.intersection_id == p.intersection_id]
            row = {
                "network": network,
                "intersection_id": p.intersection_id,
                "plan_version": p.version,
                "reason": reason,
                "created_by": actor,
                "created_at": now,
                "ends_at": ends,
            }
            audit = entry("hold.create", actor, network, target=p.intersection_id, reason=reason)
            return insert_holds(conn, [row], replace, actor, now, [audit])

        return add

    def release(self, network: str, hold_id: int, reason: str, actor: str) -> Hold:
        h = self.repo.hold(hold_id)
        if h is None or h.network != network:
            raise NotFound(f"network {network!r} has no hold {hold_id}", ("path", "hold_id"))
        now = self._now()
        if not h.active(now):
            raise NotFound(f"hold {hold_id} is not active (released or ended)", ("path", "hold_id"))
        audit = entry(
            "hold.release",
            actor,
            network,
            target=h.intersection_id or "*",
            before=h.summary(),
            after={"released": True},
            reason=reason,
        )
        released = self.repo.release_hold(hold_id, actor, reason, now, audit)
        if released is None:
            raise NotFound(f"hold {hold_id} is not active (released or ended)", ("path", "hold_id"))
        return released

    def holds(
        self, network: str, active_only: bool, limit: int, before_id: int | None
    ) -> list[Hold]:
        self.catalog.get(network)
        at = self._now() if active_only else None
        return self.repo.holds(network, active_at=at, limit=limit, before_id=before_id)

    # -- schedules -------------------------------------------------------------------------
    def effective(
        self, schedules: dict[str, ScheduleRecord], network: str, default: float | None = None
    ) -> tuple[float, bool]:
        """(interval s, paused) of ``network`` given the stored ``schedules``; ``default``:
        the interval of a network without its own (the ``retime_interval_s`` setting)."""
        default = default or self.settings.retime_interval_s
        own = schedules.get(network)
        if own is None:
            return default, False
        return own.interval_s or default, own.paused

    def schedules(self) -> list[ScheduleView]:
        stored = self.repo.schedules()
        leases = self.repo.leases()
        out = []
        for net in self.catalog.all():
            interval, paused = self.effective(stored, net.name)
            own = stored.get(net.name)
            lease = leases.get(retime_job(net.name))
            due = lease.due_at if lease is not None else None
            if lease is not None and lease.interval_s not in (None, interval):
                base = lease.claimed_at
                if base is None:
                    base = lease.due_at - (lease.interval_s or interval)
                due = base + interval  # what the scheduler moves it to at its next tick
            out.append(
                ScheduleView(
                    net.name,
                    interval,
                    "network" if own is not None and own.interval_s is not None else "setting",
                    paused,
                    own.reason if own else None,
                    own.updated_by if own else None,
                    own.updated_at if own else None,
                    due,
                    lease.claimed_at if lease else None,
                    lease.holder if lease else None,
                )
            )
        return out

    def schedule(self, network: str) -> ScheduleView:
        self.catalog.get(network)
        return next(v for v in self.schedules() if v.network == network)

    def update_schedule(
        self,
        network: str,
        interval_s: float | object | None,
        paused: bool | None,
        reason: str,
        actor: str,
    ) -> ScheduleView:
        """Set ``network``'s own interval (None: back to the setting), pause or resume."""
        before = self.schedule(network)
        own = self.repo.schedules().get(network)
        interval = own.interval_s if own else None
        if interval_s is not UNCHANGED:
            interval = interval_s  # type: ignore[assignment]
        record = ScheduleRecord(
            network,
            interval,
            before.paused if paused is None else paused,
            reason,
            actor,
            self._now(),
        )
        audit = entry(
            "schedule.update",
            actor,
            network,
            target=network,
            before={"interval_s": before.interval_s, "paused": before.paused},
            after={
                "interval_s": interval or self.settings.retime_interval_s,
                "paused": record.paused,
            },
            reason=reason,
        )
        self.repo.set_schedule(record, audit)
        return self.schedule(network)
