"""Strategies that decide while a simulation runs, from detectors only: the vectorized
kernel (:mod:`.kernel`), ``max-pressure`` and ``adaptive``, with their plain-Python
references (:mod:`.actuation`, :mod:`.discharge`). Nothing here imports SUMO; the harness
(:mod:`signal_opt.sumo.simulation`) hands a running simulation in. Every strategy by name:
:mod:`signal_opt.strategies`."""
