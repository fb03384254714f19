"""The staff console: server-rendered pages over ``takedown.services``."""
