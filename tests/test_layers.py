"""Decision code imports no SUMO: the kernel, the plain-Python references and the
adaptive and max-pressure controllers run from arrays and the model types alone (the
harness hands them a running simulation at run time)."""

from __future__ import annotations

import subprocess
import sys

import pytest

DECISION_MODULES = [
    "signal_opt.controllers.kernel",
    "signal_opt.controllers.actuation",
    "signal_opt.controllers.discharge",
    "signal_opt.controllers.max_pressure",
    "signal_opt.controllers.adaptive",
    "signal_opt.controllers.base",
    "signal_opt.retiming",
    "signal_opt.detectors",
    "signal_opt.core",
]


@pytest.mark.parametrize("module", DECISION_MODULES)
def test_decision_code_imports_no_sumo(module):
    code = (
        f"import sys, {module}; "
        "print(','.join(m for m in ('traci', 'libsumo', 'sumolib') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "", f"{module} pulls in {done.stdout.strip()}"
