"""rehearsal/world."""
