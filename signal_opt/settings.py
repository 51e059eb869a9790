"""Service settings: environment variables ``SIGNAL_OPT_*``, optionally a ``.env`` file.

Every field has an embedded default, so ``signal-opt serve`` runs with no configuration at
all: a SQLite file in the data directory, the bundled networks registered, retiming every
640 s. A settings file (``configs/signal-opt.env.example`` shows every key) is read when
given with ``serve --config FILE`` or ``SIGNAL_OPT_CONFIG=FILE``; environment variables
win over it. :func:`load_settings` refuses a ``SIGNAL_OPT_*`` name it does not know (in the
environment or the file), naming the closest valid one: a misspelt setting is never
silently dropped.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["READING_JSON_BYTES", "Settings", "SettingsError", "default_data_dir", "load_settings"]

PREFIX = "SIGNAL_OPT_"
READING_JSON_BYTES = 200
"""Room for one reading in a batch's JSON (a full reading with a long detector id and
every optional field is about 170 bytes): the body limit must hold
``max_batch_readings`` of them."""


class SettingsError(ValueError):
    """A setting that cannot be used; the message names it."""


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/signal-opt``, else ``~/.local/share/signal-opt``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "signal-opt"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SIGNAL_OPT_", extra="ignore", frozen=True, env_parse_none_str="none"
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    """Where the service keeps its files: the SQLite database (``signal-opt.db``) unless
    ``database_url`` points elsewhere. Made absolute when read."""
    database_url: str = ""
    """Any SQLAlchemy URL; ``postgresql+psycopg://user:pw@host/db`` for PostgreSQL.
    Empty: ``sqlite:///<data_dir>/signal-opt.db``."""
    db_auto_upgrade: bool = True
    """Upgrade the database schema at start-up; ``false``: refuse to start on an older
    schema until ``signal-opt db upgrade`` has run. A newer schema is always refused."""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    log_format: Literal["json", "text"] = "json"
    """``json``: one JSON object a line (request id, key id, route, status, duration)."""

    register_bundled: bool = True
    """Register the bundled networks (``networks/<name>/<name>.net.xml``) at start-up."""
    networks_dir: Path | None = None
    """Folder of the bundled networks; default: the repository's ``networks/``."""

    scheduler_enabled: bool = True
    retime_interval_s: float = Field(default=640.0, gt=0)
    """Seconds between two scheduled retimings of the same network (about 135 a day)."""
    demand_window_s: float = Field(default=900.0, gt=0)
    """Detector data older than this (seconds before now) is not used to retime."""
    readings_retention_days: float = Field(default=30.0, gt=0)
    """Readings older than this are deleted by the scheduler (plans are kept for ever)."""

    max_cycle_change_s: float | None = Field(default=20.0, gt=0)
    """Largest change of an intersection's cycle in one retiming (s); ``none`` = unlimited."""
    max_green_change_s: float | None = Field(default=15.0, gt=0)
    """Largest change of any stage's green in one retiming (s); ``none`` = unlimited."""
    target_degree_of_saturation: float | None = Field(default=0.85, gt=0, le=1.5)
    """Cycle policy: the shortest cycle keeping every lane group at or below this degree of
    saturation (``none``: the cycle of least predicted delay)."""
    plan_resolution_s: float = Field(default=1.0, ge=0.1, le=5.0)
    """Plans are stored and served on this grid (s): greens, offsets and so cycles in whole
    seconds by default; 0.1 for controllers that take tenths."""
    max_link_time_s: float = Field(default=60.0, ge=0)
    """Signals further apart than this (s of travel at 90 % of the limit) are not
    coordinated; 0 turns coordination off."""

    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    """Largest ``.net.xml`` accepted when registering a network."""
    max_body_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    """Largest request body of any other endpoint; must hold ``max_batch_readings``
    readings of ``READING_JSON_BYTES`` (200) bytes each."""
    max_batch_readings: int = Field(default=100_000, gt=0)
    """Readings per batch: 15 minutes of ``yizhuang_district`` (4,020 detectors) are
    60,300."""
    future_tolerance_s: float = Field(default=5.0, ge=0)
    """Clock skew allowed on interval ends before a reading counts as from the future."""

    metrics_max_intersections: int = Field(default=2000, ge=0)
    """Bound on per-intersection metric series (cycle, degree of saturation)."""

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        data_dir = self.data_dir.expanduser().absolute()
        object.__setattr__(self, "data_dir", data_dir)
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{data_dir / 'signal-opt.db'}")
        need = self.max_batch_readings * READING_JSON_BYTES
        if self.max_body_bytes < need:
            raise ValueError(
                f"SIGNAL_OPT_MAX_BATCH_READINGS={self.max_batch_readings} needs "
                f"SIGNAL_OPT_MAX_BODY_BYTES of at least {need} ({READING_JSON_BYTES} bytes a "
                f"reading), but it is {self.max_body_bytes}: raise it or lower the batch size"
            )
        return self


KNOWN = {PREFIX + name.upper() for name in Settings.model_fields} | {PREFIX + "CONFIG"}
"""Every ``SIGNAL_OPT_*`` name the service reads."""


def unknown_names(names: list[str], where: str) -> list[str]:
    """One message per name with our prefix that is not a setting, with the closest one."""
    out = []
    for name in names:
        if name.upper().startswith(PREFIX) and name.upper() not in KNOWN:
            close = difflib.get_close_matches(name.upper(), sorted(KNOWN), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]}?" if close else ""
            out.append(f"unknown setting {name} in {where}{hint}")
    return out


def load_settings(config: str | os.PathLike[str] | None = None) -> Settings:
    """Settings from the environment, over ``config`` (or ``$SIGNAL_OPT_CONFIG``) if given.

    Raises :class:`SettingsError` for an unknown ``SIGNAL_OPT_*`` name or a bad value.
    """
    path = config or os.environ.get(PREFIX + "CONFIG")
    problems = unknown_names(sorted(os.environ), "the environment")
    if path:
        if not Path(path).is_file():
            raise FileNotFoundError(f"settings file not found: {path}")
        problems += unknown_names(list(dotenv_values(path)), str(path))
    if problems:
        raise SettingsError("; ".join(problems))
    try:
        return Settings(_env_file=str(path)) if path else Settings()  # type: ignore[call-arg]
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
