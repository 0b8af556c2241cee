"""ara_server."""
