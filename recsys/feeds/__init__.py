"""The recommender's parts: candidate sources, their merged features and the learned ranker."""
