"""GraphQL types by domain; `schema.root` assembles the one schema."""
