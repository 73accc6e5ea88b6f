"""controller/aws."""
