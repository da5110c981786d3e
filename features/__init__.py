"""Everything that turns a document or a request into model input (parsing, loading, schema, dataset, view)."""
