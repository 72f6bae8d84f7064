"""psma-rwe: a reproducible publication pipeline for a real-world 177Lu-PSMA-617 cohort."""

__version__ = "0.1.0"
