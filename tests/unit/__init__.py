"""Tests of one property of the package each, needing neither the SDK initialised nor a core."""
