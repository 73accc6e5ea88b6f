"""controller/cli."""
