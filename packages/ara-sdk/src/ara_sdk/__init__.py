"""ara_sdk."""
