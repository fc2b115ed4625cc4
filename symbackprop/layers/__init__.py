"""Layer kinds: each defines its forward equations and its local partials side by side, so the
chain rule in derive.py only combines them.  Dense (fully connected) is the one kind today."""
