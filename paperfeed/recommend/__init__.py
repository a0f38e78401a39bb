""""For you": per-member recommendations (model, keyword features, service, evaluation)."""
