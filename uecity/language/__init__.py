"""Language elements and their composition into referring expressions (paper §3.1 step 3).

`vocabulary` reads the atoms and their phrasings from YAML, `atoms` evaluates them to boolean
(track, frame) tables, `composition` combines them with AND / OR under rules and thresholds,
`sentences` turns a logic tree into English, and `compose` is the recipe over a dataset.
"""
