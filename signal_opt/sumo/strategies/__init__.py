"""Strategies SUMO runs natively: programs signal-opt writes once, before the run.

``fixed`` (the scenario's own programs, or plan files), ``webster`` (one plan per signal
from the design flows, held all day), ``actuated`` (SUMO's gap-based actuated control,
tuned from the design flows) and SUMO's stock ``actuated`` / ``delay_based`` on the
running programs. They live beside SUMO because all they produce is SUMO ``tlLogic``;
strategies that decide while the simulation runs are in :mod:`signal_opt.controllers`.
"""
