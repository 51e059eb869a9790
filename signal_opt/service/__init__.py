"""The retiming service's use-cases, shared by the API, the scheduler and the CLI.

- :mod:`.networks`: reading networks (models, detectors, platoon links) and the catalog;
- :mod:`.usecases`: ingest, retime, plans, rollback, export (:class:`RetimingService`);
- :mod:`.optimizer`: the shared retiming use-case behind one injectable function;
- :mod:`.demand`: demand from stored detector readings;
- :mod:`.scheduler`: periodic retiming, claimed per occurrence so replicas never double up.
"""

from signal_opt.service.errors import Conflict, InvalidInput, NotFound, ServiceError
from signal_opt.service.networks import (
    NETWORK_NAME,
    LoadedNetwork,
    NetworkCatalog,
    links_among,
    load_network,
)
from signal_opt.service.optimizer import (
    Optimized,
    Optimizer,
    change_limit_error,
    core_settings,
    optimize_with_core,
)
from signal_opt.service.scheduler import Scheduler
from signal_opt.service.usecases import IngestResult, RetimingOutcome, RetimingService

__all__ = [
    "NETWORK_NAME",
    "Conflict",
    "IngestResult",
    "InvalidInput",
    "LoadedNetwork",
    "NetworkCatalog",
    "NotFound",
    "Optimized",
    "Optimizer",
    "RetimingOutcome",
    "RetimingService",
    "Scheduler",
    "ServiceError",
    "change_limit_error",
    "core_settings",
    "links_among",
    "load_network",
    "optimize_with_core",
]
