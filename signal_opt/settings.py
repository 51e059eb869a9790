"""Service settings: environment variables ``SIGNAL_OPT_*``, optionally a ``.env`` file.

Every field has an embedded default, so ``signal-opt serve`` runs with no configuration at
all: a SQLite file under ``./var``, the bundled networks registered, retiming every 640 s.
A settings file (``configs/signal-opt.env.example`` shows every key) is read when given
with ``serve --config FILE`` or ``SIGNAL_OPT_CONFIG=FILE``; environment variables win
over it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SIGNAL_OPT_", extra="ignore", frozen=True, env_parse_none_str="none"
    )

    database_url: str = "sqlite:///./var/signal-opt.db"
    """Any SQLAlchemy URL; ``postgresql+psycopg://user:pw@host/db`` for PostgreSQL."""
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
    max_link_time_s: float = Field(default=60.0, ge=0)
    """Signals further apart than this (s of travel at 90 % of the limit) are not
    coordinated; 0 turns coordination off."""

    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    """Largest ``.net.xml`` accepted when registering a network."""
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    """Largest request body of any other endpoint (a reading batch is ~100 bytes a reading)."""
    max_batch_readings: int = Field(default=100_000, gt=0)
    future_tolerance_s: float = Field(default=5.0, ge=0)
    """Clock skew allowed on interval ends before a reading counts as from the future."""

    metrics_max_intersections: int = Field(default=2000, ge=0)
    """Bound on per-intersection metric series (cycle, degree of saturation)."""


def load_settings(config: str | os.PathLike[str] | None = None) -> Settings:
    """Settings from the environment, over ``config`` (or ``$SIGNAL_OPT_CONFIG``) if given."""
    path = config or os.environ.get("SIGNAL_OPT_CONFIG")
    if path:
        if not Path(path).is_file():
            raise FileNotFoundError(f"settings file not found: {path}")
        return Settings(_env_file=str(path))  # type: ignore[call-arg]
    return Settings()
