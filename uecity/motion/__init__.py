"""Motion intervals derived automatically from trajectories, with hysteresis."""
