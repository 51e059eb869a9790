"""Use-cases of the retiming service, shared by the API, the scheduler and the CLI.

Register a network, ingest detector readings, retime (from stored readings or from given
demand), roll back, export; and the :class:`Scheduler` that retimes every network at a
fixed interval. Errors a caller can fix raise :class:`InvalidInput` / :class:`NotFound` /
:class:`Conflict`, which the API maps to 4xx in one place. One intersection's failure
(optimizer error, unusable data, a plan breaking a safety rule) never stops the others:
it gets a safe fallback plan and the error is stored with it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from signal_opt.detectors import DemandEstimator, DetectorInfo, Minute
from signal_opt.metrics import Metrics
from signal_opt.model import Intersection, Plan, PlanError, check_plan
from signal_opt.settings import Settings
from signal_opt.storage import (
    ApiKey,
    NetworkRecord,
    NewPlan,
    ReadingRecord,
    Repository,
    RetimingRecord,
    StoredPlan,
    utcnow,
)

log = logging.getLogger(__name__)

KEY_CACHE_S = 5.0
"""How long an authenticated key is trusted without asking storage again."""


class ServiceError(Exception):
    """An error the caller can fix; ``loc`` names the offending input."""

    def __init__(self, message: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc


class InvalidInput(ServiceError):
    pass


class NotFound(ServiceError):
    pass


class Conflict(ServiceError):
    pass


# -- the optimization core, behind one function ---------------------------------------------
@dataclass(frozen=True)
class Optimized:
    """What the optimizer proposes for one intersection."""

    plan: Plan
    delay: dict[str, float | None] = field(default_factory=dict)
    """Predicted delay per lane group, s/veh."""
    degree_of_saturation: dict[str, float | None] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    error: str | None = None
    """Set when the optimizer refused the input (the plan is then not used)."""


Optimizer = Callable[
    [Sequence[Intersection], Sequence[Mapping[str, float]], Sequence[Plan | None]],
    list[Optimized],
]


def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def optimize_with_core(
    intersections: Sequence[Intersection],
    demand: Sequence[Mapping[str, float]],
    current: Sequence[Plan | None],
) -> list[Optimized]:
    """The one place the service calls :mod:`signal_opt.core`."""
    from signal_opt.core import CoreSettings, problem_from_intersections, retime

    xs = list(intersections)
    problem = problem_from_intersections(xs, [dict(d) for d in demand], list(current))
    result = retime(problem, CoreSettings())
    out = []
    for i, (x, plan) in enumerate(zip(xs, result.to_plans(xs, source="optimized"), strict=True)):
        flags = tuple(result.flag_names(i))
        groups = [g.id for g in x.lane_groups]
        out.append(Optimized(
            plan=plan,
            delay={g: _finite(result.delay[i, k]) for k, g in enumerate(groups)},
            degree_of_saturation={
                g: _finite(result.degree_of_saturation[i, k]) for k, g in enumerate(groups)
            },
            flags=flags,
            error="the core rejected the demand (BAD_INPUT)" if "BAD_INPUT" in flags else None,
        ))
    return out


# -- networks --------------------------------------------------------------------------------
NETWORK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class LoadedNetwork:
    """A registered network, read: its intersections and the detector layout they have."""

    name: str
    source: str
    intersections: tuple[Intersection, ...]
    by_id: dict[str, Intersection]
    detectors: tuple[DetectorInfo, ...]
    detector_tls: dict[str, str]
    """Detector id -> id of the intersection it serves."""


def load_network(name: str, source: str, path: Path) -> LoadedNetwork:
    """Intersection model and detector layout (``sl_/adv_/q_<lane>``) of a ``.net.xml``."""
    from signal_opt.sumo.detectors import place_detectors
    from signal_opt.sumo.network import load_intersections, read_net

    net = read_net(path)
    xs = tuple(load_intersections(net))
    specs = place_detectors(net, [x.id for x in xs])
    detectors = tuple(DetectorInfo(s.id, s.kind, s.incoming_lane or s.lane, s.length)
                      for s in specs)
    return LoadedNetwork(name, source, xs, {x.id: x for x in xs}, detectors,
                         {s.id: s.tls for s in specs})


# -- results ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class IngestResult:
    received: int
    stored: int
    duplicates: int


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
        self._networks: dict[str, LoadedNetwork] = {}
        self._networks_lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._fallback: dict[str, set[str]] = defaultdict(set)
        self._data_version: dict[str, int] = defaultdict(int)
        self._estimates: dict[tuple[object, ...], tuple[list, list]] = {}
        self._keys: dict[str, tuple[ApiKey, float]] = {}

    # -- API keys (a short cache: a revocation elsewhere takes effect within KEY_CACHE_S) --
    def authenticate(self, token: str) -> ApiKey | None:
        now = time.monotonic()
        cached = self._keys.get(token)
        if cached is not None and cached[1] > now:
            return cached[0]
        key = self.repo.authenticate(token)
        if key is not None:
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[token] = (key, now + KEY_CACHE_S)
        return key

    def revoke_key(self, key_id: str) -> ApiKey | None:
        key = self.repo.revoke_key(key_id)
        self._keys.clear()
        return key

    def start(self) -> None:
        """Register the bundled networks (if enabled), load every stored network."""
        if self.settings.register_bundled:
            self._register_bundled()
        for record in self.repo.networks():
            try:
                self._load(record)
            except Exception:  # one broken network must not keep the others down
                log.exception("cannot load network %s; it stays unavailable", record.name)

    def _bundled_dir(self) -> Path:
        from signal_opt.sumo.scenario import networks_dir

        return self.settings.networks_dir or networks_dir()

    def _register_bundled(self) -> None:
        root = self._bundled_dir()
        known = {n.name for n in self.repo.networks()}
        names = sorted(p.name for p in root.iterdir()
                       if (p / f"{p.name}.net.xml").is_file()) if root.is_dir() else []
        for name in names:
            if name in known:
                continue
            path = root / name / f"{name}.net.xml"
            try:
                net = load_network(name, "bundled", path)
            except Exception:
                log.exception("bundled network %s cannot be read; skipped", name)
                continue
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            record = NetworkRecord(name, "bundled", str(path), sha, utcnow())
            self.repo.add_network(record, None, [x.base_plan() for x in net.intersections])
            self._cache(net)

    def _cache(self, net: LoadedNetwork) -> LoadedNetwork:
        with self._networks_lock:
            self._networks[net.name] = net
        for p in self.repo.current_plans(net.name).values():
            self._observe_plan(net.name, p)
        return net

    def _load(self, record: NetworkRecord) -> LoadedNetwork:
        if record.name in self._networks:
            return self._networks[record.name]
        if record.path is not None:
            return self._cache(load_network(record.name, record.source, Path(record.path)))
        data = self.repo.network_xml(record.name) or b""
        with tempfile.TemporaryDirectory(prefix="signal-opt-") as tmp:
            path = Path(tmp) / f"{record.name}.net.xml"
            path.write_bytes(data)
            return self._cache(load_network(record.name, record.source, path))

    def networks(self) -> list[LoadedNetwork]:
        with self._networks_lock:
            return [self._networks[k] for k in sorted(self._networks)]

    # -- networks ----------------------------------------------------------------------
    def network(self, name: str) -> LoadedNetwork:
        net = self._networks.get(name)
        if net is None:  # registered by another replica since we started?
            record = next((r for r in self.repo.networks() if r.name == name), None)
            if record is None:
                raise NotFound(f"unknown network {name!r}", ("path", "network"))
            net = self._load(record)
        return net

    def intersection(self, network: str, intersection_id: str) -> Intersection:
        x = self.network(network).by_id.get(intersection_id)
        if x is None:
            raise NotFound(
                f"network {network!r} has no intersection {intersection_id!r}",
                ("path", "intersection_id"),
            )
        return x

    def register_network(self, name: str, data: bytes) -> LoadedNetwork:
        """Register an uploaded ``.net.xml`` (already checked to be safe, well-formed XML)."""
        from signal_opt.sumo.network import NetworkError

        if not NETWORK_NAME.match(name):
            raise InvalidInput(f"network name {name!r} must be 1-64 letters, digits, '_', "
                               "'-' or '.', starting with a letter or digit", ("body", "name"))
        with self._locks[name]:
            if name in self._networks or any(r.name == name for r in self.repo.networks()):
                raise Conflict(f"network {name!r} is already registered", ("body", "name"))
            with tempfile.TemporaryDirectory(prefix="signal-opt-") as tmp:
                path = Path(tmp) / f"{name}.net.xml"
                path.write_bytes(data)
                try:
                    net = load_network(name, "uploaded", path)
                except (NetworkError, ValueError, KeyError, AttributeError) as exc:
                    raise InvalidInput(f"not a usable SUMO network: {exc}",
                                       ("body", "file")) from exc
            record = NetworkRecord(name, "uploaded", None, hashlib.sha256(data).hexdigest(),
                                   utcnow())
            self.repo.add_network(record, data, [x.base_plan() for x in net.intersections])
            return self._cache(net)

    # -- detector data ----------------------------------------------------------------------
    def ingest(self, network: str, readings: Sequence[ReadingRecord]) -> IngestResult:
        """Store a batch of readings, all or nothing; re-sent readings are not stored twice."""
        net = self.network(network)
        if len(readings) > self.settings.max_batch_readings:
            raise InvalidInput(
                f"at most {self.settings.max_batch_readings} readings per batch, "
                f"got {len(readings)}", ("body", "readings"))
        limit_ms = (self.clock() + self.settings.future_tolerance_s) * 1000.0
        seen: dict[tuple[str, int], int] = {}
        unique: list[ReadingRecord] = []
        for i, r in enumerate(readings):
            loc: tuple[str | int, ...] = ("body", "readings", i)
            if r.detector_id not in net.detector_tls:
                raise InvalidInput(
                    f"unknown detector {r.detector_id!r} in network {network!r}",
                    (*loc, "detector_id"))
            if r.start_ms + r.interval_s * 1000.0 > limit_ms:
                raise InvalidInput("the interval ends in the future", (*loc, "interval_start"))
            key = (r.detector_id, r.start_ms)
            if key in seen:
                if readings[seen[key]] != r:
                    raise InvalidInput(
                        f"readings[{seen[key]}] has the same detector and interval_start "
                        "with other values", (*loc, "interval_start"))
                continue
            seen[key] = i
            unique.append(r)
        stored = self.repo.ingest(network, unique)
        if stored:
            self._data_version[network] += 1
        result = IngestResult(len(readings), stored, len(readings) - stored)
        self.metrics.readings.labels(network, "stored").inc(result.stored)
        self.metrics.readings.labels(network, "duplicate").inc(result.duplicates)
        return result

    def _estimate(
        self, net: LoadedNetwork, xs: list[Intersection]
    ) -> tuple[list[dict[str, float] | None], list[str | None]]:
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
        result = self._estimate_from_storage(net, xs, since_ms)
        if len(self._estimates) > 1024:
            self._estimates.clear()
        self._estimates[key] = result
        return result

    def _estimate_from_storage(
        self, net: LoadedNetwork, xs: list[Intersection], since_ms: int
    ) -> tuple[list[dict[str, float] | None], list[str | None]]:
        ids = {x.id for x in xs}
        dets = [d for d in net.detectors if net.detector_tls[d.id] in ids]
        subset = None if len(xs) == len(net.intersections) else [d.id for d in dets]
        rows = self.repo.readings_since(net.name, since_ms, subset)
        window = int(self.settings.demand_window_s)
        if not rows:
            return [None] * len(xs), [f"no detector data in the last {window} s"] * len(xs)
        by_start: dict[int, dict[str, Minute | None]] = defaultdict(dict)
        seconds: dict[int, float] = {}
        for r in rows:
            by_start[r.start_ms][r.detector_id] = Minute(
                r.count, r.occupancy, -1.0 if r.speed is None else r.speed, r.jam_length or 0.0)
            seconds[r.start_ms] = max(seconds.get(r.start_ms, 0.0), r.interval_s)
        est = DemandEstimator(xs, dets)
        for start in sorted(by_start):
            est.add_minute(by_start[start], seconds[start])
        e = est.estimate()
        for kind, n in est.new_faults.items():
            self.metrics.detector_faults.labels(net.name, kind).inc(n)
        counts: dict[str, int] = defaultdict(int)
        for kind in e.faulty.values():
            counts[kind] += 1
        for kind in ("stuck_on", "stuck_off", "chattering", "missing"):
            self.metrics.faulty_detectors.labels(net.name, kind).set(counts.get(kind, 0))
        demand: list[dict[str, float] | None] = []
        errors: list[str | None] = []
        for i in range(len(xs)):
            if e.fallback[i]:
                demand.append(None)
                errors.append(
                    f"no usable detector data for lane groups {sorted(e.stale_groups[i])}")
            else:
                demand.append(e.demand[i])
                errors.append(None)
        return demand, errors

    # -- retiming ---------------------------------------------------------------------------
    def _given_demand(
        self, xs: list[Intersection], demand: Mapping[str, Mapping[str, float]]
    ) -> list[dict[str, float] | None]:
        out: list[dict[str, float] | None] = []
        for x in xs:
            given = demand.get(x.id)
            if given is None:
                raise InvalidInput(f"no demand given for intersection {x.id!r}",
                                   ("body", "demand", x.id))
            groups = {g.id for g in x.lane_groups}
            for gid, v in given.items():
                if gid not in groups:
                    raise InvalidInput(
                        f"intersection {x.id!r} has no lane group {gid!r} "
                        f"(it has {sorted(groups)})", ("body", "demand", x.id, gid))
                if not (math.isfinite(v) and v >= 0):
                    raise InvalidInput(f"demand must be a finite number >= 0 veh/h, got {v}",
                                       ("body", "demand", x.id, gid))
            out.append({g: float(given.get(g, 0.0)) for g in groups})
        return out

    def _optimize(
        self, net: str, xs: list[Intersection], demand: list[dict[str, float]],
        current: list[Plan | None],
    ) -> list[Optimized | str]:
        """Optimizer output per intersection, or the error text; a failure stays local."""
        if not xs:
            return []
        t0 = time.perf_counter()
        try:
            result: list[Optimized | str] = list(self.optimizer(xs, demand, current))
            if len(result) != len(xs):
                raise RuntimeError(f"optimizer returned {len(result)} plans for {len(xs)}")
        except Exception:
            log.exception("batch optimization of %s failed; retrying one by one", net)
            result = []
            for x, d, c in zip(xs, demand, current, strict=True):
                try:
                    result.append(self.optimizer([x], [d], [c])[0])
                except Exception as exc:
                    result.append(f"optimization failed: {type(exc).__name__}: {exc}")
        self.metrics.optimization_duration.labels(net).observe(time.perf_counter() - t0)
        return result

    def retime(
        self,
        network: str,
        intersection_ids: Sequence[str] | None = None,
        demand: Mapping[str, Mapping[str, float]] | None = None,
        trigger: str = "api",
    ) -> RetimingOutcome:
        """Retime some or all intersections of ``network``; store one new plan version each."""
        net = self.network(network)
        ids = list(intersection_ids) if intersection_ids is not None else (
            list(demand) if demand is not None else [x.id for x in net.intersections])
        for j, iid in enumerate(ids):
            if iid not in net.by_id:
                raise InvalidInput(f"network {network!r} has no intersection {iid!r}",
                                   ("body", "intersections", j))
        xs = [net.by_id[i] for i in dict.fromkeys(ids)]
        started, t0 = utcnow(), time.perf_counter()
        with self._locks[network]:
            errors: list[str | None]
            if demand is not None:
                demands, errors = self._given_demand(xs, demand), [None] * len(xs)
            else:
                demands, errors = self._estimate(net, xs)
            stored = self.repo.current_plans(network, [x.id for x in xs])
            current = [stored[x.id].to_plan() if x.id in stored else None for x in xs]
            todo = [i for i, d in enumerate(demands) if d is not None]
            proposals = self._optimize(
                network, [xs[i] for i in todo], [demands[i] or {} for i in todo],
                [current[i] for i in todo])
            by_index = dict(zip(todo, proposals, strict=True))
            plans = [self._decide(x, by_index.get(i), errors[i], current[i], demands[i])
                     for i, x in enumerate(xs)]
            n_fb = sum(p.plan.source == "fallback" for p in plans)
            outcome = "ok" if n_fb == 0 else ("fallback" if n_fb == len(plans) else "partial")
            record = RetimingRecord(0, network, trigger, "detectors" if demand is None
                                    else "request", started, time.perf_counter() - t0,
                                    outcome, len(plans) - n_fb, n_fb)
            record, saved = self.repo.add_retiming(record, plans)
        self.metrics.retimings.labels(network, trigger, outcome).inc()
        self.metrics.intersection_outcomes.labels(network, "optimized").inc(len(plans) - n_fb)
        self.metrics.intersection_outcomes.labels(network, "fallback").inc(n_fb)
        for p in saved:
            self._observe_plan(network, p)
        return RetimingOutcome(record, saved)

    def _decide(
        self, x: Intersection, proposal: Optimized | str | None, error: str | None,
        current: Plan | None, demand: dict[str, float] | None,
    ) -> NewPlan:
        details: dict[str, object] = {"demand_veh_h": demand}
        if isinstance(proposal, Optimized):
            details.update(delay_s=proposal.delay, flags=list(proposal.flags),
                           degree_of_saturation=proposal.degree_of_saturation)
            error = proposal.error
            if error is None:
                plan = Plan(x.id, proposal.plan.cycle, tuple(proposal.plan.greens),
                            proposal.plan.offset, "optimized")
                try:
                    check_plan(x, plan)
                    return NewPlan(plan, None, details)
                except PlanError as exc:
                    error = f"optimized plan rejected: {exc}"
        elif isinstance(proposal, str):
            error = proposal
        return NewPlan(self._fallback_plan(x, current), error or "no plan proposed", details)

    @staticmethod
    def _fallback_plan(x: Intersection, current: Plan | None) -> Plan:
        """The current plan if it is still valid for ``x``, else the network's own program."""
        if current is not None:
            plan = Plan(x.id, current.cycle, current.greens, current.offset, "fallback")
            try:
                check_plan(x, plan)
                return plan
            except PlanError:
                pass
        base = x.base_plan()
        return Plan(x.id, base.cycle, base.greens, base.offset, "fallback")

    def _observe_plan(self, network: str, p: StoredPlan) -> None:
        dos = p.details.get("degree_of_saturation") if p.source == "optimized" else None
        values = [v for v in (dos or {}).values() if v is not None]
        self.metrics.set_plan(network, p.intersection_id, p.cycle,
                              max(values) if values else math.nan)
        fallback = self._fallback[network]
        (fallback.add if p.source == "fallback" else fallback.discard)(p.intersection_id)
        self.metrics.fallback_intersections.labels(network).set(len(fallback))

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

    def history(self, network: str, intersection_id: str, limit: int, offset: int
                ) -> list[StoredPlan]:
        self.intersection(network, intersection_id)
        return self.repo.plan_history(network, intersection_id, limit, offset)

    def plan_version(self, network: str, intersection_id: str, version: int) -> StoredPlan:
        self.intersection(network, intersection_id)
        p = self.repo.plan_version(network, intersection_id, version)
        if p is None:
            raise NotFound(f"intersection {intersection_id!r} has no plan version {version}",
                           ("path", "version"))
        return p

    def rollback(self, network: str, intersection_id: str, version: int) -> StoredPlan:
        """Make past ``version`` current again, as a new version (history stays append-only)."""
        x = self.intersection(network, intersection_id)
        past = self.plan_version(network, intersection_id, version)
        plan = Plan(x.id, past.cycle, past.greens, past.offset, "rollback")
        try:
            check_plan(x, plan)
        except PlanError as exc:
            raise Conflict(f"version {version} no longer fits the network: {exc}",
                           ("path", "version")) from exc
        with self._locks[network]:
            [saved] = self.repo.add_plans(network, [NewPlan(plan, None, dict(past.details),
                                                            rolled_back_from=version)])
        self._observe_plan(network, saved)
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

    def ready(self) -> None:
        self.repo.ping()


