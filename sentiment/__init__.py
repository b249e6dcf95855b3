"""Sentiment and risk: classify mentions, then score a story's exposure risk from explainable factors."""
