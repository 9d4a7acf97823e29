"""Articles in, searchable index out: readers, chunking, embedding, storage."""
