"""The public status page and the public updates that a second person approves for it."""
