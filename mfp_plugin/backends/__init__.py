"""Optional accelerated backends (imported lazily by the neurons)."""
