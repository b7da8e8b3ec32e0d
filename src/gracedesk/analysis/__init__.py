"""Text -> Signals: tokens, rules, vectorizer, calibrated heads, encoder, pipeline."""
