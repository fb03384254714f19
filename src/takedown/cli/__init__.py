"""The ``takedown`` command line, a thin adapter over ``takedown.services``."""
