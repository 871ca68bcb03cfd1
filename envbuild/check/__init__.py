"""The drift check: probe (stdlib facts) -> compare (findings against the lock) -> report (human, JSON, JUnit)."""
