"""The terminology engine on this server: `source.py` (the content: stored CodeSystems, ValueSets and
ConceptMaps first, then the packages the server ships) and `http.py` (what the terminology operations
share). The logic itself is resources.terminology, without Django."""
