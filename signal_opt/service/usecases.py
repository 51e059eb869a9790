"""Use-cases of the retiming service, shared by the API, the scheduler and the CLI.

Register a network, ingest detector readings, retime (from stored readings or from given
demand), roll back, export. Errors a caller can fix raise :class:`InvalidInput` /
:class:`NotFound` / :class:`Conflict`. One intersection's failure (optimizer error,
unusable data, a plan breaking a safety rule or a change limit) never stops the others:
it gets a safe fallback plan and the error is stored with it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from signal_opt.fallback import FallbackReason, fallback
from signal_opt.metrics import Metrics
from signal_opt.model import Intersection, Plan, PlanError, check_plan
from signal_opt.service.audit import entry
from signal_opt.service.control import Control
from signal_opt.service.demand import Estimate, estimate_from_storage
from signal_opt.service.errors import Conflict, InvalidInput, NotFound
from signal_opt.service.field_units import to_field_units
from signal_opt.service.networks import LoadedNetwork, NetworkCatalog, links_among
from signal_opt.service.optimizer import (
    Optimized,
    Optimizer,
    change_limit_error,
    core_settings,
    optimize_with_core,
)
from signal_opt.service.readings import check_batch, detector_flows
from signal_opt.settings import Settings
from signal_opt.storage import (
    ApiKey,
    NewPlan,
    ReadingRecord,
    Repository,
    RetimingRecord,
    StoredPlan,
    hash_token,
    utcnow,
)

__all__ = ["IngestResult", "RetimingOutcome", "RetimingService"]

log = logging.getLogger(__name__)

MAX_INTERVAL_S = 3600.0
"""Longest reading interval accepted (``ReadingIn.interval_s``): how far back a stored
reading may start and still overlap a new one."""

KEY_CACHE_S = 5.0
"""How long an authenticated key is trusted without asking storage again."""


@dataclass(frozen=True)
class IngestResult:
    received: int
    stored: int
    duplicates: int
    replaced: int = 0


@dataclass(frozen=True)
class RetimingOutcome:
    retiming: RetimingRecord
    plans: list[StoredPlan]


class RetimingService:
    """The use-cases over one repository, catalog of loaded networks and metrics registry."""

    def __init__(
        self,
        settings: Settings,
        repo: Repository,
        metrics: Metrics,
        optimizer: Optimizer = optimize_with_core,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.repo = repo
        self.metrics = metrics
        self.optimizer = optimizer
        self.clock = clock
        self.core = core_settings(settings)
        self.catalog = NetworkCatalog(repo, settings.max_link_time_s)
        self.control = Control(settings, repo, self.catalog, clock)
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._data_version: dict[str, int] = defaultdict(int)
        self._estimates: dict[tuple[object, ...], Estimate] = {}
        self._keys: dict[str, tuple[ApiKey, float]] = {}
        self._flows: dict[str, dict[str, float]] = {}

    # -- API keys (a short cache: a revocation elsewhere takes effect within KEY_CACHE_S) --
    def authenticate(self, token: str) -> ApiKey | None:
        """The live key of ``token``; storage compares hashes with ``hmac.compare_digest``,
        and the cache is keyed by the token's hash, never the token itself."""
        now = time.monotonic()
        digest = hash_token(token)
        cached = self._keys.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        key = self.repo.authenticate(token)
        if key is not None:
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[digest] = (key, now + KEY_CACHE_S)
        return key

    def create_key(self, role: str, name: str, actor: str) -> tuple[ApiKey, str]:
        return self.repo.create_key(role, name, entry("key.create", actor))

    def revoke_key(self, key_id: str, actor: str = "api") -> ApiKey | None:
        audit = entry("key.revoke", actor, target=f"key:{key_id}")
        key = self.repo.revoke_key(key_id, audit)
        self._keys.clear()
        return key

    def start(self) -> None:
        """Register the bundled networks (if enabled), load every stored network."""
        bundled = None
        if self.settings.register_bundled:
            from signal_opt.sumo.scenario import networks_dir

            bundled = self.settings.networks_dir or networks_dir()
        self.catalog.load_all(bundled)

    def ready(self) -> None:
        self.repo.ping()

    # -- networks ----------------------------------------------------------------------

    def networks(self) -> list[LoadedNetwork]:
        return self.catalog.all()

    def network(self, name: str) -> LoadedNetwork:
        return self.catalog.get(name)

    def intersection(self, network: str, intersection_id: str) -> Intersection:
        return self.catalog.intersection(network, intersection_id)

    def register_network(self, name: str, data: bytes, actor: str = "api") -> LoadedNetwork:
        return self.catalog.register(name, data, actor)

    # -- detector data ----------------------------------------------------------------------
    def _checked(
        self, net: LoadedNetwork, readings: Sequence[ReadingRecord]
    ) -> tuple[list[ReadingRecord], list[tuple[int, ReadingRecord]]]:
        """The batch without repeats, and the rows that differ from a stored reading;
        :class:`InvalidInput` naming every bad row (each counted by reason)."""
        if len(readings) > self.settings.max_batch_readings:
            self.metrics.readings_rejected.labels(net.name, "batch_too_large").inc(len(readings))
            raise InvalidInput(
                f"at most {self.settings.max_batch_readings} readings per batch, "
                f"got {len(readings)}",
                ("body", "readings"),
            )
        stored: list[ReadingRecord] = []
        known = [r for r in readings if r.detector_id in net.detector_tls]
        if known:
            first = min(r.start_ms for r in known)
            lo = first - int(MAX_INTERVAL_S * 1000)
            hi = max(r.start_ms + round(r.interval_s * 1000) for r in known)
            ids = {r.detector_id for r in known}
            stored = self.repo.readings_between(net.name, lo, hi, ids, reaching_ms=first)
        flows = self._flows.get(net.name)
        if flows is None:
            flows = self._flows[net.name] = detector_flows(net)
        problems, changed = check_batch(
            net,
            flows,
            readings,
            stored,
            self.clock(),
            self.settings.future_tolerance_s,
            self.settings.readings_retention_days * 86400.0,
        )
        if problems:
            for reason, n in Counter(p.reason for p in problems).items():
                self.metrics.readings_rejected.labels(net.name, reason).inc(n)
            locs = [(("body", "readings", p.index, p.field), p.message) for p in problems[:100]]
            (loc, message), *more = locs
            raise InvalidInput(message, loc, more)
        unique: dict[tuple[str, int], ReadingRecord] = {}
        for r in readings:
            unique.setdefault((r.detector_id, r.start_ms), r)
        return list(unique.values()), changed

    def ingest(
        self, network: str, readings: Sequence[ReadingRecord], actor: str = "api"
    ) -> IngestResult:
        """Store a batch of readings, all or nothing; re-sent readings are not stored twice,
        a reading that differs from the stored one is a :class:`Conflict` (use
        :meth:`replace_readings`)."""
        net = self.network(network)
        unique, changed = self._checked(net, readings)
        if changed:
            i, old = changed[0]
            self.metrics.readings_rejected.labels(network, "conflict").inc(len(changed))
            raise Conflict(
                f"readings[{i}] differs from the stored reading of {old.detector_id} starting "
                f"at that interval_start ({len(changed)} such readings in the batch): send "
                "corrections with PUT, which replaces them and records it in the audit log",
                ("body", "readings", i),
            )
        audit = entry("readings.ingest", actor, network, target=network)
        stored = self.repo.ingest(network, unique, audit)
        if stored:
            self._data_version[network] += 1
        result = IngestResult(len(readings), stored, len(readings) - stored)
        self.metrics.readings.labels(network, "stored").inc(result.stored)
        self.metrics.readings.labels(network, "duplicate").inc(result.duplicates)
        return result

    def replace_readings(
        self, network: str, readings: Sequence[ReadingRecord], reason: str, actor: str
    ) -> IngestResult:
        """Correct stored readings: each reading replaces the stored one of the same
        detector and start (or is stored as new); the values before and after are in the
        audit log (the first 100)."""
        net = self.network(network)
        unique, changed = self._checked(net, readings)
        rows = dict(changed)
        before = [{**rows[i].__dict__} for i in sorted(rows)[:100]]
        after = [{**readings[i].__dict__} for i in sorted(rows)[:100]]
        audit = entry(
            "readings.replace",
            actor,
            network,
            target=network,
            before={"replaced": len(changed), "readings": before},
            after={"received": len(readings), "readings": after},
            reason=reason,
        )
        n = self.repo.replace_readings(network, unique, audit)
        self._data_version[network] += 1
        self.metrics.readings.labels(network, "replaced").inc(len(changed))
        self.metrics.readings.labels(network, "stored").inc(n - len(changed))
        return IngestResult(len(readings), n - len(changed), len(readings) - n, len(changed))

    def _estimate(self, net: LoadedNetwork, xs: list[Intersection]) -> Estimate:
        """Demand per intersection from the stored readings of the last demand window.

        The window starts on a whole minute, so the estimate only changes when readings
        arrive or a minute passes: it is cached until then (readings ingested through
        another replica show up here within that minute).
        """
        since_ms = int((self.clock() - self.settings.demand_window_s) // 60) * 60_000
        key = (net.name, tuple(x.id for x in xs), since_ms, self._data_version[net.name])
        cached = self._estimates.get(key)
        if cached is not None:
            return cached
        result = estimate_from_storage(
            self.repo, self.metrics, net, xs, since_ms, self.settings.demand_window_s
        )
        if len(self._estimates) > 1024:
            self._estimates.clear()
        self._estimates[key] = result
        return result

    # -- retiming ---------------------------------------------------------------------------
    def _given_demand(
        self, xs: list[Intersection], demand: Mapping[str, Mapping[str, float]]
    ) -> list[dict[str, float] | None]:
        out: list[dict[str, float] | None] = []
        for x in xs:
            given = demand.get(x.id)
            if given is None:
                raise InvalidInput(
                    f"no demand given for intersection {x.id!r}", ("body", "demand", x.id)
                )
            groups = {g.id for g in x.lane_groups}
            for gid, v in given.items():
                if gid not in groups:
                    raise InvalidInput(
                        f"intersection {x.id!r} has no lane group {gid!r} "
                        f"(it has {sorted(groups)})",
                        ("body", "demand", x.id, gid),
                    )
                if not (math.isfinite(v) and v >= 0):
                    raise InvalidInput(
                        f"demand must be a finite number >= 0 veh/h, got {v}",
                        ("body", "demand", x.id, gid),
                    )
            out.append({g: float(given.get(g, 0.0)) for g in groups})
        return out

    def _optimize(
        self,
        net: LoadedNetwork,
        xs: list[Intersection],
        demand: list[dict[str, float]],
        current: list[Plan | None],
    ) -> list[Optimized | str]:
        """Optimizer output per intersection, or the error text; a failure stays local.

        The intersections retimed together are coordinated over the platoon links among
        them; when the whole batch fails, each is retried alone (uncoordinated).
        """
        if not xs:
            return []
        t0 = time.perf_counter()
        links = links_among(net, [x.id for x in xs])
        try:
            result: list[Optimized | str] = list(
                self.optimizer(xs, demand, current, links, self.core)
            )
            if len(result) != len(xs):
                raise RuntimeError(f"optimizer returned {len(result)} plans for {len(xs)}")
        except Exception:
            log.exception("batch optimization of %s failed; retrying one by one", net.name)
            result = []
            for x, d, c in zip(xs, demand, current, strict=True):
                try:
                    result.append(self.optimizer([x], [d], [c], [], self.core)[0])
                except Exception as exc:
                    result.append(f"optimization failed: {type(exc).__name__}: {exc}")
        self.metrics.optimization_duration.labels(net.name).observe(time.perf_counter() - t0)
        step = self.settings.plan_resolution_s
        return [
            dataclasses.replace(r, plan=to_field_units(x, r.plan, step, c))
            if isinstance(r, Optimized) and r.error is None
            else r
            for x, r, c in zip(xs, result, current, strict=True)
        ]

    def retime(
        self,
        network: str,
        intersection_ids: Sequence[str] | None = None,
        demand: Mapping[str, Mapping[str, float]] | None = None,
        trigger: str = "api",
        actor: str = "api",
    ) -> RetimingOutcome:
        """Retime some or all intersections of ``network``; store one new plan version each.

        Intersections an operator holds are left out (listed in the retiming's ``held``).
        """
        net = self.network(network)
        ids = (
            list(intersection_ids)
            if intersection_ids is not None
            else (list(demand) if demand is not None else [x.id for x in net.intersections])
        )
        for j, iid in enumerate(ids):
            if iid not in net.by_id:
                raise InvalidInput(
                    f"network {network!r} has no intersection {iid!r}", ("body", "intersections", j)
                )
        held = self.control.held(network, list(dict.fromkeys(ids)))
        xs = [net.by_id[i] for i in dict.fromkeys(ids) if i not in held]
        started, t0 = utcnow(), time.perf_counter()
        with self._locks[network]:
            errors: list[str | None]
            if demand is not None:
                demands, errors = self._given_demand(xs, demand), [None] * len(xs)
            else:
                demands, errors = self._estimate(net, xs)
            stored = self.repo.current_plans(network, [x.id for x in xs])
            current = [stored[x.id].to_plan() if x.id in stored else None for x in xs]
            reference = self._limit_references(network, xs, current)
            todo = [i for i, d in enumerate(demands) if d is not None]
            proposals = self._optimize(
                net,
                [xs[i] for i in todo],
                [demands[i] or {} for i in todo],
                [reference[i] for i in todo],
            )
            by_index = dict(zip(todo, proposals, strict=True))
            plans = [
                self._decide(x, by_index.get(i), errors[i], current[i], demands[i], reference[i])
                for i, x in enumerate(xs)
            ]
            n_fb = sum(p.plan.source == "fallback" for p in plans)
            outcome = "ok" if n_fb == 0 else ("fallback" if n_fb == len(plans) else "partial")
            if not plans and held:
                outcome = "held"
            record = RetimingRecord(
                0,
                network,
                trigger,
                "detectors" if demand is None else "request",
                started,
                time.perf_counter() - t0,
                outcome,
                len(plans) - n_fb,
                n_fb,
                held or None,
                actor,
            )
            audit = entry("retime", actor, network, reason=f"trigger: {trigger}")
            record, saved = self.repo.add_retiming(record, plans, audit, stored)
        self.metrics.retimings.labels(network, trigger, outcome).inc()
        self.metrics.intersection_outcomes.labels(network, "optimized").inc(len(plans) - n_fb)
        self.metrics.intersection_outcomes.labels(network, "fallback").inc(n_fb)
        return RetimingOutcome(record, saved)

    def _limit_references(
        self, network: str, xs: list[Intersection], current: list[Plan | None]
    ) -> list[Plan | None]:
        """The plans the change limits are measured from: what was in force one retiming
        interval ago (or what an operator put in force since), so that however many
        retimings arrive, a plan moves at most the limits per interval. The current
        offset is kept (offsets move by their own rule)."""
        if not xs:
            return []
        interval, _ = self.control.effective(self.repo.schedules(), network)
        since = datetime.fromtimestamp(self.clock() - interval, UTC)
        found = self.repo.reference_plans(network, [x.id for x in xs], since)
        out: list[Plan | None] = []
        for x, cur in zip(xs, current, strict=True):
            ref = found.get(x.id)
            if ref is None or cur is None:
                out.append(cur)
            else:
                out.append(Plan(x.id, ref.cycle, ref.greens, cur.offset, ref.source))
        return out

    def _decide(
        self,
        x: Intersection,
        proposal: Optimized | str | None,
        error: str | None,
        current: Plan | None,
        demand: dict[str, float] | None,
        reference: Plan | None = None,
    ) -> NewPlan:
        """The proposal if it passes every rule, else a fallback plan with the reason."""
        details: dict[str, object] = {"demand_veh_h": demand}
        reason = FallbackReason.NO_PROPOSAL
        if isinstance(proposal, Optimized):
            details.update(
                delay_s=proposal.delay,
                flags=list(proposal.flags),
                degree_of_saturation=proposal.degree_of_saturation,
            )
            error = proposal.error
            if error is None:
                p = proposal.plan
                offset = p.offset
                if not proposal.coordinated and current is not None and p.cycle > 0:
                    # no platoon to follow: keep the signal's phase with its neighbours
                    offset = current.offset % p.cycle
                plan = Plan(x.id, p.cycle, tuple(p.greens), offset, "optimized")
                try:
                    check_plan(x, plan)
                    # within the limits of the plan in force and of the interval's reference
                    error = change_limit_error(
                        plan, current, self.core, proposal.flags
                    ) or change_limit_error(plan, reference, self.core, proposal.flags)
                    if error is None:
                        return NewPlan(plan, None, details)
                    reason = FallbackReason.CHANGE_LIMIT
                    error = f"optimized plan rejected: {error}"
                except PlanError as exc:
                    reason = FallbackReason.UNSAFE
                    error = f"optimized plan rejected: {exc}"
        elif isinstance(proposal, str):
            error = proposal
        safe = fallback(x, reason, current, error or "no plan proposed")
        details["fallback_reason"] = str(safe.reason)
        return NewPlan(safe.plan, safe.detail, details)

    # -- plans ------------------------------------------------------------------------------
    def current_plans(self, network: str, ids: Sequence[str] | None = None) -> list[StoredPlan]:
        net = self.network(network)
        for iid in ids or ():
            self.intersection(network, iid)
        plans = self.repo.current_plans(network, ids)
        return [plans[x.id] for x in net.intersections if x.id in plans]

    def current_plan(self, network: str, intersection_id: str) -> StoredPlan:
        self.intersection(network, intersection_id)
        plans = self.repo.current_plans(network, [intersection_id])
        if intersection_id not in plans:
            raise NotFound(f"no plan stored for {intersection_id!r}", ("path", "intersection_id"))
        return plans[intersection_id]

    def history(
        self,
        network: str,
        intersection_id: str,
        limit: int,
        offset: int = 0,
        before_version: int | None = None,
    ) -> list[StoredPlan]:
        self.intersection(network, intersection_id)
        return self.repo.plan_history(network, intersection_id, limit, offset, before_version)

    def plan_version(self, network: str, intersection_id: str, version: int) -> StoredPlan:
        self.intersection(network, intersection_id)
        p = self.repo.plan_version(network, intersection_id, version)
        if p is None:
            raise NotFound(
                f"intersection {intersection_id!r} has no plan version {version}",
                ("path", "version"),
            )
        return p

    def rollback(
        self,
        network: str,
        intersection_id: str,
        version: int,
        reason: str = "",
        actor: str = "api",
        hold: bool = True,
        hold_until: datetime | None = None,
    ) -> StoredPlan:
        """Make past ``version`` current again, as a new version (history stays append-only),
        and (``hold``) hold the intersection on it, so no retiming replaces it."""
        x = self.intersection(network, intersection_id)
        past = self.plan_version(network, intersection_id, version)
        plan = Plan(x.id, past.cycle, past.greens, past.offset, "rollback")
        plan = to_field_units(x, plan, self.settings.plan_resolution_s)
        try:
            check_plan(x, plan)
        except PlanError as exc:
            raise Conflict(
                f"version {version} no longer fits the network: {exc}", ("path", "version")
            ) from exc
        then = (
            self.control.hold_after_rollback(network, reason, hold_until, actor) if hold else None
        )
        before = self.current_plan(network, intersection_id)
        audit = entry(
            "plan.rollback",
            actor,
            network,
            target=intersection_id,
            before={"version": before.version, "cycle_s": before.cycle},
            reason=reason,
        )
        with self._locks[network]:
            [saved] = self.repo.add_plans(
                network,
                [NewPlan(plan, None, dict(past.details), rolled_back_from=version)],
                audit,
                then,
            )
        return saved

    def export(self, network: str, ids: Sequence[str] | None = None) -> str:
        """The current plans as a SUMO additional file of ``tlLogic`` elements."""
        from signal_opt.sumo.programs import plans_additional_xml

        net = self.network(network)
        plans = [p.to_plan() for p in self.current_plans(network, ids)]
        try:
            return plans_additional_xml(net.intersections, plans)
        except PlanError as exc:
            raise Conflict(f"a stored plan no longer fits the network: {exc}") from exc
