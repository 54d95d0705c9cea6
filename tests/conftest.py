"""Test-wide setup: a private cache directory, so tests never touch the user's."""

from __future__ import annotations

import os
import tempfile

_CACHE = tempfile.mkdtemp(prefix="unilang-test-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE
