"""rehearsal/report."""
