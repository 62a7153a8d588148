"""The UE-City motion annotator: a local web tool to mark and review motion intervals.

`annotator.server` serves the page (`annotator/static/`) and the JSON API (`annotator.api`) of
one dataset; `annotator.intervals` holds the editing rules as pure functions. Start it with
`uecity annotate DATASET`.
"""
