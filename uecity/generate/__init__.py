"""`uecity generate`: one video per worker call, a run of videos, and merging shards."""
