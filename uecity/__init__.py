"""UE-City: build referring multi-object tracking datasets of city intersections."""

__version__ = "0.1.0"
