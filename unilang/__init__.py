"""unilang: a declarative language and compiler for unikernels."""

__version__ = "0.1.0"
