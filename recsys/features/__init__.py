"""Features built from the contract tables: interaction logs and matrices, circle engagement."""
