"""Embeddings, company resolution, incident clustering and the search-store backends."""
