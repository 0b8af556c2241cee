"""ara_cli."""
