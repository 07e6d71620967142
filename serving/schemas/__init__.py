"""Response (and error) schemas, one module per resource; routes map library answers onto them."""
