"""ara_http."""
