"""The shared foundation of UE-City and MLS-Track, the only part of `uecity` that `mlstrack`
imports (with `uecity.formats`, the other tools' file conventions).

- `errors`: the one error family, each class mapped to an exit code by the CLI;
- `atomic`: atomic writes of files and whole folders;
- `record_io`: typed YAML/JSON files read into validated pydantic models, with one error format;
- `box_formats`: box conversions at the product's edges;
- `progress`: the one progress-callback shape of every long-running producer.

Nothing here imports the rest of `uecity`, torch or any other optional dependency.
"""
