"""The desk\x27s wiring: the only place where store, analysis, policy and guidance meet."""
