"""controller/core."""
