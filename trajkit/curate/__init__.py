"""Curation: review in Argilla (push/pull, local server), filter presets, deduplication and
decontamination. Submodules import their heavy dependencies lazily."""
