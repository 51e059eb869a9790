"""signal-opt: detector-driven retiming of every traffic signal in a network."""

__version__ = "0.1.0"