class Scheduler:
    """Retimes every loaded network each ``interval_s`` from its latest detector data."""

    def __init__(self, service: RetimingService, interval_s: float) -> None:
        self.service = service
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._due: dict[str, float] = {}
        self._next_prune = 0.0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="signal-opt-scheduler",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(min(1.0, self.interval_s / 4)):
            self.run_due(time.monotonic())

    def run_due(self, now: float) -> list[str]:
        """Retime the networks whose time has come; returns their names. Never raises."""
        done = []
        for net in self.service.networks():
            due = self._due.setdefault(net.name, now + self.interval_s)
            if now < due or self._stop.is_set():
                continue
            self._due[net.name] = now + self.interval_s
            try:
                self.service.retime(net.name, trigger="schedule")
            except Exception:
                log.exception("scheduled retiming of %s failed", net.name)
                self.service.metrics.scheduler_errors.labels(net.name).inc()
            self.service.metrics.scheduler_last_run.labels(net.name).set(time.time())
            done.append(net.name)
        if now >= self._next_prune:
            self._next_prune = now + 3600.0
            days = self.service.settings.readings_retention_days
            try:
                self.service.repo.prune_readings(int((time.time() - days * 86400) * 1000))
            except Exception:
                log.exception("pruning old readings failed")
        return done
