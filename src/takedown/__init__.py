"""takedown: a self-hosted child-safety system for online platforms.

See ``docs/architecture.md`` for the parts and how data flows between them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
