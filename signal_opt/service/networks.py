"""The networks the service knows: reading a ``.net.xml``, and the catalog of loaded ones.

A network is read once (intersection models, detector layout, platoon links between
neighbouring signals) and kept in memory; storage holds what is needed to read it again
after a restart (a bundled file's path, or an uploaded file's bytes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from signal_opt.detectors import DetectorInfo
from signal_opt.model import Intersection
from signal_opt.service.audit import entry
from signal_opt.service.errors import Conflict, InvalidInput, NotFound
from signal_opt.storage import NetworkRecord, Repository, utcnow

if TYPE_CHECKING:  # sumolib is imported only when a network is read
    from signal_opt.sumo.coordination import PlatoonLink

__all__ = ["NETWORK_NAME", "LoadedNetwork", "NetworkCatalog", "links_among", "load_network"]

log = logging.getLogger(__name__)

NETWORK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
"""Names of networks: no path separators, no leading dot (they become file names)."""


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
    links: tuple[PlatoonLink, ...] = ()
    """Platoon links between neighbouring signals (indices into ``intersections``), only
    those short enough to coordinate over."""


def load_network(name: str, source: str, path: Path, max_link_time: float = 60.0) -> LoadedNetwork:
    """Intersection model, detector layout (``sl_/adv_/q_<lane>``) and platoon links of a
    ``.net.xml``; links longer than ``max_link_time`` s of travel are dropped (platoons
    disperse on them, as the adaptive controller also assumes)."""
    from signal_opt.sumo.coordination import platoon_links
    from signal_opt.sumo.detectors import detector_infos, place_detectors
    from signal_opt.sumo.network import load_intersections, read_net

    net = read_net(path)
    xs = tuple(load_intersections(net))
    specs = place_detectors(net, [x.id for x in xs])
    detectors = tuple(detector_infos(specs))
    links = tuple(lk for lk in platoon_links(net, list(xs)) if lk.travel_time <= max_link_time)
    return LoadedNetwork(
        name, source, xs, {x.id: x for x in xs}, detectors, {s.id: s.tls for s in specs}, links
    )


def links_among(net: LoadedNetwork, ids: Sequence[str]) -> list[PlatoonLink]:
    """The links of ``net`` whose both ends are in ``ids``, re-indexed into ``ids``.

    A partial retiming coordinates only the intersections it retimes: the others keep
    their plans, and a link to one of them is ignored.
    """
    if len(ids) < 2:
        return []
    position = {x.id: i for i, x in enumerate(net.intersections)}
    new = {position[x]: j for j, x in enumerate(ids)}
    return [
        dataclasses.replace(lk, up=new[lk.up], down=new[lk.down])
        for lk in net.links
        if lk.up in new and lk.down in new
    ]


class NetworkCatalog:
    """Loaded networks of one service, read from storage on demand.

    ``on_loaded`` is called with each network once it is in memory (the service publishes
    its current plans as metrics then).
    """

    def __init__(
        self,
        repo: Repository,
        max_link_time: float,
        on_loaded: Callable[[LoadedNetwork], None] = lambda _: None,
    ) -> None:
        self.repo = repo
        self.max_link_time = max_link_time
        self.on_loaded = on_loaded
        self._networks: dict[str, LoadedNetwork] = {}
        self._lock = threading.Lock()
        self._name_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)

    def _read(self, name: str, source: str, path: Path) -> LoadedNetwork:
        return load_network(name, source, path, self.max_link_time)

    def load_all(self, bundled: Path | None) -> None:
        """Register the bundled networks of folder ``bundled`` (if given) and load every
        stored network; one unreadable network never keeps the others down."""
        if bundled is not None:
            self._register_bundled(bundled)
        for record in self.repo.networks():
            try:
                self._load(record)
            except Exception:
                log.exception("cannot load network %s; it stays unavailable", record.name)

    def _register_bundled(self, root: Path) -> None:
        known = {n.name for n in self.repo.networks()}
        names = (
            sorted(p.name for p in root.iterdir() if (p / f"{p.name}.net.xml").is_file())
            if root.is_dir()
            else []
        )
        for name in names:
            if name in known:
                continue
            path = root / name / f"{name}.net.xml"
            try:
                net = self._read(name, "bundled", path)
            except Exception:
                log.exception("bundled network %s cannot be read; skipped", name)
                continue
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            record = NetworkRecord(name, "bundled", str(path), sha, utcnow())
            audit = entry(
                "network.register",
                "service",
                name,
                target=name,
                after={"source": "bundled", "sha256": sha, "intersections": len(net.intersections)},
            )
            self.repo.add_network(record, None, [x.base_plan() for x in net.intersections], audit)
            self._cache(net)

    def _cache(self, net: LoadedNetwork) -> LoadedNetwork:
        with self._lock:
            self._networks[net.name] = net
        self.on_loaded(net)
        return net

    def _load(self, record: NetworkRecord) -> LoadedNetwork:
        if record.name in self._networks:
            return self._networks[record.name]
        if record.path is not None:
            return self._cache(self._read(record.name, record.source, Path(record.path)))
        data = self.repo.network_xml(record.name) or b""
        with tempfile.TemporaryDirectory(prefix="signal-opt-") as tmp:
            path = Path(tmp) / "network.net.xml"
            path.write_bytes(data)
            return self._cache(self._read(record.name, record.source, path))

    def all(self) -> list[LoadedNetwork]:
        with self._lock:
            return [self._networks[k] for k in sorted(self._networks)]

    def get(self, name: str) -> LoadedNetwork:
        net = self._networks.get(name)
        if net is None:  # registered by another replica since we started?
            record = next((r for r in self.repo.networks() if r.name == name), None)
            if record is None:
                raise NotFound(f"unknown network {name!r}", ("path", "network"))
            net = self._load(record)
        return net

    def intersection(self, network: str, intersection_id: str) -> Intersection:
        x = self.get(network).by_id.get(intersection_id)
        if x is None:
            raise NotFound(
                f"network {network!r} has no intersection {intersection_id!r}",
                ("path", "intersection_id"),
            )
        return x

    def register(self, name: str, data: bytes, actor: str = "api") -> LoadedNetwork:
        """Register an uploaded ``.net.xml`` (already checked to be safe, well-formed XML).

        The name is checked here, never used as given for a path: the file is written
        under a fixed name in a fresh temporary folder.
        """
        from signal_opt.sumo.network import NetworkError

        if not NETWORK_NAME.match(name):
            raise InvalidInput(
                f"network name {name!r} must be 1-64 letters, digits, '_', "
                "'-' or '.', starting with a letter or digit",
                ("body", "name"),
            )
        with self._name_locks[name]:
            if name in self._networks or any(r.name == name for r in self.repo.networks()):
                raise Conflict(f"network {name!r} is already registered", ("body", "name"))
            with tempfile.TemporaryDirectory(prefix="signal-opt-") as tmp:
                path = Path(tmp) / "network.net.xml"
                path.write_bytes(data)
                try:
                    net = self._read(name, "uploaded", path)
                except (NetworkError, ValueError, KeyError, AttributeError) as exc:
                    raise InvalidInput(
                        f"not a usable SUMO network: {exc}", ("body", "file")
                    ) from exc
            record = NetworkRecord(
                name, "uploaded", None, hashlib.sha256(data).hexdigest(), utcnow()
            )
            audit = entry(
                "network.register",
                actor,
                name,
                target=name,
                after={
                    "source": "uploaded",
                    "sha256": record.sha256,
                    "bytes": len(data),
                    "intersections": len(net.intersections),
                },
            )
            self.repo.add_network(record, data, [x.base_plan() for x in net.intersections], audit)
            return self._cache(net)
