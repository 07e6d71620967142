"""One router per resource; handlers parse, call the runtime model, and map to a schema."""
