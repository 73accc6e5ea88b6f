"""rehearsal/scenario."""
