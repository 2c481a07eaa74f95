"""The build report as an HTML page a person opens instead of reading ``report.json``."""
