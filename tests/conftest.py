"""Test-wide setup: a private cache directory, so tests never touch the user's."""

from __future__ import annotations

import os
import tempfile

_CACHE = tempfile.mkdtemp(prefix="unilang-test-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE

# Property tests must not fail because a shared CI machine is slow: no deadlines,
# and no "too slow" health checks (each test still sets its own example counts).
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "unilang", deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much])
settings.load_profile("unilang")
