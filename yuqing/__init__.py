"""yuqing core: settings, database, clock, logging and the org chart shared by every stage."""

__version__ = "0.1.0"
